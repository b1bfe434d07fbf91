"""Attribute correctness of shapes captions (tfgan_text.metrics.caption_attributes): every caption
of the test split is correct, and captions made wrong on purpose are caught."""

import re

import numpy as np

from tests.test_case import TestCase
from tfgan_text.data import shapes
from tfgan_text.metrics.caption_attributes import attribute_correctness, check_caption

NAMES = shapes.ATTRIBUTE_NAMES
# Written out here, independently of the module's tables; longest first.
PLACES = {
    "top left": 0, "top right": 2, "bottom left": 6, "bottom right": 8, "top": 1, "left": 3,
    "centre": 4, "middle": 4, "right": 5, "bottom": 7,
}
SIZES = {"small": "large", "little": "big", "large": "small", "big": "little"}
SWAPPED_RELATIONS = {
    "above": "below", "below": "above",
    "to the left of": "to the right of", "to the right of": "to the left of",
}
# Red circle, small, top (1), and blue star, large, centre (4); a large red square at the top.
TWO = {"shape": [0, 3], "color": [0, 5], "size": [0, 1], "position": [1, 4]}
ONE = {"shape": [1, -1], "color": [0, -1], "size": [1, -1], "position": [1, -1]}


def words_pattern(words):
    return re.compile(r"\b(" + "|".join(sorted(words, key=len, reverse=True)) + r")\b")


def attributes_of(data, i):
    return {key: data[key][i] for key in shapes.ATTRIBUTES}


def replace_first(pattern, caption, replacement):
    """The caption with the first match of `pattern` replaced by `replacement(word)`, or None."""
    match = pattern.search(caption)
    if not match:
        return None
    return caption[: match.start()] + replacement(match.group(1)) + caption[match.end():]


class CaptionAttributesTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = shapes.load_split("test", image_size=32, cache=False)

    def test_every_test_split_caption_is_correct(self):
        rates = attribute_correctness(self.data["captions"], self.data)
        self.assertEqual(rates, dict.fromkeys(rates, 1.0))
        self.assertEqual(
            list(rates), ["color", "shape", "size", "position", "count", "all_correct"]
        )

    def assert_all_caught(self, key, corrupt):
        """Each caption that `corrupt(caption, attributes)` changes is wrong in `key`."""
        changed = 0
        for i in range(len(self.data["captions"])):
            attributes = attributes_of(self.data, i)
            for caption in self.data["captions"][i]:
                wrong = corrupt(caption, attributes)
                if wrong is None:
                    continue
                changed += 1
                result = check_caption(wrong, attributes)
                self.assertFalse(result["all_correct"], wrong)
                self.assertIs(result[key], False, wrong)
        self.assertGreater(changed, 500)  # relations: ~800 captions; the others: thousands

    def test_wrong_colour(self):
        pattern = words_pattern(NAMES["color"])

        def corrupt(caption, attributes):
            absent = [c for i, c in enumerate(NAMES["color"]) if i not in attributes["color"]]
            return replace_first(pattern, caption, lambda word: absent[0])

        self.assert_all_caught("color", corrupt)

    def test_wrong_shape(self):
        pattern = words_pattern(NAMES["shape"])

        def corrupt(caption, attributes):
            absent = [s for i, s in enumerate(NAMES["shape"]) if i not in attributes["shape"]]
            return replace_first(pattern, caption, lambda word: absent[-1])

        self.assert_all_caught("shape", corrupt)

    def test_wrong_size(self):
        pattern = words_pattern(SIZES)
        self.assert_all_caught(
            "size", lambda caption, _: replace_first(pattern, caption, SIZES.get)
        )

    def test_wrong_place(self):
        pattern, relation = words_pattern(PLACES), words_pattern(SWAPPED_RELATIONS)

        def corrupt(caption, attributes):
            if relation.search(caption):  # "left" of "to the left of" is no place
                return None
            taken = attributes["position"]
            free = [p for p in ("top left", "centre", "bottom") if PLACES[p] not in taken]
            return replace_first(pattern, caption, lambda word: free[0])

        self.assert_all_caught("position", corrupt)

    def test_wrong_relation(self):
        pattern = words_pattern(SWAPPED_RELATIONS)

        def corrupt(caption, attributes):
            # With two objects of one colour and shape, "x above y" and "x below y" are both true.
            twins = all(attributes[key][0] == attributes[key][1] for key in ("color", "shape"))
            return None if twins else replace_first(pattern, caption, SWAPPED_RELATIONS.get)

        self.assert_all_caught("position", corrupt)

    def test_missing_and_extra_object(self):
        def missing(caption, attributes):
            if attributes["shape"][1] < 0:
                return None
            first_only = {key: [attributes[key][0], -1] for key in attributes}
            return shapes.describe(first_only)

        def extra(caption, attributes):
            return caption + " and a small red circle" if attributes["shape"][1] < 0 else None

        self.assert_all_caught("count", missing)
        self.assert_all_caught("count", extra)

    def test_template_forms(self):
        self.assertTrue(check_caption("the square at the top is red", ONE)["all_correct"])
        self.assertFalse(check_caption("the square in the middle is red", ONE)["position"])
        self.assertTrue(check_caption("top: a red square, big", ONE)["all_correct"])
        self.assertFalse(check_caption("top: a red square, small", ONE)["size"])
        self.assertFalse(check_caption("top left: a red square, big", ONE)["position"])
        top_left = {**ONE, "shape": [0, -1], "size": [0, -1], "position": [0, -1]}
        self.assertTrue(check_caption("top left: a red circle, small", top_left)["all_correct"])
        two_sizes = "a little red circle above a big blue star"
        self.assertTrue(check_caption(two_sizes, TWO)["all_correct"])
        self.assertTrue(check_caption("a red circle above a blue star", TWO)["all_correct"])
        self.assertTrue(check_caption("a blue star below a red circle", TWO)["all_correct"])
        self.assertFalse(check_caption("a red circle below a blue star", TWO)["position"])
        self.assertFalse(check_caption("a red circle to the left of a blue star", TWO)["position"])
        self.assertFalse(check_caption("above a blue star", TWO)["all_correct"])

    def test_statements_not_made_and_counts(self):
        result = check_caption("a red circle and a blue star", TWO)
        made = {"color": True, "shape": True, "count": True, "all_correct": True}
        self.assertEqual(result, {**made, "size": None, "position": None})
        self.assertTrue(check_caption("two shapes: a red circle and a blue star", TWO)["count"])
        self.assertFalse(check_caption("only one red circle and a blue star", TWO)["count"])
        self.assertTrue(check_caption("a single large red square", ONE)["all_correct"])
        self.assertFalse(check_caption("a red circle", TWO)["count"])
        # A mention without a colour gets its colour wrong; a caption with no mention is all wrong.
        self.assertFalse(check_caption("a circle and a blue star", TWO)["color"])
        nothing = dict.fromkeys(made, False)
        nothing.update(size=None, position=None)
        self.assertEqual(check_caption("nothing here", ONE), nothing)

    def test_rates_over_one_caption_per_image(self):
        first = self.data["captions"][:, 0]
        self.assertEqual(attribute_correctness(first, self.data)["all_correct"], 1.0)
        captions = ["a red circle and a blue star", "a large red square at the bottom"]
        attributes = {key: np.array([TWO[key], ONE[key]]) for key in shapes.ATTRIBUTES}
        rates = attribute_correctness(captions, attributes)
        self.assertEqual(rates["all_correct"], 0.5)
        self.assertEqual(rates["position"], 0.0)  # only the second names a place
        self.assertEqual(rates["size"], 1.0)
        first_only = {key: value[:1] for key, value in attributes.items()}
        self.assertTrue(np.isnan(attribute_correctness(captions[:1], first_only)["size"]))
