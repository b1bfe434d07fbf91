"""Tests of the matching loss, joint image-text training and caption -> image retrieval."""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase, two_cpu_strategy
from tfgan_text.data.pipeline import swap_one_word
from tfgan_text.errors import UserError
from tfgan_text.losses import damsm_word_loss, hard_negative_matching_loss, symmetric_matching_loss
from tfgan_text.metrics.retrieval import caption_to_image_recall, embed_split, image_to_text_recall_at_k, recall_at_k
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

    def test_image_to_text_recall_at_k_best_own_caption_and_ties(self):
        images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        texts = np.array([[0.0, 1.0], [1.0, 0.1], [0.0, 1.0], [1.0, 1.0], [1.0, 0.9]])
        owners = [0, 0, 1, 1, 2]
        # Image 0: best own caption 1, rank 0. Image 1: own caption 2 ties with image 0's caption 0,
        # rank 1. Image 2: own caption 4 is below image 1's caption 3, rank 1.
        expected = {"recall_at_1": 1 / 3, "recall_at_2": 1.0}
        self.assertEqual(image_to_text_recall_at_k(texts, images, owners, ks=(1, 2)), expected)
        self.assertEqual(image_to_text_recall_at_k(texts, images, owners, ks=(1, 2), chunk_size=2), expected)
        self.assertEqual(image_to_text_recall_at_k(np.ones([3, 2]), np.ones([3, 2]), [0, 1, 2], ks=(1,)),
                         {"recall_at_1": 0.0})


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


class HardNegativeTest(TestCase):
    """Counterfactual captions (one word swapped) as hard negatives of the matching loss."""

    def test_swap_one_word_hand_computed(self):
        ids = np.array([[5, 7, 0, 9, 0], [5, 6, 0, 0, 0], [7, 7, 0, 0, 0]], "int64")
        words = [7, 8, 9]
        # Row 0: two group words (7 at 1, 9 at 3); draw 0.9 picks the second, 9 (index 2), and
        # draw 0.99 the offset 2: index (2 + 2) % 3 = 1, word 8. Row 1: no group word.
        # Row 2: draw 0.0 picks the first 7, offset 1: word 8.
        swapped, changed = swap_one_word(ids, words, [[0.9, 0.99], [0.3, 0.2], [0.0, 0.0]])
        self.assertAllEqual(swapped, [[5, 7, 0, 8, 0], [5, 6, 0, 0, 0], [8, 7, 0, 0, 0]])
        self.assertAllEqual(changed, [True, False, True])
        # Every offset 1 .. W-1 is reachable and the word always changes.
        for u, word in ((0.0, 9), (0.49, 9), (0.5, 7), (0.999, 7)):
            self.assertAllEqual(swap_one_word([[8]], words, [[0.0, u]])[0], [[word]])

    def test_loss_uses_the_swapped_captions(self):
        # The toy captions hold one side word each, so swapping within [5, 6] is deterministic:
        # the negative of "<colour> left" is "<colour> right".
        model = JointEmbedding(
            WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16),
            ImageEncoder(embedding_dim=16, filters=(8, 16)), swap_groups=[[5, 6]], seed=3,
        )
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        batch = _toy_batch()
        got = model.evaluate(batch, batch_size=8, verbose=0, return_dict=True)["loss"]
        embeddings = model(batch)
        swapped = batch["token_ids"].copy()
        swapped[:, 1] = 11 - swapped[:, 1]
        negatives = model.text_encoder(swapped)["sentence"][:, None, :]
        expected = hard_negative_matching_loss(embeddings["image"], embeddings["text"], negatives, 10.0, batch["label"])
        self.assertAllClose(got, np.mean(expected), atol=1e-5)
        self.assertGreater(got, np.mean(symmetric_matching_loss(embeddings["image"], embeddings["text"], 10.0)))

    def test_fit_ranks_own_caption_above_its_counterfactual(self):
        model = JointEmbedding(
            WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16),
            ImageEncoder(embedding_dim=16, filters=(8, 16)), swap_groups=[[1, 2, 3, 4], [5, 6]], seed=0,
        )
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        batch = _toy_batch()
        model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=40, epochs=1, verbose=0)
        embeddings = model(batch)
        image = tf.math.l2_normalize(embeddings["image"], axis=1)
        own = tf.reduce_sum(image * tf.math.l2_normalize(embeddings["text"], axis=1), axis=1)
        for group in ([1, 2, 3, 4], [5, 6]):
            for u in (0.0, 0.5, 0.9):
                ids, _ = swap_one_word(batch["token_ids"], group, np.full([8, 2], u, "float32"))
                other = tf.reduce_sum(image * tf.math.l2_normalize(model.text_encoder(ids)["sentence"], axis=1), axis=1)
                self.assertAllEqual(own > other, [True] * 8)

    def test_fit_under_mirrored_strategy(self):
        with two_cpu_strategy().scope():
            model = JointEmbedding(
                WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16),
                ImageEncoder(embedding_dim=16, filters=(8, 16)), swap_groups=[[5, 6]], seed=0,
            )
            model.compile(optimizer=keras.optimizers.Adam(3e-3))
        history = model.fit(tf.data.Dataset.from_tensors(_toy_batch()).repeat(), steps_per_epoch=2, epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"]).all())

    def test_bad_swap_groups(self):
        image_encoder = ImageEncoder(embedding_dim=16, filters=(8, 16))
        with self.assertRaisesRegex(UserError, "word-level"):
            JointEmbedding(CharCNNRNNEncoder(embedding_dim=16), image_encoder, swap_groups=[[5, 6]])
        word = WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16)
        for group in ([5], [5, 5]):
            with self.assertRaisesRegex(UserError, "two or more distinct"):
                JointEmbedding(word, image_encoder, swap_groups=[group])

    def test_serialization_round_trip(self):
        model = JointEmbedding(
            WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16),
            ImageEncoder(embedding_dim=16, filters=(8, 16)), swap_groups=[[5, 6], [1, 2, 3]], seed=7,
        )
        model(_toy_batch())
        self.assert_serialization_round_trip(model)
        restored = JointEmbedding.from_config(model.get_config())
        self.assertEqual((restored.swap_groups, restored.seed), ([[5, 6], [1, 2, 3]], 7))

    def test_stage_one_settings(self):
        from tfgan_text.training.train_dcgan import DCGANSettings

        settings = DCGANSettings(text_encoder_shape_negatives=2, text_encoder_gamma=20.0).check()
        self.assertEqual((settings.text_encoder_shape_negatives, settings.text_encoder_color_negatives), (2, 0))
        for bad in ({"text_encoder_shape_negatives": -1}, {"text_encoder_color_negatives": 1.5},
                    {"text_encoder_gamma": 0.0}):
            with self.assertRaises(UserError):
                DCGANSettings(**bad).check()


