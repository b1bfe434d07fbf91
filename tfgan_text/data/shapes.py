"""The built-in captioned-shapes dataset: the default data of every command, no download needed.

Each image (32, 64 or 128 pixels square) shows one or two objects on a muted background (a
colour with grain, or a gradient). An object has a shape, a colour, a size and a place on a 3x3
grid, with jitter of hue, brightness, place, size and rotation, and anti-aliased edges drawn from
signed-distance functions (SDFs) on a pixel grid, all images of a chunk at once. Two objects
never share a place and never overlap. Each image carries `CAPTIONS_PER_IMAGE` different
captions from varied templates (word order, synonyms such as "centre"/"middle", "there is"/
"we see"); every caption names each object's colour and shape, most name size and place too,
and all of them are true of the image.

Splits: `train`, `val` and `test` never contain a (colour, shape) pair of `HELD_OUT_PAIRS`;
every image of `compositional` contains at least one, for testing generalisation to unseen
combinations (as in compositional text-to-image benchmarks). Each split has its own seeds, so
splits never share an image.

`generate` returns a dict of numpy arrays:

- `image`: uint8 [n, S, S, 3].
- `captions`: numpy str array [n, CAPTIONS_PER_IMAGE] (lower case, no full stop).
- `shape`, `color`, `size`, `position`: int32 [n, 2], ids into `ATTRIBUTE_NAMES`; the second
  column is -1 where the image has one object.

Output depends only on (split, seed, image size, example index): the same arguments give the
same arrays on every machine, the first k examples of a split do not depend on how many are
asked for, and one seed gives the same scenes and captions at every image size.

`load_split` and `dataset` cache each split as one `.npz` file (captions stored as ASCII bytes)
under `cache_dir`, else `$TFGAN_TEXT_CACHE/shapes`, else `~/.cache/tfgan_text/shapes`.

Example:

    from tfgan_text.data import shapes
    data = shapes.load_split("train", image_size=64)    # cached under ~/.cache/tfgan_text/shapes
    ds = shapes.dataset("val").batch(32)                  # {"image", "captions", "attributes"}
"""

import os
import re
import tempfile
import warnings
import zipfile

import numpy as np

from tfgan_text.errors import UserError

ATTRIBUTE_NAMES = {
    "shape": ["circle", "square", "triangle", "star", "hexagon", "heart", "diamond", "cross"],
    "color": ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink"],
    "size": ["small", "large"],
    "position": [
        "top left", "top", "top right",
        "left", "centre", "right",
        "bottom left", "bottom", "bottom right",
    ],
}

# Place words with an opposite: swapping one for the other in a caption mirrors an object's
# place ("top left" -> "top right") or a relation ("to the left of"), so the caption turns
# false in its place alone: the counterfactuals of `--matching-position-negatives`.
OPPOSITE_PLACE_WORDS = (("left", "right"), ("top", "bottom"))

# (colour, shape) pairs kept out of train/val/test; only the `compositional` split shows them.
# Six pairs, six different colours and six different shapes, so every held-out word is still
# seen in training in other combinations.
HELD_OUT_PAIRS = [
    ("red", "star"),
    ("yellow", "heart"),
    ("green", "triangle"),
    ("cyan", "square"),
    ("blue", "hexagon"),
    ("pink", "circle"),
]

SPLITS = ("train", "val", "test", "compositional")
SPLIT_SIZES = {"train": 10000, "val": 1000, "test": 1000, "compositional": 1000}
IMAGE_SIZES = (32, 64, 128)
CAPTIONS_PER_IMAGE = 10
ATTRIBUTES = ("shape", "color", "size", "position")

# Bump when the output of `generate` changes: it is part of every cache file name.
GENERATOR_VERSION = 1

_CHUNK = 256  # examples drawn and rendered together; part of the generator's definition
_TWO_OBJECTS_PROBABILITY = 0.5

# Colours as (hue, saturation, value), hue in turns; jittered per object.
_COLOR_HSV = np.array(
    [
        [0.000, 0.90, 0.92],  # red
        [0.075, 0.95, 1.00],  # orange
        [0.150, 0.90, 1.00],  # yellow
        [0.330, 0.85, 0.78],  # green
        [0.500, 0.85, 0.90],  # cyan
        [0.630, 0.85, 1.00],  # blue
        [0.770, 0.70, 0.85],  # purple
        [0.920, 0.45, 1.00],  # pink
    ],
    dtype=np.float32,
)
_HUE_JITTER = 0.015
_SATURATION_JITTER = (0.9, 1.05)  # multiplicative
_VALUE_JITTER = (0.92, 1.05)  # multiplicative (darker yellow looks olive)

