"""Tests of the built-in captioned-shapes dataset (tfgan_text.data.shapes)."""

import itertools
import os
import re
import tempfile
from unittest import mock

import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.data import shapes
from tfgan_text.errors import UserError

N = 64
NAMES = shapes.ATTRIBUTE_NAMES
# What the colour names look like, written independently of the generator's table.
REFERENCE = {
    "red": (235, 30, 30),
    "orange": (255, 130, 20),
    "yellow": (255, 225, 25),
    "green": (30, 190, 30),
    "cyan": (30, 210, 220),
    "blue": (40, 90, 255),
    "purple": (150, 60, 210),
    "pink": (255, 140, 200),
}
REFERENCE_RGB = np.array([REFERENCE[name] for name in NAMES["color"]], dtype=np.float64) / 255.0
SIZE_WORDS = {"small": 0, "little": 0, "large": 1, "big": 1}
PLACES = [  # longest first, so "top left" is not read as "top"
    ("top left", 0), ("top right", 2), ("bottom left", 6), ("bottom right", 8),
    ("top", 1), ("left", 3), ("centre", 4), ("middle", 4), ("right", 5), ("bottom", 7),
]
RELATION = re.compile(r"\b(to the left of|to the right of|above|below)\b")


def parse(clause):
    """Attribute ids a clause mentions: lists of colours, shapes, sizes and places."""
    for phrase, place in PLACES:
        clause = re.sub(rf"\b{phrase}\b", f"PLACE{place}", clause)
    words = re.findall(r"\w+", clause)
    return {
        "color": [NAMES["color"].index(w) for w in words if w in NAMES["color"]],
        "shape": [NAMES["shape"].index(w) for w in words if w in NAMES["shape"]],
        "size": [SIZE_WORDS[w] for w in words if w in SIZE_WORDS],
        "position": [int(w[5:]) for w in words if w.startswith("PLACE")],
    }


def clause_matches(found, data, i, j):
    """Exactly one colour and one shape, those of object j; size and place, if named, too."""
    if len(found["color"]) != 1 or len(found["shape"]) != 1:
        return False
    return all(
        len(found[key]) <= 1 and all(v == data[key][i, j] for v in found[key])
        for key in ("color", "shape", "size", "position")
    )


def relation_holds(word, first, second):
    (r1, c1), (r2, c2) = divmod(first, 3), divmod(second, 3)
    holds = {"to the left of": c1 < c2, "to the right of": c1 > c2}
    holds.update({"above": r1 < r2, "below": r1 > r2})
    return holds[word]


def caption_is_true(caption, data, i):
    if data["shape"][i, 1] < 0:
        return clause_matches(parse(caption), data, i, 0)
    relation = RELATION.search(caption)
    if relation:
        parts = [caption[: relation.start()], caption[relation.end():]]
    else:
        parts = re.split(r";| and |, with ", caption)
    if len(parts) != 2:
        return False
    found = [parse(part) for part in parts]
    for a, b in ((0, 1), (1, 0)):
        if clause_matches(found[0], data, i, a) and clause_matches(found[1], data, i, b):
            position = data["position"][i]
            if not relation or relation_holds(relation.group(1), position[a], position[b]):
                return True
    return False


def classify_pixels(image):
    """Colour id of each saturated pixel whose 3x3 neighbourhood has the same colour (the
    inside of an object, not its soft edge), -1 elsewhere. Colours compare after dividing by
    the brightest channel, so a darker orange is still orange. Result is [S - 2, S - 2]."""
    x = image.astype(np.float64) / 255.0
    brightest = x.max(axis=-1)
    saturated = (brightest - x.min(axis=-1) > 0.33 * brightest) & (brightest > 0.25)
    chroma = x / np.maximum(brightest, 1e-6)[..., None]
    reference = REFERENCE_RGB / REFERENCE_RGB.max(axis=1, keepdims=True)
    nearest = np.argmin(((chroma[..., None, :] - reference) ** 2).sum(axis=-1), axis=-1)
    ids = np.where(saturated, nearest, -1)
    inner = ids[1:-1, 1:-1]
    same = inner >= 0
    for dy, dx in itertools.product(range(3), repeat=2):
        same &= ids[dy : dy + inner.shape[0], dx : dx + inner.shape[1]] == inner
    return np.where(same, inner, -1)


