"""Tests of the attribute classifier that judges shapes images (tfgan_text.metrics)."""

import os
from unittest import mock

import keras
import numpy as np

from tests.test_case import TestCase
from tfgan_text.data import shapes
from tfgan_text.errors import UserError
from tfgan_text.metrics import attribute_classifier as ac

# Two images: one red circle at place 0; a blue star at place 4 and a red square at place 8.
ATTRIBUTES = {
    "color": np.array([[0, -1], [5, 0]], np.int32),
    "shape": np.array([[0, -1], [3, 1]], np.int32),
    "size": np.array([[1, -1], [0, 0]], np.int32),
    "position": np.array([[0, -1], [4, 8]], np.int32),
}


def one_hot_rows(ids, depth):
    return np.eye(depth, dtype=np.float32)[np.asarray(ids)]


def perfect_probabilities(attributes):
    """Outputs a classifier that is always right would give (probabilities, not exact 0/1)."""
    targets = ac.attribute_targets(attributes)
    out = {key: 0.1 + 0.8 * targets[key] for key in ac.SET_HEADS}
    for key, depth in (("color", ac.NUM_COLORS), ("shape", ac.NUM_SHAPES)):
        ids = np.maximum(targets["place_" + key], 0)
        out["place_" + key] = 0.05 + 0.6 * one_hot_rows(ids, depth)
    return out


class StandIn(keras.Model):
    """Returns `perfect_probabilities` of the image whose index is written in pixel (0, 0)."""

    def __init__(self, attributes):
        super().__init__()
        table = perfect_probabilities(attributes)
        self.table = {key: keras.ops.convert_to_tensor(value) for key, value in table.items()}

    def call(self, images):
        index = keras.ops.cast(images[:, 0, 0, 0], "int32")
        return {key: keras.ops.take(value, index, axis=0) for key, value in self.table.items()}


class TargetsTest(TestCase):
    def test_multi_hot_skips_absent(self):
        got = ac.multi_hot(np.array([[2, -1], [1, 3], [3, 3]]), 4)
        self.assertAllEqual(got, [[0, 0, 1, 0], [0, 1, 0, 1], [0, 0, 0, 1]])

    def test_attribute_targets(self):
        t = ac.attribute_targets(ATTRIBUTES)
        self.assertAllEqual(np.nonzero(t["color"][0])[0], [0])
        self.assertAllEqual(np.nonzero(t["color"][1])[0], [0, 5])
        self.assertAllEqual(np.nonzero(t["size"][1])[0], [0])
        self.assertAllEqual(np.nonzero(t["position"][1])[0], [4, 8])
        self.assertAllEqual(t["place_color"][0], [0] + [-1] * 8)
        self.assertAllEqual(t["place_shape"][1], [-1] * 4 + [3] + [-1] * 3 + [1])
        self.assertEqual(t["place_color"].dtype, np.int32)

    def test_place_crossentropy_ignores_empty_places(self):
        y_true = np.array([[1, -1, -1], [-1, -1, -1]], np.int32)
        y_pred = np.array([[[0.2, 0.8], [1.0, 0.0], [0.0, 1.0]]] * 2, np.float32)
        got = keras.ops.convert_to_numpy(ac.place_crossentropy(y_true, y_pred))
        self.assertAllClose(got, [-np.log(0.8), 0.0], atol=1e-5)


class AccuracyTest(TestCase):
    def test_perfect_predictions(self):
        got = ac.set_accuracy(perfect_probabilities(ATTRIBUTES), ATTRIBUTES)
        self.assertEqual(set(got), {f"{k}_accuracy" for k in ac.SET_HEADS + ("pair",)})
        self.assertTrue(all(value == 1.0 for value in got.values()), got)

    def test_one_wrong_label_fails_only_its_image(self):
        probabilities = perfect_probabilities(ATTRIBUTES)
        probabilities["color"][1, 2] = 0.5  # an extra yellow, at the threshold
        probabilities["shape"][0, 0] = 0.49  # the circle missed
        got = ac.set_accuracy(probabilities, ATTRIBUTES)
        self.assertEqual(got["color_accuracy"], 0.5)
        self.assertEqual(got["shape_accuracy"], 0.5)
        self.assertEqual(got["size_accuracy"], 1.0)

    def test_swapped_colours_fail_pairs_only(self):
        probabilities = perfect_probabilities(ATTRIBUTES)
        # Image 1: the star is drawn red and the square blue. Colour and shape sets still match.
        probabilities["place_color"][1, [4, 8]] = probabilities["place_color"][1, [8, 4]]
        got = ac.set_accuracy(probabilities, ATTRIBUTES)
        self.assertEqual(got["color_accuracy"], 1.0)
        self.assertEqual(got["shape_accuracy"], 1.0)
        self.assertEqual(got["pair_accuracy"], 0.5)

    def test_pairs_ignore_places(self):
        probabilities = perfect_probabilities(ATTRIBUTES)
        # Image 0: the red circle is seen at place 2 instead of 0.
        for key in ("position", "place_color", "place_shape"):
            probabilities[key][0, [0, 2]] = probabilities[key][0, [2, 0]]
        got = ac.set_accuracy(probabilities, ATTRIBUTES)
        self.assertEqual(got["position_accuracy"], 0.5)
        self.assertEqual(got["pair_accuracy"], 1.0)

    def test_attribute_accuracy_in_batches(self):
        n = 7
        attributes = {key: np.tile(value, (4, 1))[:n] for key, value in ATTRIBUTES.items()}
        attributes["color"][4] = [2, -1]  # image 4 should be yellow; the stand-in says red
        images = np.zeros([n, 4, 4, 3], np.uint8)
        images[:, 0, 0, 0] = np.arange(n) % 2
        got = ac.attribute_accuracy(StandIn(ATTRIBUTES), images, attributes, batch_size=3)
        self.assertAlmostEqual(got["color_accuracy"], 6 / 7)
        self.assertAlmostEqual(got["pair_accuracy"], 6 / 7)
        self.assertEqual(got["shape_accuracy"], 1.0)

    def test_mismatched_lengths(self):
        with self.assertRaisesRegex(UserError, "3 images"):
            ac.attribute_accuracy(StandIn(ATTRIBUTES), np.zeros([3, 4, 4, 3], np.uint8), ATTRIBUTES)


