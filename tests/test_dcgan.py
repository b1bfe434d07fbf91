"""Text-conditional DCGAN (GAN-CLS + GAN-INT): networks, options, training step, distribution."""

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase, two_cpu_strategy
from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.text_to_image.dcgan import DCGANDiscriminator, DCGANGenerator, TextConditionalDCGAN
from tfgan_text.models.text_to_image.differentiable_augmentation import cut_out, random_centres, random_shifts, translate
from tfgan_text.models.text_to_image.generator_terms import ImageMatching
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.text_encoder import WordRNNEncoder

EMBEDDING = 16
VOCAB = 20


def _text_encoder(outputs="tensor"):
    """Stand-in sentence encoder: token embeddings averaged over the non-padding tokens."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    words = keras.layers.Embedding(VOCAB, EMBEDDING, mask_zero=True)(token_ids)
    sentence = keras.layers.GlobalAveragePooling1D()(words)
    if outputs == "dict":
        return keras.Model(token_ids, {"words": words, "sentence": sentence})
    if outputs == "tuple":
        return keras.Model(token_ids, (words, sentence))
    return keras.Model(token_ids, sentence)


def _gan(image_size=32, spectral_norm=False, encoder_outputs="tensor", **kwargs):
    return TextConditionalDCGAN(
        DCGANGenerator(image_size, embedding_dim=EMBEDDING, ngf=8),
        DCGANDiscriminator(image_size, embedding_dim=EMBEDDING, ndf=8, spectral_norm=spectral_norm),
        _text_encoder(encoder_outputs),
        seed=3,
        **kwargs,
    )


def _image_matching_gan_recording_encoder_inputs(**kwargs):
    """A GAN with G's image matching term, and the list its frozen encoder appends each input to."""
    encoder = ImageEncoder(embedding_dim=EMBEDDING, filters=(4, 8), regions=False)
    gan = _gan(image_encoder=encoder, generator_terms=[ImageMatching(1.0)], gan_int=False, **kwargs)
    gan.compile()
    inputs = []
    encoder_call = encoder.call
    encoder.call = lambda x, training=False: inputs.append(x) or encoder_call(x, training=training)
    return gan, inputs


def _batch(size=4, captions=None, image_size=32, seed=0):
    """A training batch dict; `captions=K` gives token ids [B, K, T]."""
    rng = np.random.default_rng(seed)
    shape = (size, 5) if captions is None else (size, captions, 5)
    token_ids = rng.integers(1, VOCAB, shape).astype("int32")
    token_ids[..., -1] = 0  # padding
    return {
        "image": rng.uniform(-1, 1, (size, image_size, image_size, 3)).astype("float32"),
        "token_ids": token_ids,
        "wrong_token_ids": np.roll(token_ids, 1, axis=0),
        "caption_index": np.arange(size),  # an extra key, ignored
    }


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _changed(before, variables):
    return any(not np.array_equal(a, v.numpy()) for a, v in zip(before, variables))


def _unchanged(before, variables):
    return all(np.array_equal(a, v.numpy()) for a, v in zip(before, variables))


