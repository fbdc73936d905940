"""Compiled per-frame loops of the cloth blend (skinning, normals, embedding, stretch limits, push-outs): numba's only user.

Each loop here replaced a chain of numpy calls whose cost was the fixed cost of the calls, not
the arithmetic (the 1k shirt's blend was ~7 ms a frame in ~400 small numpy calls). The kernels
are compiled on first use and cached next to this file (numba's `cache=True`; where that folder
is read-only numba falls back to its user cache); they let go of the GIL, so a frame's blend can
overlap Panda's draw of the previous one. All arrays are float64 / int64, C-contiguous.
"""
from __future__ import annotations

import numpy as np
from numba import njit

EPS = 1e-12
NO_PLANE = -1e30  # padding plane offset: never the nearest face


def _jit(fn):
    return njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(fn)


@_jit
def _unit_rows(out):
    """Rows of out made unit length in place (zero rows stay zero)."""
    for v in range(out.shape[0]):
        n = max(np.sqrt(out[v, 0] ** 2 + out[v, 1] ** 2 + out[v, 2] ** 2), EPS)
        out[v, 0] /= n
        out[v, 1] /= n
        out[v, 2] /= n


@_jit
def skin(matrices, joints, weights, points, out, translate=True):
    """Linear blend skinning: out[v] = sum_k w[v,k] * M[j[v,k]] @ (p[v], 1); matrices (J, 3, 4).
    translate False: directions (the 3x3 parts only)."""
    t = 1.0 if translate else 0.0
    for v in range(points.shape[0]):
        x, y, z = points[v, 0], points[v, 1], points[v, 2]
        ox = oy = oz = 0.0
        for k in range(joints.shape[1]):
            w = weights[v, k]
            if w == 0.0:
                continue
            m = matrices[joints[v, k]]
            ox += w * (m[0, 0] * x + m[0, 1] * y + m[0, 2] * z + t * m[0, 3])
            oy += w * (m[1, 0] * x + m[1, 1] * y + m[1, 2] * z + t * m[1, 3])
            oz += w * (m[2, 0] * x + m[2, 1] * y + m[2, 2] * z + t * m[2, 3])
        out[v, 0], out[v, 1], out[v, 2] = ox, oy, oz


@_jit
def blend_linear(matrices, joints, weights, out):
    """The blended 3x3 parts, out (V, 3, 3): sum_k w[v,k] * M[j[v,k]][:3, :3]."""
    for v in range(joints.shape[0]):
        out[v] = 0.0
        for k in range(joints.shape[1]):
            w = weights[v, k]
            if w == 0.0:
                continue
            m = matrices[joints[v, k]]
            for i in range(3):
                for j in range(3):
                    out[v, i, j] += w * m[i, j]


@_jit
def skin_normals(matrices, joints, weights, normals, out):
    """Normals turned by the blended 3x3 parts, made unit (zero stays zero)."""
    skin(matrices, joints, weights, normals, out, False)
    _unit_rows(out)


@_jit
def vertex_normals(points, faces, out):
    """Area-weighted vertex normals (the sum of the adjacent faces' cross products, made unit)."""
    out[:] = 0.0
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        ux, uy, uz = points[b, 0] - points[a, 0], points[b, 1] - points[a, 1], points[b, 2] - points[a, 2]
        vx, vy, vz = points[c, 0] - points[a, 0], points[c, 1] - points[a, 1], points[c, 2] - points[a, 2]
        nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        for i in (a, b, c):
            out[i, 0] += nx
            out[i, 1] += ny
            out[i, 2] += nz
    _unit_rows(out)


