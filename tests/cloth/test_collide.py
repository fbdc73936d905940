"""Push-out of garment vertices from the limb proxies, and the skinned-trunk backstop, on the real avatar."""
from __future__ import annotations

import numpy as np

from avatar_wardrobe.avatar.proxies import CAPSULE, HULL
from avatar_wardrobe.cloth.collide import PUSH_MARGIN_M, BodyBackstop, PushOut
from avatar_wardrobe.cloth.skin import SparseSkin


def _trunk(avatar):
    sk, rig = avatar.skeleton, avatar.rig
    return [sk.index(n) for n in (rig.hips, *rig.spine)]


def _rest_skin(avatar):
    return np.broadcast_to(np.eye(4), (len(avatar.skeleton), 4, 4)).copy()


def _unweighted(points, avatar):
    """Skin influences on the hips only (so every limb proxy may push)."""
    joints = np.full((len(points), 4), avatar.skeleton.index(avatar.rig.hips))
    weights = np.zeros((len(points), 4))
    weights[:, 0] = 1.0
    return joints, weights


def test_points_inside_limb_proxies_end_outside_them_and_others_stay(avatar, proxies):
    rng = np.random.default_rng(3)
    push = PushOut(proxies, _trunk(avatar), *_unweighted(np.zeros((1, 3)), avatar))
    pose = proxies.rest(push.index)
    kinds = proxies.kinds[push.index]
    assert (kinds == CAPSULE).any() and (kinds == HULL).any()
    # Points scattered through every limb proxy, plus points far from the body.
    inside = np.concatenate([pose.centres + rng.normal(scale=0.01, size=pose.centres.shape) for _ in range(5)])
    inside = inside[pose.distances(inside).min(axis=1) < -0.002]
    far = rng.normal(size=(50, 3)) * 0.05 + [0.0, 3.0, 0.0]
    points = np.concatenate([inside, far])
    push = PushOut(proxies, _trunk(avatar), *_unweighted(points, avatar))
    assert len(inside) >= 2 * len(pose)
    out, moved = push(points, pose)
    after = pose.distances(out).min(axis=1)
    assert moved >= len(inside) * 0.9
    # Out of every limb proxy, to the margin (overlapping pieces at the joints included).
    assert np.median(after[: len(inside)]) >= PUSH_MARGIN_M * 0.99
    assert after[: len(inside)].min() > -0.001
    np.testing.assert_array_equal(out[len(inside):], far)
    assert not np.shares_memory(out, points)


def test_a_vertex_skinned_to_a_limb_is_not_pushed_out_of_it(avatar, proxies):
    push = PushOut(proxies, _trunk(avatar), *_unweighted(np.zeros((1, 3)), avatar))
    pose = proxies.rest(push.index)
    c = int(np.flatnonzero(proxies.kinds[push.index] == CAPSULE)[0])
    point = pose.centres[c][None] + 1e-3
    bone = proxies.bones[push.index[c]]
    joints = np.array([[bone, 0, 0, 0]])
    weights = np.array([[1.0, 0.0, 0.0, 0.0]])
    out, moved = PushOut(proxies, _trunk(avatar), joints, weights)(point, pose)
    # Only proxies of other bones may move it; none of those holds this point deep inside.
    own = proxies.bones[push.index] == bone
    if (pose.distances(point)[0][~own] > 0).all():
        assert moved == 0
        np.testing.assert_array_equal(out, point)


def test_backstop_lifts_a_garment_vertex_pushed_into_the_trunk(avatar):
    body = avatar.body
    sk = avatar.skeleton
    trunk = _trunk(avatar)
    dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
    on_trunk = np.flatnonzero(np.isin(dominant, trunk))[::50]
    clearance = 0.01
    rest = body.positions[on_trunk] + clearance * body.normals[on_trunk]
    backstop = BodyBackstop(body, rest, trunk, lambda j, w, p, n: SparseSkin(j, w, len(sk), p, n), 0.06, 0.003)
    assert len(backstop.vertices) >= 0.9 * len(rest)
    skin = _rest_skin(avatar)
    untouched, moved = backstop(rest, skin)
    assert moved == 0
    np.testing.assert_array_equal(untouched, rest)
    sunk = rest - 0.03 * body.normals[on_trunk]      # 2 cm inside the body
    out, moved = backstop(sunk, skin)
    assert moved >= 0.9 * len(backstop.vertices)
    lifted = out[backstop.vertices] - body.positions[on_trunk][backstop.vertices]
    height = np.einsum("vi,vi->v", lifted, body.normals[on_trunk][backstop.vertices])
    assert np.median(height) >= 0.003 - 1e-9 and height.min() > -0.005