class NetworksTest(TestCase):
    def test_shapes_at_every_size(self):
        for size in (32, 64, 128):
            generator = DCGANGenerator(size, embedding_dim=EMBEDDING, ngf=8)
            discriminator = DCGANDiscriminator(size, embedding_dim=EMBEDDING, ndf=8)
            embedding = keras.random.normal((2, EMBEDDING), seed=1)
            images = generator({"noise": keras.random.normal((2, 100), seed=2), "embedding": embedding})
            self.assertEqual(tuple(images.shape), (2, size, size, 3))
            self.assertAllInRange(images, -1.0, 1.0)
            logits = discriminator({"image": images, "embedding": embedding})
            self.assertEqual(tuple(logits.shape), (2, 1))

    def test_resize_upsampling_has_no_transposed_convolutions(self):
        generator = DCGANGenerator(32, embedding_dim=EMBEDDING, ngf=8, upsampling="resize")
        inputs = {"noise": keras.random.normal((2, 100), seed=2), "embedding": keras.random.normal((2, EMBEDDING))}
        self.assertEqual(tuple(generator(inputs).shape), (2, 32, 32, 3))
        blocks = [generator.get_layer(name) for name in ("up0", "up1", "to_rgb")]
        self.assertEqual([[type(layer).__name__ for layer in block.layers] for block in blocks],
                         [["UpSampling2D", "Conv2D"]] * 3)
        self.assertEqual(blocks[-1].layers[-1].kernel.shape, (3, 3, 8, 3))
        self.assertNotIn("Conv2DTranspose", [type(layer).__name__ for layer in generator.layers])
        restored = self.assert_serialization_round_trip(generator)
        self.assertEqual(restored.upsampling, "resize")
        self.assert_saving_round_trip(generator, inputs)
        with self.assertRaisesRegex(UserError, "upsampling must be one of transposed, resize, got 'bilinear'"):
            DCGANGenerator(32, upsampling="bilinear")

    def test_conditional_batch_norm_carries_the_caption_to_every_block(self):
        inputs = {"noise": keras.random.normal((2, 100), seed=2), "embedding": keras.random.normal((2, EMBEDDING), seed=4)}
        other = {**inputs, "embedding": keras.random.normal((2, EMBEDDING), seed=5)}
        images = {}
        for conditioning in ("input", "batch_norm"):
            generator = DCGANGenerator(32, embedding_dim=EMBEDDING, ngf=8, conditioning=conditioning)
            project = generator.get_layer("project").kernel
            project.assign(np.concatenate([project.numpy()[:100], np.zeros_like(project.numpy()[100:])]))
            if conditioning == "batch_norm":
                for name in ("up0_bn_scale", "up0_bn_shift", "up1_bn_scale", "up1_bn_shift"):
                    kernel = generator.get_layer(name).kernel
                    kernel.assign(np.random.default_rng(0).normal(0, 0.1, kernel.shape))
            images[conditioning] = (generator(inputs), generator(other))
        # With the caption cut off from the first layer, only conditional batch norm still sees it.
        self.assertAllClose(*images["input"])
        self.assertNotAllClose(*images["batch_norm"])

    def test_conditional_batch_norm_starts_as_plain_batch_norm_and_round_trips(self):
        inputs = {"noise": keras.random.normal((2, 100), seed=2), "embedding": keras.random.normal((2, EMBEDDING), seed=4)}
        plain = DCGANGenerator(32, embedding_dim=EMBEDDING, ngf=8)
        conditional = DCGANGenerator(32, embedding_dim=EMBEDDING, ngf=8, conditioning="batch_norm")
        for layer in plain.layers:
            if layer.weights and layer.name not in ("up0_bn", "up1_bn"):
                conditional.get_layer(layer.name).set_weights(layer.get_weights())
        # DCGAN's gamma ~ N(1, 0.02): set plain batch norm's affine to exactly the identity.
        for name in ("up0_bn", "up1_bn"):
            gamma, beta, mean, variance = plain.get_layer(name).get_weights()
            plain.get_layer(name).set_weights([np.ones_like(gamma), np.zeros_like(beta), mean, variance])
        self.assertAllClose(plain(inputs, training=True), conditional(inputs, training=True), atol=1e-5)
        restored = self.assert_serialization_round_trip(conditional)
        self.assertEqual(restored.conditioning, "batch_norm")
        self.assert_saving_round_trip(conditional, inputs)
        with self.assertRaisesRegex(UserError, "conditioning must be one of input, batch_norm, got 'film'"):
            DCGANGenerator(32, conditioning="film")

    def test_bad_image_size(self):
        with self.assertRaisesRegex(UserError, "image_size"):
            DCGANGenerator(48)
        with self.assertRaisesRegex(UserError, "image_size"):
            DCGANDiscriminator(256)

    def test_weights_are_dcgan_normal(self):
        generator = DCGANGenerator(64, embedding_dim=EMBEDDING, ngf=16)
        kernel = generator.get_layer("up0").kernel.numpy()
        self.assertAllClose(kernel.mean(), 0.0, atol=2e-3)
        self.assertAllClose(kernel.std(), 0.02, atol=2e-3)

    def test_discriminator_conditions_on_the_embedding(self):
        discriminator = DCGANDiscriminator(32, embedding_dim=EMBEDDING, ndf=8)
        image = keras.random.uniform((1, 32, 32, 3), -1, 1, seed=1)
        a = discriminator({"image": image, "embedding": keras.random.normal((1, EMBEDDING), seed=2)})
        b = discriminator({"image": image, "embedding": keras.random.normal((1, EMBEDDING), seed=3)})
        self.assertNotAllClose(a, b)

    def test_spectral_norm_replaces_batch_norm(self):
        discriminator = DCGANDiscriminator(32, embedding_dim=EMBEDDING, ndf=8, spectral_norm=True)
        kinds = [type(layer).__name__ for layer in discriminator.layers]
        self.assertEqual(kinds.count("SpectralNormalization"), 5)  # 3 down, joint, score
        self.assertNotIn("BatchNormalization", kinds)
        wrapped = discriminator.get_layer("down1_sn")
        before = np.linalg.norm(wrapped.kernel.numpy().reshape(-1, 16), ord=2)
        inputs = {"image": keras.ops.zeros((2, 32, 32, 3)), "embedding": keras.ops.ones((2, EMBEDDING))}
        for _ in range(5):  # power iterations converge over calls
            discriminator(inputs, training=True)
        after = np.linalg.norm(wrapped.kernel.numpy().reshape(-1, 16), ord=2)
        self.assertLess(before, 0.5)
        self.assertAllClose(after, 1.0, atol=0.05)

    def test_projection_adds_the_match_of_pooled_features_and_text(self):
        discriminator = DCGANDiscriminator(32, embedding_dim=EMBEDDING, ndf=8, projection=True)
        image = keras.random.uniform((2, 32, 32, 3), -1, 1, seed=1)
        embedding = keras.random.normal((2, EMBEDDING), seed=2)
        logits = discriminator({"image": image, "embedding": embedding})
        features = keras.Model(discriminator.inputs, discriminator.get_layer("down2_act").output)(
            {"image": image, "embedding": embedding})
        pooled = np.mean(keras.ops.convert_to_numpy(features), axis=(1, 2))
        kernel = discriminator.get_layer("projection").kernel
        match = np.sum(pooled * (keras.ops.convert_to_numpy(embedding) @ kernel.numpy()), axis=1)
        kernel.assign(np.zeros_like(kernel))
        without = discriminator({"image": image, "embedding": embedding})
        self.assertGreater(np.abs(match).max(), 1e-4)
        self.assertAllClose(logits[:, 0] - without[:, 0], match, atol=1e-5)
        self.assert_serialization_round_trip(discriminator)

    def test_serialization_and_saving(self):
        generator = DCGANGenerator(32, embedding_dim=EMBEDDING, ngf=8, name="g")
        discriminator = DCGANDiscriminator(32, embedding_dim=EMBEDDING, ndf=8, spectral_norm=True, name="d")
        restored = self.assert_serialization_round_trip(generator)
        self.assertEqual(restored.name, "g")
        self.assert_serialization_round_trip(discriminator)
        embedding = keras.random.normal((2, EMBEDDING), seed=1)
        images = keras.random.uniform((2, 32, 32, 3), -1, 1, seed=2)
        noise = keras.random.normal((2, 100), seed=3)
        self.assert_saving_round_trip(generator, {"noise": noise, "embedding": embedding})
        self.assert_saving_round_trip(discriminator, {"image": images, "embedding": embedding})


