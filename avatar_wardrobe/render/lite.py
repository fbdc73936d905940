"""Lite shading for real time on a software GL: one GLSL pass, GPU skinning, Lambert + GGX lobe, fog, tone curve."""
from __future__ import annotations

from panda3d.core import ShaderAttrib

# simplepbr renders into a float buffer and tone-maps it in a second full-screen pass; on llvmpipe
# that pass, its 4 texture reads per pixel and CPU skinning of the Actor cost most of a frame.
# This path lights in linear space, applies the same tone curve and fog in the same fragment
# shader, skins on the "GPU" (the Actor's vertices are never touched on the CPU) and draws the
# floor's tiles procedurally (box-filtered, so no texture and no mipmaps).
MAX_LIGHTS = 4
F0 = 0.04                 # dielectric reflectance, as simplepbr
TONE_BIAS = 0.004         # simplepbr's tonemap.frag (Hejl / Burgess-Dawson filmic curve)
TILE_LIGHT = (0.42, 0.42, 0.44)  # the floor texture's two tones (linear, as simplepbr reads them)
TILE_DARK = (0.36, 0.36, 0.38)
FLOOR_PRIORITY = 10       # the floor's shader overrides the one set on render

_HEADER = f"""#version 330
#define MAX_LIGHTS {MAX_LIGHTS}
const float PI = 3.141592653589793;
"""

# Uniform blocks must read the same in both stages.
_MATERIAL = """
uniform struct p3d_MaterialParameters { vec4 baseColor; float roughness; float metallic; } p3d_Material;
"""
_UNIFORMS = _MATERIAL + """
uniform mat4 p3d_ProjectionMatrix;
uniform mat4 p3d_ModelViewMatrix;
uniform mat3 p3d_NormalMatrix;uniform struct p3d_LightSourceParameters { vec4 position; vec4 diffuse; } p3d_LightSource[MAX_LIGHTS];
uniform struct p3d_LightModelParameters { vec4 ambient; } p3d_LightModel;
uniform struct p3d_FogParameters { vec4 color; float density; } p3d_Fog;
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Color;
in vec2 p3d_MultiTexCoord0;
"""

# Lighting per vertex: the avatar's mesh has more vertices than it covers pixels at 640x480,
# so this looks the same as per pixel and takes the light loop out of the fragment shader.
# Diffuse (Lambert, as simplepbr: base * (1 - F0) / PI per light) is kept apart from the
# specular lobe so the texture multiplies only the first; both sides are lit for two-sided cloth.
_LIGHT_FUNCTIONS = """
// (diffuse irradiance, specular radiance) of a surface point with normal n seen from v.
void light(vec3 p, vec3 n, vec3 v, float a2, vec3 f0, float kd, out vec3 irradiance, out vec3 specular) {
    irradiance = vec3(0.0);
    specular = vec3(0.0);
    for (int i = 0; i < MAX_LIGHTS; ++i) {
        vec3 l = normalize(p3d_LightSource[i].position.xyz - p * p3d_LightSource[i].position.w);
        float n_dot_l = max(dot(n, l), 0.0);
        float n_dot_h = max(dot(n, normalize(l + v)), 0.0);
        float f = n_dot_h * n_dot_h * (a2 - 1.0) + 1.0;
        vec3 radiance = n_dot_l * p3d_LightSource[i].diffuse.rgb;
        irradiance += radiance;
        specular += radiance * f0 * (0.25 * a2 / (PI * f * f));  // GGX D, constant visibility term
    }
    irradiance = irradiance * kd / PI + kd * p3d_LightModel.ambient.rgb;
    specular += f0 * p3d_LightModel.ambient.rgb;
}
"""

VERT = _HEADER + _UNIFORMS + _LIGHT_FUNCTIONS + f"""
uniform mat4 p3d_TransformTable[100];
in vec4 transform_weight;
in vec4 transform_index;
out vec4 v_color;
out vec2 v_texcoord;
out vec3 v_irradiance[2];  // front, back
out vec3 v_specular[2];
out float v_fog;
void main() {{
    mat4 skin = p3d_TransformTable[int(transform_index.x)] * transform_weight.x
              + p3d_TransformTable[int(transform_index.y)] * transform_weight.y
              + p3d_TransformTable[int(transform_index.z)] * transform_weight.z
              + p3d_TransformTable[int(transform_index.w)] * transform_weight.w;
    vec4 view_position = p3d_ModelViewMatrix * (skin * p3d_Vertex);
    vec3 p = view_position.xyz;
    vec3 n = normalize(p3d_NormalMatrix * (mat3(skin) * p3d_Normal));
    vec3 v = normalize(-p);
    float r = max(p3d_Material.roughness * p3d_Material.roughness, 0.045);
    float metallic = p3d_Material.metallic;
    vec3 f0 = mix(vec3({F0}), p3d_Material.baseColor.rgb, metallic);
    float kd = (1.0 - {F0}) * (1.0 - metallic);
    light(p, n, v, r * r, f0, kd, v_irradiance[0], v_specular[0]);
    light(p, -n, v, r * r, f0, kd, v_irradiance[1], v_specular[1]);
    v_fog = clamp(exp(-length(p) * p3d_Fog.density), 0.0, 1.0);
    v_color = p3d_Color;
    v_texcoord = p3d_MultiTexCoord0;
    gl_Position = p3d_ProjectionMatrix * view_position;
}}
"""

