"""The auxiliary terms of G's loss: each adds exactly `weight * loss` to G's loss, reports its
loss as `g_<name>`, reads what it should, and round-trips through the model's config."""

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tests.test_dcgan import EMBEDDING, VOCAB, _batch, _gan, _text_encoder, _unchanged, _values
from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.text_encoder import WordRNNEncoder
from tfgan_text.models.text_to_image.dcgan import DCGANDiscriminator, DCGANGenerator, TextConditionalDCGAN
from tfgan_text.models.text_to_image.encoder_discriminator import EncoderFeatureDiscriminator
from tfgan_text.models.text_to_image.generator_terms import (
    GeneratorTerm, ImageMatching, PatchAdversarial, Reconstruction, SentenceMatching, WordMatching,
)

SWAP_GROUPS = [list(range(1, 10))] * 2


def _image_encoder(regions=True):
    encoder = ImageEncoder(embedding_dim=EMBEDDING, filters=(8, 16), regions=regions)
    encoder.build((None, 32, 32, 3))
    return encoder


def _word_gan(terms, attention_sizes=(), image_encoder=None, **kwargs):
    """A GAN whose text encoder gives word features (a bi-LSTM), for the word loss."""
    generator = DCGANGenerator(32, embedding_dim=EMBEDDING, ngf=8, attention_sizes=attention_sizes, words_dim=EMBEDDING)
    return TextConditionalDCGAN(
        generator, DCGANDiscriminator(32, embedding_dim=EMBEDDING, ndf=8),
        WordRNNEncoder(VOCAB, embedding_dim=8, hidden_dim=EMBEDDING), gan_int=False, seed=3,
        image_encoder=image_encoder, generator_terms=terms, **kwargs,
    )


