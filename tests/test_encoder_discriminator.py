"""The discriminator on a frozen image encoder's features (Projected-GAN style)."""

import os

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.errors import UserError
from tfgan_text.models import load_model
from tfgan_text.models.text_to_image.encoder_discriminator import EncoderFeatureDiscriminator
from tfgan_text.models.image_encoder import ImageEncoder

EMBEDDING = 8


def _encoder(downsampling="max_pool"):
    keras.utils.set_random_seed(0)
    encoder = ImageEncoder(embedding_dim=EMBEDDING, filters=(4, 8, 8, 16), downsampling=downsampling)
    encoder.build((None, 32, 32, 3))
    return encoder


def _inputs(size=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"image": rng.uniform(-1, 1, (size, 32, 32, 3)).astype("float32"),
            "embedding": rng.normal(size=(size, EMBEDDING)).astype("float32")}


class EncoderFeatureDiscriminatorTest(TestCase):
    def test_only_the_heads_train_and_the_encoder_stays_as_given(self):
        encoder = _encoder()
        before = [np.array(w) for w in encoder.get_weights()]
        discriminator = EncoderFeatureDiscriminator(encoder, embedding_dim=EMBEDDING, width=4)
        inputs = _inputs()
        self.assertEqual(tuple(discriminator(inputs, training=True).shape), (4, 1))
        encoder_ids = {id(v) for v in encoder.weights}
        self.assertTrue(discriminator.trainable_variables)
        self.assertFalse(encoder_ids & {id(v) for v in discriminator.trainable_variables})

        optimizer = keras.optimizers.Adam(0.1)
        heads_before = [np.array(v.numpy()) for v in discriminator.trainable_variables]
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(discriminator(inputs, training=True) - 1.0))
            optimizer.apply(tape.gradient(loss, discriminator.trainable_variables), discriminator.trainable_variables)
        for old, new in zip(before, encoder.get_weights()):  # batch norm statistics included
            self.assertAllEqual(old, new)
        self.assertTrue(any(not np.array_equal(old, v.numpy())
                            for old, v in zip(heads_before, discriminator.trainable_variables)))

    def test_fine_tuned_its_blocks_train_but_not_its_statistics_or_projections(self):
        encoder = _encoder()
        before = {id(v): np.array(v.numpy()) for v in encoder.variables}
        discriminator = EncoderFeatureDiscriminator(encoder, embedding_dim=EMBEDDING, width=4, fine_tune_encoder=True)
        inputs = _inputs()
        discriminator(inputs)
        trained = {id(v) for v in discriminator.trainable_variables}
        self.assertTrue({id(v) for block in encoder.blocks for v in block.trainable_variables} <= trained)
        optimizer = keras.optimizers.Adam(0.1)
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(discriminator(inputs, training=True) - 1.0))
            optimizer.apply(tape.gradient(loss, discriminator.trainable_variables), discriminator.trainable_variables)
        blocks = [v for block in encoder.blocks for v in block.trainable_variables]
        self.assertEqual({id(v) for v in encoder.trainable_variables}, {id(v) for v in blocks})  # no projection
        self.assertTrue(all(not np.array_equal(before[id(v)], v.numpy()) for v in blocks))
        self.assertTrue(any("moving" in v.path for v in encoder.non_trainable_variables))
        for v in encoder.non_trainable_variables:  # moving means and variances: stage 1's; the projections
            self.assertAllEqual(before[id(v)], v.numpy())
        path = os.path.join(self.temp_dir(), "d.keras")
        discriminator.save(path)
        loaded = load_model(path)
        self.assertTrue(loaded.fine_tune_encoder)
        loaded_trained = {id(v) for v in loaded.trainable_variables}
        self.assertTrue({id(v) for v in loaded.image_encoder.trainable_variables} <= loaded_trained)
        self.assertAllClose(loaded(inputs), discriminator(inputs), atol=1e-6)

    def test_logit_depends_on_the_image_and_on_the_caption(self):
        discriminator = EncoderFeatureDiscriminator(_encoder(), embedding_dim=EMBEDDING, width=4)
        inputs, other = _inputs(seed=0), _inputs(seed=1)
        logits = discriminator(inputs).numpy()
        self.assertGreater(np.abs(logits - discriminator({**inputs, "image": other["image"]}).numpy()).max(), 1e-6)
        self.assertGreater(np.abs(logits - discriminator({**inputs, "embedding": other["embedding"]}).numpy()).max(), 1e-6)

    def test_every_level_count_builds_and_gradients_reach_the_image(self):
        for downsampling in ("max_pool", "strided"):
            for levels in (1, 2, 4):
                with self.subTest(downsampling=downsampling, levels=levels):
                    discriminator = EncoderFeatureDiscriminator(_encoder(downsampling), embedding_dim=EMBEDDING,
                                                                width=4, levels=levels)
                    image = tf.constant(_inputs()["image"])
                    with tf.GradientTape() as tape:
                        tape.watch(image)
                        logits = discriminator({"image": image, "embedding": _inputs()["embedding"]})
                    self.assertEqual(tuple(logits.shape), (4, 1))
                    self.assertGreater(float(tf.reduce_max(tf.abs(tape.gradient(logits, image)))), 0.0)

    def test_saved_and_loaded_it_gives_the_same_logits(self):
        discriminator = EncoderFeatureDiscriminator(_encoder(), embedding_dim=EMBEDDING, width=4)
        inputs = _inputs()
        logits = discriminator(inputs).numpy()
        path = os.path.join(self.temp_dir(), "d.keras")
        discriminator.save(path)
        loaded = load_model(path)
        self.assertAllClose(loaded(inputs).numpy(), logits, atol=1e-6)
        self.assertFalse(loaded.image_encoder.trainable)
        encoder_ids = {id(v) for v in loaded.image_encoder.weights}
        self.assertTrue(loaded.trainable_variables)
        self.assertFalse(encoder_ids & {id(v) for v in loaded.trainable_variables})

    def test_patch_head_judges_each_cell_without_the_caption_and_round_trips(self):
        discriminator = EncoderFeatureDiscriminator(_encoder(), embedding_dim=EMBEDDING, width=4, patch_head=True)
        inputs, other = _inputs(seed=0), _inputs(seed=1)
        judged = discriminator(inputs)
        self.assertEqual(tuple(judged["logits"].shape), (4, 1))
        self.assertEqual(tuple(judged["patch_logits"].shape), (4, 4, 4, 1))  # the encoder's 4x4 map at 32 px
        plain = EncoderFeatureDiscriminator(_encoder(), embedding_dim=EMBEDDING, width=4)
        plain(inputs)
        patch = {id(v) for v in discriminator.patch.weights}
        plain.set_weights([v.numpy() for v in discriminator.weights if id(v) not in patch])
        self.assertAllClose(plain(inputs).numpy(), judged["logits"].numpy(), atol=1e-6)  # the same global logit
        with_other_caption = discriminator({**inputs, "embedding": other["embedding"]})
        self.assertAllClose(with_other_caption["patch_logits"], judged["patch_logits"], atol=1e-6)
        self.assertGreater(np.abs(discriminator({**inputs, "image": other["image"]})["patch_logits"].numpy()
                                  - judged["patch_logits"].numpy()).max(), 1e-6)
        path = os.path.join(self.temp_dir(), "d.keras")
        discriminator.save(path)
        loaded = load_model(path)
        self.assertTrue(loaded.patch_head)
        self.assertAllClose(loaded(inputs)["patch_logits"], judged["patch_logits"], atol=1e-6)

    def test_bad_arguments_are_one_line_errors(self):
        with self.assertRaisesRegex(UserError, r"levels must be in \[1, 4\] for this encoder, got 5"):
            EncoderFeatureDiscriminator(_encoder(), embedding_dim=EMBEDDING, levels=5)
        with self.assertRaisesRegex(UserError, "image_encoder must be an ImageEncoder, got Sequential"):
            EncoderFeatureDiscriminator(keras.Sequential([keras.layers.Dense(2)]), embedding_dim=EMBEDDING)