def tiny_classifier():
    return ac.AttributeClassifier(shape_blocks=((4,), (8,)), color_blocks=((4,),))


class ClassifierTest(TestCase):
    def test_outputs_and_input_ranges(self):
        classifier = tiny_classifier()
        images = np.random.default_rng(0).integers(0, 256, [2, 32, 32, 3]).astype(np.uint8)
        out = classifier(images)
        self.assertEqual(
            {key: tuple(value.shape) for key, value in out.items()},
            {"color": (2, 8), "shape": (2, 8), "size": (2, 2), "position": (2, 9),
             "place_color": (2, 9, 8), "place_shape": (2, 9, 8)},
        )
        self.assertAllClose(np.sum(out["place_color"], axis=-1), np.ones([2, 9]), atol=1e-5)
        as_float = classifier(images.astype(np.float32) / 127.5 - 1.0)
        for key in out:
            self.assertAllClose(out[key], as_float[key], atol=1e-5)

    def test_shape_pathway_ignores_hue(self):
        classifier = tiny_classifier()
        images = np.random.default_rng(0).integers(0, 256, [2, 32, 32, 3]).astype(np.uint8)
        out = classifier(images)
        permuted = classifier(images[..., ::-1].copy())  # red <-> blue: hue changes only
        for key in ("shape", "size", "position", "place_shape"):
            self.assertAllClose(out[key], permuted[key], atol=1e-5)
        self.assertNotAllClose(out["place_color"], permuted["place_color"])

    def test_place_weights_read_grid_centres(self):
        # On a 10x10 map, centres 0.2 / 0.5 / 0.8 fall at cell 1.5, 4.5 and 7.5.
        weights = ac.place_weights(ac.PLACE_CENTRES, 10, 10).reshape(9, 10, 10)
        self.assertAllClose(np.sum(weights, axis=(1, 2)), np.ones(9))
        self.assertAllClose(weights[5, 4, 7:9], [0.25, 0.25])  # the "right" place, row 4.5
        self.assertAllClose(weights[5, 5, 7:9], [0.25, 0.25])
        self.assertAllClose(ac.PLACE_CENTRES, shapes._GRID_CENTRES)

    def test_image_size_guard(self):
        classifier = ac.AttributeClassifier(
            shape_blocks=((4,), (8,)), color_blocks=((4,),), image_size=32
        )
        classifier(np.zeros([1, 32, 32, 3], np.uint8))
        with self.assertRaisesRegex(UserError, "takes 32x32 images, got 64x64"):
            ac.attribute_accuracy(classifier, np.zeros([2, 64, 64, 3], np.uint8), {
                key: value[:2] for key, value in ATTRIBUTES.items()
            })

    def test_config_round_trip(self):
        self.assert_serialization_round_trip(tiny_classifier())

    def test_short_training_beats_chance_and_round_trips(self):
        with mock.patch.dict(os.environ, {"TFGAN_TEXT_CACHE": self.temp_dir()}):
            classifier = ac.train_attribute_classifier(image_size=32, num_examples=1024, epochs=3)
            val = shapes.load_split("val", image_size=32, num_examples=256)
        got = ac.attribute_accuracy(classifier, val["image"], val)
        # About 0.5 to 0.6 each over seeds 0-2. Chance is under 2% for colour sets (a constant
        # guess of the most common set gets about 6%) and far less for pair sets.
        self.assertGreater(got["color_accuracy"], 0.3, got)
        self.assertGreater(got["pair_accuracy"], 0.3, got)
        path = os.path.join(self.temp_dir(), "classifier.keras")
        classifier.save(path)
        restored = keras.saving.load_model(path)
        expected = ac.predict_probabilities(classifier, val["image"][:16])
        actual = ac.predict_probabilities(restored, val["image"][:16])
        for key in expected:
            self.assertAllClose(actual[key], expected[key], atol=1e-6)
        self.assertEqual(ac.attribute_accuracy(restored, val["image"], val), got)

    def test_features_are_the_pooled_input_of_the_presence_heads(self):
        classifier = tiny_classifier()
        images = np.random.RandomState(0).randint(0, 256, [2, 32, 32, 3]).astype(np.uint8)
        features = np.asarray(classifier.features(images))
        width = classifier.shape_blocks[-1][-1]
        self.assertEqual(features.shape, (2, width + classifier.color_blocks[-1][-1]))
        self.assertAllClose(classifier.color_head(features[:, width:]), classifier(images)["color"], atol=1e-6)