@_jit
def reconstruct(nodes, corners, bary, offset, out):
    """Render vertices riding their sim triangles: barycentric point plus offset along the
    triangle's unit normal; corners (V, 3) sim nodes, bary (V, 3), offset (V,)."""
    for v in range(corners.shape[0]):
        a, b, c = corners[v, 0], corners[v, 1], corners[v, 2]
        ux, uy, uz = nodes[b, 0] - nodes[a, 0], nodes[b, 1] - nodes[a, 1], nodes[b, 2] - nodes[a, 2]
        vx, vy, vz = nodes[c, 0] - nodes[a, 0], nodes[c, 1] - nodes[a, 1], nodes[c, 2] - nodes[a, 2]
        nx, ny, nz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        s = offset[v] / max(np.sqrt(nx * nx + ny * ny + nz * nz), EPS)
        wa, wb, wc = bary[v, 0], bary[v, 1], bary[v, 2]
        out[v, 0] = wa * nodes[a, 0] + wb * nodes[b, 0] + wc * nodes[c, 0] + s * nx
        out[v, 1] = wa * nodes[a, 1] + wb * nodes[b, 1] + wc * nodes[c, 1] + s * ny
        out[v, 2] = wa * nodes[a, 2] + wb * nodes[b, 2] + wc * nodes[c, 2] + s * nz


@_jit
def clamp(out, skinned, max_distance, index):
    """out[i] moved (in place) to within max_distance[i] of skinned[i], for i in index."""
    for i in index:
        dx, dy, dz = out[i, 0] - skinned[i, 0], out[i, 1] - skinned[i, 1], out[i, 2] - skinned[i, 2]
        length = np.sqrt(dx * dx + dy * dy + dz * dz)
        scale = min(1.0, max_distance[i] / max(length, EPS))
        out[i, 0] = skinned[i, 0] + dx * scale
        out[i, 1] = skinned[i, 1] + dy * scale
        out[i, 2] = skinned[i, 2] + dz * scale


@_jit
def offset_blend(simulated, skinned, normals, max_distance, backstop, ramp, out):
    """Chaos-style final vertices: out = skinned + ramp * the simulated offset, clamped to the
    vertex's max distance and kept from going further in along its skinned normal than its
    backstop (the rest gap to the body)."""
    for v in range(simulated.shape[0]):
        dx, dy, dz = simulated[v, 0] - skinned[v, 0], simulated[v, 1] - skinned[v, 1], simulated[v, 2] - skinned[v, 2]
        scale = min(1.0, max_distance[v] / max(np.sqrt(dx * dx + dy * dy + dz * dz), EPS))
        dx, dy, dz = dx * scale, dy * scale, dz * scale
        nx, ny, nz = normals[v, 0], normals[v, 1], normals[v, 2]
        over = min(dx * nx + dy * ny + dz * nz + backstop[v], 0.0)  # < 0 where the vertex went too far in
        out[v, 0] = skinned[v, 0] + ramp * (dx - over * nx)
        out[v, 1] = skinned[v, 1] + ramp * (dy - over * ny)
        out[v, 2] = skinned[v, 2] + ramp * (dz - over * nz)


@_jit
def edge_strain(nodes, edges, rest, edge_count, ratio, strain):
    """ratio[e]: edge e's length over its rest length; strain[n]: the mean ratio of node n's edges
    (edge_count[n] of them; 0 for none)."""
    strain[:] = 0.0
    for e in range(edges.shape[0]):
        a, b = edges[e, 0], edges[e, 1]
        dx, dy, dz = nodes[a, 0] - nodes[b, 0], nodes[a, 1] - nodes[b, 1], nodes[a, 2] - nodes[b, 2]
        r = np.sqrt(dx * dx + dy * dy + dz * dz) / max(rest[e], EPS)
        ratio[e] = r
        strain[a] += r
        strain[b] += r
    for n in range(strain.shape[0]):
        strain[n] /= max(edge_count[n], 1)