# Backgrounds stay dark to mid grey-ish so that object colours stand out.
_BACKGROUND_SATURATION = (0.0, 0.2)
_BACKGROUND_VALUE = (0.12, 0.5)
_GRADIENT_PROBABILITY = 0.5

# Geometry in fractions of the image side. `r` is an object's nominal radius; each shape is
# scaled so that all have about the same area, and `_EXTENT` is its reach from the centre in
# units of r (used to keep objects apart and inside the image).
_GRID_CENTRES = np.array([0.2, 0.5, 0.8], dtype=np.float32)
_RADIUS = np.array([0.085, 0.145], dtype=np.float32)  # small, large
_RADIUS_JITTER = (0.92, 1.08)
_PLACE_JITTER = 0.05
_ROTATION_JITTER = np.deg2rad(15.0)
_EXTENT = np.array([1.0, 1.21, 1.35, 1.3, 1.05, 1.24, 1.35, 1.16], dtype=np.float32)
_MARGIN = 0.01


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise UserError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_args(split, image_size, seed):
    """Raises UserError for a bad argument; returns the seed as an int."""
    if split not in SPLITS:
        raise UserError(f"unknown shapes split {split!r}: choose one of {', '.join(SPLITS)}")
    if not isinstance(image_size, (int, np.integer)) or image_size not in IMAGE_SIZES:
        sizes = ", ".join(map(str, IMAGE_SIZES))
        raise UserError(f"shapes image size must be one of {sizes}, got {image_size!r}")
    return _check_int("seed", seed, 0)


def _pair_ids(pairs):
    colors, shapes = ATTRIBUTE_NAMES["color"], ATTRIBUTE_NAMES["shape"]
    return np.array([[colors.index(c), shapes.index(s)] for c, s in pairs], dtype=np.int32)


_HELD_OUT_IDS = _pair_ids(HELD_OUT_PAIRS)
_SEEN_IDS = _pair_ids(
    [
        (c, s)
        for c in ATTRIBUTE_NAMES["color"]
        for s in ATTRIBUTE_NAMES["shape"]
        if (c, s) not in HELD_OUT_PAIRS
    ]
)


# ----------------------------------------------------------------------------- scene sampling