def test_a_vertex_split_between_two_bones_of_one_limb_rides_that_limb(avatar, proxies):
    """A trouser vertex at the knee, half thigh and half calf, is not pushed out of the calf."""
    sk, rig = avatar.skeleton, avatar.rig
    thigh, calf = sk.index(rig.limb("upper_leg", "l")), sk.index(rig.limb("lower_leg", "l"))
    probe = PushOut(proxies, _trunk(avatar), *_unweighted(np.zeros((1, 3)), avatar))
    pose = proxies.rest(probe.index)
    c = int(np.flatnonzero((proxies.bones[probe.index] == calf) & (proxies.kinds[probe.index] == CAPSULE))[0])
    point = pose.centres[c][None].copy()
    joints = np.array([[thigh, calf, 0, 0]])
    weights = np.array([[0.5, 0.5, 0.0, 0.0]])
    kept, moved = PushOut(proxies, _trunk(avatar), joints, weights, parents=sk.parents)(point, pose)
    assert moved == 0
    np.testing.assert_array_equal(kept, point)
    # Without the skeleton only the calf's own half counts: 0.5 of another bone, so it is pushed.
    _, moved = PushOut(proxies, _trunk(avatar), joints, np.array([[0.6, 0.4, 0.0, 0.0]]))(point, pose)
    assert moved == 1


def test_with_the_body_each_limb_proxy_margin_covers_its_own_skin(avatar, proxies):
    """A thigh is wider than its capsule: with the body, the push reaches past the bone's own skin."""
    from avatar_wardrobe.cloth.collide import FIT_PERCENTILE, MAX_FIT_MARGIN_M

    plain = PushOut(proxies, _trunk(avatar), *_unweighted(np.zeros((1, 3)), avatar))
    fitted = PushOut(proxies, _trunk(avatar), *_unweighted(np.zeros((1, 3)), avatar), body=avatar.body)
    extra = fitted.margin - plain.margin
    assert (extra >= 0).all() and (extra <= MAX_FIT_MARGIN_M + 1e-12).all() and extra.max() > 0.005
    body = avatar.body
    dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
    pose = proxies.rest(fitted.index)
    for bone in np.unique(proxies.bones[fitted.index]):
        own = np.flatnonzero(proxies.bones[fitted.index] == bone)
        skin = body.positions[dominant == bone]
        if len(skin) < 50:
            continue
        d = pose.distances(skin)[:, own]
        reach = fitted.margin[own][d.argmin(axis=1)] - PUSH_MARGIN_M
        covered = (d.min(axis=1) <= reach + 1e-9).mean()
        capped = np.isclose(extra[own], MAX_FIT_MARGIN_M).any()
        assert covered >= FIT_PERCENTILE / 100 - 0.01 or capped, avatar.skeleton.names[bone]


def _numpy_push(push, points, pose, candidates):
    """A plain numpy statement of the push-out rule (no culling), to check the compiled one: per
    pass, each candidate point inside allowed proxies (with the margin) goes where its longest
    way out leads; points moved in a pass are the next pass's candidates."""
    from avatar_wardrobe.cloth.collide import PASSES
    from avatar_wardrobe.transforms import quat_to_matrix

    rot = quat_to_matrix(pose.orientations)
    out, active, moved = points.copy(), np.asarray(candidates), np.zeros(len(points), bool)
    for _ in range(PASSES):
        best, target = np.full(len(points), -1.0), np.zeros_like(points)
        for c in range(len(push)):
            v = active[push.allowed[c, active]]
            p, centre, margin = out[v], pose.centres[c], push.margin[c]
            if push.capsule[c]:
                axis = pose.axes[c]
                t = np.clip((p - centre) @ axis, -push.half[c], push.half[c])
                radial = p - centre - t[:, None] * axis
                dist = np.linalg.norm(radial, axis=1)
                inside = dist < push.radii[c] + margin
                way = centre + t[:, None] * axis + radial / np.maximum(dist, 1e-12)[:, None] * (push.radii[c] + margin)
            else:
                local = (p - centre) @ rot[c]
                planes = push._planes[c]
                side = local @ planes[:, :3].T + planes[:, 3]
                face = side.argmax(axis=1)
                depth = side[np.arange(len(v)), face]
                inside = ((local >= push.box_lo[c]) & (local <= push.box_hi[c])).all(axis=1) & (depth < margin)
                way = (local + (margin - depth)[:, None] * planes[face, :3]) @ rot[c].T + centre
            step = ((way - p) ** 2).sum(axis=1)
            better = inside & (step >= best[v])
            best[v[better]], target[v[better]] = step[better], way[better]
        hit = np.flatnonzero(best >= 0)
        out[hit] = target[hit]
        moved[hit] = True
        active = hit
        if not len(hit):
            break
    return out, int(moved.sum())