@_jit
def _leave(px, py, pz, c, centres, axes, rot, half, radius, capsule, box_lo, box_hi, planes, margin):
    """Where point p leaves proxy c (with its margin), or (False, ...) when p is outside it."""
    rx, ry, rz = px - centres[c, 0], py - centres[c, 1], pz - centres[c, 2]
    if capsule[c]:
        ax, ay, az = axes[c, 0], axes[c, 1], axes[c, 2]
        t = min(max(rx * ax + ry * ay + rz * az, -half[c]), half[c])
        qx, qy, qz = rx - t * ax, ry - t * ay, rz - t * az
        dist = np.sqrt(qx * qx + qy * qy + qz * qz)
        r = radius[c]
        if dist >= r:
            return False, 0.0, 0.0, 0.0
        if dist > EPS:
            qx, qy, qz = qx / dist, qy / dist, qz / dist
        else:  # on the axis any direction is outward: one perpendicular to it
            qx, qy, qz = 0.0, az, -ay  # axis x (1, 0, 0)
            n = np.sqrt(qy * qy + qz * qz)
            if n < 1e-6:
                qx, qy, qz = 0.0, 0.0, 1.0
            else:
                qy, qz = qy / n, qz / n
        return (True, centres[c, 0] + t * ax + qx * r, centres[c, 1] + t * ay + qy * r,
                centres[c, 2] + t * az + qz * r)
    m = rot[c]
    lx = m[0, 0] * rx + m[1, 0] * ry + m[2, 0] * rz  # local = R^T (p - centre)
    ly = m[0, 1] * rx + m[1, 1] * ry + m[2, 1] * rz
    lz = m[0, 2] * rx + m[1, 2] * ry + m[2, 2] * rz
    if (lx < box_lo[c, 0] or ly < box_lo[c, 1] or lz < box_lo[c, 2]
            or lx > box_hi[c, 0] or ly > box_hi[c, 1] or lz > box_hi[c, 2]):
        return False, 0.0, 0.0, 0.0
    best, depth = 0, -np.inf
    for f in range(planes.shape[1]):
        s = lx * planes[c, f, 0] + ly * planes[c, f, 1] + lz * planes[c, f, 2] + planes[c, f, 3]
        if s > depth:
            best, depth = f, s
    if depth >= margin[c]:
        return False, 0.0, 0.0, 0.0
    move = margin[c] - depth
    lx += move * planes[c, best, 0]
    ly += move * planes[c, best, 1]
    lz += move * planes[c, best, 2]
    return (True, m[0, 0] * lx + m[0, 1] * ly + m[0, 2] * lz + centres[c, 0],
            m[1, 0] * lx + m[1, 1] * ly + m[1, 2] * lz + centres[c, 1],
            m[2, 0] * lx + m[2, 1] * ly + m[2, 2] * lz + centres[c, 2])


@_jit
def push_out(points, candidates, allowed, centres, axes, rot, half, radius, capsule, bound, box_lo, box_hi,
             planes, margin, passes, out):
    """Each candidate point moved out of the proxies it may be pushed by (allowed (V, C)): per
    pass, of the proxies it is inside, the one whose way out is longest wins (at a joint the
    shortest way out of one limb piece often ends inside the next); up to `passes` passes.
    out starts as a copy of points; returns how many points moved."""
    moved = 0
    for v in candidates:
        px, py, pz = points[v, 0], points[v, 1], points[v, 2]
        hit_any = False
        for _ in range(passes):
            found, bx, by, bz, best = False, 0.0, 0.0, 0.0, -1.0
            for c in range(centres.shape[0]):
                if not allowed[v, c]:
                    continue
                dx, dy, dz = px - centres[c, 0], py - centres[c, 1], pz - centres[c, 2]
                if dx * dx + dy * dy + dz * dz >= bound[c] * bound[c]:
                    continue
                inside, qx, qy, qz = _leave(px, py, pz, c, centres, axes, rot, half, radius, capsule, box_lo,
                                            box_hi, planes, margin)
                if inside:
                    step = (qx - px) ** 2 + (qy - py) ** 2 + (qz - pz) ** 2
                    if step >= best:
                        found, bx, by, bz, best = True, qx, qy, qz, step
            if not found:
                break
            px, py, pz = bx, by, bz
            hit_any = True
        if hit_any:
            out[v, 0], out[v, 1], out[v, 2] = px, py, pz
            moved += 1
    return moved


