"""Procedural renderer of street-level views of housing for the synthetic city.

A view looks across a street at a row of houses, as a street-level camera does. A
`SceneFactors` holds every visual factor of one photo; `plan_scene` turns it into a
concrete `ScenePlan` (how many storeys, where the trees and cars stand…), and `render`
draws the plan with PIL at twice the output size, then lights, weathers, turns the camera
and down-samples it. Everything random is drawn from the factors' `detail_seed`, so a
photo is a pure function of its factors.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from thisineq.data.dataset import MAX_SIZE, MIN_SIZE
from thisineq.errors import ConfigError

# Factors that the city ties to deprivation; 0 and 1 are the ends of each visual scale.
LINKED_FACTORS: tuple[str, ...] = (
    "density",  # 0 detached houses … 1 blocks of flats
    "upkeep",  # 0 stained, boarded-up facades … 1 fresh paint, clean walls
    "car_value",  # 0 old, dull, rusty cars … 1 new, glossy cars
    "facade_render",  # 0 bare brick … 1 smooth pale stucco
    "greenery",  # 0 no street trees … 1 several large trees
    "front_garden",  # 0 facade on the pavement … 1 deep lawn behind a hedge
    "window_size",  # 0 small windows … 1 tall sash windows
    "ornament",  # 0 plain facades … 1 cornices, window surrounds, bays and chimneys
    "litter",  # 0 clean pavement … 1 overflowing bins and litter
    "graffiti",  # 0 none … 1 tagged ground floor
)
GRAFFITI_DRAWN_ABOVE = 0.05  # less graffiti than this is not painted at all


@dataclass(frozen=True)
class SceneFactors:
    """All visual factors of one photo (linked factors in [0, 1])."""

    density: float = 0.5
    upkeep: float = 0.5
    car_value: float = 0.5
    facade_render: float = 0.5
    greenery: float = 0.5
    front_garden: float = 0.5
    window_size: float = 0.5
    ornament: float = 0.5
    litter: float = 0.2
    graffiti: float = 0.0
    sun: float = 0.6  # 0 dusk-dim … 1 bright midday light
    overcast: float = 0.3  # 0 clear blue sky … 1 heavy grey cloud
    fog: float = 0.0  # 0 clear air … 1 thick haze
    yaw: float = 0.0  # camera turn, −1 … 1 (about ±20°)
    hue: float = 0.0  # facade and render colour, 0 … 1 around a palette
    car_count: int = 1  # parked cars in view, 0 … 3
    detail_seed: int = 0  # placement and small colour choices


# --- the plan: discrete, inspectable choices -----------------------------------------------

BUILDING_TYPES = ("detached", "semi", "terrace", "flats")


@dataclass
class Unit:
    """One house or one block: a rectangle of facade with windows."""

    x0: float
    x1: float
    storeys: int
    door_side: int  # 0 left, 1 right; flats have a central entrance
    chimney: bool
    bay: bool
    boarded: list[int] = field(default_factory=list)  # indices of boarded windows


@dataclass
class ScenePlan:
    factors: SceneFactors
    building_type: str
    storey_height: float  # in units of the canvas height
    units: list[Unit]
    trees: list[tuple[float, float]]  # (x centre, canopy radius), canvas widths
    cars: list[tuple[float, float, float]]  # (x left, hue, colour value)
    bins: list[float]  # x positions of wheelie bins
    litter_specks: int
    bin_bags: int
    rng_state: dict  # generator state for the drawing's small random details

    def summary(self) -> dict:
        """Realised discrete factors, for the ground-truth table."""
        return {
            "building_type": self.building_type,
            "storeys": max(u.storeys for u in self.units),
            "n_trees": len(self.trees),
            "n_cars": len(self.cars),
            "n_bins": len(self.bins),
            "n_boarded_windows": sum(len(u.boarded) for u in self.units),
        }


def building_type_for(density: float, jitter: float) -> str:
    """Map the continuous density factor to a building type; `jitter` in [-1, 1] blurs edges."""
    index = int(np.clip((density + 0.08 * jitter) * 4.0, 0, 3.999))
    return BUILDING_TYPES[index]


# Canvas layout, in units of canvas height (y grows downwards) and width (x).
HORIZON = 0.45
PAVEMENT_TOP = 0.70
KERB = 0.78
CANVAS_ASPECT = 1.3  # the canvas is wider than the output so a turned camera shows no edge


def plan_scene(f: SceneFactors) -> ScenePlan:
    """Choose the concrete layout of one view from its factors."""
    rng = np.random.default_rng(f.detail_seed)
    btype = building_type_for(f.density, rng.uniform(-1, 1))
    units = _plan_units(btype, f, rng)
    n_trees = int(np.floor(f.greenery * 3.4 + rng.uniform(0, 0.6)))
    tree_x = np.sort(rng.uniform(0.05, 0.95, n_trees)) if n_trees else np.zeros(0)
    trees = [(float(x), float(0.05 + 0.07 * f.greenery + rng.uniform(0, 0.02))) for x in tree_x]
    car_slots = rng.permutation(4)[: int(f.car_count)]
    cars = [
        (float(0.02 + 0.25 * s + rng.uniform(0, 0.04)), float(rng.uniform()), float(rng.uniform())) for s in sorted(car_slots)
    ]
    n_bins = int(np.floor(f.litter * 4.0 + rng.uniform(0, 0.8)))
    bins = sorted(float(x) for x in rng.uniform(0.05, 0.95, n_bins))
    return ScenePlan(
        factors=f,
        building_type=btype,
        storey_height=0.115 if btype != "flats" else 0.095,
        units=units,
        trees=trees,
        cars=cars,
        bins=bins,
        litter_specks=int(f.litter**1.5 * 60),
        bin_bags=int(np.floor(f.litter**2 * 4 + rng.uniform(0, 0.5))),
        rng_state=rng.bit_generator.state,
    )


def _plan_units(btype: str, f: SceneFactors, rng: np.random.Generator) -> list[Unit]:
    x = float(rng.uniform(-0.25, 0.0))
    units = []
    while x < 1.0:
        if btype == "flats":
            width, gap, storeys = rng.uniform(0.8, 1.3), rng.uniform(0.08, 0.2), int(rng.integers(5, 11))
        elif btype == "terrace":
            width, gap, storeys = rng.uniform(0.19, 0.24), 0.0, int(rng.integers(2, 4))
        elif btype == "semi":
            width, gap, storeys = rng.uniform(0.2, 0.25), 0.0, 2
            if len(units) % 2 == 1:
                gap = rng.uniform(0.07, 0.12)
        else:
            width, gap, storeys = rng.uniform(0.3, 0.4), rng.uniform(0.1, 0.18), int(rng.integers(2, 4))
        if btype == "semi" and len(units) % 2 == 1:
            storeys = units[-1].storeys
        n_windows = 2 * storeys if btype != "flats" else 5 * storeys
        boarded = [i for i in range(n_windows) if rng.uniform() < 0.35 * (1 - f.upkeep) ** 3]
        units.append(
            Unit(
                x0=x,
                x1=x + width,
                storeys=storeys,
                door_side=int(len(units) % 2) if btype in ("semi", "terrace") else int(rng.integers(0, 2)),
                chimney=rng.uniform() < 0.2 + 0.8 * f.ornament,
                bay=btype != "flats" and rng.uniform() < f.ornament * 1.2 - 0.15,
                boarded=boarded,
            )
        )
        x += width + gap
    return units


# --- colours ---------------------------------------------------------------------------------


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return int(r * 255), int(g * 255), int(b * 255)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    t = float(np.clip(t, 0, 1))
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def facade_colour(f: SceneFactors, btype: str) -> tuple[int, int, int]:
    """Brick (red through London-stock yellow) blended towards pale render."""
    brick_hue = 0.01 + 0.10 * f.hue  # red brick … yellow stock brick
    brick = _rgb(brick_hue, 0.55 - 0.15 * f.hue, 0.55 + 0.1 * f.hue)
    if btype == "flats":
        brick = _mix(brick, (150, 150, 145), 0.5)  # concrete-framed blocks
    render = _rgb(0.08 + 0.5 * f.hue, 0.12, 0.93)
    dirty = _mix(brick, render, f.facade_render)
    return _mix(dirty, (95, 88, 80), 0.35 * (1 - f.upkeep))


# --- drawing ---------------------------------------------------------------------------------


class _Canvas:
    """PIL drawing in layout units: x in canvas widths, y in canvas heights."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.image = Image.new("RGB", (width, height))
        self.draw = ImageDraw.Draw(self.image)
        self.facade_mask = Image.new("L", (width, height))
        self.mask_draw = ImageDraw.Draw(self.facade_mask)

    def box(self, x0, y0, x1, y1) -> tuple[float, float, float, float]:
        left, top = x0 * self.w, y0 * self.h
        return (left, top, max(left, x1 * self.w - 1), max(top, y1 * self.h - 1))

    def rect(self, x0, y0, x1, y1, fill, facade: bool = False) -> None:
        if x1 <= x0 or y1 <= y0:
            return
        self.draw.rectangle(self.box(x0, y0, x1, y1), fill=fill)
        if facade:
            self.mask_draw.rectangle(self.box(x0, y0, x1, y1), fill=255)

    def ellipse(self, x0, y0, x1, y1, fill) -> None:
        self.draw.ellipse(self.box(x0, y0, x1, y1), fill=fill)

    def polygon(self, points, fill) -> None:
        self.draw.polygon([(x * self.w, y * self.h) for x, y in points], fill=fill)

    def line(self, points, fill, width_px: float) -> None:
        self.draw.line([(x * self.w, y * self.h) for x, y in points], fill=fill, width=max(1, round(width_px)))


