"""AttnGAN: the attentional generator, stage discriminators, losses, training step, distribution."""

import math

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase, two_cpu_strategy
from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.text_encoder import WordRNNEncoder
from tfgan_text.models.text_to_image.attngan import AttnGAN, AttnGANGenerator, StageDiscriminator

VOCAB = 20
WIDTH = 8
NOISE = 12  # latent 8 + condition 4


def _generator(base_size=16, stages=2, **options):
    return AttnGANGenerator(base_size=base_size, stages=stages, latent_dim=8, condition_dim=4, embedding_dim=WIDTH,
                            words_dim=WIDTH, ngf=4, residual_blocks=1, **options)


def _gan(stages=2, damsm_weight=5.0, **kwargs):
    keras.utils.set_random_seed(0)
    text_encoder = WordRNNEncoder(VOCAB, embedding_dim=8, hidden_dim=WIDTH)
    image_encoder = ImageEncoder(embedding_dim=WIDTH, filters=(4, 8, 8))
    generator = _generator(stages=stages)
    discriminators = [StageDiscriminator(size, embedding_dim=WIDTH, ndf=4) for size in generator.sizes]
    return AttnGAN(generator, discriminators, text_encoder, image_encoder, damsm_weight=damsm_weight, seed=3, **kwargs)


def _batch(size=4, image_size=32, seed=0):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, VOCAB, (size, 6)).astype("int32")
    token_ids[:, -2:] = 0  # padding
    return {
        "image": rng.uniform(-1, 1, (size, image_size, image_size, 3)).astype("float32"),
        "token_ids": token_ids,
        "wrong_token_ids": np.roll(token_ids, 1, axis=0),
        "content_key": np.arange(size, dtype="int64"),
    }


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _changed(before, variables):
    return any(not np.array_equal(a, v.numpy()) for a, v in zip(before, variables))


class NetworksTest(TestCase):
    def test_every_stage_doubles_the_side_and_attends_over_the_previous_map(self):
        for base_size, stages in ((16, 1), (16, 3), (32, 2)):
            generator = _generator(base_size, stages)
            outputs = generator({"noise": np.zeros((2, NOISE), "float32"), "embedding": np.ones((2, WIDTH), "float32"),
                                 "words": np.ones((2, 5, WIDTH), "float32"), "word_mask": np.ones((2, 5), "float32")})
            sizes = [base_size * 2**k for k in range(stages)]
            self.assertEqual([tuple(image.shape) for image in outputs["images"]], [(2, s, s, 3) for s in sizes])
            self.assertEqual([tuple(m.shape) for m in outputs["attention"]], [(2, s, s, 5) for s in sizes[:-1]])
            self.assertEqual(generator.image_size, sizes[-1])
            self.assertEqual(generator.noise_dim, NOISE)
            for image in outputs["images"]:
                self.assertLessEqual(float(np.abs(image).max()), 1.0)

    def test_attention_weights_are_a_distribution_over_the_real_words(self):
        generator = _generator()
        rng = np.random.default_rng(0)
        mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], "float32")
        outputs = generator({"noise": rng.normal(size=(2, NOISE)).astype("float32"),
                             "embedding": rng.normal(size=(2, WIDTH)).astype("float32"),
                             "words": rng.normal(size=(2, 5, WIDTH)).astype("float32"), "word_mask": mask})
        weights = keras.ops.convert_to_numpy(outputs["attention"][0])
        self.assertAllClose(weights.sum(-1), np.ones(weights.shape[:-1]), atol=1e-5)
        self.assertAllClose(weights[0, ..., 3:], np.zeros_like(weights[0, ..., 3:]))
        self.assertAllClose(weights[1, ..., 0], np.ones(weights.shape[1:3]), atol=1e-6)

    def test_conditioning_augmentation_uses_the_noise_tail_as_epsilon(self):
        generator = _generator()
        embedding = np.random.default_rng(0).normal(size=(2, WIDTH)).astype("float32")
        eps = np.random.default_rng(1).normal(size=(2, 4)).astype("float32")
        code, mu, logvar = (keras.ops.convert_to_numpy(x) for x in generator.condition(embedding, eps))
        self.assertAllClose(code, mu + np.exp(0.5 * logvar) * eps, atol=1e-6)

    def test_discriminator_gives_both_logits_and_encodes_down_to_4x4(self):
        for size in (16, 64):
            discriminator = StageDiscriminator(size, embedding_dim=WIDTH, ndf=4)
            images = np.zeros((3, size, size, 3), "float32")
            self.assertEqual(tuple(discriminator.encode(images).shape), (3, 4, 4, 32))
            logits = discriminator({"image": images, "embedding": np.ones((3, WIDTH), "float32")})
            self.assertEqual({k: tuple(v.shape) for k, v in logits.items()},
                             {"unconditional": (3, 1), "conditional": (3, 1)})

    def test_bad_networks_are_one_line_errors(self):
        with self.assertRaisesRegex(UserError, "base size must be one of"):
            _generator(base_size=24)
        with self.assertRaisesRegex(UserError, r"stages must be in \[1, 4\]"):
            _generator(stages=0)
        with self.assertRaisesRegex(UserError, "power-of-2 image size"):
            StageDiscriminator(48)
        generator = _generator()
        with self.assertRaisesRegex(UserError, r"one discriminator per stage for sizes \[16, 32\]"):
            AttnGAN(generator, [StageDiscriminator(16, WIDTH, 4)], WordRNNEncoder(VOCAB, 8, WIDTH),
                    ImageEncoder(WIDTH, (4, 8)))


