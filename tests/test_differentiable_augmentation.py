"""DiffAugment translation (whole-pixel shifts with a reflected border) and cutout, differentiable."""

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.models.text_to_image.differentiable_augmentation import cut_out, random_centres, random_shifts, translate


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


class CutOutTest(TestCase):
    def test_greys_out_each_images_own_square_clipped_at_the_border(self):
        images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 2)).astype("float32")
        centres = np.array([[4, 4], [0, 7], [6, 1]], "int32")
        out = cut_out(tf.constant(images), tf.constant(centres), cutout_size=4).numpy()
        for image, result, (row, column) in zip(images, out, centres):
            expected = image.copy()
            expected[max(row - 2, 0) : row + 2, max(column - 2, 0) : column + 2] = 0.0
            self.assertAllEqual(result, expected)
        self.assertEqual(int(np.sum(out[0] == 0.0)), 4 * 4 * 2)  # the whole square inside the image
        self.assertEqual(int(np.sum(out[1] == 0.0)), 2 * 3 * 2)  # clipped at the top and the right

    def test_no_gradient_under_the_square(self):
        images = tf.Variable(np.ones((1, 6, 6, 1), "float32"))
        with tf.GradientTape() as tape:
            score = tf.reduce_sum(cut_out(images, tf.constant([[1, 1]]), cutout_size=2))
        gradient = tape.gradient(score, images).numpy()[0, :, :, 0]
        expected = np.ones((6, 6), "float32")
        expected[0:2, 0:2] = 0.0
        self.assertAllEqual(gradient, expected)

    def test_random_centres_cover_the_image_and_only_it(self):
        centres = random_centres(2000, 5, keras.random.SeedGenerator(0)).numpy()
        self.assertEqual(centres.dtype, np.int32)
        for axis in range(2):
            self.assertAllEqual(np.unique(centres[:, axis]), [0, 1, 2, 3, 4])
        self.assertAllEqual(centres, random_centres(2000, 5, keras.random.SeedGenerator(0)).numpy())
