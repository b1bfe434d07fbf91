"""Shared base for the package's tests (keras-hub's TestCase is the model)."""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfgan_text.training.strategy import select_strategy


def two_cpu_strategy():
    """The `MirroredStrategy` over the two logical CPUs of `conftest.py`, shared by all tests
    and by the runs they start (`select_strategy` makes one per process)."""
    return select_strategy("mirrored")


class TestCase(tf.test.TestCase):
    """A `tf.test.TestCase` with seeding and Keras round-trip helpers."""

    test_session = None  # tf.test's deprecated helper, which pytest would collect as a test

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)
        keras.backend.clear_session()

    def temp_dir(self):
        """A fresh directory under the test's temporary directory."""
        return tempfile.mkdtemp(dir=self.get_temp_dir())

    def assert_serialization_round_trip(self, obj):
        """`get_config` -> `from_config` gives an object with the same config."""
        config = obj.get_config()
        restored = obj.__class__.from_config(config)
        self.assertEqual(config, restored.get_config())
        return restored

    def assert_saving_round_trip(self, model, inputs, atol=1e-6):
        """A `.keras` save and load gives the same outputs on `inputs`."""
        path = os.path.join(self.temp_dir(), "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        expected = keras.ops.convert_to_numpy(model(inputs, training=False))
        actual = keras.ops.convert_to_numpy(restored(inputs, training=False))
        np.testing.assert_allclose(actual, expected, atol=atol)
        return restored