class LossesTest(TestCase):
    def test_discriminator_loss_halves_the_real_terms_and_thirds_the_fake_ones(self):
        logits = [np.array([[v]], "float32") for v in (0.3, -1.0, 2.0, 0.5, -0.2)]
        bce_one, bce_zero = (lambda x: math.log1p(math.exp(-x))), (lambda x: math.log1p(math.exp(x)))
        expected = (bce_one(0.3) + bce_one(-1.0)) / 2 + (bce_zero(2.0) + bce_zero(0.5) + bce_zero(-0.2)) / 3
        self.assertAllClose(losses.attngan_discriminator_loss(*logits), [expected], atol=1e-6)
        self.assertAllClose(losses.attngan_generator_loss(logits[2], logits[3]), [bce_one(2.0) + bce_one(0.5)], atol=1e-6)

    def test_kl_is_zero_at_the_prior_and_grows_away_from_it(self):
        zeros = np.zeros((2, 4), "float32")
        self.assertAllClose(losses.conditioning_kl(zeros, zeros), [0.0, 0.0])
        mu = np.array([[1.0, 0, 0, 0], [0, 0, 0, 0]], "float32")
        logvar = np.array([[0, 0, 0, 0], [math.log(2.0), 0, 0, 0]], "float32")
        self.assertAllClose(losses.conditioning_kl(mu, logvar), [0.5 / 4, 0.5 * (2 - 1 - math.log(2)) / 4], atol=1e-6)

    def test_damsm_loss_is_the_sentence_loss_plus_the_word_loss(self):
        rng = np.random.default_rng(0)
        image = {"regions": rng.normal(size=(3, 2, 2, 4)).astype("float32"), "global": rng.normal(size=(3, 4)).astype("float32")}
        mask = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1]], bool)
        text = {"words": rng.normal(size=(3, 3, 4)).astype("float32"), "sentence": rng.normal(size=(3, 4)).astype("float32"),
                "mask": mask}
        expected = (losses.symmetric_matching_loss(image["global"], text["sentence"], 10.0)
                    + losses.damsm_word_loss(image["regions"], text["words"], mask, 4.0, 5.0, 10.0))
        self.assertAllClose(losses.damsm_loss(image, text), expected, atol=1e-6)


