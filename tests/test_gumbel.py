"""Straight-through Gumbel-softmax captioning GAN: sampling, gradients, temperature, training step."""

import math

import keras
import numpy as np
import tensorflow as tf

from tests.test_caption_discriminator import VOCAB, images, tiny_captioner, tiny_discriminator
from tests.test_case import TestCase
from tests.test_seqgan import MAX_LENGTH, changed, dataset, tiny_batch, values
from tfgan_text.errors import UserError
from tfgan_text.models.image_to_text.gumbel import (
    GumbelCaptionGAN,
    gumbel_captions,
    gumbel_temperature,
    straight_through_gumbel,
)
from tfgan_text.text.vocabulary import END_ID, PAD_ID, START_ID


def gumbel_gan(**kwargs):
    return GumbelCaptionGAN(tiny_captioner(MAX_LENGTH, end_bias=1.0), tiny_discriminator(), seed=5, **kwargs)


class GumbelSamplingTest(TestCase):
    def test_temperature_schedule(self):
        self.assertAllClose(gumbel_temperature(0), 1.0)
        self.assertAllClose(gumbel_temperature(10_000), math.exp(-1.0))  # 1.0 * exp(-1e-4 * 1e4)
        self.assertAllClose(gumbel_temperature(10**6), 0.1)  # the floor
        self.assertAllClose(gumbel_temperature(100, initial=2.0, minimum=0.5, decay_rate=0.01), 2.0 * math.exp(-1.0))
        self.assertAllClose(gumbel_temperature(1000, initial=2.0, minimum=0.5, decay_rate=0.01), 0.5)

    def test_forward_is_an_exact_sample_and_backward_the_tempered_softmax(self):
        logits = tf.Variable(np.log([[0.1, 0.2, 0.3, 0.4]]).astype("float32"))
        uniform = keras.random.uniform((20_000, 4), seed=0)
        one_hot, ids = straight_through_gumbel(tf.repeat(logits, 20_000, axis=0), uniform, 0.5)
        self.assertAllEqual(tf.reduce_sum(one_hot, axis=-1), np.ones(20_000))
        self.assertAllEqual(tf.argmax(one_hot, axis=-1), ids)
        frequencies = np.bincount(ids.numpy(), minlength=4) / 20_000
        self.assertAllClose(frequencies, [0.1, 0.2, 0.3, 0.4], atol=0.015)  # Gumbel-max: softmax samples

        u = uniform[:3]
        with tf.GradientTape(persistent=True) as tape:
            hard, _ = straight_through_gumbel(tf.repeat(logits, 3, axis=0), u, 0.5)
            perturbed = tf.repeat(logits, 3, axis=0) - tf.math.log(-tf.math.log(tf.clip_by_value(u, 1e-7, 1 - 1e-7)))
            soft = tf.nn.softmax(perturbed / 0.5)
            weights = tf.constant([[1.0, -2.0, 0.5, 3.0]] * 3)
            hard_objective, soft_objective = tf.reduce_sum(hard * weights), tf.reduce_sum(soft * weights)
        self.assertAllClose(tape.gradient(hard_objective, logits), tape.gradient(soft_objective, logits), atol=1e-5)

    def test_captions_fed_back_through_the_embeddings(self):
        captioner = tiny_captioner(MAX_LENGTH, end_bias=1.5)
        features = captioner.encode_images(images(4))
        uniforms = keras.random.uniform((MAX_LENGTH - 1, 4, VOCAB), seed=2)
        discriminator = tiny_discriminator()
        with tf.GradientTape() as tape:
            soft_tokens, tokens = gumbel_captions(captioner, features, uniforms, 0.7, training=True)
            logits = discriminator({"image": images(4), "soft_tokens": soft_tokens})
        self.assertEqual(soft_tokens.shape, (4, MAX_LENGTH - 1, VOCAB))
        self.assertAllClose(soft_tokens, tf.one_hot(tokens, VOCAB), atol=1e-6)  # exact one-hots forward
        tokens = tokens.numpy()
        self.assertFalse(np.isin(tokens, [START_ID]).any())
        for row in tokens:
            ends = np.flatnonzero(row == END_ID)
            stop = ends[0] + 1 if len(ends) else len(row)
            self.assertTrue((row[stop:] == PAD_ID).all())
            self.assertFalse((row[:stop] == PAD_ID).any())
        self.assertTrue((tokens == PAD_ID).any(), "some captions ended early")
        # D's logit is differentiable in G's weights, the embeddings and the first steps included
        gradients = tape.gradient(logits, [captioner.embedding.embeddings, captioner.initial_h.kernel])
        for gradient in gradients:
            self.assertGreater(np.abs(tf.convert_to_tensor(gradient).numpy()).max(), 0.0)
        self.assertAllClose(discriminator({"image": images(4), "tokens": tokens}), logits, atol=1e-5)


