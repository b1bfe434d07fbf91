"""Tests of the class classifier that judges Fashion-MNIST images."""

import os

import keras
import numpy as np

from tests.test_case import TestCase
from tfgan_text.errors import UserError
from tfgan_text.metrics.class_classifier import ClassClassifier, train_class_classifier


def two_classes(n=64, size=16):
    """Class 0: a bright square on the left half; class 1: on the right half."""
    rng = np.random.RandomState(0)
    images = rng.randint(0, 40, (n, size, size, 3)).astype(np.uint8)
    labels = np.arange(n) % 2
    for i, label in enumerate(labels):
        left = 2 + label * (size // 2)
        images[i, 4:10, left : left + 5] = 230
    return images, labels


class ClassClassifierTest(TestCase):
    def test_learns_two_classes_and_round_trips(self):
        images, labels = two_classes()
        classifier = train_class_classifier(images, labels, num_classes=2, epochs=6, batch_size=16, seed=0)
        probabilities = np.asarray(classifier(images))
        self.assertAllClose(probabilities.sum(axis=1), np.ones(len(images)), atol=1e-5)
        self.assertGreater(np.mean(np.argmax(probabilities, axis=1) == labels), 0.9)
        path = os.path.join(self.temp_dir(), "judge.keras")
        classifier.save(path)
        restored = keras.saving.load_model(path, compile=False)
        self.assertAllClose(restored(images), probabilities, atol=1e-5)
        self.assertAllClose(restored.features(images), classifier.features(images), atol=1e-5)

    def test_uint8_and_unit_range_agree(self):
        classifier = ClassClassifier(num_classes=3, blocks=((4,), (8,)), image_size=16)
        images, _ = two_classes(4)
        self.assertAllClose(classifier(images), classifier(images / 127.5 - 1.0), atol=1e-5)
        self.assertEqual(np.asarray(classifier.features(images)).shape, (4, 8))

    def test_wrong_size_and_bad_data(self):
        classifier = ClassClassifier(num_classes=3, blocks=((4,),), image_size=16)
        with self.assertRaisesRegex(UserError, "takes 16x16 RGB images"):
            classifier(np.zeros([1, 32, 32, 3], np.uint8))
        with self.assertRaisesRegex(UserError, "need images"):
            train_class_classifier(np.zeros([3, 16, 16, 3], np.uint8), [0, 1], num_classes=2)
