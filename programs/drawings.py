"""Line drawings of the built-in exercises, made for Hero: an SVG stick figure per exercise, drawn
from what the library says about it (body position, hip direction, knee straight or bent,
equipment). The start position is drawn faint, the end position solid, with an arrow between the
two feet and a caption saying which way the hip moves. Shown wherever the coach has not added a
photo or video of her own. Pure: no Flask, no database; the same exercise always gives the same
bytes, so the drawing is cached like a static file."""

from __future__ import annotations

import math
from functools import lru_cache
from xml.sax.saxutils import escape

from programs.engine import Exercise

THIGH = SHIN = 34
CAPTIONS = {
    "flexion": "Lift the leg forward",
    "extension": "Push the leg back",
    "abduction": "Out to the side",
    "adduction": "In toward the other leg",
    "external_rotation": "Turn the knee out",
    "internal_rotation": "Turn the knee in",
}
VIEWS = {"abduction": "front", "adduction": "front", "external_rotation": "front",
         "internal_rotation": "front"}  # fmt: skip

# (thigh angle, knee bend) at the start and end, in degrees. The thigh angle turns the leg from
# "straight down the body" toward the front (or, in a front view, away from the other leg); the
# knee bend folds the shin back from the thigh's line.
MOVES: dict[tuple[str, str], tuple[tuple[int, int], tuple[int, int]]] = {
    ("flexion", "straight"): ((0, 0), (40, 0)),
    ("flexion", "bent"): ((0, 0), (75, 85)),
    ("extension", "straight"): ((0, 0), (-30, 0)),
    ("extension", "bent"): ((0, 60), (-25, 90)),
    ("abduction", "straight"): ((0, 0), (32, 0)),
    ("abduction", "bent"): ((10, 70), (35, 70)),
    ("adduction", "straight"): ((20, 0), (-12, 0)),
    ("adduction", "bent"): ((25, 70), (5, 70)),
    ("external_rotation", "straight"): ((0, 0), (0, 0)),
    ("external_rotation", "bent"): ((5, 90), (35, 90)),
    ("internal_rotation", "straight"): ((0, 0), (0, 0)),
    ("internal_rotation", "bent"): ((5, 90), (-20, 90)),
}


# Poses that differ by body position: lying legs start flat and lift (bent knees start with the
# foot on the floor); sitting thighs start forward with the shin hanging.
POSES: dict[tuple[str, str, str], tuple[tuple[int, int], tuple[int, int]]] = {
    ("lying", "flexion", "bent"): ((45, 130), (80, 110)),
    ("lying", "extension", "straight"): ((0, 0), (25, 0)),
    ("lying", "extension", "bent"): ((45, 130), (30, 120)),
    ("lying", "abduction", "bent"): ((40, 120), (70, 150)),
    ("lying", "adduction", "straight"): ((0, 0), (15, 0)),
    ("lying", "adduction", "bent"): ((45, 130), (55, 135)),
    ("lying", "external_rotation", "bent"): ((30, 110), (60, 140)),
    ("lying", "internal_rotation", "bent"): ((30, 110), (30, 60)),
    ("sitting", "flexion", "bent"): ((90, 90), (115, 115)),
    ("sitting", "flexion", "straight"): ((90, 0), (110, 0)),
    ("sitting", "extension", "bent"): ((90, 90), (70, 70)),
    ("sitting", "extension", "straight"): ((90, 0), (70, 0)),
}


def _pt(x: float, y: float) -> str:
    return f"{x:.1f},{y:.1f}"


def _leg(
    hip: tuple[float, float], down: float, thigh: int, bend: int, flip: int, length: int = THIGH
):
    """Knee and foot from the hip. ``down`` is the direction (radians) of a straight-hanging
    leg; ``flip`` is +1 when "front" turns clockwise from it on screen."""
    a = down - flip * math.radians(thigh)
    knee = (hip[0] + length * math.cos(a), hip[1] + length * math.sin(a))
    b = a + flip * math.radians(bend)
    foot = (knee[0] + SHIN * math.cos(b), knee[1] + SHIN * math.sin(b))
    return knee, foot


def _frame(position: str):
    """Head, shoulder, hip, the other leg's knee and foot, the leg's hanging direction and
    which way "front" turns, for the body position."""
    if position == "lying":
        head, shoulder, hip = (34, 104), (50, 106), (100, 106)
        down, flip = 0.0, 1  # the leg points right along the floor; "front" is up
        other = ((134, 106), (168, 106))
    elif position == "sitting":
        head, shoulder, hip = (78, 22), (78, 36), (78, 80)
        down, flip = math.pi / 2, 1
        other = ((112, 82), (114, 116))
    else:
        head, shoulder, hip = (100, 16), (100, 30), (100, 72)
        down, flip = math.pi / 2, 1  # hanging down; "front" is to the right
        other = ((98, 106), (98, 140))
    return head, shoulder, hip, other, down, flip