class GumbelCaptionGANTest(TestCase):
    def test_fit_trains_both_networks_and_anneals_the_temperature(self):
        gan = gumbel_gan(temperature_decay=0.5)
        gan.compile(run_eagerly=True)
        generator_before = values(gan.captioner.trainable_variables)
        discriminator_before = values(gan.discriminator.trainable_variables)
        history = gan.fit(dataset(), epochs=3, steps_per_epoch=1, verbose=0).history
        self.assertEqual(
            set(history), {"g_loss", "d_loss", "reward", "d_real", "d_fake", "d_wrong", "mle", "temperature"}
        )
        for name, series in history.items():
            self.assertTrue(np.all(np.isfinite(series)), name)
        # the temperature of G's step n (0-based) is max(0.1, exp(-0.5 n))
        self.assertAllClose(history["temperature"], [1.0, math.exp(-0.5), math.exp(-1.0)], atol=1e-6)
        self.assertAllClose(gan.temperature, math.exp(-1.0))
        self.assertTrue(changed(generator_before, gan.captioner.trainable_variables))
        self.assertTrue(changed(discriminator_before, gan.discriminator.trainable_variables))

    def test_fit_in_a_tf_function(self):
        gan = gumbel_gan(mle_weight=0.0)
        gan.compile()
        history = gan.fit(dataset(), epochs=2, steps_per_epoch=1, verbose=0).history
        for name, series in history.items():
            self.assertTrue(np.all(np.isfinite(series)), name)
        self.assertEqual(gan.d_optimizer.iterations.numpy(), 2)
        self.assertEqual(gan.g_optimizer.iterations.numpy(), 2)

    def test_discriminator_pretraining_changes_only_the_discriminator(self):
        gan = gumbel_gan(discriminator_only=True)
        gan.compile(run_eagerly=True)
        generator_before = values(gan.captioner.weights)
        discriminator_before = values(gan.discriminator.trainable_variables)
        history = gan.fit(dataset(), epochs=1, steps_per_epoch=1, verbose=0).history
        self.assertEqual(set(history), {"d_loss", "d_real", "d_fake", "d_wrong"})
        self.assertFalse(changed(generator_before, gan.captioner.weights))
        self.assertTrue(changed(discriminator_before, gan.discriminator.trainable_variables))

    def test_serialization_and_saving(self):
        gan = gumbel_gan(temperature_initial=2.0, temperature_min=0.3, temperature_decay=1e-3, mle_weight=0.5)
        restored = self.assert_serialization_round_trip(gan)
        self.assertEqual(restored.temperature_min, 0.3)
        self.assertAllClose(restored.temperature, 2.0)
        batch = tiny_batch(2)
        self.assert_saving_round_trip(gan, {"image": batch["image"], "token_ids": batch["token_ids"]})

    def test_bad_options(self):
        for options in ({"temperature_initial": 0.0}, {"temperature_min": -1.0}, {"temperature_decay": -0.1}):
            with self.assertRaises(UserError, msg=str(options)):
                gumbel_gan(**options)
