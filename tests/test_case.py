"""Shared base for the package's tests (keras-hub's TestCase is the model)."""

import functools
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf


@functools.cache
def two_cpu_strategy():
    """One `MirroredStrategy` over the two logical CPUs of `conftest.py`, shared by all tests.

    A program makes one strategy; tests that each made their own would reuse collective
    instance keys in one process, and TensorFlow's collective executor, which caches the
    shapes of earlier instances, would abort the later all-reduce with a shape mismatch.
    """
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


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