_FINISH = f"""
uniform struct p3d_FogParameters {{ vec4 color; float density; }} p3d_Fog;
out vec4 o_color;
// Fog in linear light, then simplepbr's tone curve (which also encodes for display).
vec4 finish(vec3 linear, float fog, float alpha) {{
    vec3 c = max(vec3(0.0), mix(p3d_Fog.color.rgb, linear, fog) - vec3({TONE_BIAS}));
    return vec4((c * (6.2 * c + 0.5)) / (c * (6.2 * c + 1.7) + 0.06), alpha);
}}
"""

FRAG = _HEADER + _FINISH + _MATERIAL + """
uniform vec4 p3d_ColorScale;
uniform sampler2D p3d_Texture0;
in vec4 v_color;
in vec2 v_texcoord;
in vec3 v_irradiance[2];
in vec3 v_specular[2];
in float v_fog;
void main() {
    vec4 base = p3d_Material.baseColor * v_color * p3d_ColorScale * texture(p3d_Texture0, v_texcoord);
    int side = gl_FrontFacing ? 0 : 1;
    o_color = finish(base.rgb * v_irradiance[side] + v_specular[side], v_fog, base.a);
}
"""

# The floor is one flat card: directional light on it is the same everywhere (its faint rough
# specular is left out), so only the tiles and the fog vary per pixel.
FLOOR_VERT = _HEADER + _UNIFORMS + _LIGHT_FUNCTIONS + f"""
out vec2 v_texcoord;
out vec3 v_view_position;
flat out vec3 v_irradiance;
void main() {{
    vec4 view_position = p3d_ModelViewMatrix * p3d_Vertex;
    v_view_position = view_position.xyz;
    vec3 n = normalize(p3d_NormalMatrix * p3d_Normal);
    vec3 specular;
    light(v_view_position, n, n, 1.0, vec3({F0}), (1.0 - {F0}) * (1.0 - p3d_Material.metallic), v_irradiance, specular);
    v_texcoord = p3d_MultiTexCoord0;
    gl_Position = p3d_ProjectionMatrix * view_position;
}}
"""

# The floor card's UVs repeat once per two tiles; a box-filtered checker (the exact average of
# the pattern over the pixel's footprint) replaces the trilinear, anisotropic texture.
FLOOR_FRAG = _HEADER + _FINISH + _MATERIAL + f"""
uniform vec4 p3d_ColorScale;
in vec2 v_texcoord;
in vec3 v_view_position;
flat in vec3 v_irradiance;
void main() {{
    vec2 p = v_texcoord * 2.0;
    vec2 w = max(abs(dFdx(p)), abs(dFdy(p))) + 0.001;
    vec2 i = 2.0 * (abs(fract((p - 0.5 * w) / 2.0) - 0.5) - abs(fract((p + 0.5 * w) / 2.0) - 0.5)) / w;
    vec3 tile = mix(vec3{TILE_DARK}, vec3{TILE_LIGHT}, 0.5 + 0.5 * i.x * i.y);
    vec3 base = (p3d_Material.baseColor * p3d_ColorScale).rgb * tile;
    o_color = finish(base * v_irradiance, clamp(exp(-length(v_view_position) * p3d_Fog.density), 0.0, 1.0), 1.0);
}}
"""


def tone_map(linear: float) -> float:
    """The shader's tone curve on one linear value (for the clear colour, which no shader touches)."""
    c = max(0.0, linear - TONE_BIAS)
    return (c * (6.2 * c + 0.5)) / (c * (6.2 * c + 1.7) + 0.06)


def shader_attrib():
    """The lite ShaderAttrib for a scene root: hardware skinning on, so Panda skips CPU animation."""
    from panda3d.core import Shader

    shader = Shader.make(Shader.SL_GLSL, VERT, FRAG)
    return ShaderAttrib.make(shader).setFlag(ShaderAttrib.F_hardware_skinning, True)


def floor_shader():
    from panda3d.core import Shader

    return Shader.make(Shader.SL_GLSL, FLOOR_VERT, FLOOR_FRAG)


def apply(render, floor=None) -> None:
    """Shade everything under `render` with the lite shader (and `floor` with the procedural tiles)."""
    render.setAttrib(shader_attrib())
    if floor is not None:
        floor.setShader(floor_shader(), FLOOR_PRIORITY)
