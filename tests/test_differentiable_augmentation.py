"""DiffAugment translation: whole-pixel shifts with a reflected border, differentiable."""

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.models.differentiable_augmentation import random_shifts, translate


def _numpy_translate(image, rows, columns):
    """Reference: pixel (r, c) of the result is pixel (r - rows, c - columns), reflected at the border."""
    size = image.shape[0]

    def reflect(index):
        index = abs(index)
        return 2 * (size - 1) - index if index >= size else index

    return np.array([[image[reflect(r - rows), reflect(c - columns)] for c in range(size)] for r in range(size)])


class TranslateTest(TestCase):
    def test_moves_each_image_by_its_own_shift_with_a_reflected_border(self):
        images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 2)).astype("float32")
        shifts = np.array([[0, 0], [2, -1], [-3, 3]], "int32")
        moved = translate(tf.constant(images), tf.constant(shifts), max_shift=3).numpy()
        self.assertAllEqual(moved[0], images[0])
        for image, out, (rows, columns) in zip(images[1:], moved[1:], shifts[1:]):
            self.assertAllEqual(out, _numpy_translate(image, rows, columns))

    def test_gradients_flow_back_to_the_pixels_moved(self):
        images = tf.Variable(np.zeros((1, 6, 6, 1), "float32"))
        weights = np.zeros((1, 6, 6, 1), "float32")
        weights[0, 4, 5, 0] = 1.0  # reads the output pixel (4, 5)
        with tf.GradientTape() as tape:
            score = tf.reduce_sum(translate(images, tf.constant([[1, 2]]), max_shift=2) * weights)
        gradient = tape.gradient(score, images).numpy()
        expected = np.zeros_like(gradient)
        expected[0, 3, 3, 0] = 1.0  # which came from input pixel (3, 3)
        self.assertAllEqual(gradient, expected)

    def test_random_shifts_cover_the_range_and_only_it(self):
        shifts = random_shifts(2000, 2, keras.random.SeedGenerator(0)).numpy()
        self.assertEqual(shifts.dtype, np.int32)
        self.assertEqual(shifts.shape, (2000, 2))
        for axis in range(2):
            self.assertAllEqual(np.unique(shifts[:, axis]), [-2, -1, 0, 1, 2])
        again = random_shifts(2000, 2, keras.random.SeedGenerator(0)).numpy()
        self.assertAllEqual(shifts, again)  # seeded
