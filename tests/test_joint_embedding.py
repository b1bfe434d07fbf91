"""Tests of the matching loss, joint image-text training and caption -> image retrieval."""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase, two_cpu_strategy
from tfgan_text.losses import symmetric_matching_loss
from tfgan_text.metrics.retrieval import caption_to_image_recall, embed_split, recall_at_k
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.joint_embedding import JointEmbedding, in_batch_recall_at_1
from tfgan_text.models.text_encoder import CharCNNRNNEncoder, WordRNNEncoder, char_ids

COLORS = {"red": (1, -1, -1), "green": (-1, 1, -1), "blue": (-1, -1, 1), "white": (1, 1, 1)}
SIDES = ("left", "right")


def _toy_batch():
    """8 pairs: a coloured square on the left or right of a 16x16 image, caption "<colour> <side>"."""
    images, token_ids, captions = [], [], []
    for c, (color, rgb) in enumerate(COLORS.items()):
        for s, side in enumerate(SIDES):
            image = np.full([16, 16, 3], -1.0, "float32")
            image[4:12, 8 * s : 8 * s + 8] = rgb
            images.append(image)
            token_ids.append([1 + c, 5 + s, 0])
            captions.append(f"a {color} square on the {side}")
    return {
        "image": np.stack(images),
        "token_ids": np.array(token_ids, "int32"),
        "char_ids": char_ids(captions).numpy(),
        "label": np.arange(8, dtype="int32"),
    }


def _joint(text_encoder):
    model = JointEmbedding(text_encoder, ImageEncoder(embedding_dim=16, filters=(8, 16)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model


def _word_joint():
    return _joint(WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16))


class SymmetricMatchingLossTest(TestCase):
    IMAGES = np.array([[1.0, 0.0], [0.0, 2.0]])
    TEXTS = np.array([[3.0, 0.0], [1.0, 1.0]])

    def test_hand_computed(self):
        # Cosine similarities (text rows, image columns): [[1, 0], [r, r]], r = 1/sqrt(2).
        r = 1 / np.sqrt(2)
        text_to_image = [np.log1p(np.exp(-1.0)), np.log(2.0)]
        image_to_text = [np.log1p(np.exp(r - 1.0)), np.log1p(np.exp(-r))]
        loss = symmetric_matching_loss(self.IMAGES, self.TEXTS, gamma=1.0)
        self.assertAllClose(loss, np.add(text_to_image, image_to_text), atol=1e-6)
        loss = symmetric_matching_loss(self.IMAGES, self.TEXTS, gamma=10.0)
        expected = [np.log1p(np.exp(-10.0)) + np.log1p(np.exp(10 * r - 10)), np.log(2.0) + np.log1p(np.exp(-10 * r))]
        self.assertAllClose(loss, expected, atol=1e-5)

    def test_same_label_is_not_a_negative(self):
        self.assertAllClose(symmetric_matching_loss(self.IMAGES, self.TEXTS, labels=["a", "a"]), [0.0, 0.0])
        images = np.concatenate([self.IMAGES, [[1.0, 1.0]]])
        texts = np.concatenate([self.TEXTS, [[0.0, 1.0]]])
        loss = symmetric_matching_loss(images, texts, gamma=1.0, labels=[4, 4, 9])
        cos = (texts / np.linalg.norm(texts, axis=1, keepdims=True)) @ (
            images / np.linalg.norm(images, axis=1, keepdims=True)
        ).T
        # Pairs 0 and 1 share a label: each one's softmaxes keep only itself and pair 2.
        def ce(scores, target):
            return np.log(np.sum(np.exp(scores))) - scores[target]

        expected = [
            ce(cos[0, [0, 2]], 0) + ce(cos[[0, 2], 0], 0),
            ce(cos[1, [1, 2]], 0) + ce(cos[[1, 2], 1], 0),
            ce(cos[2], 2) + ce(cos[:, 2], 2),
        ]
        self.assertAllClose(loss, expected, atol=1e-6)

    def test_zero_text_embedding_has_finite_loss_and_gradient(self):
        texts = tf.Variable(np.zeros([2, 2], "float32"))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(symmetric_matching_loss(self.IMAGES, texts))
        self.assertAllClose(loss, 2 * np.log(2.0))
        self.assertTrue(np.isfinite(tape.gradient(loss, texts).numpy()).all())


class RecallTest(TestCase):
    def test_in_batch_recall_ties_count_as_misses(self):
        images = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
        texts = np.array([[1.0, 0.1], [0.0, 1.0], [0.0, 1.0]])
        self.assertAllClose(in_batch_recall_at_1(images, texts), 1 / 3)
        self.assertAllClose(in_batch_recall_at_1(images, texts, labels=[0, 1, 1]), 1.0)

    def test_recall_at_k_ties_and_chunks(self):
        images = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
        texts = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 1.1], [1.0, 0.5]])
        owners = [0, 1, 2, 3, 0]
        # Ranks: 0; 1 (tie with image 2); 1 (tie with image 1); 0; 1 (image 3 above image 0).
        expected = {"recall_at_1": 2 / 5, "recall_at_2": 1.0}
        self.assertEqual(recall_at_k(texts, images, owners, ks=(1, 2)), expected)
        self.assertEqual(recall_at_k(texts, images, owners, ks=(1, 2), chunk_size=2), expected)
        self.assertEqual(recall_at_k(np.ones([3, 2]), np.ones([3, 2]), [0, 1, 2], ks=(1,)), {"recall_at_1": 0.0})