class AttnGANTest(TestCase):
    def test_a_step_trains_generator_and_discriminators_and_leaves_the_damsm_frozen(self):
        gan = _gan()
        gan.compile()
        frozen = gan.text_encoder.weights + gan.image_encoder.weights
        before = {name: _values(v) for name, v in (("g", gan.generator.trainable_variables),
                                                    ("d", gan._discriminator_variables()), ("frozen", frozen))}
        logs = gan.train_on_batch(_batch(), return_dict=True)
        self.assertTrue(_changed(before["g"], gan.generator.trainable_variables))
        self.assertTrue(_changed(before["d"], gan._discriminator_variables()))
        self.assertFalse(_changed(before["frozen"], frozen))
        self.assertEqual(set(logs), {"d_loss", "g_loss", "g_damsm", "g_kl", "d_real", "d_wrong", "d_fake"})
        self.assertTrue(all(np.isfinite(value) for value in logs.values()))
        self.assertGreater(logs["g_damsm"], 0.0)

    def test_every_stage_discriminator_learns(self):
        gan = _gan(stages=3)
        gan.compile()
        before = [_values(d.trainable_variables) for d in gan.discriminators]
        gan.train_on_batch(_batch(image_size=64), return_dict=True)
        for values, discriminator in zip(before, gan.discriminators):
            self.assertTrue(_changed(values, discriminator.trainable_variables), discriminator.image_size)

    def test_generator_loss_holds_lambda_times_damsm_and_the_kl_term(self):
        """With D's learning rate 0 and G's 0 the logged G loss is the sum of its terms."""
        gan = _gan(damsm_weight=2.0, kl_weight=3.0)
        gan.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
        batch = _batch()
        logs = gan.train_on_batch(batch, return_dict=True)
        without = _gan(damsm_weight=0.0, kl_weight=0.0)
        without.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
        adversarial = without.train_on_batch(batch, return_dict=True)["g_loss"]
        self.assertAllClose(logs["g_loss"], adversarial + 2.0 * logs["g_damsm"] + 3.0 * logs["g_kl"], atol=1e-4)

    def test_call_generate_and_stage_outputs_agree(self):
        gan = _gan()
        ids = _batch()["token_ids"]
        noise = np.random.default_rng(1).normal(size=(4, NOISE)).astype("float32")
        last = keras.ops.convert_to_numpy(gan((ids, noise)))
        self.assertAllClose(keras.ops.convert_to_numpy(gan.generate(ids, noise=noise)), last)
        self.assertAllClose(keras.ops.convert_to_numpy(gan.stage_outputs(ids, noise)["images"][-1]), last)
        self.assertEqual(last.shape, (4, 32, 32, 3))

    def test_serialization_and_saving(self):
        gan = _gan()
        restored = self.assert_serialization_round_trip(gan)
        self.assertEqual(len(restored.discriminators), 2)
        self.assertFalse(restored.text_encoder.trainable)
        inputs = (_batch()["token_ids"], np.random.default_rng(1).normal(size=(4, NOISE)).astype("float32"))
        self.assert_saving_round_trip(gan, inputs)

    def test_nan_loss_is_reported(self):
        gan = _gan()
        gan.compile(run_eagerly=True)
        batch = _batch()
        batch["image"][0, 0, 0, 0] = np.nan
        self.assertTrue(np.isnan(gan.train_on_batch(batch, return_dict=True)["d_loss"]))

    def test_bad_weights(self):
        with self.assertRaisesRegex(UserError, "damsm_weight must be >= 0"):
            _gan(damsm_weight=-1.0)

    def test_mirrored_strategy_matches_one_device(self):
        """Two replicas on a global batch of 4 give the losses and weights of one device, the
        DAMSM loss's negatives included."""
        dataset = tf.data.Dataset.from_tensor_slices(_batch(8)).batch(4)
        one_device = _gan()
        one_device.compile(run_eagerly=True)
        initial = one_device.get_weights()
        expected = one_device.fit(dataset, epochs=2, steps_per_epoch=1, verbose=0).history
        strategy = two_cpu_strategy()
        with strategy.scope():
            mirrored = _gan()
            mirrored.compile()
            mirrored.set_weights(initial)
        got = mirrored.fit(dataset, epochs=2, steps_per_epoch=1, verbose=0).history
        for name, values in expected.items():
            self.assertAllClose(got[name], values, atol=1e-4, msg=name)
        moved = 0.0
        for a, b, start in zip(one_device.get_weights(), mirrored.get_weights(), initial):
            self.assertAllClose(a, b, atol=1e-4)
            moved = max(moved, np.abs(a - start).max())
        self.assertGreater(moved, 1e-3)
