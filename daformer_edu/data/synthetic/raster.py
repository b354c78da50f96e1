"""Rasterising a scene: pinhole camera, painter's algorithm (far to near) into an instance map.

``_Canvas`` holds the instance map ``inst`` [H, W] and a per-instance table (class, part, colour keys, face
orientation); the ``_draw_*`` functions paint the ground, skyline, street sides, vehicles, two-wheelers,
people, street furniture and the ego vehicle's bonnet into it; ``_rasterize`` draws a whole ``Scene``.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import math

import numpy as np

from ..classes import IGNORE_INDEX
from .grammar import Scene
from .palette import FACE_L, FACE_R, FRONT, GROUND, SKY, P

__all__: list[str] = []  # internal: the public entry point is render_scene (render.py)


# ------------------------------------------------------------------------------------------------
# Rasterising: pinhole camera, painter's algorithm into an instance map.
# ------------------------------------------------------------------------------------------------
class _Canvas:
    """Instance map plus a per-instance table (class, part, colour keys, face)."""

    def __init__(self, scene: Scene, H: int, W: int):
        self.H, self.W = H, W
        self.f = scene.focal * W
        self.ch = scene.cam_h
        self.xv = scene.vanish_x * W
        self.yh = scene.horizon * H
        self.inst = np.zeros((H, W), np.int16)  # [H, W]; 0 = sky
        self.table = [(10, P["sky"], 0.5, 0.5, SKY)]  # (class, part, u1, u2, face)
        self.shadow_boxes = []  # (r0, r1, c0, c1) footprints of vehicles, for the target's cast shadows

    def add(self, cls, part, u1=0.5, u2=0.5, face=FRONT) -> int:
        self.table.append((cls, P[part], u1, u2, face))
        return len(self.table) - 1

    # projections (continuous pixel coordinates, pixel centres at i + 0.5)
    def col(self, X, z):
        return self.xv + self.f * X / z

    def row(self, Y, z):
        return self.yh + self.f * (self.ch - Y) / z

    def rect(self, c0, c1, r0, r1, iid):
        """Fill a pixel rectangle given by continuous edges; at least one pixel when inside the image."""
        a, b = int(math.floor(c0 + 0.5)), int(math.floor(c1 + 0.5))
        t, d = int(math.floor(r0 + 0.5)), int(math.floor(r1 + 0.5))
        b, d = max(b, a + 1), max(d, t + 1)
        a, b, t, d = max(a, 0), min(b, self.W), max(t, 0), min(d, self.H)
        if a < b and t < d:
            self.inst[t:d, a:b] = iid

    def box(self, X0, X1, Y0, Y1, z, iid):
        """A frontal rectangle (facing the camera) at depth z."""
        if z > 0.5:
            self.rect(self.col(X0, z), self.col(X1, z), self.row(Y1, z), self.row(Y0, z), iid)

    def ellipse(self, Xc, Yc, rx, ry, z, iid, ring=0.0):
        """A frontal ellipse at depth z (a ring of relative thickness ``ring`` when > 0)."""
        if z <= 0.5:
            return
        cx, cy = self.col(Xc, z), self.row(Yc, z)
        px, py = max(self.f * rx / z, 0.5), max(self.f * ry / z, 0.5)
        a, b = max(int(cx - px), 0), min(int(cx + px) + 1, self.W)
        t, d = max(int(cy - py), 0), min(int(cy + py) + 1, self.H)
        if a >= b or t >= d:
            return
        dx = ((np.arange(a, b) + 0.5 - cx) / px)[None, :]
        dy = ((np.arange(t, d) + 0.5 - cy) / py)[:, None]
        r2 = dx * dx + dy * dy
        m = r2 <= 1.0
        if ring > 0:
            m &= r2 >= (1.0 - max(ring, 1.5 / min(px, py))) ** 2
        self.inst[t:d, a:b][m] = iid

    def side(self, X, z0, z1, Y0, Y1, iid=None):
        """The face of the plane ``X = const`` between depths z0..z1 and heights Y0..Y1.

        ``Y1`` may be a function of z (a bumpy tree line). Returns ``(t, d, a, b, mask, z, Y)`` so callers
        can paint patterns (windows, wheels) inside the face, or None when it is not visible.
        """
        if abs(X) < 0.05:
            return None
        z0 = max(z0, 0.8)
        if z1 <= z0:
            return None
        ua, ub = sorted((self.col(X, z0), self.col(X, z1)))
        a, b = max(int(math.floor(ua + 0.5)), 0), min(int(math.floor(ub + 0.5)), self.W)
        if b <= a:
            if 0 <= ua < self.W:
                a, b = int(ua), int(ua) + 1
            else:
                return None
        cols = np.arange(a, b) + 0.5
        with np.errstate(divide="ignore"):
            z = self.f * X / (cols - self.xv)  # [nc] depth per column
        z = np.clip(np.where(z > 0, z, z1), z0, z1)
        top_y = Y1(z) if callable(Y1) else Y1
        top = self.yh + self.f * (self.ch - top_y) / z  # [nc]
        bot = self.yh + self.f * (self.ch - Y0) / z  # [nc]
        t, d = max(int(math.floor(top.min() + 0.5)), 0), min(int(math.floor(bot.max() + 0.5)) + 1, self.H)
        if t >= d:
            return None
        rows = (np.arange(t, d) + 0.5)[:, None]  # [nr, 1]
        mask = (rows >= top[None, :]) & (rows < np.maximum(bot, top + 1)[None, :])  # [nr, nc]
        if iid is not None:
            self.inst[t:d, a:b][mask] = iid
        Y = self.ch - (rows - self.yh) * z[None, :] / self.f  # [nr, nc] height
        return t, d, a, b, mask, z, Y

    def paint(self, region, cond, iid):
        """Paint ``iid`` where ``cond`` holds inside a region returned by ``side``."""
        t, d, a, b, mask = region[:5]
        self.inst[t:d, a:b][mask & cond] = iid


def _draw_ground(cv: _Canvas, s: Scene):
    H, W = cv.H, cv.W
    r0 = int(math.floor(cv.yh + 0.5))
    if r0 >= H:
        return
    rr = np.arange(r0, H) + 0.5 - cv.yh  # [Hg] rows below horizon
    rr = np.maximum(rr, 1e-3)
    z = (cv.f * cv.ch / rr)[:, None]  # [Hg, 1] depth per row
    X = (np.arange(W) + 0.5 - cv.xv)[None, :] * (cv.ch / rr)[:, None]  # [Hg, W] lateral metres
    g = np.full(X.shape, cv.add(9, "terrain", face=GROUND), np.int16)
    gl, gr = s.grass
    wl, wr = s.walk
    walk_id = cv.add(1, "sidewalk", face=GROUND)
    curb_id = cv.add(1, "curb", face=GROUND)
    left_walk = (X < -(s.road_l + gl)) & (X >= -(s.road_l + gl + wl))
    right_walk = (X > s.road_r + gr) & (X <= s.road_r + gr + wr)
    g[left_walk | right_walk] = walk_id
    curb = ((X < -(s.road_l + gl)) & (X >= -(s.road_l + gl + 0.25)) & (wl > 0)) | (
        (X > s.road_r + gr) & (X <= s.road_r + gr + 0.25) & (wr > 0)
    )
    g[curb] = curb_id
    road = (X >= -s.road_l) & (X <= s.road_r)
    g[road] = cv.add(0, "road", face=GROUND)
    lane_id = cv.add(0, "lane", face=GROUND)
    # lane markings: dashed lines between lanes, solid lines near the edges
    lw = 0.12
    marks = np.zeros(X.shape, bool)
    k = 1
    while -s.road_l + k * s.lane_w < s.road_r - 0.5:
        xm = -s.road_l + k * s.lane_w
        marks |= (np.abs(X - xm) < lw) & (np.mod(z, 9.0) < 3.5)
        k += 1
    marks |= (np.abs(X + s.road_l - 0.3) < lw) | (np.abs(X - s.road_r + 0.3) < lw)
    if s.crosswalk is not None:
        marks |= road & (np.abs(z - s.crosswalk) < 1.5) & (np.mod(X, 1.2) < 0.6)
    g[marks & road] = lane_id
    if s.rails is not None:
        rails = (np.abs(np.abs(X - s.rails) - 0.72) < 0.07) & road
        g[rails] = cv.add(0, "rail", face=GROUND)
    cv.inst[r0:H] = g


def _draw_skyline(cv: _Canvas, s: Scene):
    z = s.z_far
    for kind, X0, X1, h, u1, u2 in s.skyline:
        if kind == "building":
            cv.box(X0, X1, 0, h, z, cv.add(2, "building", u1, u2, FRONT))
        else:
            iid = cv.add(8, "vegetation", u1, u2, FRONT)
            cv.box(X0, X1, 0, h * 0.7, z, iid)
            cv.ellipse((X0 + X1) / 2, h * 0.7, (X1 - X0) / 2, h * 0.3, z, iid)


def _draw_side(cv: _Canvas, s: Scene, side: int):
    edge = (s.road_r if side > 0 else s.road_l) + s.grass[0 if side < 0 else 1] + s.walk[0 if side < 0 else 1]
    Xf = side * edge
    face = FACE_L if side < 0 else FACE_R
    for kind, z0, z1, h, u1, u2 in reversed(s.segments[side]):
        if kind == "building":
            iid = cv.add(2, "building", u1, u2, face)
            cv.box(Xf, Xf + side * 15, 0, h, z0, cv.add(2, "building", u1, u2, FRONT))  # near end wall
            reg = cv.side(Xf, z0, z1, 0, h, iid)
            if reg is None:
                continue
            z, Y = reg[5][None, :], reg[6]
            floor_h = 3.0 + 0.6 * u2
            period = 2.6 + 1.6 * u1
            win = (np.mod(z - z0, period) > 0.45 * period) & (np.mod(Y, floor_h) > 0.35 * floor_h)
            win &= (Y > floor_h * 1.3) & (Y < h - 0.6)
            cv.paint(reg, win, cv.add(2, "window", u2, u1, face))
            shop = (Y < floor_h * 1.15) & (Y > 0.3) & (np.mod(z - z0, 7.0) > 1.5) & (Y < floor_h * 0.9)
            cv.paint(reg, shop, cv.add(2, "shop", u1, u2, face))
        elif kind == "trees":
            phase, lam = 6.28 * u1, 2.5 + 4.0 * u2

            def crown(zz, h=h, phase=phase, lam=lam):
                return h * (0.8 + 0.2 * np.abs(np.sin(zz / lam + phase)) + 0.08 * np.sin(zz * 1.7 + phase))

            cv.side(Xf, z0, z1, 0, crown, cv.add(8, "vegetation", u1, u2, face))
        elif kind == "wall":
            if u1 < 0.6:  # something taller behind the wall
                cv.side(Xf + side * 3, z0, z1, 0, h + 3 + 6 * u2, cv.add(8, "vegetation", u2, u1, face))
            cv.side(Xf, z0, z1, 0, h, cv.add(3, "wall", u1, u2, face))
        elif kind == "fence":
            if u1 < 0.5:
                cv.side(Xf + side * 4, z0, z1, 0, h + 4 + 6 * u2, cv.add(8, "vegetation", u2, u1, face))
            reg = cv.side(Xf, z0, z1, 0, h, cv.add(4, "fence", u1, u2, face))
            if reg is not None:
                z, Y = reg[5][None, :], reg[6]
                post = (np.mod(z, 2.5) < 0.25) | (Y > h - 0.15) | (np.abs(Y - h * 0.4) < 0.07)
                cv.paint(reg, post, cv.add(4, "fencepost", u1, u2, face))


def _draw_person(cv, t, cls=11, base_y=0.0, seated=False):
    X, z, h = t["X"], t["z"], t.get("h", 1.75)
    top = cv.add(cls, "top", t["u1"], t["u2"])
    bottom = cv.add(cls, "bottom", t["u2"], t["u1"])
    skin = cv.add(cls, "skin", t["u3"], 0.5)
    hair = cv.add(cls, "hair", t["u4"], 0.5)
    if seated:  # rider: legs bent down onto the vehicle, torso leaning
        cv.box(X - 0.16, X + 0.16, base_y - 0.45, base_y + 0.05, z, bottom)
        y0 = base_y
        torso = (y0, y0 + 0.6)
    else:
        st = t.get("stride", 0.1)
        cv.box(X - 0.17 - st * 0.3, X - 0.03, 0, 0.47 * h, z, bottom)
        cv.box(X + 0.03, X + 0.17 + st * 0.3, 0, 0.47 * h, z, bottom)
        torso = (0.47 * h, 0.82 * h)
    cv.box(X - 0.21, X + 0.21, torso[0], torso[1], z, top)
    cv.box(X - 0.28, X - 0.21, torso[0] + 0.05, torso[1] - 0.02, z, top)
    cv.box(X + 0.21, X + 0.28, torso[0] + 0.05, torso[1] - 0.02, z, top)
    cv.ellipse(X, torso[1] + 0.13, 0.11, 0.13, z, skin)
    cv.box(X - 0.11, X + 0.11, torso[1] + 0.17, torso[1] + 0.26, z, hair)


def _wheels_on_side(cv, reg, zs, r, iid, ring=False):
    if reg is None:
        return
    z, Y = reg[5][None, :], reg[6]
    cond = np.zeros(reg[4].shape, bool)
    thick = max(0.06, 1.3 * float(z.mean()) / cv.f)
    for zc in zs:
        d2 = (z - zc) ** 2 + (Y - r) ** 2
        cond |= (d2 <= r * r) & ((d2 >= (r - thick) ** 2) if ring else True)
    cv.paint(reg, cond, iid)


def _draw_vehicle(cv: _Canvas, t: dict):
    """Cars, trucks, buses, trains: a box seen from behind (or the front) plus its visible side face."""
    kind, X, z, L = t["kind"], t["X"], t["z"], t["L"]
    cls = {"car": 13, "truck": 14, "bus": 15, "train": 16}[kind]
    w = {"car": t.get("w", 1.8), "truck": 2.5, "bus": 2.55, "train": 2.65}[kind]
    u1, u2 = t["u1"], t["u2"]
    x0, x1 = X - w / 2, X + w / 2
    Xs = x1 if x1 < 0 else (x0 if x0 > 0 else None)  # the side plane the camera sees
    face = FACE_R if (Xs is not None and Xs < 0) else FACE_L
    body = cv.add(cls, kind, u1, u2, FRONT)
    body_s = cv.add(cls, kind, u1, u2, face)
    glass = cv.add(cls, "glass", u2, 0.5, FRONT)
    glass_s = cv.add(cls, "glass", u2, 0.5, face)
    wheel = cv.add(cls, "wheel", 0.5, 0.5, FRONT)
    cv.shadow_boxes.append((cv.row(0, z + L * 0.9), cv.row(0, z) + 1.5, cv.col(x0 - 0.2, z), cv.col(x1 + 0.2, z)))
    front = t.get("front", False)
    if kind == "car":
        hgt = t.get("h", 1.5)
        if Xs is not None:
            cv.side(Xs, z, z + L, 0.3, 0.95 * hgt / 1.5, body_s)
            reg = cv.side(Xs, z + 0.22 * L, z + 0.8 * L, 0.95 * hgt / 1.5, hgt, body_s)
            if reg is not None:
                zz, Y = reg[5][None, :], reg[6]
                win = (Y < hgt - 0.07) & (Y > 1.02 * hgt / 1.5) & (np.abs(zz - (z + 0.51 * L)) > 0.08)
                cv.paint(reg, win, glass_s)
            reg = cv.side(Xs, z, z + L, 0.0, 0.7, None)
            _wheels_on_side(cv, reg, (z + 0.75, z + L - 0.8), 0.33, wheel)
        cv.box(x0, x1, 0.3, 0.95 * hgt / 1.5, z, body)
        cv.box(x0 + 0.15, x1 - 0.15, 0.95 * hgt / 1.5, hgt, z, body)
        cv.box(x0 + 0.25, x1 - 0.25, 1.0 * hgt / 1.5, hgt - 0.08, z, glass)
        cv.box(x0 + 0.05, x0 + 0.32, 0.0, 0.35, z, wheel)
        cv.box(x1 - 0.32, x1 - 0.05, 0.0, 0.35, z, wheel)
        lamp = cv.add(cls, "headlight" if front else "taillight", 0.5, 0.5)
        cv.box(x0 + 0.06, x0 + 0.36, 0.72, 0.86, z, lamp)
        cv.box(x1 - 0.36, x1 - 0.06, 0.72, 0.86, z, lamp)
        return
    if kind == "truck":
        cab = 2.3
        if Xs is not None:
            cv.side(Xs, z, z + L - cab, 0.9, 3.6, body_s)
            cab_id = cv.add(cls, "truck", u2, u1, face)
            reg = cv.side(Xs, z + L - cab, z + L, 0.7, 3.0, cab_id)
            if reg is not None:
                cv.paint(reg, (reg[6] > 1.9) & (reg[6] < 2.8) & (reg[5][None, :] > z + L - cab + 0.3), glass_s)
            reg = cv.side(Xs, z, z + L, 0.0, 1.1, None)
            _wheels_on_side(cv, reg, (z + 1.0, z + 2.3, z + L - 1.1), 0.5, wheel)
        cv.box(x0 + 0.1, x0 + 0.5, 0.0, 0.9, z, wheel)
        cv.box(x1 - 0.5, x1 - 0.1, 0.0, 0.9, z, wheel)
        cv.box(x0, x1, 0.9, 3.6, z, body)
        cv.box(x0 + 0.1, x1 - 0.1, 0.6, 0.9, z, cv.add(cls, "wheel", 0.5, 0.5))
        return
    # bus and train: long boxes with a band of windows
    top_y = 3.1 if kind == "bus" else 3.5
    pitch = 1.4 if kind == "bus" else 1.8
    if Xs is not None:
        reg = cv.side(Xs, z, z + L, 0.35, top_y, body_s)
        if reg is not None:
            zz, Y = reg[5][None, :], reg[6]
            win = (Y > 1.4) & (Y < top_y - 0.45) & (np.mod(zz - z, pitch) > 0.18) & (zz > z + 0.4)
            cv.paint(reg, win, glass_s)
            if kind == "train":  # joints between the cars of a tram
                cv.paint(reg, (np.mod(zz - z, 8.5) < 0.25) & (zz > z + 1), cv.add(cls, "wheel", 0.5, 0.5, face))
        reg = cv.side(Xs, z, z + L, 0.0, 1.0, None)
        _wheels_on_side(cv, reg, (z + 2.2, z + L - 2.5), 0.48 if kind == "bus" else 0.4, wheel)
    cv.box(x0, x1, 0.35, top_y, z, body)
    if kind == "train":
        cv.box(x0 + 0.15, x1 - 0.15, 1.3, 3.0, z, glass)
        cv.box(X - 0.6, X + 0.6, top_y, top_y + 0.12, z + 3, body)  # pantograph
        cv.box(X - 0.05, X + 0.05, top_y, top_y + 0.8, z + 3, body)
        cv.box(x0, x1, 0.0, 0.35, z, wheel)
    else:
        cv.box(x0 + 0.2, x1 - 0.2, 1.8 if not front else 1.2, top_y - 0.25, z, glass)
        cv.box(x0 + 0.1, x0 + 0.5, 0.0, 0.6, z, wheel)
        cv.box(x1 - 0.5, x1 - 0.1, 0.0, 0.6, z, wheel)
        lamp = cv.add(cls, "headlight" if front else "taillight", 0.5, 0.5)
        cv.box(x0 + 0.1, x0 + 0.4, 0.5, 0.75, z, lamp)
        cv.box(x1 - 0.4, x1 - 0.1, 0.5, 0.75, z, lamp)


def _draw_two_wheeler(cv: _Canvas, t: dict):
    kind, X, z = t["kind"], t["X"], t["z"]
    cls = 18 if kind == "bicycle" else 17
    L, r = (1.75, 0.34) if kind == "bicycle" else (2.0, 0.31)
    part = "bike" if kind == "bicycle" else "moto"
    face = FACE_R if X < 0 else FACE_L
    frame = cv.add(cls, part, t["u1"], t["u2"], face)
    wheel = cv.add(cls, "wheel", 0.5, 0.5, face)
    reg = cv.side(X, z, z + L, 0.0, 1.05, None)
    if reg is not None:
        zz, Y = reg[5][None, :], reg[6]
        if kind == "bicycle":
            _wheels_on_side(cv, reg, (z + r, z + L - r), r, wheel, ring=True)
            thick = max(0.05, 1.2 * float(zz.mean()) / cv.f)
            zr = (zz - z - r) / (L - 2 * r)  # 0 at rear axle, 1 at front
            bar = (np.abs(Y - (r + 0.45 * np.clip(zr, 0, 1))) < thick) & (zr > 0) & (zr < 1)
            bar |= (np.abs(zr - 0.35) < thick / (L - 2 * r)) & (Y > r) & (Y < 0.95)
            bar |= (np.abs(zr - 0.95) < thick / (L - 2 * r)) & (Y > r) & (Y < 1.05)
            cv.paint(reg, bar, frame)
        else:
            _wheels_on_side(cv, reg, (z + r, z + L - r), r, wheel)
            body = (Y > 0.35) & (Y < 0.95) & (zz > z + 0.35) & (zz < z + L - 0.2)
            cv.paint(reg, body, frame)
    # the edge-on view from behind
    wdt = 0.05 if kind == "bicycle" else 0.14
    cv.box(X - wdt, X + wdt, 0.0, 2 * r, z, wheel)
    cv.box(X - 0.28, X + 0.28, 0.95, 1.02, z + 0.1, frame)  # handlebar
    if kind == "motorcycle":
        cv.box(X - 0.24, X + 0.24, 0.35, 0.95, z + 0.1, cv.add(cls, part, t["u1"], t["u2"]))
    if t.get("rider"):
        _draw_person(
            cv, dict(X=X, z=z + 0.2, u1=t["u3"], u2=t["u4"], u3=t["u1"], u4=t["u2"]), cls=12, base_y=0.95, seated=True
        )


def _draw_furniture(cv: _Canvas, t: dict):
    kind, X, z = t["kind"], t["X"], t["z"]
    if kind == "pole":
        pole = cv.add(5, "pole", t["u1"], t["u2"])
        w, h = t["w"], t["h"]
        cv.box(X - w / 2, X + w / 2, 0, h, z, pole)
        inward = -np.sign(X)
        if t["light"]:
            box = cv.add(6, "tl_box", 0.5, 0.5)
            lamp = cv.add(6, "lamp_green" if t["green"] else "lamp_red", 0.5, 0.5)
            Xl = X + inward * (2.5 + 2.5 * t["u1"]) if t["over_road"] else X
            if t["over_road"]:
                cv.box(min(X, Xl), max(X, Xl), h - 0.18, h, z, pole)
            cv.box(Xl - 0.2, Xl + 0.2, h - 1.15, h - 0.1, z - 0.05, box)
            cv.ellipse(Xl, h - 0.35 if not t["green"] else h - 0.9, 0.11, 0.11, z - 0.1, lamp)
        elif t["lamp"]:
            Xl = X + inward * 1.8
            cv.box(min(X, Xl), max(X, Xl), h - 0.12, h, z, pole)
            cv.box(Xl - 0.3, Xl + 0.3, h - 0.25, h - 0.05, z, pole)
        if t["sign"]:
            _draw_sign(
                cv,
                dict(X=X, z=z - 0.05, h=2.4, shape=int(t["u2"] * 3), u1=t["u2"], u2=t["u1"], two=False),
                with_pole=False,
            )
    elif kind == "sign":
        _draw_sign(cv, t, with_pole=True)
    elif kind == "tree":
        veg = cv.add(8, "vegetation", t["u1"], t["u2"])
        trunk = cv.add(8, "trunk", t["u2"], 0.5)
        cv.box(X - 0.15, X + 0.15, 0, t["trunk"] + t["r"] * 0.5, z, trunk)
        cv.ellipse(X, t["trunk"] + t["r"], t["r"], t["r"] * 1.1, z, veg)
        cv.ellipse(X + 0.5 * t["r"], t["trunk"] + 0.7 * t["r"], 0.7 * t["r"], 0.7 * t["r"], z, veg)


def _draw_sign(cv: _Canvas, t: dict, with_pole: bool):
    X, z, h = t["X"], t["z"], t["h"]
    if with_pole:
        cv.box(X - 0.04, X + 0.04, 0, h + 0.1, z + 0.05, cv.add(5, "pole", t["u1"], t["u2"]))
    colours = ("sign_blue", "sign_red", "sign_yellow")
    for k in range(2 if t.get("two") else 1):
        iid = cv.add(7, colours[int(t["u1"] * 3 + k) % 3], 0.5, t["u2"])
        y = h - 0.75 * k
        if t["shape"] == 0:
            cv.ellipse(X, y, 0.33, 0.33, z, iid)
        elif t["shape"] == 1:
            cv.box(X - 0.32, X + 0.32, y - 0.32, y + 0.32, z, iid)
        else:
            cv.box(X - 0.45, X + 0.45, y - 0.22, y + 0.22, z, iid)


def _draw_hood(cv: _Canvas, s: Scene):
    if s.hood <= 0:
        return
    H, W = cv.H, cv.W
    top = H * (1 - s.hood)
    c = (np.arange(W) + 0.5 - W / 2) / (W / 2)  # [-1, 1]
    edge = top + H * s.hood * 0.7 * c**2  # [W] bonnet outline
    r0 = max(int(top), 0)
    rows = (np.arange(r0, H) + 0.5)[:, None]
    m = rows >= edge[None, :]
    cv.inst[r0:H][m] = cv.add(IGNORE_INDEX, "hood")


def _rasterize(scene: Scene, H: int, W: int) -> _Canvas:
    cv = _Canvas(scene, H, W)
    _draw_ground(cv, scene)
    _draw_skyline(cv, scene)
    _draw_side(cv, scene, -1)
    _draw_side(cv, scene, +1)
    for t in scene.things:
        if t["kind"] in ("car", "truck", "bus", "train"):
            _draw_vehicle(cv, t)
        elif t["kind"] in ("bicycle", "motorcycle"):
            _draw_two_wheeler(cv, t)
        elif t["kind"] == "person":
            _draw_person(cv, t)
        else:
            _draw_furniture(cv, t)
    _draw_hood(cv, scene)
    return cv