class WordLossTest(TestCase):
    """DAMSM's word loss beside the sentence loss (`word_weight`)."""

    def _model(self, word_weight, image_encoder=None):
        model = JointEmbedding(
            WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16),
            image_encoder or ImageEncoder(embedding_dim=16, filters=(8, 16)), word_weight=word_weight,
        )
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        return model

    def test_loss_is_the_sentence_loss_plus_the_weighted_word_loss(self):
        model, batch = self._model(0.5), _toy_batch()
        got = model.evaluate(batch, batch_size=8, verbose=0, return_dict=True)["loss"]
        out = model(batch)
        self.assertEqual(sorted(out), ["image", "mask", "regions", "text", "words"])
        sentence = symmetric_matching_loss(out["image"], out["text"], 10.0, batch["label"])
        words = damsm_word_loss(out["regions"], out["words"], out["mask"], gamma3=10.0, labels=batch["label"])
        self.assertAllClose(got, np.mean(sentence + 0.5 * words), atol=1e-5)
        self.assertEqual(sorted(self._model(0.0)(batch)), ["image", "text"])

    def test_fit_lowers_the_word_loss_and_saves(self):
        model, batch = self._model(1.0), _toy_batch()

        def word_loss():
            out = model(batch)
            return float(np.mean(damsm_word_loss(out["regions"], out["words"], out["mask"], labels=batch["label"])))

        before = word_loss()
        model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=30, epochs=1, verbose=0)
        self.assertLess(word_loss(), 0.5 * before)
        restored = JointEmbedding.from_config(model.get_config())
        self.assertEqual(restored.word_weight, 1.0)

    def test_word_negatives_are_the_swapped_captions(self):
        # One side word per toy caption: the negative of "<colour> left" is "<colour> right".
        model = JointEmbedding(
            WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16),
            ImageEncoder(embedding_dim=16, filters=(8, 16)), swap_groups=[[5, 6]], seed=3, word_weight=0.5,
            word_negatives=True,
        )
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        batch = _toy_batch()
        got = model.evaluate(batch, batch_size=8, verbose=0, return_dict=True)["loss"]
        out = model(batch)
        swapped = batch["token_ids"].copy()
        swapped[:, 1] = 11 - swapped[:, 1]
        negative = model.text_encoder(swapped)
        sentence = hard_negative_matching_loss(out["image"], out["text"], negative["sentence"][:, None], 10.0,
                                               batch["label"])
        words = damsm_word_loss(out["regions"], out["words"], out["mask"], gamma3=10.0, labels=batch["label"],
                                negative_words=negative["words"][:, None], negative_word_mask=negative["mask"][:, None])
        self.assertAllClose(got, np.mean(sentence + 0.5 * words), atol=1e-5)
        self.assertTrue(JointEmbedding.from_config(model.get_config()).word_negatives)
        with self.assertRaisesRegex(UserError, "word_negatives needs word_weight > 0 and swap_groups"):
            JointEmbedding(model.text_encoder, model.image_encoder, word_weight=1.0, word_negatives=True)

    def test_gamma1_and_gamma2_reach_the_word_loss(self):
        model = JointEmbedding(WordRNNEncoder(vocabulary_size=8, embedding_dim=8, hidden_dim=16),
                               ImageEncoder(embedding_dim=16, filters=(8, 16)), word_weight=1.0, gamma1=2.0, gamma2=3.0)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        batch = _toy_batch()
        got = model.evaluate(batch, batch_size=8, verbose=0, return_dict=True)["loss"]
        out = model(batch)
        sentence = symmetric_matching_loss(out["image"], out["text"], 10.0, batch["label"])
        words = damsm_word_loss(out["regions"], out["words"], out["mask"], gamma1=2.0, gamma2=3.0, gamma3=10.0,
                                labels=batch["label"])
        self.assertAllClose(got, np.mean(sentence + words), atol=1e-5)
        restored = JointEmbedding.from_config(model.get_config())
        self.assertEqual((restored.gamma1, restored.gamma2), (2.0, 3.0))

    def test_bad_word_weight(self):
        with self.assertRaisesRegex(UserError, "needs an image encoder with region features"):
            self._model(1.0, ImageEncoder(embedding_dim=16, filters=(8, 16), regions=False))
        with self.assertRaisesRegex(UserError, "word_weight must be >= 0"):
            self._model(-1.0)