def _sample_geometry(rng, shape):
    """Places (two different ones), sizes, radii and centres [m, 2, (x, y)] of m scenes, with
    centres jittered around the grid point and clipped so that each object is in the image."""
    m = len(shape)
    first = rng.integers(9, size=m)
    position = np.stack([first, (first + 1 + rng.integers(8, size=m)) % 9], axis=1)
    size = rng.integers(2, size=(m, 2))
    radius = _RADIUS[size] * rng.uniform(*_RADIUS_JITTER, size=(m, 2)).astype(np.float32)
    reach = (radius * _EXTENT[shape])[..., None]
    centre = _GRID_CENTRES[np.stack([position % 3, position // 3], axis=-1)]
    centre = centre + rng.uniform(-_PLACE_JITTER, _PLACE_JITTER, size=(m, 2, 2))
    centre = np.clip(centre, reach + _MARGIN, 1 - reach - _MARGIN).astype(np.float32)
    return position, size, radius, centre


def _sample_objects(rng, n, split):
    """Attributes and geometry (radius [n, 2], centre [n, 2, 2], rotation [n, 2]) of n scenes.
    Two objects are drawn again until their reaches do not meet."""
    two = rng.random(n) < _TWO_OBJECTS_PROBABILITY
    if split == "compositional":
        every = np.concatenate([_SEEN_IDS, _HELD_OUT_IDS])
        other = every[rng.integers(len(every), size=n)]
        held = _HELD_OUT_IDS[rng.integers(len(_HELD_OUT_IDS), size=n)]
        slot = np.where(two, rng.integers(2, size=n), 0)[:, None, None]
        pairs = np.where(slot == np.arange(2)[:, None], held[:, None], other[:, None])
    else:
        pairs = _SEEN_IDS[rng.integers(len(_SEEN_IDS), size=(n, 2))]
    color, shape = pairs[..., 0], pairs[..., 1]  # [n, 2] each

    position, size = np.empty((n, 2), np.int32), np.empty((n, 2), np.int32)
    radius, centre = np.empty((n, 2), np.float32), np.empty((n, 2, 2), np.float32)
    todo = np.arange(n)
    while todo.size:
        p, s, r, c = _sample_geometry(rng, shape[todo])
        reach = r * _EXTENT[shape[todo]]
        ok = ~two[todo] | (np.hypot(*(c[:, 0] - c[:, 1]).T) >= reach.sum(axis=1) + _MARGIN)
        done = todo[ok]
        position[done], size[done], radius[done], centre[done] = p[ok], s[ok], r[ok], c[ok]
        todo = todo[~ok]

    absent = np.stack([np.zeros(n, bool), ~two], axis=1)
    values = {"shape": shape, "color": color, "size": size, "position": position}
    attributes = {key: np.where(absent, -1, values[key]).astype(np.int32) for key in ATTRIBUTES}
    rotation = rng.uniform(-_ROTATION_JITTER, _ROTATION_JITTER, size=(n, 2)).astype(np.float32)
    return attributes, radius, centre, rotation


def _hsv_to_rgb(hsv):
    """[..., 3] hue (turns), saturation, value in [0, 1] -> RGB in [0, 1]."""
    h, s, v = np.moveaxis(hsv, -1, 0)
    h6 = (h % 1.0) * 6.0
    i = np.floor(h6).astype(np.int32) % 6
    f = h6 - np.floor(h6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def _object_colors(rng, color):
    hsv = _COLOR_HSV[np.maximum(color, 0)].copy()
    hsv[..., 0] += rng.uniform(-_HUE_JITTER, _HUE_JITTER, size=color.shape)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(*_SATURATION_JITTER, size=color.shape), 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(*_VALUE_JITTER, size=color.shape), 0, 1)
    return _hsv_to_rgb(hsv)


def _background_params(rng, n):
    """Two muted colours (equal for a flat background), a gradient angle and a grain strength."""
    def muted():
        hsv = np.stack(
            [
                rng.random(n),
                rng.uniform(*_BACKGROUND_SATURATION, size=n),
                rng.uniform(*_BACKGROUND_VALUE, size=n),
            ],
            axis=-1,
        )
        return _hsv_to_rgb(hsv)

    start, end = muted(), muted()
    gradient = rng.random(n) < _GRADIENT_PROBABILITY
    end = np.where(gradient[:, None], end, start)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    grain = np.where(gradient, rng.uniform(0.0, 0.05, size=n), rng.uniform(0.03, 0.1, size=n))
    return start, end, angle.astype(np.float32), grain.astype(np.float32)


# ----------------------------------------------------------------------------- drawing (SDFs)
# Signed distances in pixels, negative inside, on object-local coordinates (x right, y up).


def _signed_segment(x, y, ax, ay, bx, by):
    """Distance to segment A->B, negative on the right of A->B (the inside of a shape whose
    outline runs clockwise)."""
    ex, ey = bx - ax, by - ay
    wx, wy = x - ax, y - ay
    t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
    distance = np.hypot(wx - t * ex, wy - t * ey)
    return np.copysign(distance, ex * wy - ey * wx)


def _star_polygon(x, y, n, outer, inner):
    """Regular n-fold polygon with a vertex at the top and, between vertices, a point at radius
    `inner` (the edge midpoint for a convex polygon, closer in for a star). The plane is folded
    into one half-sector, where the outline is the single segment vertex -> inner point."""
    half = np.pi / n
    angle = np.arctan2(x, y)
    folded = np.abs((angle + half) % (2 * half) - half)
    rho = np.hypot(x, y)
    fx, fy = rho * np.sin(folded), rho * np.cos(folded)
    return _signed_segment(fx, fy, 0.0, outer, inner * np.sin(half), inner * np.cos(half))


def _box(x, y, half_width, half_height):
    dx, dy = np.abs(x) - half_width, np.abs(y) - half_height
    outside = np.hypot(np.maximum(dx, 0.0), np.maximum(dy, 0.0))
    return outside + np.minimum(np.maximum(dx, dy), 0.0)


def _circle(x, y, r):
    return np.hypot(x, y) - r


def _square(x, y, r):
    return _box(x, y, 0.85 * r, 0.85 * r)


def _triangle(x, y, r):
    outer = 1.35 * r
    return _star_polygon(x, y, 3, outer, outer * np.cos(np.pi / 3))


def _star(x, y, r):
    outer = 1.3 * r
    return _star_polygon(x, y, 5, outer, 0.47 * outer)


def _hexagon(x, y, r):
    outer = 1.05 * r
    return _star_polygon(x, y, 6, outer, outer * np.cos(np.pi / 6))


def _heart(x, y, r):
    """A square on its corner with a half-disc on each upper edge, centred vertically."""
    d = 0.92 * r  # half-diagonal of the square
    y = y + 0.1035 * d
    u, v = (x + y) / np.sqrt(2.0), (y - x) / np.sqrt(2.0)
    lobe = d / np.sqrt(2.0)
    square = _box(u, v, lobe, lobe)
    left = np.hypot(x + d / 2, y - d / 2) - lobe
    right = np.hypot(x - d / 2, y - d / 2) - lobe
    return np.minimum(square, np.minimum(left, right))


def _diamond(x, y, r):
    """A rhombus taller than wide."""
    return _signed_segment(np.abs(x), np.abs(y), 0.0, 1.35 * r, 0.9 * r, 0.0)


def _cross(x, y, r):
    arm, width = 1.1 * r, 0.36 * r
    return np.minimum(_box(x, y, arm, width), _box(x, y, width, arm))


_SDFS = [_circle, _square, _triangle, _star, _hexagon, _heart, _diamond, _cross]


def _window(image_size):
    """Side in pixels of a square that holds any object, plus a pixel for the soft edge."""
    reach = _RADIUS.max() * _RADIUS_JITTER[1] * _EXTENT.max()
    return min(image_size, int(np.ceil(2 * reach * image_size)) + 2)


def _draw_objects(image, shape, radius, centre, rotation, colors):
    """Blend every object into `image` [n, S, S, 3] (float, in place), computing its
    anti-aliased coverage only in a window around it: slot 0 first, then slot 1."""
    size = image.shape[1]
    values = image.reshape(-1)  # a view: flat indices are much faster than 4-d fancy ones
    w = _window(size)
    steps = np.arange(w)
    for j in range(2):
        idx = np.flatnonzero(shape[:, j] >= 0)
        cx, cy = centre[idx, j, 0] * size, centre[idx, j, 1] * size
        cols = np.clip(np.round(cx - w / 2).astype(np.int64), 0, size - w)[:, None] + steps
        rows = np.clip(np.round(cy - w / 2).astype(np.int64), 0, size - w)[:, None] + steps
        dx = (cols + 0.5 - cx[:, None]).astype(np.float32)[:, None, :]
        dy = (cy[:, None] - rows - 0.5).astype(np.float32)[:, :, None]
        cos, sin = np.cos(rotation[idx, j])[:, None, None], np.sin(rotation[idx, j])[:, None, None]
        x, y = cos * dx + sin * dy, cos * dy - sin * dx  # [m, w, w], rotated by -angle
        r = radius[idx, j, None, None] * size
        alpha = np.empty(x.shape, dtype=np.float32)
        for k, sdf in enumerate(_SDFS):
            of_k = np.flatnonzero(shape[idx, j] == k)
            alpha[of_k] = np.clip(0.5 - sdf(x[of_k], y[of_k], r[of_k]), 0.0, 1.0)
        flat = ((idx[:, None, None] * size + rows[:, :, None]) * size + cols[:, None, :]) * 3
        for c in range(3):
            patch = values[flat + c]
            patch += alpha * (colors[idx, j, c, None, None] - patch)
            values[flat + c] = patch


def _render(attributes, radius, centre, rotation, colors, background, grain, image_size):
    """Background (gradient between two colours, times 1 + grain) with the objects on top.
    `grain` is uniform in [0, 1) per pixel. Works channel by channel on the last axis, which
    numpy does much faster than broadcasting over it."""
    start, end, angle, strength = background
    grid = (np.arange(image_size, dtype=np.float32) + 0.5) / image_size - 0.5
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    t = (grid[None, None, :] * cos + grid[None, :, None] * sin) / (np.abs(cos) + np.abs(sin)) + 0.5
    factor = (1.0 - strength)[:, None, None] + (2.0 * strength)[:, None, None] * grain
    t *= factor
    image = np.empty((len(angle), image_size, image_size, 3), dtype=np.float32)
    for c in range(3):
        np.multiply((255.0 * start[:, c])[:, None, None], factor, out=image[..., c])
        image[..., c] += (255.0 * (end - start)[:, c])[:, None, None] * t
    _draw_objects(image, attributes["shape"], radius, centre, rotation, 255.0 * colors)
    image += 0.5
    return np.clip(image, 0, 255, out=image).astype(np.uint8)


# ----------------------------------------------------------------------------- captions

_SIZE_WORDS = [["small", "small", "little"], ["large", "large", "big"]]
_PLACE_PHRASES = [
    ["in the top left", "in the top left corner", "at the top left"],
    ["at the top", "near the top"],
    ["in the top right", "in the top right corner", "at the top right"],
    ["on the left", "on the left side"],
    ["in the centre", "in the middle", "at the centre"],
    ["on the right", "on the right side"],
    ["in the bottom left", "in the bottom left corner", "at the bottom left"],
    ["at the bottom", "near the bottom"],
    ["in the bottom right", "in the bottom right corner", "at the bottom right"],
]
_PLACE_LABELS = [
    ["top left"], ["top"], ["top right"], ["left"], ["centre", "middle"], ["right"],
    ["bottom left"], ["bottom"], ["bottom right"],
]
_THERE_IS = ["there is", "we see", "the image shows", "this picture shows"]
_THERE_IS_AFTER_PLACE = ["there is", "we see", "you can see"]
_SINGLE = ["a single", "only one", "one"]
_TWO_THINGS = ["two shapes", "two objects"]

# Fields: s size, c colour, h shape, P place phrase, L place label (1: the object named first,
# 2: the one named second), T/U "there is" variants, N a single one, W "two shapes", R a true
# spatial relation of object 1 to object 2.
_ONE_OBJECT_TEMPLATES = [
    "a {s1} {c1} {h1} {P1}",
    "{L1}: a {c1} {h1}, {s1}",
    "{T} a {s1} {c1} {h1} {P1}",
    "{P1} {U} a {s1} {c1} {h1}",
    "{N} {s1} {c1} {h1} {P1}",
    "a {c1} {h1}",
    "a {h1} that is {c1} and {s1}, {P1}",
    "the {h1} {P1} is {c1}",
    "{c1} {h1}, {s1}, {L1}",
    "{P1} is a {s1} {c1} {h1}",
    "a {s1} {h1} coloured {c1} {P1}",
    "a {s1} {c1} {h1}",
]
_TWO_OBJECT_TEMPLATES = [
    "a {s1} {c1} {h1} {P1} and a {s2} {c2} {h2} {P2}",
    "{T} a {s1} {c1} {h1} {P1} and a {s2} {c2} {h2} {P2}",
    "{L1}: a {c1} {h1}, {s1}; {L2}: a {c2} {h2}, {s2}",
    "{W}: a {s1} {c1} {h1} {P1} and a {s2} {c2} {h2} {P2}",
    "a {s1} {c1} {h1} and a {s2} {c2} {h2}",
    "a {c1} {h1} {P1} and a {c2} {h2} {P2}",
    "a {s1} {c1} {h1} {R} a {s2} {c2} {h2}",
    "{P1} {U} a {s1} {c1} {h1}, and {P2} {U} a {s2} {c2} {h2}",
    "a {s1} {c1} {h1} {P1}, with a {s2} {c2} {h2} {P2}",
    "{c1} {h1}, {s1}, {L1}; {c2} {h2}, {s2}, {L2}",
    "the {h1} {P1} is {c1} and the {h2} {P2} is {c2}",
    "a {c1} {h1} {R} a {c2} {h2}",
]
_AN = re.compile(r"\ba (?=[aeiou])")


def _choose(option_lists, rows, u):
    """Elementwise `option_lists[rows][int(u * len(that list))]` over arrays `rows` and `u`."""
    width = int(np.lcm.reduce([len(options) for options in option_lists]))
    table = np.array(
        [[options[i * len(options) // width] for i in range(width)] for options in option_lists],
        dtype=object,
    )
    return table[rows, (u * width).astype(np.int64)]


def _captions(rng, attributes):
    """[n, CAPTIONS_PER_IMAGE] str: distinct templates per image, synonyms and the order of the
    two objects drawn per caption. Both template lists have the same length, so one draw of
    template order serves both."""
    n, k = attributes["shape"].shape[0], CAPTIONS_PER_IMAGE
    order = np.argsort(rng.random((n, len(_ONE_OBJECT_TEMPLATES))), axis=1)[:, :k]
    u = rng.random((10, n, k))
    two = attributes["shape"][:, 1] >= 0
    first = ((u[0] < 0.5) & two[:, None]).astype(np.int64)  # slot of the object named first
    slots = {"1": first, "2": 1 - first}

    def of(key, slot):
        return np.take_along_axis(np.maximum(attributes[key], 0), slots[slot], axis=1)

    zeros = np.zeros((n, k), dtype=np.int64)
    fields = {
        "T": _choose([_THERE_IS], zeros, u[1]),
        "U": _choose([_THERE_IS_AFTER_PLACE], zeros, u[2]),
        "N": _choose([_SINGLE], zeros, u[3]),
        "W": _choose([_TWO_THINGS], zeros, u[3]),
    }
    for m, slot in enumerate(slots):
        fields["s" + slot] = _choose(_SIZE_WORDS, of("size", slot), u[4 + m])
        fields["c" + slot] = np.array(ATTRIBUTE_NAMES["color"], dtype=object)[of("color", slot)]
        fields["h" + slot] = np.array(ATTRIBUTE_NAMES["shape"], dtype=object)[of("shape", slot)]
        fields["P" + slot] = _choose(_PLACE_PHRASES, of("position", slot), u[6 + m])
        fields["L" + slot] = _choose(_PLACE_LABELS, of("position", slot), u[6 + m])
    row1, col1 = np.divmod(of("position", "1"), 3)
    row2, col2 = np.divmod(of("position", "2"), 3)
    vertical = (row1 != row2) & ((col1 == col2) | (u[8] < 0.5))
    fields["R"] = np.where(
        vertical,
        np.where(row1 < row2, "above", "below"),
        np.where(col1 < col2, "to the left of", "to the right of"),
    )
    fields = {name: value.tolist() for name, value in fields.items()}
    out = []
    for i in range(n):
        templates = _TWO_OBJECT_TEMPLATES if two[i] else _ONE_OBJECT_TEMPLATES
        for j in range(k):
            text = templates[order[i, j]].format_map({name: f[i][j] for name, f in fields.items()})
            out.append(_AN.sub("an ", text))
    return np.array(out, dtype=str).reshape(n, k)


def describe(attributes):
    """The canonical caption of one example, e.g. "a small red circle in the top left and a
    large blue star on the right".

    Args:
        attributes: mapping with `shape`, `color`, `size`, `position`, each a length-2 sequence
            of ids (-1 for an absent second object), as in an element of `dataset`.
    """
    names = ATTRIBUTE_NAMES
    parts = []
    for j in range(2):
        shape = int(attributes["shape"][j])
        if shape < 0:
            continue
        words = (
            names["size"][int(attributes["size"][j])],
            names["color"][int(attributes["color"][j])],
            names["shape"][shape],
            _PLACE_PHRASES[int(attributes["position"][j])][0],
        )
        parts.append("a {} {} {} {}".format(*words))
    return _AN.sub("an ", " and ".join(parts))


# ----------------------------------------------------------------------------- public API


def _generate_chunk(split, seed, chunk, image_size):
    rng = np.random.default_rng([seed, SPLITS.index(split), chunk, GENERATOR_VERSION])
    attributes, radius, centre, rotation = _sample_objects(rng, _CHUNK, split)
    colors = _object_colors(rng, attributes["color"])
    background = _background_params(rng, _CHUNK)
    captions = _captions(rng, attributes)
    # Drawn last, so that scenes and captions do not depend on the image size.
    grain = rng.random((_CHUNK, image_size, image_size), dtype=np.float32)
    image = _render(attributes, radius, centre, rotation, colors, background, grain, image_size)
    return {"image": image, "captions": captions, **attributes}


def generate(num_examples, image_size=64, seed=0, split="train"):
    """Render `num_examples` captioned images of one split (see the module docstring).

    Args:
        num_examples: int >= 1.
        image_size: 32, 64 or 128.
        seed: int >= 0; each split derives its own seeds from it.
        split: one of `SPLITS`.

    Returns:
        dict of numpy arrays: `image` uint8 [n, S, S, 3], `captions` str [n, CAPTIONS_PER_IMAGE],
        `shape`, `color`, `size`, `position` int32 [n, 2] (-1: no second object).
    """
    seed = _check_args(split, image_size, seed)
    num_examples = _check_int("num_examples", num_examples, 1)
    chunks = [
        _generate_chunk(split, seed, c, int(image_size))
        for c in range((num_examples + _CHUNK - 1) // _CHUNK)
    ]
    return {key: np.concatenate([c[key] for c in chunks])[:num_examples] for key in chunks[0]}


def cache_path(split="train", image_size=64, seed=0, num_examples=None, cache_dir=None):
    """The `.npz` file that caches a split: under `cache_dir`, else `$TFGAN_TEXT_CACHE/shapes`,
    else `~/.cache/tfgan_text/shapes`."""
    seed = _check_args(split, image_size, seed)
    n = SPLIT_SIZES[split] if num_examples is None else _check_int("num_examples", num_examples, 1)
    if cache_dir is None:
        root = os.environ.get("TFGAN_TEXT_CACHE") or os.path.join("~", ".cache", "tfgan_text")
        cache_dir = os.path.join(root, "shapes")
    name = f"shapes-{split}-{image_size}px-seed{seed}-n{n}-v{GENERATOR_VERSION}.npz"
    return os.path.join(os.path.expanduser(cache_dir), name)


def _read_cache(path, n, image_size):
    expected = {
        "image": ((n, image_size, image_size, 3), "u1"),
        "captions": ((n, CAPTIONS_PER_IMAGE), "S"),
        **{key: ((n, 2), "i4") for key in ATTRIBUTES},
    }
    with np.load(path, allow_pickle=False) as npz:
        data = {key: npz[key] for key in expected}
    for key, (shape, kind) in expected.items():
        if data[key].shape != shape or not data[key].dtype.str.lstrip("<>|=").startswith(kind):
            raise ValueError(f"{key} has shape {data[key].shape} and dtype {data[key].dtype}")
    data["captions"] = data["captions"].astype(str)
    return data


def _write_cache(path, data):
    """An `.npz` file written to a temporary name, then renamed: a reader never sees half a file.
    Captions are stored as ASCII bytes (a quarter of the size of numpy's str). Not compressed:
    deflate makes reading several times slower (noisy images shrink only ~3x)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    data = {**data, "captions": data["captions"].astype(np.bytes_)}
    fd, temp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **data)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def load_split(split="train", image_size=64, seed=0, num_examples=None, cache=True, cache_dir=None):
    """`generate` for a split, cached on disk as one `.npz` file (see `cache_path`).

    `num_examples=None` means `SPLIT_SIZES[split]`. A cache file is written atomically; one that
    cannot be read is regenerated with a warning. With `cache=False` nothing is read or written.
    """
    _check_args(split, image_size, seed)
    n = SPLIT_SIZES[split] if num_examples is None else num_examples
    if not cache:
        return generate(n, image_size, seed, split)
    path = cache_path(split, image_size, seed, n, cache_dir)
    if os.path.exists(path):
        try:
            return _read_cache(path, n, image_size)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(f"regenerating unreadable shapes cache {path}: {error}", stacklevel=2)
    data = generate(n, image_size, seed, split)
    try:
        _write_cache(path, data)
    except OSError as error:
        warnings.warn(f"could not write shapes cache file {path}: {error}", stacklevel=2)
    return data


def dataset(split="train", image_size=64, seed=0, num_examples=None, cache=True, cache_dir=None):
    """A `tf.data.Dataset` of one split, elements `{"image": uint8 [S, S, 3], "captions":
    string [CAPTIONS_PER_IMAGE], "attributes": {"shape", "color", "size", "position": int32 [2]}}`.

    Arguments as in `load_split`.
    """
    data = load_split(split, image_size, seed, num_examples, cache, cache_dir)
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(
        {
            "image": data["image"],
            "captions": data["captions"],
            "attributes": {key: data[key] for key in ATTRIBUTES},
        }
    )