class GeneratorTermsTest(TestCase):
    def assert_one_more_generator_term(self, without, with_term, batch, tracker, weight):
        """One step of each GAN (same weights) on `batch`: the same D step and noise, and G's
        losses differ by exactly `weight` times the extra term's tracker; returns both logs."""
        with_term.set_weights(without.get_weights()[: len(with_term.weights)])
        logs = []
        for gan in (without, with_term):
            gan.compile(run_eagerly=True)
            logs.append(gan.train_on_batch(batch, return_dict=True))
        self.assertNotIn(tracker, logs[0])
        self.assertAllClose(logs[0]["d_loss"], logs[1]["d_loss"], atol=1e-6)
        self.assertAllClose(logs[1]["g_loss"] - logs[0]["g_loss"], weight * logs[1][tracker], atol=1e-4)
        return logs

    def test_sentence_matching_is_the_damsm_sentence_loss_through_the_frozen_image_encoder(self):
        batch = {**_batch(4), "content_key": np.array([0, 1, 2, 3])}
        image_encoder = _image_encoder()
        encoder_before = _values(image_encoder.weights)
        without = _gan(gan_int=False, image_encoder=image_encoder)
        with_term = _gan(gan_int=False, image_encoder=image_encoder, generator_terms=[SentenceMatching(2.0)])
        logs = self.assert_one_more_generator_term(without, with_term, batch, "g_sentence_matching", 2.0)
        self.assertGreater(logs[1]["g_sentence_matching"], 0.0)
        self.assertTrue(_unchanged(encoder_before, image_encoder.weights))
        restored = self.assert_serialization_round_trip(with_term)
        self.assertEqual([(term.name, term.weight) for term in restored.generator_terms], [("sentence_matching", 2.0)])
        self.assertFalse(restored.image_encoder.trainable)

        # Counterfactual captions only add negatives to each image's softmax: a larger loss.
        g_losses = []
        for hard_negatives in (False, True):
            gan = _gan(gan_int=False, image_encoder=image_encoder, hard_negative_groups=SWAP_GROUPS,
                       generator_terms=[SentenceMatching(2.0, hard_negatives=hard_negatives)])
            gan.set_weights(with_term.get_weights()[: len(gan.weights)])
            gan.compile(run_eagerly=True)
            g_losses.append(gan.train_on_batch(batch, return_dict=True)["g_sentence_matching"])
        self.assertGreater(g_losses[1], g_losses[0] + 1e-3)

    def test_image_matching_is_the_contrast_of_generated_and_real_images_under_the_encoder(self):
        batch = {**_batch(4), "content_key": np.array([0, 1, 2, 2])}
        image_encoder = _image_encoder()
        without = _gan(gan_int=False, image_encoder=image_encoder)
        with_term = _gan(gan_int=False, image_encoder=image_encoder, generator_terms=[ImageMatching(2.0)])
        # G's step draws the model's second noise (D's step the first).
        draws = keras.random.SeedGenerator(3)
        noise = [keras.random.normal((4, 100), seed=draws) for _ in range(2)][1]
        right = without.encode_text(batch["token_ids"])
        fake = without.generator({"noise": noise, "embedding": right}, training=True)
        expected = losses.symmetric_matching_loss(image_encoder(fake)["global"], image_encoder(batch["image"])["global"],
                                                  10.0, batch["content_key"])
        logs = self.assert_one_more_generator_term(without, with_term, batch, "g_image_matching", 2.0)
        self.assertAllClose(logs[1]["g_image_matching"], np.mean(expected), atol=1e-5)

    def test_word_matching_is_damsm_word_loss_with_words_from_g_or_read_for_the_term(self):
        batch = {**_batch(4), "content_key": np.array([0, 1, 2, 3])}
        image_encoder = _image_encoder()
        for attention_sizes in ((), (16,)):  # words from G's own inputs, or read for the term alone
            without = _word_gan([], attention_sizes, image_encoder)
            with_term = _word_gan([WordMatching(0.5)], attention_sizes, image_encoder)
            logs = self.assert_one_more_generator_term(without, with_term, batch, "g_word_matching", 0.5)
            self.assertGreater(logs[1]["g_word_matching"], 0.1)

        # Counterfactual captions as negatives of the word loss: only a larger loss.
        gans = [_word_gan([WordMatching(1.0, hard_negatives=hard_negatives)], image_encoder=image_encoder,
                          hard_negative_groups=SWAP_GROUPS) for hard_negatives in (False, True)]
        gans[1].set_weights(gans[0].get_weights())
        word_losses = []
        for gan in gans:
            gan.compile(run_eagerly=True)
            word_losses.append(gan.train_on_batch(batch, return_dict=True)["g_word_matching"])
        self.assertGreater(word_losses[1], word_losses[0] + 1e-3)
        self.assertTrue(self.assert_serialization_round_trip(gan).generator_terms[0].hard_negatives)

        gan = _gan(gan_int=False, image_encoder=image_encoder, generator_terms=[WordMatching(1.0)])
        gan.compile()
        with self.assertRaisesRegex(UserError, "outputs hold 'words' and 'mask'"):
            gan.train_on_batch(batch)

    def test_sentence_and_word_terms_share_one_draw_of_counterfactuals(self):
        batch = {**_batch(4), "content_key": np.array([0, 1, 2, 3])}
        gan = _word_gan([SentenceMatching(1.0, hard_negatives=True), WordMatching(1.0, hard_negatives=True)],
                        image_encoder=_image_encoder(), hard_negative_groups=SWAP_GROUPS)
        gan.compile(run_eagerly=True)
        state = gan.swap_seed_generator.state.numpy().copy()
        gan.train_on_batch(batch)
        drawn = keras.random.SeedGenerator(3)
        for _ in SWAP_GROUPS:  # one uniform draw per group, once a step
            keras.random.uniform((4, 2), seed=drawn)
        self.assertAllEqual(gan.swap_seed_generator.state, drawn.state)
        self.assertNotAllEqual(gan.swap_seed_generator.state, state)

    def test_reconstruction_pulls_generated_images_towards_their_real_images(self):
        batch = _batch(4)
        self.assert_one_more_generator_term(_gan(gan_int=False), _gan(gan_int=False, generator_terms=[Reconstruction(10.0)]),
                                            batch, "g_reconstruction", 10.0)
        # A few steps towards flat light-grey images bring G's images closer to them.
        batch["image"] = np.full_like(batch["image"], 0.6)
        gan = _gan(gan_int=False, generator_terms=[Reconstruction(10.0)])
        gan.compile(g_optimizer=keras.optimizers.Adam(1e-2))
        first = gan.train_on_batch(batch, return_dict=True)["g_reconstruction"]
        for _ in range(10):
            last = gan.train_on_batch(batch, return_dict=True)["g_reconstruction"]
        self.assertLess(last, 0.5 * first)

    def test_patch_term_adds_the_patch_heads_gan_loss_to_both_players(self):
        def patch_gan(terms):
            keras.utils.set_random_seed(0)
            encoder = ImageEncoder(embedding_dim=8, filters=(4, 8, 8, 16), downsampling="max_pool")
            encoder.build((None, 32, 32, 3))
            discriminator = EncoderFeatureDiscriminator(encoder, embedding_dim=EMBEDDING, width=4, patch_head=True)
            discriminator.build({"image": (None, 32, 32, 3), "embedding": (None, EMBEDDING)})
            return TextConditionalDCGAN(DCGANGenerator(32, embedding_dim=EMBEDDING, ngf=8), discriminator,
                                        _text_encoder(), gan_int=False, seed=3, generator_terms=terms)

        batch = _batch(4)
        reference = patch_gan([])

        def twins():
            without, with_patches = patch_gan([]), patch_gan([PatchAdversarial(2.0)])
            for gan in (without, with_patches):
                gan.set_weights(reference.get_weights())
                gan.compile(run_eagerly=True)
            return without, with_patches

        def patch_logits(image):
            return reference.discriminator({"image": image, "embedding": right}, training=True)["patch_logits"]

        # Both players' first noise is the seed generator's first draw.
        right = reference.encode_text(batch["token_ids"])
        noise = keras.random.normal((4, 100), seed=keras.random.SeedGenerator(3))
        fake = reference.generator({"noise": noise, "embedding": right}, training=True)
        real_patches, fake_patches = patch_logits(tf.constant(batch["image"])), patch_logits(fake)

        # D: plus 2 * (BCE(real cells, 1) + BCE(fake cells, 0)), no wrong-caption term.
        d_losses = []
        for gan in twins():
            gan._discriminator_step(batch, tf.constant(batch["image"]), 0, 4, 4)
            d_losses.append(float(gan.d_loss_tracker.result()))
        patches = losses.sigmoid_cross_entropy(real_patches, 1.0) + losses.sigmoid_cross_entropy(fake_patches, 0.0)
        self.assertAllClose(d_losses[1] - d_losses[0], 2.0 * np.mean(patches), atol=1e-5)

        # G: plus 2 * BCE(fake cells, 1), reported as g_patch.
        g_losses = []
        for gan in twins():
            gan._generator_step({"embedding": right}, batch, tf.constant(batch["image"]), 0, 4, 4)
            g_losses.append(float(gan.g_loss_tracker.result()))
        expected = np.mean(losses.sigmoid_cross_entropy(fake_patches, 1.0))
        self.assertAllClose(g_losses[1] - g_losses[0], 2.0 * expected, atol=1e-5)
        self.assertAllClose(gan.term_trackers[0].result(), expected, atol=1e-5)
        self.assertEqual(self.assert_serialization_round_trip(gan).generator_terms[0].weight, 2.0)

    def test_a_new_term_needs_no_change_to_the_model(self):
        class Brightness(GeneratorTerm):
            """Mean pixel value of G's images: pushes them darker."""

            name = "brightness"

            def loss(self, step):
                return keras.ops.mean(step.fake, axis=(1, 2, 3))

        batch = _batch(4)
        logs = self.assert_one_more_generator_term(_gan(gan_int=False), _gan(gan_int=False, generator_terms=[Brightness(3.0)]),
                                                   batch, "g_brightness", 3.0)
        self.assertAllInRange(logs[1]["g_brightness"], -1.0, 1.0)

    def test_each_term_round_trips_through_keras_serialization(self):
        for term in (SentenceMatching(2.0, gamma=5.0, hard_negatives=True), WordMatching(0.5, hard_negatives=True),
                     ImageMatching(1.5, gamma=7.0), Reconstruction(100.0), PatchAdversarial(0.25)):
            restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(term))
            self.assertIs(type(restored), type(term))
            self.assertEqual(restored.get_config(), term.get_config())

    def test_what_each_term_needs_is_a_one_line_error(self):
        no_regions = _image_encoder(regions=False)
        cases = [
            (lambda: SentenceMatching(-1.0), "sentence_matching term's weight must be a number >= 0"),
            (lambda: Reconstruction(True), "reconstruction term's weight must be a number >= 0"),
            (lambda: _gan(generator_terms=[SentenceMatching(1.0)]), "sentence_matching term needs the image_encoder"),
            (lambda: _gan(generator_terms=[ImageMatching(1.0)]), "image_matching term needs the image_encoder"),
            (lambda: _gan(image_encoder=no_regions, generator_terms=[WordMatching(1.0)]),
             "word_matching term needs an image_encoder with regions"),
            (lambda: _gan(image_encoder=no_regions, generator_terms=[SentenceMatching(1.0, hard_negatives=True)]),
             "hard negatives need the model's hard_negative_groups"),
            (lambda: _gan(generator_terms=[PatchAdversarial(1.0)]), "patch term needs a discriminator with a patch head"),
            (lambda: _gan(generator_terms=[Reconstruction(1.0), Reconstruction(2.0)]), "each generator term may be given once"),
            (lambda: _gan(hard_negative_groups=[[3, 3]]), "hard negative group needs two or more distinct token ids"),
        ]
        for make, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                make()