class JointEmbeddingTest(TestCase):
    def _fit_and_check(self, model, steps):
        batch = _toy_batch()
        before = model.evaluate(batch, batch_size=8, verbose=0, return_dict=True)
        data = tf.data.Dataset.from_tensors(batch).repeat()
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
        after = model.evaluate(batch, batch_size=8, verbose=0, return_dict=True)
        self.assertEqual(set(after), {"loss", "recall_at_1"})
        self.assertLess(after["loss"], 0.5 * before["loss"])
        self.assertGreater(after["recall_at_1"], before["recall_at_1"])
        self.assertGreaterEqual(after["recall_at_1"], 0.75)
        return batch

    def test_fit_word_encoder_lowers_loss_and_raises_recall(self):
        model = _word_joint()
        batch = self._fit_and_check(model, steps=40)
        # The whole-split recall of the trained encoders, with padding caption rows skipped.
        ids = np.stack([batch["token_ids"], np.zeros_like(batch["token_ids"])], axis=1)
        split = [{"image": batch["image"][:4], "token_ids": ids[:4]}, {"image": batch["image"][4:], "token_ids": ids[4:]}]
        texts, images, owners = embed_split(model.text_encoder, model.image_encoder, split)
        self.assertEqual((texts.shape, images.shape), ((8, 16), (8, 16)))
        self.assertAllEqual(owners, np.arange(8))
        recall = caption_to_image_recall(model.text_encoder, model.image_encoder, split, ks=(1, 8))
        self.assertGreaterEqual(recall["recall_at_1"], 0.75)
        self.assertEqual(recall["recall_at_8"], 1.0)

    def test_fit_char_encoder_lowers_loss_and_raises_recall(self):
        self._fit_and_check(_joint(CharCNNRNNEncoder(embedding_dim=16, conv_filters=(16, 16, 16))), steps=40)

    def test_fit_under_mirrored_strategy(self):
        strategy = two_cpu_strategy()
        with strategy.scope():
            model = _word_joint()
        data = tf.data.Dataset.from_tensors(_toy_batch()).repeat()
        history = model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"]).all())

    def test_serialization_and_saving_round_trip(self):
        text_encoder = WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16)
        model = JointEmbedding(text_encoder, ImageEncoder(embedding_dim=16, filters=(8, 16)), gamma=5.0)
        batch = _toy_batch()
        model(batch)
        self.assert_serialization_round_trip(model)
        path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "joint.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        self.assertEqual((restored.gamma, restored.match_key), (5.0, "label"))
        for key in ("image", "text"):
            self.assertAllClose(restored(batch)[key], model(batch)[key], atol=1e-6)