def render(plan: ScenePlan, size: int = 64, *, supersample: int = 2) -> np.ndarray:
    """Draw a planned scene. Returns uint8 (size, size, 3)."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ConfigError(f"size must be within {MIN_SIZE}–{MAX_SIZE} pixels, got {size}")
    f = plan.factors
    rng = np.random.default_rng()
    rng.bit_generator.state = plan.rng_state
    height = size * supersample
    canvas = _Canvas(int(round(height * CANVAS_ASPECT)), height)
    _draw_sky(canvas, f, rng)
    base = PAVEMENT_TOP - 0.075 * f.front_garden
    _draw_background(canvas, f, base, rng)
    _draw_buildings(canvas, plan, base, rng)
    _draw_garden(canvas, f, base, rng)
    _draw_street(canvas, plan, rng)
    for x, radius in plan.trees:
        _draw_tree(canvas, x, radius, rng)
    for x, hue, value in plan.cars:
        _draw_car(canvas, x, hue, value, f.car_value, rng)
    pixels = _texture(canvas, plan, rng)
    pixels = _light_and_weather(pixels, f, rng)
    image = Image.fromarray(pixels)
    image = _turn_camera(image, f.yaw, height)
    return np.asarray(image.resize((size, size), Image.Resampling.BOX))


def _draw_sky(c: _Canvas, f: SceneFactors, rng: np.random.Generator) -> None:
    top = _mix(_rgb(0.58, 0.55, 0.85), (150, 152, 158), f.overcast)
    low = _mix(_rgb(0.56, 0.25, 0.97), (190, 190, 192), f.overcast)
    bands = 12
    for i in range(bands):
        c.rect(0, i * HORIZON / bands, 1, (i + 1) * HORIZON / bands + 0.01, _mix(top, low, i / (bands - 1)))
    c.rect(0, HORIZON, 1, PAVEMENT_TOP, low)
    for _ in range(int(2 + 5 * f.overcast)):
        x, y = rng.uniform(-0.1, 1.0), rng.uniform(0.0, 0.25)
        shade = _mix((250, 250, 250), (165, 165, 170), f.overcast)
        c.ellipse(x, y, x + rng.uniform(0.12, 0.3), y + rng.uniform(0.04, 0.08), shade)


def _draw_background(c: _Canvas, f: SceneFactors, base: float, rng: np.random.Generator) -> None:
    """Distant rooftops and trees that show through gaps between houses."""
    for _ in range(6):
        x = rng.uniform(-0.1, 1.0)
        top = rng.uniform(0.22, 0.36)
        c.rect(x, top, x + rng.uniform(0.1, 0.25), base, _mix((120, 112, 108), (175, 178, 185), 0.5 + 0.4 * f.fog))
    for _ in range(int(1 + 4 * f.greenery)):
        x = rng.uniform(-0.1, 1.0)
        r = rng.uniform(0.05, 0.1)
        c.ellipse(x, 0.3 - r, x + 2 * r / CANVAS_ASPECT, 0.3 + 2 * r, (70, 100, 62))


def _draw_buildings(c: _Canvas, plan: ScenePlan, base: float, rng: np.random.Generator) -> None:
    f = plan.factors
    wall = facade_colour(f, plan.building_type)
    for unit in plan.units:
        top = base - unit.storeys * plan.storey_height
        if plan.building_type == "flats":
            _draw_block(c, unit, top, base, wall, plan, rng)
        else:
            _draw_house(c, unit, top, base, wall, plan, rng)


def _draw_house(c, unit: Unit, top, base, wall, plan: ScenePlan, rng) -> None:
    roof_colour = _mix((78, 72, 78), (120, 70, 55), rng.uniform(0, 1))
    overhang = 0.008
    roof_h = 0.07 + 0.02 * rng.uniform()
    if unit.chimney:
        cx = unit.x0 + (0.2 if unit.door_side else 0.75) * (unit.x1 - unit.x0)
        c.rect(cx, top - roof_h - 0.03, cx + 0.025, top, _mix(wall, (90, 60, 50), 0.4))
        c.rect(cx - 0.003, top - roof_h - 0.035, cx + 0.028, top - roof_h - 0.026, (70, 60, 55))
    c.polygon(
        [
            (unit.x0 - overhang, top),
            (unit.x0 + 0.06, top - roof_h),
            (unit.x1 - 0.06, top - roof_h),
            (unit.x1 + overhang, top),
        ],
        roof_colour,
    )
    c.rect(unit.x0, top, unit.x1, base, wall, facade=True)
    if plan.building_type == "terrace":
        c.rect(unit.x1 - 0.004, top, unit.x1, base, _mix(wall, (40, 40, 40), 0.3))
    _draw_storeys(c, unit, top, base, plan, columns=2, rng=rng)


def _draw_block(c, unit: Unit, top, base, wall, plan: ScenePlan, rng) -> None:
    c.rect(unit.x0, top, unit.x1, base, wall, facade=True)
    c.rect(unit.x0 - 0.005, top - 0.015, unit.x1 + 0.005, top, _mix(wall, (60, 60, 60), 0.4))
    band = _mix(wall, (225, 225, 220), 0.5)
    for s in range(unit.storeys):
        y = base - (s + 1) * plan.storey_height
        c.rect(unit.x0, y - 0.006, unit.x1, y, band)
    _draw_storeys(c, unit, top, base, plan, columns=5, rng=rng)


def _draw_storeys(c, unit: Unit, top, base, plan: ScenePlan, columns: int, rng) -> None:
    """Windows, surrounds, cornices, a bay and the door of one unit."""
    f = plan.factors
    width = unit.x1 - unit.x0
    cell_w = width / columns
    win_w = cell_w * (0.32 + 0.28 * f.window_size)
    win_h = plan.storey_height * (0.38 + 0.34 * f.window_size)
    frame = _mix((248, 248, 244), (125, 115, 100), 1 - f.upkeep)
    glass = _mix((45, 60, 80), (120, 140, 165), 0.3 + 0.4 * (1 - f.overcast))
    surround = _mix(facade_colour(f, plan.building_type), (240, 238, 228), 0.75)
    index = 0
    for s in range(unit.storeys):
        y_floor = base - s * plan.storey_height
        y_mid = y_floor - plan.storey_height * 0.55
        if f.ornament > 0.45 and plan.building_type != "flats":
            c.rect(unit.x0, y_floor - plan.storey_height, unit.x1, y_floor - plan.storey_height + 0.008, surround)
        for col in range(columns):
            if s == 0 and plan.building_type != "flats" and col == unit.door_side:
                _draw_door(c, unit.x0 + (col + 0.5) * cell_w, y_floor, plan, rng)
                index += 1
                continue
            if s == 0 and plan.building_type == "flats" and col == columns // 2:
                _draw_door(c, unit.x0 + (col + 0.5) * cell_w, y_floor, plan, rng, wide=True)
                index += 1
                continue
            cx = unit.x0 + (col + 0.5) * cell_w
            x0, x1 = cx - win_w / 2, cx + win_w / 2
            y0, y1 = y_mid - win_h / 2, y_mid + win_h / 2
            if s == 0 and unit.bay:
                bay_w = win_w * 1.6
                c.rect(cx - bay_w / 2, y0 - 0.012, cx + bay_w / 2, y_floor, surround)
                x0, x1 = cx - bay_w / 2 + 0.006, cx + bay_w / 2 - 0.006
            elif f.ornament > 0.3:
                pad = 0.004 + 0.006 * f.ornament
                c.rect(x0 - pad, y0 - pad * 1.6, x1 + pad, y1 + pad * 0.8, surround)
            if index in unit.boarded:
                c.rect(x0, y0, x1, y1, (128, 96, 62))
                c.line([(x0, y0), (x1, y1)], (95, 70, 45), c.h * 0.006)
            else:
                c.rect(x0, y0, x1, y1, frame)
                inset = 0.004
                c.rect(x0 + inset, y0 + inset * 1.3, x1 - inset, y1 - inset * 1.3, glass)
                c.rect(x0 + inset, (y0 + y1) / 2 - 0.002, x1 - inset, (y0 + y1) / 2 + 0.002, frame)
                if rng.uniform() < 0.5:  # a curtain or a lit room
                    c.rect(x0 + inset, y0 + inset * 1.3, (x0 + x1) / 2, (y0 + y1) / 2 - 0.002, _rgb(rng.uniform(), 0.2, 0.75))
            index += 1


def _draw_door(c, cx, y_floor, plan: ScenePlan, rng, wide: bool = False) -> None:
    f = plan.factors
    w = 0.05 if wide else 0.032
    h = plan.storey_height * 0.8
    door = _rgb(rng.uniform(), 0.35 + 0.4 * f.upkeep, 0.25 + 0.45 * f.upkeep)
    if f.ornament > 0.5:
        c.rect(cx - w / 2 - 0.008, y_floor - h - 0.018, cx + w / 2 + 0.008, y_floor, (235, 232, 222))
    c.rect(cx - w / 2, y_floor - h, cx + w / 2, y_floor, door)
    c.rect(cx - w / 2 + 0.004, y_floor - h + 0.006, cx + w / 2 - 0.004, y_floor - h + 0.02, (70, 85, 100))


def _draw_garden(c: _Canvas, f: SceneFactors, base: float, rng) -> None:
    if base < PAVEMENT_TOP - 0.004:
        lawn = _mix((88, 140, 60), (130, 128, 80), 0.5 * (1 - f.upkeep))
        c.rect(-0.1, base, 1.1, PAVEMENT_TOP, lawn)
    if f.front_garden > 0.25:
        hedge_h = 0.02 + 0.06 * f.front_garden
        hedge = _mix((40, 85, 40), (60, 100, 45), rng.uniform())
        c.rect(-0.1, PAVEMENT_TOP - hedge_h, 1.1, PAVEMENT_TOP, hedge)
        for i in range(14):  # a bumpy top
            x = i / 13 + rng.uniform(-0.03, 0.03)
            c.ellipse(x - 0.04, PAVEMENT_TOP - hedge_h - 0.015, x + 0.04, PAVEMENT_TOP - hedge_h + 0.02, hedge)
    else:
        c.rect(-0.1, PAVEMENT_TOP - 0.018, 1.1, PAVEMENT_TOP, _mix((150, 95, 75), (120, 115, 110), rng.uniform()))


def _draw_street(c: _Canvas, plan: ScenePlan, rng) -> None:
    f = plan.factors
    c.rect(-0.1, PAVEMENT_TOP, 1.1, KERB, (172, 170, 165))
    c.rect(-0.1, KERB - 0.012, 1.1, KERB, (200, 198, 192))
    c.rect(-0.1, KERB, 1.1, 1.0, (78, 78, 82))
    c.rect(-0.1, KERB + 0.01, 1.1, KERB + 0.014, (215, 190, 50))  # double yellow lines
    c.rect(-0.1, KERB + 0.02, 1.1, KERB + 0.024, (215, 190, 50))
    for i in range(5):
        c.rect(i * 0.25 + 0.05, 0.93, i * 0.25 + 0.17, 0.95, (225, 225, 225))
    if f.graffiti > GRAFFITI_DRAWN_ABOVE:
        _draw_graffiti(c, f.graffiti, rng)
    for x in plan.bins:
        body = [(40, 90, 50), (50, 50, 55), (110, 112, 115), (40, 60, 120)][int(rng.integers(0, 4))]
        c.rect(x, PAVEMENT_TOP - 0.035, x + 0.03, PAVEMENT_TOP + 0.03, body)
        c.rect(x - 0.003, PAVEMENT_TOP - 0.04, x + 0.033, PAVEMENT_TOP - 0.032, _mix(body, (0, 0, 0), 0.3))
    for _ in range(plan.bin_bags):
        x = rng.uniform(0, 0.95)
        c.ellipse(x, PAVEMENT_TOP + 0.01, x + 0.04, PAVEMENT_TOP + 0.055, (25, 25, 28))
    for _ in range(plan.litter_specks):
        x, y = rng.uniform(0, 1), rng.uniform(PAVEMENT_TOP - 0.01, KERB + 0.05)
        c.rect(x, y, x + 0.008, y + 0.008, _rgb(rng.uniform(), 0.6, 0.9))


def _draw_graffiti(c: _Canvas, amount: float, rng) -> None:
    for _ in range(int(1 + 6 * amount)):
        x, y = rng.uniform(0, 0.9), rng.uniform(PAVEMENT_TOP - 0.09, PAVEMENT_TOP - 0.03)
        points = [(x + i * 0.015, y + rng.uniform(-0.02, 0.02)) for i in range(int(rng.integers(3, 7)))]
        c.line(points, _rgb(rng.uniform(), 0.9, 0.95), c.h * (0.004 + 0.006 * amount))


def _draw_tree(c: _Canvas, x: float, radius: float, rng) -> None:
    trunk_top = PAVEMENT_TOP - 0.12
    c.rect(x - 0.008, trunk_top, x + 0.008, (PAVEMENT_TOP + KERB) / 2, (85, 65, 45))
    centre_y = trunk_top - radius * 0.8
    rx = radius / CANVAS_ASPECT
    dark = _mix((35, 75, 35), (70, 95, 40), rng.uniform())
    c.ellipse(x - rx, centre_y - radius, x + rx, centre_y + radius, dark)
    for _ in range(4):
        dx, dy = rng.uniform(-0.5, 0.5) * rx, rng.uniform(-0.6, 0.3) * radius
        c.ellipse(
            x + dx - rx * 0.4,
            centre_y + dy - radius * 0.4,
            x + dx + rx * 0.4,
            centre_y + dy + radius * 0.4,
            _mix(dark, (140, 170, 80), 0.35),
        )


def _draw_car(c: _Canvas, x: float, hue: float, value: float, car_value: float, rng) -> None:
    length, y_road = 0.2, KERB + 0.11
    sat = 0.15 + 0.65 * car_value * value
    body = _rgb(hue, sat, 0.3 + 0.55 * car_value)
    if car_value < 0.35:
        body = _mix(body, (110, 95, 80), 0.5 - car_value)
    cabin_h = 0.06 if car_value > 0.5 else 0.07  # older cars sit boxier and taller
    c.rect(x, y_road - 0.06, x + length, y_road, body)
    c.polygon(
        [
            (x + 0.03, y_road - 0.06),
            (x + 0.06, y_road - 0.06 - cabin_h),
            (x + 0.15, y_road - 0.06 - cabin_h),
            (x + 0.185, y_road - 0.06),
        ],
        body,
    )
    c.polygon(
        [
            (x + 0.045, y_road - 0.062),
            (x + 0.068, y_road - 0.055 - cabin_h),
            (x + 0.145, y_road - 0.055 - cabin_h),
            (x + 0.17, y_road - 0.062),
        ],
        (60, 75, 90),
    )
    if car_value > 0.55:  # a glossy highlight
        c.rect(x + 0.01, y_road - 0.05, x + length - 0.01, y_road - 0.042, _mix(body, (255, 255, 255), 0.6))
    elif car_value < 0.3:  # rust
        for _ in range(3):
            rx = x + rng.uniform(0.01, length - 0.03)
            c.ellipse(rx, y_road - 0.03, rx + 0.02, y_road - 0.012, (120, 70, 40))
    for wx in (x + 0.035, x + length - 0.035):
        c.ellipse(wx - 0.022, y_road - 0.025, wx + 0.022, y_road + 0.03, (20, 20, 20))
        hub = (190, 190, 195) if car_value > 0.4 else (90, 90, 90)
        c.ellipse(wx - 0.01, y_road - 0.008, wx + 0.01, y_road + 0.014, hub)


# --- pixels: texture, light, weather, camera --------------------------------------------------

_TEXTURE_CACHE: dict[tuple[int, int], np.ndarray] = {}


def _brick_texture(height: int, width: int) -> np.ndarray:
    """A fixed brick-course pattern, multiplicative, (height, width, 1)."""
    key = (height, width)
    if key not in _TEXTURE_CACHE:
        rows = np.arange(height)[:, None]
        cols = np.arange(width)[None, :]
        course = max(2, height // 64)
        mortar = (rows % (2 * course) == 0) | (((cols + (rows // (2 * course)) % 2 * 3 * course) % (6 * course)) == 0)
        grain = np.random.default_rng(7).normal(0, 0.05, (height, width))
        _TEXTURE_CACHE[key] = (1.0 + grain - 0.12 * mortar)[..., None].astype(np.float32)
    return _TEXTURE_CACHE[key]


def _texture(c: _Canvas, plan: ScenePlan, rng) -> np.ndarray:
    """Brick courses and weathering stains on the facade; float32 RGB in 0–255."""
    f = plan.factors
    pixels = np.asarray(c.image, dtype=np.float32)
    mask = np.asarray(c.facade_mask, dtype=np.float32)[..., None] / 255.0
    brickiness = (1 - f.facade_render) * (0.4 if plan.building_type == "flats" else 1.0)
    texture = 1 + (_brick_texture(c.h, c.w) - 1) * brickiness
    stains = 1 - 0.35 * (1 - f.upkeep) ** 1.5 * _stain_field(c.h, c.w, rng)
    return pixels * (1 + mask * (texture * stains[..., None] - 1))


def _stain_field(height: int, width: int, rng) -> np.ndarray:
    """Streaks running down from window sills and roof lines: a smooth random field in [0, 1]."""
    coarse = rng.uniform(0, 1, (6, 12)).astype(np.float32)
    field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR))
    streak = np.repeat(rng.uniform(0, 1, (1, width)).astype(np.float32), height, axis=0)
    return np.clip(0.6 * field + 0.6 * streak**3, 0, 1)


def _light_and_weather(pixels: np.ndarray, f: SceneFactors, rng) -> np.ndarray:
    height = pixels.shape[0]
    warm = np.array([1.06, 1.0, 0.9], np.float32)
    cool = np.array([0.94, 0.98, 1.05], np.float32)
    tint = warm * (1 - f.overcast) + cool * f.overcast
    brightness = 0.72 + 0.38 * f.sun - 0.12 * f.overcast
    contrast = 1.0 - 0.35 * f.overcast
    mean = pixels.mean(axis=(0, 1), keepdims=True)
    pixels = (mean + (pixels - mean) * contrast) * brightness * tint
    if f.fog > 0.02:
        depth = np.clip(1.25 - np.arange(height, dtype=np.float32) / height, 0.2, 1.0)[:, None, None]
        haze = np.float32(0.75 * f.fog) * depth
        pixels = pixels * (1 - haze) + haze * 200.0
    pixels += rng.normal(0, 2.0, pixels.shape[:2])[..., None].astype(np.float32)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _turn_camera(image: Image.Image, yaw: float, out_height: int) -> Image.Image:
    """Crop the square view from the wide canvas through a perspective of a camera turned by `yaw`."""
    side = out_height
    x_off = (image.width - side) / 2 + yaw * (image.width - side) / 2 * 0.8
    coeffs = _perspective_coeffs(side, x_off, yaw, HORIZON * out_height)
    return image.transform((side, side), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)


def _perspective_coeffs(side: int, x_off: float, yaw: float, horizon: float) -> tuple[float, ...]:
    """Solve the 8 perspective coefficients that map the output square onto a trapezoid.

    The edge of the view the camera turns towards is nearer, so it is magnified: its source
    extent around the horizon shrinks by up to 15 %, which keeps every source point on the canvas.
    """
    shrink = 0.15 * abs(yaw)
    left_scale, right_scale = (1.0, 1 - shrink) if yaw > 0 else (1 - shrink, 1.0)
    dst = [(0, 0), (side, 0), (side, side), (0, side)]
    src = [
        (x_off, horizon - horizon * left_scale),
        (x_off + side, horizon - horizon * right_scale),
        (x_off + side, horizon + (side - horizon) * right_scale),
        (x_off, horizon + (side - horizon) * left_scale),
    ]
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return tuple(np.linalg.solve(np.array(rows, float), np.array(rhs, float)))