@_jit
def stretch_limit(out, skinned, max_distance, edges, rest, share, loose, limit, iterations):
    """Gauss-Seidel passes shortening edges longer than limit * rest: each long edge's excess is
    moved onto its ends by their share (share (E, 2): 0 for an end that may not move) as it is
    visited, so a correction travels along a chain of edges within one pass (averaged Jacobi passes
    needed ~100 to bring the skirt's stretched band to the limit). Loose nodes are clamped to their max
    distance after each pass; stops early when no edge is long. Returns the passes run."""
    for it in range(iterations):
        any_long = False
        for e in range(edges.shape[0]):
            a, b = edges[e, 0], edges[e, 1]
            dx, dy, dz = out[b, 0] - out[a, 0], out[b, 1] - out[a, 1], out[b, 2] - out[a, 2]
            length = np.sqrt(dx * dx + dy * dy + dz * dz)
            excess = length - limit * rest[e]
            if excess <= 0.0:
                continue
            any_long = True
            f = excess / max(length, EPS)
            dx, dy, dz = dx * f, dy * f, dz * f
            s0, s1 = share[e, 0], share[e, 1]
            out[a, 0] += s0 * dx
            out[a, 1] += s0 * dy
            out[a, 2] += s0 * dz
            out[b, 0] -= s1 * dx
            out[b, 1] -= s1 * dy
            out[b, 2] -= s1 * dz
        if not any_long:
            return it
        clamp(out, skinned, max_distance, loose)
    return iterations


@_jit
def surface_grid(surface, cell, pad):
    """A dense uniform grid over surface points (their box grown by pad): (origin (3,), dims (3,),
    start (cells + 1,), order (N,)): the points of cell k are order[start[k]:start[k + 1]]."""
    n = surface.shape[0]
    origin = np.empty(3)
    dims = np.empty(3, np.int64)
    for i in range(3):
        lo, hi = np.inf, -np.inf
        for v in range(n):
            lo, hi = min(lo, surface[v, i]), max(hi, surface[v, i])
        if n == 0:
            lo = hi = 0.0
        origin[i] = lo - pad
        dims[i] = int((hi - lo + 2 * pad) / cell) + 1
    cells = dims[0] * dims[1] * dims[2]
    key = np.empty(n, np.int64)
    start = np.zeros(cells + 1, np.int64)
    for v in range(n):
        ix = int((surface[v, 0] - origin[0]) / cell)
        iy = int((surface[v, 1] - origin[1]) / cell)
        iz = int((surface[v, 2] - origin[2]) / cell)
        key[v] = (ix * dims[1] + iy) * dims[2] + iz
        start[key[v] + 1] += 1
    for k in range(cells):
        start[k + 1] += start[k]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    for v in range(n):
        order[fill[key[v]]] = v
        fill[key[v]] += 1
    return origin, dims, start, order


@_jit
def _band(dims, start, rings):
    """(cells,) bool: cells within `rings` cells (Chebyshev) of one that holds a surface point: the
    occupied cells dilated along x, then y, then z (a box dilation is separable)."""
    nx, ny, nz = dims[0], dims[1], dims[2]
    cur = np.zeros((nx, ny, nz), np.bool_)
    for x in range(nx):
        for y in range(ny):
            for z in range(nz):
                k = (x * ny + y) * nz + z
                cur[x, y, z] = start[k + 1] > start[k]
    for axis in range(3):
        nxt = np.zeros((nx, ny, nz), np.bool_)
        n = dims[axis]
        for x in range(nx):
            for y in range(ny):
                for z in range(nz):
                    if not cur[x, y, z]:
                        continue
                    c = x if axis == 0 else y if axis == 1 else z
                    for d in range(max(c - rings, 0), min(c + rings, n - 1) + 1):
                        if axis == 0:
                            nxt[d, y, z] = True
                        elif axis == 1:
                            nxt[x, d, z] = True
                        else:
                            nxt[x, y, d] = True
        cur = nxt
    return cur.ravel()