class TextConditionalDCGANTest(TestCase):
    def test_call_and_generate(self):
        gan = _gan()
        token_ids = _batch(2)["token_ids"]
        images = gan.generate(token_ids, seed=7)
        self.assertEqual(tuple(images.shape), (2, 32, 32, 3))
        self.assertAllClose(images, gan.generate(token_ids, seed=7))
        self.assertNotAllClose(images, gan.generate(token_ids, seed=8))
        noise = keras.random.normal((2, 100), seed=7)
        self.assertAllClose(images, gan((token_ids, noise)))

    def test_text_encoder_output_forms(self):
        token_ids = _batch(2)["token_ids"]
        for outputs in ("dict", "tuple"):
            gan = _gan(encoder_outputs=outputs)
            expected = gan.text_encoder(token_ids)["sentence" if outputs == "dict" else 1]
            self.assertAllClose(gan.encode_text(token_ids), expected)

    def test_averaged_condition(self):
        gan = _gan(gan_int=False)
        batch = _batch(2, captions=3)
        averaged = gan.encode_text(batch["token_ids"])
        each = [gan.encode_text(batch["token_ids"][:, k]) for k in range(3)]
        self.assertEqual(tuple(averaged.shape), (2, EMBEDDING))
        self.assertAllClose(averaged, np.mean(each, axis=0))
        gan.compile(run_eagerly=True)
        logs = gan.train_on_batch(batch, return_dict=True)
        self.assertTrue(np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"]))

    def test_word_attention_generator_reads_the_encoders_words(self):
        encoder = WordRNNEncoder(VOCAB, embedding_dim=8, hidden_dim=EMBEDDING)
        generator = DCGANGenerator(32, embedding_dim=EMBEDDING, ngf=8, attention_sizes=(16,), words_dim=EMBEDDING)
        gan = TextConditionalDCGAN(generator, DCGANDiscriminator(32, embedding_dim=EMBEDDING, ndf=8), encoder,
                                   gan_int=False, seed=3)
        batch = _batch(4)
        features = gan.text_features(batch["token_ids"])
        self.assertEqual(sorted(features), ["embedding", "word_mask", "words"])
        self.assertAllClose(features["word_mask"], (batch["token_ids"] != 0).astype("float32"))
        noise = keras.random.normal((4, 100), seed=1)
        self.assertAllClose(gan.generate(batch["token_ids"], noise=noise), generator({"noise": noise, **features}))
        gan.compile()
        before = _values(gan.generator.weights)
        logs = gan.train_on_batch(batch, return_dict=True)
        self.assertTrue(np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"]))
        self.assertTrue(_changed(before, gan.generator.weights))
        with self.assertRaisesRegex(UserError, "one caption per image"):
            gan.text_features(_batch(2, captions=3)["token_ids"])
        with self.assertRaisesRegex(UserError, "GAN-INT does not combine with word attention"):
            TextConditionalDCGAN(generator, gan.discriminator, encoder, gan_int=True)
        with self.assertRaisesRegex(UserError, "outputs hold 'words' and 'mask'"):
            TextConditionalDCGAN(generator, gan.discriminator, _text_encoder(), gan_int=False).encode_text(batch["token_ids"])

    def test_fit_one_epoch_trains_generator_and_discriminator(self):
        gan = _gan()
        gan.compile()
        generator, discriminator = _values(gan.generator.weights), _values(gan.discriminator.weights)
        encoder = _values(gan.text_encoder.weights)
        dataset = tf.data.Dataset.from_tensor_slices(_batch(4)).batch(2)
        history = gan.fit(dataset, epochs=1, verbose=0).history
        self.assertEqual(set(history), {"d_loss", "g_loss", "d_real", "d_wrong", "d_fake"})
        self.assertTrue(_changed(generator, gan.generator.weights))
        self.assertTrue(_changed(discriminator, gan.discriminator.weights))
        self.assertTrue(_unchanged(encoder, gan.text_encoder.weights))  # frozen by default
        for name in ("d_real", "d_wrong", "d_fake"):
            self.assertAllInRange(history[name][0], 0.0, 1.0)

    def test_each_step_updates_only_its_network(self):
        gan = _gan()
        gan.compile()
        batch = _batch(2)
        images = tf.constant(batch["image"])
        g_weights, d_weights = gan.generator.trainable_variables, gan.discriminator.trainable_variables
        g_before, d_before = _values(g_weights), _values(d_weights)
        right = gan._discriminator_step(batch, images, 0, 2, 2)
        self.assertTrue(_changed(d_before, d_weights))
        self.assertTrue(_unchanged(g_before, g_weights))
        d_before = _values(d_weights)
        gan._generator_step(right, batch, images, 0, 2, 2)
        self.assertTrue(_changed(g_before, g_weights))
        self.assertTrue(_unchanged(d_before, d_weights))

    def test_trained_text_encoder(self):
        gan = _gan(train_text_encoder=True)
        gan.compile(run_eagerly=True)
        before = _values(gan.text_encoder.weights)
        gan.train_on_batch(_batch(2))
        self.assertTrue(_changed(before, gan.text_encoder.weights))

    def _first_step(self, gan, batch, **compile_options):
        """The logs of one train step, and D's logits on its three pairs, computed beforehand."""
        right = gan.encode_text(batch["token_ids"])
        wrong = gan.encode_text(batch["wrong_token_ids"])
        noise = keras.random.normal((len(batch["image"]), 100), seed=keras.random.SeedGenerator(3))
        fake = gan.generator({"noise": noise, "embedding": right}, training=True)
        real = tf.constant(batch["image"])
        logits = [
            gan.discriminator({"image": image, "embedding": embedding}, training=True)
            for image, embedding in ((real, right), (real, wrong), (fake, right))
        ]
        gan.compile(run_eagerly=True, **compile_options)
        return gan.train_on_batch(batch, return_dict=True), logits

    def test_loss_options_give_the_expected_discriminator_loss(self):
        batch = _batch(4)
        cases = [
            ({}, lambda r, w, f: losses.gan_cls_discriminator_loss(r, w, f)),
            ({"label_smoothing": 0.3}, lambda r, w, f: losses.gan_cls_discriminator_loss(r, w, f, 0.3)),
            ({"loss": "hinge"}, losses.hinge_discriminator_loss),
        ]
        initial = _gan().get_weights()
        d_losses = []
        for options, loss_fn in cases:
            gan = _gan()
            gan.set_weights(initial)
            logs, logits = self._first_step(gan, batch, **options)
            self.assertAllClose(logs["d_loss"], np.mean(loss_fn(*logits)), atol=1e-5)
            self.assertAllClose(logs["d_real"], np.mean(keras.ops.sigmoid(logits[0])), atol=1e-5)
            d_losses.append(logs["d_loss"])
        # BCE(x, 1 - s) = BCE(x, 1) + s * x on the real pair.
        self.assertAllClose(d_losses[1] - d_losses[0], 0.3 * np.mean(logits[0]), atol=1e-5)

    def test_spectral_norm_trains(self):
        gan = _gan(spectral_norm=True)
        gan.compile(loss="hinge", run_eagerly=True)
        before = _values(gan.discriminator.trainable_variables)
        logs = gan.train_on_batch(_batch(2), return_dict=True)
        self.assertTrue(np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"]))
        self.assertTrue(_changed(before, gan.discriminator.trainable_variables))

    def test_gan_int_adds_a_generator_term(self):
        batch = _batch(2)
        without = _gan(gan_int=False)
        with_int = _gan(gan_int=True)
        with_int.set_weights(without.get_weights())
        g_losses = []
        for gan in (without, with_int):
            gan.compile(run_eagerly=True)
            g_losses.append(gan.train_on_batch(batch, return_dict=True)["g_loss"])
        # At initialisation D(.) ~ 1/2: one non-saturating term of ~log 2 without GAN-INT, two with it.
        self.assertAllClose(g_losses[0], np.log(2.0), atol=0.15)
        self.assertAllClose(g_losses[1] / g_losses[0], 2.0, atol=0.2)

    def test_augment_shift_moves_what_d_and_the_matching_encoder_see(self):
        gan = _gan(augment_shift=0.125)  # 4 pixels at 32
        images = tf.constant(_batch(4)["image"])
        embedding = gan.encode_text(_batch(4)["token_ids"])
        logits, _ = gan._judge(images, embedding)
        # The model's augmentation seed generator is seeded like this one: the same shifts.
        shifts = random_shifts(4, 4, keras.random.SeedGenerator(3))
        self.assertGreater(np.abs(shifts.numpy()).sum(), 0)
        expected = gan.discriminator({"image": translate(images, shifts, 4), "embedding": embedding}, training=True)
        self.assertAllClose(logits, expected, atol=1e-5)
        unshifted = gan.discriminator({"image": images, "embedding": embedding}, training=True)
        self.assertNotAllClose(logits, unshifted)

        # The frozen encoder of G's image matching term reads the real images shifted too.
        matched, seen = _image_matching_gan_recording_encoder_inputs(augment_shift=0.125)
        matched._generator_step({"embedding": embedding}, _batch(4), images, 0, 4, 4)
        self.assertEqual(len(seen), 2)  # G's images, then the real ones
        grid = np.array([(row, column) for row in range(-4, 5) for column in range(-4, 5)], "int32")
        for image, real_seen in zip(images, seen[1]):
            every_shift = translate(tf.repeat(image[None], len(grid), axis=0), grid, 4)
            matches = np.all(np.isclose(every_shift, real_seen[None]), axis=(1, 2, 3))
            self.assertEqual(matches.sum(), 1)  # one of the 81 shifts
        self.assertNotAllClose(seen[1], images)
        self.assertEqual(self.assert_serialization_round_trip(gan).augment_shift, 0.125)
        self.assertIs(_gan()._shift(images), images)

    def test_augment_cutout_greys_out_what_d_sees_but_not_the_matching_encoder(self):
        gan = _gan(augment_shift=0.125, augment_cutout=0.5)  # 4-pixel shifts, 16-pixel squares at 32
        images = tf.constant(_batch(4)["image"])
        embedding = gan.encode_text(_batch(4)["token_ids"])
        logits, _ = gan._judge(images, embedding)
        # The same-seeded generator draws the shifts, then the centres.
        seeds = keras.random.SeedGenerator(3)
        shifts = random_shifts(4, 4, seeds)
        centres = random_centres(4, 32, seeds)
        seen = cut_out(translate(images, shifts, 4), centres, 16)
        expected = gan.discriminator({"image": seen, "embedding": embedding}, training=True)
        self.assertAllClose(logits, expected, atol=1e-5)
        shifted_only = gan.discriminator({"image": translate(images, shifts, 4), "embedding": embedding},
                                         training=True)
        self.assertNotAllClose(logits, shifted_only)

        # G's matching encoder reads its images shifted, never cut out: no grey square.
        matched, read = _image_matching_gan_recording_encoder_inputs(augment_cutout=0.5)
        matched._generator_step({"embedding": embedding}, _batch(4), images, 0, 4, 4)
        self.assertAllClose(read[1], images)  # the real images, as they are
        self.assertEqual(self.assert_serialization_round_trip(gan).augment_cutout, 0.5)
        self.assertIs(_gan()._cut_out(images), images)

    def test_bad_options(self):
        gan = _gan()
        with self.assertRaisesRegex(UserError, "loss"):
            gan.compile(loss="wasserstein")
        with self.assertRaisesRegex(UserError, "label_smoothing"):
            gan.compile(label_smoothing=1.0)
        with self.assertRaisesRegex(UserError, "label_smoothing"):
            gan.compile(loss="hinge", label_smoothing=0.1)
        with self.assertRaisesRegex(UserError, "interpolation_beta"):
            _gan(interpolation_beta=1.5)
        with self.assertRaisesRegex(UserError, r"augment_shift must be in \[0, 0.5\), got 0.5"):
            _gan(augment_shift=0.5)
        with self.assertRaisesRegex(UserError, r"augment_cutout must be in \[0, 1\), got 1.0"):
            _gan(augment_cutout=1.0)

    def test_nan_loss_is_reported(self):
        gan = _gan()
        gan.compile(run_eagerly=True)
        batch = _batch(2)
        batch["image"][0, 0, 0, 0] = np.nan
        logs = gan.train_on_batch(batch, return_dict=True)
        self.assertTrue(np.isnan(logs["d_loss"]))

    def test_serialization_and_saving(self):
        gan = _gan(gan_int=False, interpolation_beta=0.25)
        restored = self.assert_serialization_round_trip(gan)
        self.assertFalse(restored.gan_int)
        self.assertFalse(restored.text_encoder.trainable)
        inputs = (_batch(2)["token_ids"], keras.random.normal((2, 100), seed=1))
        self.assert_saving_round_trip(gan, inputs)

    def test_mirrored_strategy_matches_one_device(self):
        """Two replicas on a global batch of 4 give the losses and weights of one device."""
        dataset = tf.data.Dataset.from_tensor_slices(_batch(8)).batch(4)
        one_device = _gan()
        one_device.compile(run_eagerly=True)  # eager: quicker here, and no graph-only behaviour
        initial = one_device.get_weights()
        expected = one_device.fit(dataset, epochs=2, steps_per_epoch=1, verbose=0).history
        strategy = two_cpu_strategy()
        with strategy.scope():
            mirrored = _gan()
            mirrored.compile()
            mirrored.set_weights(initial)
        got = mirrored.fit(dataset, epochs=2, steps_per_epoch=1, verbose=0).history
        for name, values in expected.items():
            self.assertAllClose(got[name], values, atol=1e-5, msg=name)
        moved = 0.0
        for a, b, start in zip(one_device.get_weights(), mirrored.get_weights(), initial):
            self.assertAllClose(a, b, atol=1e-5)
            moved = max(moved, np.abs(a - start).max())
        self.assertGreater(moved, 1e-3)