class ShapesTest(TestCase):
    def test_arrays_and_second_object_convention(self):
        data = shapes.generate(N, seed=1)
        self.assertEqual(data["image"].shape, (N, 64, 64, 3))
        self.assertEqual(data["image"].dtype, np.uint8)
        self.assertEqual(data["captions"].shape, (N, shapes.CAPTIONS_PER_IMAGE))
        self.assertGreaterEqual(shapes.CAPTIONS_PER_IMAGE, 5)
        self.assertEqual(data["captions"].dtype.kind, "U")
        for key in shapes.ATTRIBUTES:
            self.assertEqual(data[key].shape, (N, 2))
            self.assertEqual(data[key].dtype, np.int32)
            self.assertTrue((data[key][:, 0] >= 0).all())
            self.assertTrue((data[key] < len(NAMES[key])).all())
        absent = data["shape"][:, 1] < 0
        self.assertTrue(0 < absent.sum() < N)  # both one- and two-object images
        for key in shapes.ATTRIBUTES:
            np.testing.assert_array_equal(data[key][:, 1] < 0, absent)
            self.assertTrue((data[key][absent, 1] == -1).all())
        two = ~absent
        self.assertTrue((data["position"][two, 0] != data["position"][two, 1]).all())
        self.assertEqual(len(NAMES["shape"]), len(set(NAMES["shape"])))
        self.assertGreaterEqual(len(NAMES["shape"]), 6)
        self.assertGreaterEqual(len(NAMES["color"]), 8)
        self.assertEqual(NAMES["size"], ["small", "large"])
        self.assertIn("centre", NAMES["position"])

    def test_deterministic_prefix_and_same_scene_at_every_size(self):
        a = shapes.generate(N, seed=3, split="val")
        b = shapes.generate(N, seed=3, split="val")
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
        prefix = shapes.generate(N // 2, seed=3, split="val")
        for key in a:
            np.testing.assert_array_equal(prefix[key], a[key][: N // 2])
        other = shapes.generate(N, seed=4, split="val")
        self.assertFalse(np.array_equal(a["shape"], other["shape"]))
        small = shapes.generate(N, image_size=32, seed=3, split="val")
        for key in ("captions",) + shapes.ATTRIBUTES:
            np.testing.assert_array_equal(small[key], a[key])

    def test_no_two_images_alike_within_or_across_splits(self):
        seen = set()
        for split in shapes.SPLITS:
            for image in shapes.generate(N, seed=0, split=split)["image"]:
                seen.add(image.tobytes())
        self.assertEqual(len(seen), N * len(shapes.SPLITS))

    def test_held_out_pairs_only_in_compositional(self):
        self.assertGreaterEqual(len(shapes.HELD_OUT_PAIRS), 4)
        held = {
            (NAMES["color"].index(c), NAMES["shape"].index(s)) for c, s in shapes.HELD_OUT_PAIRS
        }
        for split in shapes.SPLITS:
            data = shapes.generate(256, image_size=32, split=split)
            pairs = [
                {(c, s) for c, s in zip(data["color"][i], data["shape"][i]) if s >= 0}
                for i in range(256)
            ]
            with_held = [bool(p & held) for p in pairs]
            if split == "compositional":
                self.assertTrue(all(with_held))
                seen = set().union(*pairs) & held
                self.assertEqual(seen, held)  # every held-out pair is shown
            else:
                self.assertFalse(any(with_held), split)

    def test_captions_are_true_and_varied(self):
        for split in ("train", "compositional"):
            data = shapes.generate(N, seed=2, split=split)
            with_size = with_place = 0
            for i, row in enumerate(data["captions"]):
                self.assertEqual(len(set(row)), len(row))
                for caption in row:
                    self.assertTrue(caption_is_true(caption, data, i), (caption, i))
                    self.assertIsNone(re.search(r"\ba [aeiou]", caption), caption)
                    found = parse(caption)
                    with_size += bool(found["size"])
                    with_place += bool(found["position"])
            total = data["captions"].size
            self.assertGreater(with_size / total, 0.6)
            self.assertGreater(with_place / total, 0.6)
        words = " ".join(data["captions"].ravel())
        for word in ("centre", "middle", "there is", "we see"):
            self.assertIn(word, words)
        self.assertNotIn("center", words)

    def test_caption_checker_rejects_false_captions(self):
        data = shapes.generate(N, seed=2)
        i = int(np.flatnonzero(data["shape"][:, 1] < 0)[0])
        self.assertTrue(caption_is_true(shapes.describe({k: data[k][i] for k in data}), data, i))
        wrong = dict(data, color=(data["color"] + 1) % len(NAMES["color"]))
        self.assertFalse(caption_is_true(shapes.describe({k: wrong[k][i] for k in wrong}), data, i))

    def test_describe(self):
        attributes = {"shape": [0, 3], "color": [0, 1], "size": [0, 1], "position": [0, 5]}
        self.assertEqual(
            shapes.describe(attributes),
            "a small red circle in the top left and a large orange star on the right",
        )
        one = {"shape": [7, -1], "color": [7, -1], "size": [1, -1], "position": [4, -1]}
        self.assertEqual(shapes.describe(one), "a large pink cross in the centre")

    def test_objects_drawn_in_named_colour_at_named_place(self):
        data = shapes.generate(N, seed=5)
        checked = 0
        for i, image in enumerate(data["image"]):
            ids = classify_pixels(image)
            colors = data["color"][i][data["shape"][i] >= 0]
            # Every object-like pixel has the colour of one of the image's objects.
            self.assertTrue(np.isin(ids[ids >= 0], colors).all())
            for j in range(len(colors)):
                if len(colors) == 2 and colors[0] == colors[1]:
                    continue
                rows, cols = np.nonzero(ids == colors[j])
                self.assertGreater(len(rows), 8)
                row, col = divmod(int(data["position"][i, j]), 3)
                self.assertEqual(int((np.median(cols) + 1.5) / 64 * 3), col)
                self.assertEqual(int((np.median(rows) + 1.5) / 64 * 3), row)
                checked += 1
        self.assertGreater(checked, N)

    def test_objects_do_not_overlap_and_stay_inside(self):
        # Each shape lies within its stated reach (in units of its radius)...
        grid = np.linspace(-2.0, 2.0, 801)
        x, y = np.meshgrid(grid, grid)
        for sdf, extent in zip(shapes._SDFS, shapes._EXTENT):
            inside = sdf(x, y, np.float64(1.0)) < 0
            self.assertLessEqual(np.hypot(x, y)[inside].max(), extent + 1e-6)
            self.assertGreater(np.hypot(x, y)[inside].max(), extent - 0.02)
        # ...and reaches of two objects never meet, nor leave the image.
        rng = np.random.default_rng(0)
        attributes, radius, centre, _ = shapes._sample_objects(rng, 512, "train")
        reach = radius * shapes._EXTENT[np.maximum(attributes["shape"], 0)]
        two = attributes["shape"][:, 1] >= 0
        distance = np.hypot(*(centre[:, 0] - centre[:, 1]).T)
        self.assertTrue((distance[two] >= reach[two].sum(axis=1)).all())
        self.assertTrue((centre - reach[..., None] >= 0).all())
        self.assertTrue((centre + reach[..., None] <= 1).all())

    def test_image_sizes_and_bad_arguments(self):
        for size in shapes.IMAGE_SIZES:
            self.assertEqual(shapes.generate(2, image_size=size)["image"].shape, (2, size, size, 3))
        with self.assertRaisesRegex(UserError, "32, 64, 128"):
            shapes.generate(2, image_size=48)
        with self.assertRaisesRegex(UserError, "train, val, test, compositional"):
            shapes.generate(2, split="dev")
        with self.assertRaisesRegex(UserError, "train, val, test, compositional"):
            shapes.dataset("dev", cache=False)
        with self.assertRaisesRegex(UserError, "num_examples"):
            shapes.generate(0)
        with self.assertRaisesRegex(UserError, "seed"):
            shapes.load_split("val", seed=-1, cache=False)

    def test_cache_round_trip(self):
        cache_dir = tempfile.mkdtemp(dir=self.get_temp_dir())
        data = shapes.load_split("val", image_size=32, num_examples=N, cache_dir=cache_dir)
        path = shapes.cache_path("val", image_size=32, num_examples=N, cache_dir=cache_dir)
        self.assertEqual(os.listdir(cache_dir), [os.path.basename(path)])
        with mock.patch.object(shapes, "generate", side_effect=AssertionError("not cached")):
            cached = shapes.load_split("val", image_size=32, num_examples=N, cache_dir=cache_dir)
        for key in data:
            np.testing.assert_array_equal(cached[key], data[key])
            self.assertEqual(cached[key].dtype.kind, data[key].dtype.kind)
        name = f"shapes-test-64px-seed0-n1000-v{shapes.GENERATOR_VERSION}.npz"
        with mock.patch.dict(os.environ, {"TFGAN_TEXT_CACHE": cache_dir}):
            self.assertEqual(shapes.cache_path("test"), os.path.join(cache_dir, "shapes", name))

    def test_corrupt_cache_is_regenerated(self):
        cache_dir = tempfile.mkdtemp(dir=self.get_temp_dir())
        path = shapes.cache_path("test", image_size=32, num_examples=N, cache_dir=cache_dir)
        expected = shapes.generate(N, image_size=32, split="test")
        good = shapes.load_split("test", image_size=32, num_examples=N, cache_dir=cache_dir)
        with open(path, "rb") as f:
            content = f.read()
        for damage in (content[: len(content) // 2], b"", b"not a zip file at all"):
            with open(path, "wb") as f:
                f.write(damage)
            with self.assertWarnsRegex(UserWarning, "regenerating"):
                data = shapes.load_split("test", image_size=32, num_examples=N, cache_dir=cache_dir)
            for key in expected:
                np.testing.assert_array_equal(data[key], expected[key])
                np.testing.assert_array_equal(good[key], expected[key])
            with open(path, "rb") as f:
                self.assertEqual(f.read(), content)
        self.assertEqual(os.listdir(cache_dir), [os.path.basename(path)])

    def test_dataset_element_spec(self):
        ds = shapes.dataset("val", image_size=32, num_examples=N, cache=False)
        attribute_spec = tf.TensorSpec([2], tf.int32)
        self.assertEqual(
            ds.element_spec,
            {
                "image": tf.TensorSpec([32, 32, 3], tf.uint8),
                "captions": tf.TensorSpec([shapes.CAPTIONS_PER_IMAGE], tf.string),
                "attributes": {key: attribute_spec for key in shapes.ATTRIBUTES},
            },
        )
        self.assertEqual(int(ds.cardinality()), N)
        data = shapes.generate(N, image_size=32, split="val")
        element = next(iter(ds))
        self.assertAllEqual(element["image"], data["image"][0])
        self.assertEqual(element["captions"][0].numpy().decode(), data["captions"][0, 0])
        self.assertAllEqual(element["attributes"]["position"], data["position"][0])


if __name__ == "__main__":
    tf.test.main()
