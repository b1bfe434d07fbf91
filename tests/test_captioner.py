"""Tests of the CNN -> LSTM caption generator and its maximum-likelihood training step."""

import os

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase, two_cpu_strategy
from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.image_to_text.captioner import Captioner
from tfgan_text.models.image_encoder import ImageEncoder

VOCABULARY = 12
LENGTH = 7


def _captioner(attention_heads=0, **kwargs):
    encoder = ImageEncoder(embedding_dim=16, filters=(8, 16), regions=attention_heads > 0, name="image_encoder")
    kwargs["attention_heads"] = attention_heads
    captioner = Captioner(VOCABULARY, max_length=LENGTH, embedding_dim=8, hidden_dim=16, image_encoder=encoder, **kwargs)
    captioner.build({"image": (None, 16, 16, 3)})
    return captioner


def _batch(size, seed=0):
    """Images and captions `<start> w w ... <end> <pad>...` whose first word is a function of the image."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (size, 16, 16, 3)).astype(np.float32)
    ids = np.zeros((size, LENGTH), np.int64)
    for i in range(size):
        length = rng.integers(1, LENGTH - 1)
        ids[i, 0] = 2
        ids[i, 1 : length + 1] = rng.integers(4, VOCABULARY, length)
        ids[i, length + 1] = 3
    return {"image": images, "token_ids": ids}


class CaptionerTest(TestCase):
    def test_step_by_step_equals_teacher_forcing(self):
        for heads in (0, 2):
            with self.subTest(attention_heads=heads):
                captioner = _captioner(attention_heads=heads)
                batch = _batch(3)
                features = captioner.encode_images(batch["image"])
                expected = captioner.sequence_logits(features, batch["token_ids"][:, :-1])
                state = captioner.initial_state(features)
                steps = []
                for t in range(LENGTH - 1):
                    logits, state = captioner.step(batch["token_ids"][:, t], state, features)
                    steps.append(logits)
                self.assertAllClose(np.stack(steps, axis=1), expected, atol=1e-5)
                embedded = keras.ops.take(captioner.embedding.embeddings, batch["token_ids"][:, 0], axis=0)
                first, _ = captioner.step_embedded(embedded, captioner.initial_state(features), features)
                self.assertAllClose(first, steps[0], atol=1e-6)

    def test_call_scores_the_next_tokens(self):
        captioner = _captioner()
        batch = _batch(2)
        self.assertEqual(tuple(captioner(batch).shape), (2, LENGTH - 1, VOCABULARY))

    def test_image_changes_the_scores(self):
        captioner = _captioner()
        batch = _batch(2)
        other = dict(batch, image=batch["image"][::-1])
        self.assertGreater(np.abs(captioner(batch) - captioner(other)).max(), 1e-4)

    def test_serialization_and_saving(self):
        captioner = _captioner(dropout=0.25)
        restored = self.assert_serialization_round_trip(captioner)
        self.assertEqual(restored.dropout, 0.25)
        self.assert_saving_round_trip(captioner, _batch(2))

    def test_mle_fit_learns_a_batch(self):
        captioner = _captioner()
        captioner.compile(optimizer=keras.optimizers.Adam(1e-2))
        dataset = tf.data.Dataset.from_tensors(_batch(8)).repeat()
        history = captioner.fit(dataset, epochs=6, steps_per_epoch=10, verbose=0).history
        self.assertEqual(set(history), {"loss", "token_accuracy"})
        self.assertLess(history["loss"][-1], 0.5 * history["loss"][0])
        self.assertGreater(history["token_accuracy"][-1], 0.8)
        evaluated = captioner.evaluate(dataset, steps=1, verbose=0, return_dict=True)
        self.assertLess(evaluated["loss"], history["loss"][0])

    def test_loss_is_the_mean_over_real_tokens(self):
        captioner = _captioner()
        batch = _batch(4)
        logits = captioner(batch)
        targets = batch["token_ids"][:, 1:]
        probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
        expected = [
            -np.mean([np.log(probabilities[i, t, targets[i, t]]) for t in range(LENGTH - 1) if targets[i, t] != 0])
            for i in range(4)
        ]
        self.assertAllClose(losses.caption_crossentropy(logits, targets), expected, atol=1e-5)

    def test_several_captions_per_image_use_the_first(self):
        captioner = _captioner()
        batch = _batch(2)
        stacked = dict(batch, token_ids=np.stack([batch["token_ids"], batch["token_ids"][::-1]], axis=1))
        per_example, _, _ = captioner._loss_and_update(stacked, training=False)
        expected, _, _ = captioner._loss_and_update(batch, training=False)
        self.assertAllClose(per_example, expected)

    def test_mirrored_strategy_matches_one_device(self):
        """Two replicas on a global batch of 4 give the losses and weights of one device."""
        dataset = tf.data.Dataset.from_tensor_slices(_batch(8)).batch(4)
        one_device = _captioner()
        one_device.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
        initial = one_device.get_weights()
        expected = one_device.fit(dataset, epochs=2, steps_per_epoch=1, verbose=0).history
        with two_cpu_strategy().scope():
            mirrored = _captioner()
            mirrored.compile(optimizer=keras.optimizers.Adam(1e-2))
            mirrored.set_weights(initial)
        got = mirrored.fit(dataset, epochs=2, steps_per_epoch=1, verbose=0).history
        for name, values in expected.items():
            self.assertAllClose(got[name], values, atol=1e-5, msg=name)
        for a, b in zip(one_device.get_weights(), mirrored.get_weights()):
            self.assertAllClose(a, b, atol=1e-5)


class AttentionTest(TestCase):
    def test_features_are_the_global_feature_then_the_regions(self):
        captioner = _captioner(attention_heads=2)
        images = _batch(2)["image"]
        encoded = captioner.image_encoder(images)
        features = captioner.encode_images(images)
        self.assertEqual(tuple(features.shape), (2, 1 + 8 * 8, 16))  # 16 px: 8x8 regions after one block
        self.assertAllClose(features[:, 0], encoded["global"])
        self.assertAllClose(features[:, 1:], np.reshape(encoded["regions"], (2, 64, 16)))

    def test_attention_is_multi_head_scaled_dot_product(self):
        captioner = _captioner(attention_heads=2)
        rng = np.random.default_rng(0)
        outputs = rng.normal(size=(2, 3, 16)).astype(np.float32)
        features = rng.normal(size=(2, 5, 16)).astype(np.float32)
        queries = keras.ops.convert_to_numpy(captioner.attention_query(outputs))
        expected = []
        for head in range(2):
            q, k = queries[..., head * 8 : (head + 1) * 8], features[..., head * 8 : (head + 1) * 8]
            scores = np.einsum("btd,bmd->btm", q, k) / np.sqrt(8)
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            expected.append(np.einsum("btm,bmd->btd", weights, k))
        self.assertAllClose(captioner._attend(outputs, features), np.concatenate(expected, -1), atol=1e-5)

    def test_groups_of_rows_read_their_images_features_without_copies(self):
        """Rows `[G, B]` group-major read image `n mod B`: the same as features tiled per row."""
        captioner = _captioner(attention_heads=2)
        rng = np.random.default_rng(2)
        outputs = rng.normal(size=(3 * 2, 1, 16)).astype(np.float32)  # G = 3 groups of B = 2
        features = rng.normal(size=(2, 5, 16)).astype(np.float32)
        tiled = np.tile(features, (3, 1, 1))  # row n -> image n mod 2
        self.assertAllClose(captioner._attend(outputs, features), captioner._attend(outputs, tiled), atol=1e-5)
        swapped = np.tile(features[::-1], (3, 1, 1))
        self.assertGreater(np.abs(captioner._attend(outputs, features) - captioner._attend(outputs, swapped)).max(), 1e-3)

    def test_only_the_attending_captioner_reads_the_regions(self):
        """Same global feature, other regions: the scores move with attention and only then."""
        rng = np.random.default_rng(1)
        features = rng.normal(size=(2, 65, 16)).astype(np.float32)
        other = np.concatenate([features[:, :1], rng.normal(size=(2, 64, 16)).astype(np.float32)], axis=1)
        tokens = _batch(2)["token_ids"][:, :-1]
        captioner = _captioner(attention_heads=2)
        change = np.abs(captioner.sequence_logits(features, tokens) - captioner.sequence_logits(other, tokens))
        self.assertGreater(change.max(), 1e-3)
        plain = _captioner()
        self.assertAllClose(plain.sequence_logits(features[:, 0], tokens), plain.sequence_logits(other[:, 0], tokens))

    def test_serialization_saving_and_fit(self):
        captioner = _captioner(attention_heads=4)
        restored = self.assert_serialization_round_trip(captioner)
        self.assertEqual(restored.attention_heads, 4)
        self.assert_saving_round_trip(captioner, _batch(2))
        captioner.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = captioner.fit(tf.data.Dataset.from_tensors(_batch(8)).repeat(), epochs=4, steps_per_epoch=10,
                                verbose=0).history
        self.assertLess(history["loss"][-1], 0.5 * history["loss"][0])

    def test_bad_head_counts_are_user_errors(self):
        for heads in (-1, 1.5, True):
            with self.assertRaisesRegex(UserError, "attention_heads must be an integer >= 0"):
                Captioner(VOCABULARY, attention_heads=heads)
        with self.assertRaisesRegex(UserError, "feature width 16 is not divisible by attention_heads=3"):
            _captioner(attention_heads=3)


class ImageEncoderOptionsTest(TestCase):
    def test_flatten_pooling_keeps_where_things_are(self):
        image = np.zeros((1, 16, 16, 3), np.float32)
        image[0, :8, :8] = 1.0
        moved = np.roll(image, 8, axis=2)
        encoders = {}
        for pooling in ("average", "flatten"):
            keras.utils.set_random_seed(0)
            encoders[pooling] = ImageEncoder(embedding_dim=8, filters=(4, 8), regions=False, pooling=pooling)
        # Global average pooling of a map that is the same up to a shift (away from the borders)
        # is the same; the flattened map is not.
        average = [encoders["average"](x)["global"] for x in (image, moved)]
        flatten = [encoders["flatten"](x)["global"] for x in (image, moved)]
        self.assertGreater(np.abs(flatten[0] - flatten[1]).max(), 10 * np.abs(average[0] - average[1]).max())
        restored = self.assert_serialization_round_trip(encoders["flatten"])
        self.assertEqual(restored.pooling, "flatten")

    def test_coordinate_channels_let_average_pooling_see_where_things_are(self):
        image = np.zeros((1, 32, 32, 3), np.float32)
        image[0, 12:16, 4:8] = 1.0
        moved = np.roll(image, 16, axis=2)  # a multiple of the strides, away from the borders
        shift = {}
        for coordinates in (False, True):
            keras.utils.set_random_seed(0)
            encoder = ImageEncoder(embedding_dim=8, filters=(4, 8), regions=False, coordinates=coordinates)
            shift[coordinates] = np.abs(encoder(image)["global"] - encoder(moved)["global"]).max()
        self.assertGreater(shift[True], 10 * shift[False])
        restored = self.assert_serialization_round_trip(encoder)
        self.assertTrue(restored.coordinates)

    def test_max_pool_downsampling_gives_the_strided_shapes(self):
        images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
        outputs = {}
        for downsampling in ("strided", "max_pool"):
            encoder = ImageEncoder(embedding_dim=8, filters=(4, 8, 8), downsampling=downsampling, coordinates=True)
            outputs[downsampling] = encoder(images)
        self.assertEqual(outputs["max_pool"]["regions"].shape, outputs["strided"]["regions"].shape)
        self.assertEqual(outputs["max_pool"]["global"].shape, (2, 8))
        kernels = [w.shape for w in encoder.weights if len(w.shape) == 4]
        self.assertEqual(kernels[0], (3, 3, 3 + 2, 4))  # 3x3, RGB and the two coordinate channels
        restored = self.assert_serialization_round_trip(encoder)
        self.assertEqual(restored.downsampling, "max_pool")

    def test_unknown_pooling_or_downsampling_is_a_user_error(self):
        with self.assertRaisesRegex(UserError, "pooling must be one of average, flatten; got 'max'"):
            ImageEncoder(pooling="max")
        with self.assertRaisesRegex(UserError, "downsampling must be one of strided, max_pool; got 'avg'"):
            ImageEncoder(downsampling="avg")


class ApplicationsBackboneTest(TestCase):
    def test_keras_applications_backbone_with_a_weights_file(self):
        """A user's `keras.applications` backbone (weights from their file) as the image encoder."""
        path = os.path.join(self.temp_dir(), "backbone.weights.h5")
        options = dict(input_shape=(32, 32, 3), alpha=0.35, include_top=False, pooling="avg")
        keras.applications.MobileNetV2(weights=None, **options).save_weights(path)
        backbone = keras.applications.MobileNetV2(weights=path, **options)
        captioner = Captioner(VOCABULARY, max_length=LENGTH, embedding_dim=8, hidden_dim=16, image_encoder=backbone)
        captioner.build({"image": (None, 32, 32, 3)})
        batch = dict(_batch(2), image=np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32))
        self.assertEqual(tuple(captioner(batch).shape), (2, LENGTH - 1, VOCABULARY))
        self.assertEqual(tuple(captioner.initial_state(captioner.encode_images(batch["image"]))[0].shape), (2, 16))
        self.assert_saving_round_trip(captioner, batch, atol=1e-5)