def test_the_compiled_push_out_moves_what_the_numpy_rule_moves(avatar, proxies, shirt, motion):
    """On the moving shirt, the compiled push-out (every allowed pair, bounding-sphere cull) gives
    what the plain numpy rule gives: first the skinned places, then the final vertices."""
    from avatar_wardrobe.cloth.simulator import GarmentSim

    with GarmentSim(shirt, avatar, proxies=proxies) as sim:
        sim.reset(motion[0])
        push = sim._push
        moved_total = 0
        for pose in motion[1:]:
            state = sim.step(pose)
            limbs = sim.proxies.pose(sim._skin(pose), index=push.index)
            for points in (sim._render_skin(sim._skin(pose))[0], state.positions - 0.01 * state.normals):
                candidates = np.arange(len(points))
                compiled, moved = push(points, limbs)
                reference, moved_ref = _numpy_push(push, points, limbs, candidates)
                assert moved == moved_ref
                np.testing.assert_allclose(compiled, reference, atol=1e-12)
                moved_total += moved
        assert moved_total > 0


def test_limb_skin_moves_hanging_cloth_out_of_the_thigh(avatar):
    """Skirt vertices inside the thigh's skin (a leg swung into the hem) end in front of it (skin
    weights do not matter: a shipped skirt's hem skinned to the thigh is pushed too); a vertex above
    the hips and a vertex that may not leave its skinned place are not its business."""
    from avatar_wardrobe.cloth.collide import LIMB_MAX_DEPTH_M, LimbSkin

    body, sk, rig = avatar.body, avatar.skeleton, avatar.rig
    thigh = sk.index(rig.limb("upper_leg", "l"))
    dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
    on_thigh = np.flatnonzero(dominant == thigh)[::40]
    sunk = body.positions[on_thigh] - 0.02 * body.normals[on_thigh]       # 2 cm inside the thigh
    chest = body.positions[np.argmax(body.positions[:, 1] * (np.abs(body.positions[:, 0]) < 0.05))]
    points = np.concatenate([sunk, sunk, chest[None] - [0.0, 0.0, 0.02]])
    n = len(sunk)
    factory = lambda j, w, p, nr: SparseSkin(j, w, len(sk), p, nr)  # noqa: E731
    legs = LimbSkin(body, sk, rig, points, np.arange(len(points)), factory)
    assert set(legs.vertices) == set(range(2 * n))
    out, moved = legs(points, _rest_skin(avatar))
    assert moved >= 0.9 * 2 * n
    from scipy.spatial import cKDTree

    _, idx = cKDTree(body.positions).query(out[:2 * n])
    height = np.einsum("vi,vi->v", out[:2 * n] - body.positions[idx], body.normals[idx])
    assert np.median(height) >= PUSH_MARGIN_M - 1e-6 and height.min() > -LIMB_MAX_DEPTH_M
    np.testing.assert_array_equal(out[2 * n:], points[2 * n:])
    # Only candidates (vertices with a max distance) move; without any nothing does.
    some = LimbSkin(body, sk, rig, points, np.arange(n), factory)
    out, moved = some(points, _rest_skin(avatar))
    assert moved >= 0.9 * n
    np.testing.assert_array_equal(out[n:], points[n:])
    none = LimbSkin(body, sk, rig, points, np.zeros(0, np.int64), factory)
    assert len(none) == 0 and none(points, _rest_skin(avatar))[1] == 0


def test_limb_skin_of_the_arms_moves_a_shirt_vertex_out_of_the_upper_arm(avatar):
    """The same pass over the arms: a vertex skinned to the chest, 2 cm inside the upper arm's skin,
    ends in front of it; the legs' pass does not touch it."""
    from avatar_wardrobe.cloth.collide import LimbSkin

    body, sk, rig = avatar.body, avatar.skeleton, avatar.rig
    arm = sk.index(rig.limb("upper_arm", "r"))
    dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
    on_arm = np.flatnonzero(dominant == arm)[::30]
    points = body.positions[on_arm] - 0.02 * body.normals[on_arm]
    factory = lambda j, w, p, nr: SparseSkin(j, w, len(sk), p, nr)  # noqa: E731
    arms = LimbSkin(body, sk, rig, points, np.arange(len(points)), factory,
                    roles=("upper_arm", "lower_arm"))
    legs = LimbSkin(body, sk, rig, points, np.arange(len(points)), factory)
    assert len(arms) >= 0.9 * len(points)
    out, moved = arms(points, _rest_skin(avatar))
    assert moved >= 0.9 * len(points)
    h = np.einsum("vi,vi->v", out - body.positions[on_arm], body.normals[on_arm])
    assert np.median(h) > 0.0
    assert legs(points, _rest_skin(avatar))[1] == 0
