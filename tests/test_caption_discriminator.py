"""Image-conditioned caption discriminator (Dai et al. 2017's evaluator)."""

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.models.image_to_text.caption_discriminator import CaptionDiscriminator, caption_mask
from tfgan_text.models.image_to_text.captioner import Captioner
from tfgan_text.models.image_encoder import ImageEncoder

VOCAB = 12
IMAGE = 16


def tiny_discriminator(sharpness=1.0, image_encoder=None):
    """A built 16-px discriminator; `sharpness` scales its projection so probabilities spread out."""
    discriminator = CaptionDiscriminator(
        VOCAB,
        embedding_dim=8,
        hidden_dim=16,
        image_encoder=image_encoder or ImageEncoder(16, filters=(8, 16), regions=False),
    )
    discriminator.build({"image": (None, IMAGE, IMAGE, 3)})
    if sharpness != 1.0:
        kernel = discriminator.image_projection.kernel
        kernel.assign(kernel * sharpness)
        discriminator.embedding.embeddings.assign(discriminator.embedding.embeddings * sharpness)
    return discriminator


def tiny_captioner(max_length=7, end_bias=0.0, image_encoder=None, attention_heads=0):
    """A built 16-px captioner; `end_bias` is added to the `<end>` score (ragged captions)."""
    captioner = Captioner(
        VOCAB,
        max_length=max_length,
        embedding_dim=8,
        hidden_dim=16,
        image_encoder=image_encoder or ImageEncoder(16, filters=(8, 16), regions=attention_heads > 0),
        attention_heads=attention_heads,
    )
    captioner.build({"image": (None, IMAGE, IMAGE, 3)})
    if end_bias:
        bias = captioner.token_scores.bias
        bias.assign(bias + end_bias * np.eye(VOCAB, dtype="float32")[3])
    return captioner


def images(batch, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, IMAGE, IMAGE, 3)).astype("float32")


class CaptionDiscriminatorTest(TestCase):
    def setUp(self):
        super().setUp()
        self.tokens = np.array([[5, 6, 3, 0, 0], [4, 7, 8, 9, 3], [3, 0, 0, 0, 0]], "int32")

    def test_caption_mask(self):
        tokens = np.array([[5, 3, 7, 3, 0], [4, 0, 0, 0, 0], [6, 7, 8, 9, 10]])
        expected = [[1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]]
        self.assertAllEqual(caption_mask(tokens), np.array(expected, bool))

    def test_tokens_equal_exact_one_hot_soft_tokens(self):
        discriminator = tiny_discriminator(sharpness=5.0)
        by_ids = discriminator({"image": images(3), "tokens": self.tokens})
        one_hot = np.eye(VOCAB, dtype="float32")[self.tokens]
        by_soft = discriminator({"image": images(3), "soft_tokens": one_hot})
        self.assertEqual(by_ids.shape, (3,))
        self.assertAllClose(by_soft, by_ids, atol=1e-6)
        self.assertGreater(np.ptp(by_ids.numpy()), 1e-3)  # the rows do differ

    def test_reads_up_to_end_and_conditions_on_both_inputs(self):
        discriminator = tiny_discriminator(sharpness=5.0)
        logits = discriminator({"image": images(3), "tokens": self.tokens}).numpy()
        after_end = self.tokens.copy()
        after_end[0, 3:] = [7, 7]  # words after <end> are not read
        self.assertAllClose(discriminator({"image": images(3), "tokens": after_end}), logits, atol=1e-6)
        changed = self.tokens.copy()
        changed[0, 0] = 9
        self.assertNotAllClose(discriminator({"image": images(3), "tokens": changed})[0], logits[0])
        self.assertNotAllClose(discriminator({"image": images(3, seed=1), "tokens": self.tokens}), logits)

    def test_sentence_steps_equal_the_masked_lstm(self):
        discriminator = tiny_discriminator(sharpness=5.0)
        state = discriminator.initial_sentence_state(3)
        for column in self.tokens.T:
            state = discriminator.sentence_step(column, state)
        self.assertAllClose(state[0], discriminator.encode_captions(tokens=self.tokens), atol=1e-6)

    def test_soft_tokens_carry_gradients(self):
        discriminator = tiny_discriminator()
        soft = tf.Variable(np.eye(VOCAB, dtype="float32")[self.tokens])
        with tf.GradientTape() as tape:
            logits = discriminator({"image": images(3), "soft_tokens": soft})
        gradient = tape.gradient(logits, soft).numpy()
        self.assertGreater(np.abs(gradient[0, :3]).max(), 0.0)
        self.assertAllEqual(gradient[0, 3:], np.zeros_like(gradient[0, 3:]))  # masked after <end>

    def test_serialization_and_saving(self):
        discriminator = tiny_discriminator()
        restored = self.assert_serialization_round_trip(discriminator)
        self.assertEqual(restored.hidden_dim, 16)
        loaded = self.assert_saving_round_trip(discriminator, {"image": images(3), "tokens": self.tokens})
        self.assertIsInstance(loaded, CaptionDiscriminator)

    def test_default_image_encoder(self):
        discriminator = CaptionDiscriminator(VOCAB, embedding_dim=8, hidden_dim=16)
        logits = discriminator({"image": np.zeros((2, 32, 32, 3), "float32"), "tokens": self.tokens[:2]})
        self.assertEqual(logits.shape, (2,))
        self.assertIsInstance(discriminator.image_encoder, ImageEncoder)
        self.assertFalse(discriminator.image_encoder.regions)
        self.assertIsInstance(discriminator.get_config()["image_encoder"], dict)
        self.assertEqual(keras.ops.convert_to_numpy(logits).dtype, np.float32)
