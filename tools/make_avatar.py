"""Build the default rigged, textured glTF avatars (models/avatar/*.glb) offline from anny.

The builder itself is the package's avatar_wardrobe.shape (also used for bodies of any height,
mass and gender at run time); this tool builds the bundled ones and records how (JSON sidecar).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ANNY_CACHE_DIR", str(ROOT / ".anny_cache"))  # before anny is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402

from avatar_wardrobe import gltf_io  # noqa: E402
from avatar_wardrobe.avatar.body import NO_REGION, REGION_ATTRIBUTE  # noqa: E402
from avatar_wardrobe.garments.garment import BODY_REGIONS  # noqa: E402
from avatar_wardrobe.shape import anny_model  # noqa: E402
from avatar_wardrobe.shape.anny_model import HIPS_LEG_FRACTION  # noqa: E402
from avatar_wardrobe.shape.glb import LICENSES, WRITE_REGIONS_DEFAULT, rest_pose, split_uv_seams  # noqa: E402
from avatar_wardrobe.shape.paint import (CAVITY, HAIR, IRIS, SCLERA, SEAM_DILATE_PX, SHORTS_LEG_FRACTION,  # noqa: E402
                                         SKIN, SUPERSAMPLE, TEXTURE_SIZE, UNDERWEAR, WAISTBAND)
from avatar_wardrobe.shape.spec import (FEMALE, FIT_PARAMS, KEPT_GROUPS, MALE, RIG, TOPOLOGY, Avatar,  # noqa: E402
                                        Body)

BODIES = {
    "female_165_58": Body(FEMALE, 1.65, 58.0, crop_top=True),
    "male_180_80": Body(MALE, 1.80, 80.0),
}


def sidecar(name: str, body: Body, params: dict, measured: dict, avatar: Avatar, glb: bytes,
            seconds: float, regions: bool) -> dict:
    ids, _, faces = split_uv_seams(avatar)
    return {
        "name": name,
        "file": f"{name}.glb",
        "sha256": hashlib.sha256(glb).hexdigest(),
        "requested": {"height_m": body.height_m, "mass_kg": body.mass_kg,
                      "gender": "female" if body.gender == FEMALE else "male",
                      "age": "adult (anny 'young' anchor, 25 y)"},
        "measured": {**measured, "mass_model": "anny.Anthropometry: mesh volume x 980 kg/m^3"},
        "anny_phenotype": params,
        "anny": {"version": importlib.metadata.version("anny"), "rig": RIG, "topology": TOPOLOGY,
                 "kept_vertex_groups": list(KEPT_GROUPS), "fitted_parameters": list(FIT_PARAMS)},
        "torch_version": torch.__version__,
        "rest_pose": rest_pose(avatar),
        "counts": {"vertices": int(len(ids)), "triangles": int(len(faces)),
                   "joints": len(avatar.joint_names), "anny_vertices": int(len(np.unique(avatar.faces)))},
        "frame": "glTF: +Y up, metres, faces +Z, left hand toward +X, lowest vertex at y = 0",
        "texture": {
            "size": TEXTURE_SIZE, "supersample": SUPERSAMPLE, "seam_dilate_px": SEAM_DILATE_PX,
            "colours_srgb": {"skin": SKIN, "underwear": UNDERWEAR, "waistband": WAISTBAND, "hair": HAIR,
                             "cavity": CAVITY, "sclera": SCLERA, "iris": IRIS},
            "recipe": "each texel coloured from its interpolated rest position relative to the joints: "
                      f"boxer-brief shorts from {SHORTS_LEG_FRACTION:g} down the thigh bone up to spine_01 "
                      "(darker waistband)"
                      + (", crop top from above spine_03 to a scoop neckline, with straps"
                         if body.crop_top else "")
                      + "; arm-weighted texels bare; short-hair cap above a sloped hairline; "
                        "mouth/eye-socket/nostril cavities dark; eyeballs sclera + iris; flat colours, "
                        "anti-aliased, bled across UV seams"},
        "regions": {
            "attribute": REGION_ATTRIBUTE, "written": regions, "names": list(BODY_REGIONS), "none": NO_REGION,
            "vertices": {name: int((avatar.regions[ids] == i).sum()) for i, name in enumerate(BODY_REGIONS)},
            "recipe": "anny's part segmentation for head (eyes, mouth), hands and feet; elsewhere the bone "
                      "group with the most skin weight; trunk split at the spine_01 joint (torso above, "
                      f"hips below, with the thigh-weighted skin down to {HIPS_LEG_FRACTION:g} of the thigh bone)"},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 1),
        "licenses": LICENSES,
    }



def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "avatar",
                        help="output folder for <name>.glb and <name>.json (default: models/avatar)")
    parser.add_argument("--only", choices=sorted(BODIES), help="build just this avatar")
    parser.add_argument("--regions", action=argparse.BooleanOptionalAction, default=WRITE_REGIONS_DEFAULT,
                        help=f"write the {REGION_ATTRIBUTE} body-region attribute (default: %(default)s)")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else list(BODIES)
    args.out.mkdir(parents=True, exist_ok=True)

    tqdm.write(f"loading anny rig '{RIG}' (first build ~70 s, cached in {os.environ['ANNY_CACHE_DIR']})")
    for name in tqdm(names, desc="avatars", unit="avatar"):
        start = time.perf_counter()
        body = BODIES[name]
        glb, built = anny_model.build_glb(body, name, args.regions)
        (args.out / f"{name}.glb").write_bytes(glb)
        gltf_io.validate(args.out / f"{name}.glb")  # the checks applied to every imported glTF
        meta = sidecar(name, body, built.params, built.measured, built.avatar, glb,
                       time.perf_counter() - start, args.regions)
        (args.out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
        tqdm.write(f"{name}: {len(glb) / 1e6:.2f} MB, {built.measured}, rest pose {meta['rest_pose']}")


if __name__ == "__main__":
    main()