@_jit
def _nearest(px, py, pz, surface, origin, dims, start, order, cell, reach):
    """Index of the surface point nearest p if one lies within reach (rings of grid cells, nearest
    first), else -1. After ring r every point not yet seen is at least r cells plus p's distance to
    its own cell's nearest face away, so the walk stops as soon as the best is nearer than that (at
    ring 0 for most points: 1 cell looked at instead of 27)."""
    gx, gy, gz = (px - origin[0]) / cell, (py - origin[1]) / cell, (pz - origin[2]) / cell
    ix, iy, iz = int(np.floor(gx)), int(np.floor(gy)), int(np.floor(gz))
    fx, fy, fz = gx - ix, gy - iy, gz - iz
    edge = min(fx, 1.0 - fx, fy, 1.0 - fy, fz, 1.0 - fz) * cell
    rings = int(np.ceil(reach / cell))
    if (ix < -rings or iy < -rings or iz < -rings or ix >= dims[0] + rings or iy >= dims[1] + rings
            or iz >= dims[2] + rings):
        return -1
    best, best_d2 = -1, reach * reach
    for r in range(rings + 1):
        for x in range(max(ix - r, 0), min(ix + r, dims[0] - 1) + 1):
            for y in range(max(iy - r, 0), min(iy + r, dims[1] - 1) + 1):
                for z in range(max(iz - r, 0), min(iz + r, dims[2] - 1) + 1):
                    if max(abs(x - ix), abs(y - iy), abs(z - iz)) != r:
                        continue  # inner rings are done
                    k = (x * dims[1] + y) * dims[2] + z
                    for s in range(start[k], start[k + 1]):
                        v = order[s]
                        dx, dy, dz = surface[v, 0] - px, surface[v, 1] - py, surface[v, 2] - pz
                        d2 = dx * dx + dy * dy + dz * dz
                        if d2 < best_d2:
                            best, best_d2 = v, d2
        if best >= 0 and best_d2 <= (edge + r * cell) ** 2:
            break  # every point not yet seen is farther
    return best


@_jit
def push_out_of_surface(points, candidates, surface, normals, cell, reach, margin, max_depth, passes, out):
    """Each candidate point that lies behind the tangent plane of its nearest surface point (less than
    margin in front of it, at most max_depth behind: deeper, the nearest point is the wrong side of
    a fold) moved along that normal to margin in front; up to `passes` passes (a point moved out
    of one place can be nearest another). Only surface points within reach are looked at (at
    least max_depth plus the surface's point spacing). out starts as a copy of points; returns how
    many moved."""
    origin, dims, start, order = surface_grid(surface, cell, reach)
    band = _band(dims, start, int(np.ceil(reach / cell)))
    moved = 0
    for v in candidates:
        px, py, pz = points[v, 0], points[v, 1], points[v, 2]
        hit_any = False
        for _ in range(passes):
            ix = int(np.floor((px - origin[0]) / cell))
            iy = int(np.floor((py - origin[1]) / cell))
            iz = int(np.floor((pz - origin[2]) / cell))
            if (ix < 0 or iy < 0 or iz < 0 or ix >= dims[0] or iy >= dims[1] or iz >= dims[2]
                    or not band[(ix * dims[1] + iy) * dims[2] + iz]):
                break  # no surface point within reach
            b = _nearest(px, py, pz, surface, origin, dims, start, order, cell, reach)
            if b < 0:
                break
            nx, ny, nz = normals[b, 0], normals[b, 1], normals[b, 2]
            h = (px - surface[b, 0]) * nx + (py - surface[b, 1]) * ny + (pz - surface[b, 2]) * nz
            if h >= margin or h < -max_depth:
                break
            lift = margin - h
            px, py, pz = px + lift * nx, py + lift * ny, pz + lift * nz
            hit_any = True
        if hit_any:
            out[v, 0], out[v, 1], out[v, 2] = px, py, pz
            moved += 1
    return moved


def pack_planes(planes) -> np.ndarray:
    """(C, F, 4) plane equations padded with planes no point is near (capsules: all padding)."""
    most = max([len(p) for p in planes if p is not None], default=1)
    out = np.zeros((len(planes), most, 4))
    out[:, :, 3] = NO_PLANE
    for c, p in enumerate(planes):
        if p is not None:
            out[c, :len(p)] = p
    return out
