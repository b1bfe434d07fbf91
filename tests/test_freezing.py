"""Freezing a network reaches every weight, a deserialized network's too."""

import keras

from tests.test_case import TestCase
from tfgan_text.models.freezing import set_trainable


class _Network(keras.Model):
    """A subclassed network that makes its sublayers in `build`, as `ImageEncoder` does: built
    after `trainable=False` came from its config, they and their weights say trainable."""

    def build(self, input_shape):
        self.hidden = keras.layers.Dense(2)
        self.out = keras.layers.Dense(1)
        self.hidden.build(input_shape)
        self.out.build(input_shape[:-1] + (2,))

    def call(self, x):
        return self.out(self.hidden(x))


def _deserialized_frozen_network():
    """A network rebuilt from a frozen one's config: its own flag says False, its weights say
    trainable."""
    network = _Network(trainable=False)
    network.build((None, 3))
    return network


class SetTrainableTest(TestCase):
    def test_freezing_a_deserialized_network_freezes_every_weight(self):
        plain = _deserialized_frozen_network()
        plain.trainable = False  # what Keras skips
        self.assertTrue([v for v in plain.weights if v.trainable])

        frozen = _deserialized_frozen_network()
        set_trainable(frozen, False)
        self.assertFalse(frozen.trainable)
        self.assertFalse([v for v in frozen.weights if v.trainable])
        set_trainable(frozen, True)
        self.assertEqual(len(frozen.trainable_weights), 4)