@lru_cache(maxsize=256)
def _svg(position: str, direction: str, knee: str, equipment: str, title: str) -> str:
    head, shoulder, hip, other, down, flip = _frame(position)
    (t0, b0), (t1, b1) = POSES.get((position, direction, knee)) or MOVES[(direction, knee)]
    if position == "lying":  # every lying move lifts the leg off the floor
        t0, t1 = abs(t0), abs(t1)
    if position == "sitting" and VIEWS.get(direction) == "front":
        # Seen from the front the thigh points at us (drawn short); the shin swings out or in.
        k0, f0 = _leg(hip, down, t0 // 3, t0 - t0 // 3, flip, length=12)
        k1, f1 = _leg(hip, down, t1 // 3, t1 - t1 // 3, flip, length=12)
        other = ((hip[0] - 10, hip[1] + 10), (hip[0] - 12, hip[1] + 44))
    else:
        k0, f0 = _leg(hip, down, t0, b0, flip)
        k1, f1 = _leg(hip, down, t1, b1, flip)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 184" role="img" '
        f'aria-label="{escape(title)}" class="drawing">',
        f"<title>{escape(title)}</title>",
        '<g fill="none" stroke-linecap="round" stroke-linejoin="round">',
    ]
    if position == "lying":
        parts.append('<line x1="10" y1="116" x2="190" y2="116" stroke="#c9ccd1" stroke-width="2"/>')
    elif position == "sitting":
        parts.append(
            '<path d="M60 88 H116 M66 88 V140 M112 88 V140 M60 88 V40" stroke="#c9ccd1" '
            'stroke-width="3"/>'
        )
    else:
        parts.append('<line x1="40" y1="144" x2="160" y2="144" stroke="#c9ccd1" stroke-width="2"/>')
    body = "#1f2a44"
    parts += [
        f'<circle cx="{head[0]}" cy="{head[1]}" r="9" stroke="{body}" stroke-width="3"/>',
        f'<polyline points="{_pt(*shoulder)} {_pt(*hip)}" stroke="{body}" stroke-width="4"/>',
        f'<polyline points="{_pt(*hip)} {_pt(*other[0])} {_pt(*other[1])}" stroke="{body}" '
        'stroke-width="4" opacity="0.55"/>',
        f'<polyline points="{_pt(*hip)} {_pt(*k0)} {_pt(*f0)}" stroke="#8a93a6" '
        'stroke-width="4" stroke-dasharray="5 5"/>',
        f'<polyline points="{_pt(*hip)} {_pt(*k1)} {_pt(*f1)}" stroke="#e4572e" stroke-width="5"/>',
    ]
    if (t0, b0) == (t1, b1):  # a rotation with the knee straight: the leg turns on its axis
        cx, cy = k1
        parts.append(
            f'<path d="M{cx - 12:.1f},{cy + 4:.1f} A13 9 0 1 0 {cx + 12:.1f},{cy + 4:.1f}" '
            'stroke="#e4572e" stroke-width="2.5" marker-end="url(#arrow)"/>'
        )
    else:
        mx, my = (f0[0] + f1[0]) / 2, (f0[1] + f1[1]) / 2
        bulge = 14
        parts.append(
            f'<path d="M{_pt(*f0)} Q{mx + bulge:.1f},{my - bulge:.1f} {_pt(*f1)}" '
            'stroke="#e4572e" stroke-width="2.5" marker-end="url(#arrow)"/>'
        )
    if equipment == "band":
        parts.append(
            f'<ellipse cx="{(k1[0] + other[0][0]) / 2:.1f}" cy="{(k1[1] + other[0][1]) / 2:.1f}" '
            'rx="10" ry="4" stroke="#2a9d8f" stroke-width="3"/>'
        )
    elif equipment in ("ankle_weight", "dumbbell"):
        x, y = f1 if equipment == "ankle_weight" else hip
        parts.append(
            f'<rect x="{x - 6:.1f}" y="{y - 5:.1f}" width="12" height="10" rx="2" '
            'fill="#2a9d8f" stroke="none"/>'
        )
    elif equipment == "machine":
        parts.append('<rect x="150" y="30" width="30" height="110" rx="4" stroke="#c9ccd1" '
                     'stroke-width="3"/>')  # fmt: skip
    detail = "knee bent" if knee == "bent" else "knee straight"
    if VIEWS.get(direction) == "front" and position != "lying":
        detail += ", seen from the front"
    parts += [
        "</g>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#e4572e"/></marker></defs>',
        f'<text x="100" y="162" text-anchor="middle" font-family="sans-serif" font-size="12" '
        f'font-weight="bold" fill="#1f2a44">{escape(CAPTIONS[direction])}</text>',
        f'<text x="100" y="178" text-anchor="middle" font-family="sans-serif" font-size="11" '
        f'fill="#5a6478">{escape(detail)}</text>',
        "</svg>",
    ]
    return "".join(parts)


def exercise_svg(ex: Exercise) -> str:
    """The drawing of ``ex`` as SVG text."""
    return _svg(ex.position, ex.direction, ex.knee, ex.equipment, ex.name)
