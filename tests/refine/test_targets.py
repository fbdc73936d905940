"""The offline targets: ambient occlusion darkens corners, not open floor; toon inks the avatar's outline."""
import numpy as np

from avatar_wardrobe.refine import data as D
from avatar_wardrobe.refine.metrics import flicker_ratio, psnr, ssim

H, W, FOCAL = 96, 128, 180.0


def _corner_scene():
    """A floor (bottom half) meeting a wall (top half) 3 m away, seen straight on; normals face the camera."""
    depth = np.full((H, W), 3.0, np.float32)
    normals = np.zeros((H, W, 3), np.float32)
    normals[..., 2] = 1.0                       # the wall faces the viewer (+z toward the camera)
    rows = np.arange(H // 2, H)
    depth[H // 2:] = (3.0 - 0.02 * (rows - H // 2 + 1))[:, None]   # the floor comes toward the camera
    normals[H // 2:] = (0.0, 1.0, 0.0)          # the floor faces up
    return depth, normals, np.zeros((H, W), bool)


def test_ambient_occlusion_darkens_the_corner_not_the_open_wall():
    depth, normals, background = _corner_scene()
    ao = D.ambient_occlusion(depth, normals, background, FOCAL)
    corner = ao[H // 2 + 1, W // 2]
    open_wall = ao[5, W // 2]
    assert open_wall > 0.98
    assert corner < open_wall - 0.05
    assert ao.min() >= 1 - D.AO_MAX - 1e-6


def test_toon_inks_the_avatar_silhouette_and_flattens_shading():
    depth = np.full((H, W), 5.0, np.float32)
    normals = np.zeros((H, W, 3), np.float32)
    normals[..., 2] = 1.0
    avatar = np.zeros((H, W), bool)
    avatar[30:70, 40:90] = True
    depth[avatar] = 3.0
    colour = np.full((H, W, 3), 90, np.uint8)
    colour[30:70, 40:90] = np.linspace(60, 200, 50).astype(np.uint8)[None, :, None]   # a shading ramp on the avatar
    toon = D.toon_target(colour, depth, normals, np.zeros((H, W), bool), avatar)
    edge_dark = toon[50, 40].astype(int).sum()
    inside = toon[50, 60].astype(int).sum()
    assert edge_dark < inside / 2, "no ink on the silhouette"
    ramp = toon[50, 45:85, 1]
    assert len(np.unique(ramp)) < len(np.unique(colour[50, 45:85, 1])) / 2, "the ramp was not banded"
    assert np.array_equal(toon[5, 5], colour[5, 5]), "the backdrop changed"


def test_metrics_can_tell_images_apart():
    rng = np.random.default_rng(0)
    a = np.repeat(np.linspace(40, 200, 32)[None, :, None], 32, 0).repeat(3, 2).astype(np.uint8)  # a smooth ramp
    b = np.clip(a.astype(int) + rng.integers(-20, 20, a.shape), 0, 255).astype(np.uint8)        # plus noise
    assert psnr(a, a) == float("inf") and psnr(a, b) < 30
    assert ssim(a, a) > 0.999 and ssim(a, b) < 0.95
    seq = np.stack([a, a, b, b])
    assert flicker_ratio(seq, seq) == 1.0
    assert flicker_ratio(np.stack([a, b, a, b]), seq) > 2.0
