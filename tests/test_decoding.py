"""Caption decoding: greedy search, seeded sampling and beam search (against exhaustive search)."""

import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.errors import UserError
from tfgan_text.models import decoding
from tfgan_text.models.captioner import Captioner
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.text.vocabulary import END_ID, PAD_ID, START_ID

VOCAB = 6
MAX_LENGTH = 5  # 4 generated tokens at most
STEPS = MAX_LENGTH - 1
FEATURES = 8


def _captioner(scale=4.0, vocabulary_size=VOCAB, max_length=MAX_LENGTH):
    """A tiny captioner whose weights are scaled up so next-token distributions are peaky and varied."""
    captioner = Captioner(
        vocabulary_size=vocabulary_size,
        max_length=max_length,
        embedding_dim=8,
        hidden_dim=8,
        image_encoder=ImageEncoder(embedding_dim=FEATURES, filters=(4, 8), regions=False),
    )
    captioner.build({"image": (None, 16, 16, 3)})
    for variable in captioner.trainable_variables:
        variable.assign(variable * scale)
    return captioner


def _features(captioner, size=6, seed=0):
    images = np.random.default_rng(seed).uniform(-1, 1, (size, 16, 16, 3)).astype("float32")
    return captioner.encode_images(images)


def _teacher_forced_log_prob(captioner, features, token_ids):
    """Sum of the model's log-probabilities of `token_ids` `[B, L]` (up to `<end>`), teacher-forced."""
    token_ids = np.asarray(token_ids)
    inputs = np.concatenate([np.full([len(token_ids), 1], START_ID), token_ids[:, :-1]], axis=1)
    log_probs = tf.nn.log_softmax(captioner.sequence_logits(features, inputs), axis=-1).numpy()
    picked = np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0]
    return np.sum(np.where(token_ids != PAD_ID, picked, 0.0), axis=1)


class FormatMixin:
    def assert_format(self, token_ids, log_prob, batch, steps=STEPS):
        """int64 `[B, steps]`, no pad or start before `<end>`, only pad after it; float32 `[B]` <= 0."""
        self.assertEqual(token_ids.dtype, tf.int64)
        self.assertEqual(log_prob.dtype, tf.float32)
        self.assertEqual(tuple(token_ids.shape), (batch, steps))
        self.assertEqual(tuple(log_prob.shape), (batch,))
        for row in np.asarray(token_ids):
            ends = np.flatnonzero(row == END_ID)
            stop = ends[0] + 1 if len(ends) else steps
            self.assertFalse(np.isin(row[:stop], [PAD_ID, START_ID]).any(), row)
            self.assertTrue(np.all(row[stop:] == PAD_ID), row)
        self.assertTrue(np.all(np.asarray(log_prob) <= 0.0))


class GreedySearchTest(TestCase, FormatMixin):
    def test_format_and_log_prob_is_teacher_forced_sum(self):
        captioner = _captioner()
        features = _features(captioner)
        token_ids, log_prob = decoding.greedy_search(captioner, features)
        self.assert_format(token_ids, log_prob, 6)
        self.assertAllClose(log_prob, _teacher_forced_log_prob(captioner, features, token_ids), atol=1e-5)

    def test_each_token_is_the_argmax_of_allowed_tokens(self):
        captioner = _captioner()
        features = _features(captioner)
        token_ids, _ = decoding.greedy_search(captioner, features)
        token_ids = token_ids.numpy()
        inputs = np.concatenate([np.full([len(token_ids), 1], START_ID), token_ids[:, :-1]], axis=1)
        logits = captioner.sequence_logits(features, inputs).numpy()
        logits[..., [PAD_ID, START_ID]] = -np.inf
        expected = np.argmax(logits, axis=-1)
        self.assertAllEqual(np.where(token_ids != PAD_ID, expected, PAD_ID), token_ids)

    def test_graph_with_unknown_batch_size_matches_eager(self):
        captioner = _captioner()
        features = _features(captioner)
        decode = tf.function(
            lambda f: decoding.greedy_search(captioner, f),
            input_signature=[tf.TensorSpec([None, FEATURES], tf.float32)],
        )
        expected = decoding.greedy_search(captioner, features)
        actual = decode(features)
        self.assertAllEqual(actual[0], expected[0])
        self.assertAllClose(actual[1], expected[1], atol=1e-6)
        empty_ids, empty_log_prob = decode(features[:0])
        self.assertEqual(tuple(empty_ids.shape), (0, STEPS))
        self.assertEqual(tuple(empty_log_prob.shape), (0,))

    def test_max_length_argument(self):
        captioner = _captioner()
        token_ids, log_prob = decoding.greedy_search(captioner, _features(captioner), max_length=2)
        self.assert_format(token_ids, log_prob, 6, steps=1)
        with self.assertRaises(UserError):
            decoding.greedy_search(captioner, _features(captioner), max_length=1)
