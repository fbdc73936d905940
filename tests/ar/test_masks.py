"""AR image regions: the torso between shoulder and hip lines by nearest body part, arms in front, sleeves."""
import numpy as np
import pytest


def _marks(points: dict[str, tuple[float, float]], size: tuple[int, int], z: dict[str, float] | None = None):
    from avatar_wardrobe.pose import landmarks as lm
    from avatar_wardrobe.records import Landmarks

    image = np.zeros((lm.COUNT, 3))
    for name, (x, y) in points.items():
        image[lm.INDEX[name]] = (x / size[0], y / size[1], (z or {}).get(name, 0.0))
    return Landmarks(0, 0.0, image=image, world=np.zeros((lm.COUNT, 3)), visibility=np.ones(lm.COUNT), image_size=size)


# A front-facing person, arms hanging at the sides, in a 200 x 300 image (pixels).
STANDING = {"left_shoulder": (130, 80), "right_shoulder": (70, 80), "left_hip": (120, 180), "right_hip": (80, 180),
            "left_elbow": (145, 135), "right_elbow": (55, 135), "left_wrist": (150, 185), "right_wrist": (50, 185),
            "left_index": (151, 200), "right_index": (49, 200), "left_knee": (118, 240), "right_knee": (82, 240),
            "left_ankle": (118, 295), "right_ankle": (82, 295), "left_ear": (110, 40), "right_ear": (90, 40),
            "left_pinky": (152, 198), "right_pinky": (48, 198), "left_thumb": (148, 198), "right_thumb": (52, 198)}


def _person(size, points, torso_half_width=28, limb_px=12):
    import cv2

    w, h = size
    mask = np.zeros((h, w), np.uint8)
    cx = (points["left_shoulder"][0] + points["right_shoulder"][0]) / 2
    cv2.rectangle(mask, (int(cx - torso_half_width), 72), (int(cx + torso_half_width), 190), 1, -1)
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")):
        for s in ("left", "right"):
            cv2.line(mask, tuple(map(int, points[f"{s}_{a}"])), tuple(map(int, points[f"{s}_{b}"])), 1, limb_px)
    cv2.circle(mask, (int(cx), 40), 18, 1, -1)
    return mask.astype(np.float32)


def test_torso_region_keeps_hanging_arms_head_and_legs_out():
    from avatar_wardrobe.ar.masks import torso_region

    size = (200, 300)
    person = _person(size, STANDING)
    region = torso_region(_marks(STANDING, size), size, person)
    assert region[130, 100] and region[100, 75]                 # chest, side of the chest
    assert not region[135, 145] and not region[160, 148]        # the left arm beside the body
    assert not region[40, 100] and not region[250, 100]         # head, legs
    assert not (region & (person < 0.5)).any()                  # only the person's own pixels


def test_torso_region_keeps_a_bulge_beyond_the_joints():
    """A torso seen turned or leaning shows body outside the shoulder-hip quadrilateral (the back):
    it is still torso; the old dilated-quadrilateral region cut it off."""
    from avatar_wardrobe.ar.masks import torso_region

    size = (200, 300)
    arms_out = dict(STANDING, left_elbow=(170, 80), left_wrist=(198, 80), left_index=(199, 80),
                    right_elbow=(30, 80), right_wrist=(2, 80), right_index=(1, 80))
    person = _person(size, arms_out, torso_half_width=45)  # a thick torso (seen from the side)
    region = torso_region(_marks(arms_out, size), size, person)
    assert region[150, 57] and region[150, 143]  # 20 px outside the quadrilateral's edges
    old = np.zeros(region.shape, np.uint8)
    import cv2
    cv2.fillConvexPoly(old, np.array([(130, 80), (70, 80), (80, 180), (120, 180)], np.int32), 1)
    old = cv2.dilate(old.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)  # 0.12 x 60 px
    assert not old[150, 57]


def test_arm_in_front_is_cut_out_of_the_torso():
    from avatar_wardrobe.ar.masks import torso_region

    size = (200, 300)
    folded = dict(STANDING, left_elbow=(110, 140), left_wrist=(80, 120), left_index=(72, 115),
                  left_pinky=(73, 118), left_thumb=(75, 112))
    marks = _marks(folded, size, z={"left_elbow": -0.3, "left_wrist": -0.4, "left_shoulder": 0.0})
    region = torso_region(marks, size, _person(size, folded))
    assert not region[130, 95]  # on the forearm across the belly
    assert region[170, 100]


def test_sleeve_share_measures_how_far_down_the_arm_a_garment_reaches():
    from avatar_wardrobe.ar.masks import sleeve_share

    shoulder, elbow, wrist = np.array([0.2, 1.35, 0]), np.array([0.45, 1.35, 0]), np.array([0.7, 1.35, 0])
    torso = np.array([[x, y, 0.05] for x in np.linspace(-0.15, 0.15, 7) for y in np.linspace(0.9, 1.4, 6)])
    short = np.array([[x, 1.35, 0.06] for x in np.linspace(0.2, 0.32, 5)])     # half the upper arm
    long = np.array([[x, 1.35, 0.06] for x in np.linspace(0.2, 0.68, 12)])     # to the wrist
    assert sleeve_share(torso, shoulder, elbow, wrist) == pytest.approx(0.0, abs=0.05)
    assert sleeve_share(np.vstack([torso, short]), shoulder, elbow, wrist) == pytest.approx(0.24, abs=0.02)
    assert sleeve_share(np.vstack([torso, long]), shoulder, elbow, wrist) == pytest.approx(0.96, abs=0.02)


def test_a_sleeve_keeps_the_top_of_an_arm_in_front_behind_the_garment():
    from avatar_wardrobe.ar.masks import arm_mask

    size = (200, 300)
    folded = dict(STANDING, left_elbow=(110, 140), left_wrist=(80, 120), left_index=(72, 115),
                  left_pinky=(73, 118), left_thumb=(75, 112))
    marks = _marks(folded, size, z={"left_elbow": -0.3, "left_wrist": -0.4, "left_shoulder": 0.0})
    bare, sleeved = arm_mask(marks, size), arm_mask(marks, size, covered_share=0.25)
    assert bare[85, 128] and not sleeved[85, 128]    # just below the shoulder: inside a short sleeve
    assert bare[135, 111] and sleeved[135, 111]      # the elbow passes in front either way
    assert arm_mask(marks, size, covered_share=1.0)[118, 76]  # the hand is never covered


def test_an_arm_a_little_nearer_than_its_shoulder_is_not_in_front():
    """MediaPipe reads a hanging arm's wrist slightly nearer than the shoulder; that arm is beside the body."""
    from avatar_wardrobe.ar.masks import arm_in_front

    hanging = _marks(STANDING, (200, 300), z={"left_wrist": -0.05, "left_shoulder": 0.0})
    forward = _marks(STANDING, (200, 300), z={"left_wrist": -0.5, "left_shoulder": 0.0})
    assert not arm_in_front(hanging, "left") and arm_in_front(forward, "left")
