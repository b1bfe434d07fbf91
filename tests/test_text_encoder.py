"""Tests of the text encoders (word bi-RNN, char-CNN-RNN), the char ids and the image encoder."""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.errors import UserError
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.text_encoder import (
    MAX_CHARS,
    PAD_ID,
    UNKNOWN_ID,
    CharCNNRNNEncoder,
    WordRNNEncoder,
    char_ids,
)

TOKEN_IDS = np.array([[3, 7, 2, 9, 0], [5, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype="int32")


def _word_encoder(**kwargs):
    return WordRNNEncoder(vocabulary_size=12, embedding_dim=6, hidden_dim=8, **kwargs)


def _char_encoder(**kwargs):
    return CharCNNRNNEncoder(embedding_dim=8, conv_filters=(8, 8, 8), **kwargs)


def _numpy(outputs):
    return {key: keras.ops.convert_to_numpy(value) for key, value in outputs.items()}


def _assert_saved_model_matches(test, model, inputs):
    path = os.path.join(tempfile.mkdtemp(dir=test.get_temp_dir()), "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    expected, actual = _numpy(model(inputs)), _numpy(restored(inputs))
    test.assertEqual(sorted(expected), sorted(actual))
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], atol=1e-6)


class WordRNNEncoderTest(TestCase):
    def test_output_shapes_and_mask(self):
        out = _word_encoder()(TOKEN_IDS)
        self.assertEqual(out["words"].shape, (3, 5, 8))
        self.assertEqual(out["sentence"].shape, (3, 8))
        self.assertAllEqual(out["mask"], TOKEN_IDS != 0)

    def test_trailing_padding_changes_nothing(self):
        for rnn_type in ("lstm", "gru"):
            encoder = _word_encoder(rnn_type=rnn_type)
            short = _numpy(encoder(TOKEN_IDS))
            long = _numpy(encoder(np.pad(TOKEN_IDS, [[0, 0], [0, 4]])))
            self.assertAllClose(long["sentence"], short["sentence"], atol=1e-6)
            self.assertAllClose(long["words"][:, :5], short["words"], atol=1e-6)
            self.assertAllEqual(long["words"][:, 5:], np.zeros_like(long["words"][:, 5:]))
            self.assertAllEqual(short["words"][0, 4], np.zeros(8))
            self.assertGreater(np.abs(short["sentence"][0]).sum(), 0.0)

    def test_empty_caption_is_zero_and_leaves_others_alone(self):
        for rnn_type in ("lstm", "gru"):
            encoder = _word_encoder(rnn_type=rnn_type)
            out = _numpy(encoder(TOKEN_IDS))
            self.assertTrue(np.isfinite(out["sentence"]).all())
            self.assertAllEqual(out["sentence"][2], np.zeros(8))
            self.assertAllEqual(out["words"][2], np.zeros([5, 8]))
            alone = _numpy(encoder(TOKEN_IDS[:2]))
            self.assertAllClose(out["sentence"][:2], alone["sentence"], atol=1e-6)

    def test_embedding_matrix_initialises_word_vectors(self):
        matrix = np.random.RandomState(1).normal(size=(12, 6)).astype("float32")
        encoder = _word_encoder(embedding_matrix=matrix, embedding_trainable=False)
        encoder(TOKEN_IDS)
        self.assertAllClose(encoder.embedding.embeddings, matrix)
        self.assertEqual(len(encoder.embedding.trainable_weights), 0)
        self.assertNotIn("embedding_matrix", encoder.get_config())
        with self.assertRaisesRegex(UserError, r"embedding_matrix has shape \(12, 5\)"):
            _word_encoder(embedding_matrix=matrix[:, :5])

    def test_bad_options_raise_user_errors(self):
        with self.assertRaisesRegex(UserError, "rnn_type"):
            _word_encoder(rnn_type="simple")
        with self.assertRaisesRegex(UserError, "even"):
            WordRNNEncoder(vocabulary_size=12, hidden_dim=7)

    def test_serialization_and_saving_round_trip(self):
        encoder = _word_encoder(rnn_type="gru", dropout=0.25)
        encoder(TOKEN_IDS)
        self.assert_serialization_round_trip(encoder)
        _assert_saved_model_matches(self, encoder, TOKEN_IDS)


class CharIdsTest(TestCase):
    def test_alphabet_upper_case_and_padding(self):
        self.assertAllEqual(char_ids(["Ab z.", "a"], length=7), [[1, 2, 69, 26, 40, 0, 0], [1, 0, 0, 0, 0, 0, 0]])

    def test_unicode_and_invalid_bytes_are_unknown_per_character(self):
        ids = char_ids([b"na\xc3\xafve \xe2\x9c\x93", b"a\xffb"], length=8).numpy()
        self.assertAllEqual(ids[0], [14, 1, UNKNOWN_ID, 22, 5, 69, UNKNOWN_ID, PAD_ID])
        self.assertAllEqual(ids[1], [1, UNKNOWN_ID, 2, 0, 0, 0, 0, 0])

    def test_over_long_is_truncated_and_empty_is_padding(self):
        ids = char_ids(["x" * 500, ""]).numpy()
        self.assertEqual(ids.shape, (2, MAX_CHARS))
        self.assertAllEqual(ids[0], np.full(MAX_CHARS, 24))
        self.assertAllEqual(ids[1], np.zeros(MAX_CHARS))

    def test_scalar_input_and_tf_data(self):
        self.assertEqual(char_ids("abc", length=5).shape, (5,))
        dataset = tf.data.Dataset.from_tensor_slices(["abc", "d"]).map(lambda text: char_ids(text, length=4))
        self.assertAllEqual(list(dataset.as_numpy_iterator()), [[1, 2, 3, 0], [4, 0, 0, 0]])


class CharCNNRNNEncoderTest(TestCase):
    CAPTIONS = ["a small red circle in the top left", "Blue star!", ""]

    def test_output_shapes(self):
        out = _char_encoder()(char_ids(self.CAPTIONS))
        self.assertEqual(out["words"].shape, (3, 8, 8))  # Reed: 201 characters -> 8 steps
        self.assertEqual(out["sentence"].shape, (3, 8))
        self.assertAllEqual(out["mask"][:, 0], [True, True, False])
        self.assertFalse(bool(out["mask"][1, -1]))

    def test_trailing_padding_changes_nothing_and_empty_is_zero(self):
        for rnn_type in ("simple", "lstm", "gru"):
            encoder = _char_encoder(rnn_type=rnn_type)
            short = _numpy(encoder(char_ids(self.CAPTIONS)))
            long = _numpy(encoder(char_ids(self.CAPTIONS, length=MAX_CHARS + 60)))
            self.assertAllClose(long["sentence"], short["sentence"], atol=1e-6)
            self.assertAllClose(long["words"][:, :8], short["words"], atol=1e-6)
            self.assertTrue(np.isfinite(short["sentence"]).all())
            self.assertAllEqual(short["sentence"][2], np.zeros(8))
            self.assertGreater(np.abs(short["sentence"][0] - short["sentence"][1]).sum(), 0.0)

    def test_bad_options_raise_user_errors(self):
        with self.assertRaisesRegex(UserError, "rnn_type"):
            _char_encoder(rnn_type="transformer")
        with self.assertRaisesRegex(UserError, "3 widths"):
            CharCNNRNNEncoder(conv_filters=(8, 8))

    def test_serialization_and_saving_round_trip(self):
        encoder = _char_encoder(rnn_type="lstm")
        ids = char_ids(self.CAPTIONS)
        encoder(ids)
        self.assert_serialization_round_trip(encoder)
        _assert_saved_model_matches(self, encoder, ids)


class ImageEncoderTest(TestCase):
    def test_output_shapes(self):
        out = ImageEncoder(embedding_dim=8, filters=(4, 8, 8))(np.zeros([2, 32, 32, 3], "float32"))
        self.assertEqual(out["regions"].shape, (2, 8, 8, 8))
        self.assertEqual(out["global"].shape, (2, 8))

    def test_bad_filters_raise_user_error(self):
        with self.assertRaisesRegex(UserError, "at least 2"):
            ImageEncoder(filters=(8,))

    def test_serialization_and_saving_round_trip(self):
        encoder = ImageEncoder(embedding_dim=8, filters=(4, 8))
        images = np.random.RandomState(0).uniform(-1, 1, [2, 16, 16, 3]).astype("float32")
        encoder(images)
        self.assert_serialization_round_trip(encoder)
        _assert_saved_model_matches(self, encoder, images)
