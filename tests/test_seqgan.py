"""SeqGAN captioning: its losses, the training step, D pretraining, the lagged rollout policy, distribution."""

import keras
import numpy as np
import tensorflow as tf

from tests.test_caption_discriminator import VOCAB, images, tiny_captioner, tiny_discriminator
from tests.test_case import TestCase, two_cpu_strategy
from tfgan_text import losses
from tfgan_text.errors import UserError
from tfgan_text.models.image_to_text.seqgan import SeqGAN

MAX_LENGTH = 7  # <start> + 5 words + <end>: captions of 6 generated tokens


def tiny_batch(size=4, seed=0):
    """A training batch: 16-px images, real captions `<start> w.. <end> 0`, wrong = another image's."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, MAX_LENGTH - 2, size)
    token_ids = np.zeros((size, MAX_LENGTH), "int64")
    for row, length in enumerate(lengths):
        token_ids[row, 0] = 2
        token_ids[row, 1 : 1 + length] = rng.integers(4, VOCAB, length)
        token_ids[row, 1 + length] = 3
    return {
        "image": images(size, seed=seed),
        "token_ids": token_ids,
        "wrong_token_ids": np.roll(token_ids, 1, axis=0),
        "caption_index": np.arange(size),  # an extra key, ignored
    }


def dataset(size=4, seed=0):
    return tf.data.Dataset.from_tensors(tiny_batch(size, seed)).repeat()


def seqgan(num_rollouts=2, end_bias=1.0, **kwargs):
    return SeqGAN(
        tiny_captioner(MAX_LENGTH, end_bias=end_bias),
        tiny_discriminator(),
        num_rollouts=num_rollouts,
        seed=3,
        **kwargs,
    )


def values(variables):
    return [np.array(v.numpy()) for v in variables]


def changed(before, variables):
    return any(not np.array_equal(a, v.numpy()) for a, v in zip(before, variables))


class CaptionGANLossTest(TestCase):
    def test_caption_discriminator_loss(self):
        real, fake, wrong = np.array([0.0, 2.0]), np.array([0.0, -1.0]), np.array([1.0, 0.0])
        # softplus(-real) + softplus(fake) + softplus(wrong): log 2 + log 2 + log(1 + e); ...
        self.assertAllClose(losses.caption_discriminator_loss(real, fake, wrong), [2.6995560, 1.1333369])
        # real target 0.9: 0.9 softplus(-x) + 0.1 softplus(x); fake x 0.5, wrong x 0.25
        weighted = losses.caption_discriminator_loss(
            real, fake, wrong, fake_weight=0.5, wrong_weight=0.25, label_smoothing=0.1
        )
        self.assertAllClose(weighted, [1.3680362, 0.6568456])
        with self.assertRaises(UserError):
            losses.caption_discriminator_loss(real, fake, wrong, label_smoothing=1.0)

    def test_policy_gradient_loss(self):
        log_probs = tf.Variable([[-1.0, -2.0, -3.0], [-0.5, -0.5, -0.5]])
        advantages = tf.Variable([[1.0, -1.0, 2.0], [0.5, 0.5, 0.5]])
        mask = np.array([[1, 1, 0], [1, 1, 1]], "float32")
        with tf.GradientTape(persistent=True) as tape:
            loss = losses.policy_gradient_loss(log_probs, advantages, mask)
        # -(-1 * 1 + -2 * -1) = -1 (the masked third token does not count); -(3 * -0.5 * 0.5) = 0.75
        self.assertAllClose(loss, [-1.0, 0.75])
        self.assertAllClose(tape.gradient(loss, log_probs), [[-1.0, 1.0, 0.0], [-0.5, -0.5, -0.5]])
        self.assertIsNone(tape.gradient(loss, advantages))  # advantages are constants

    def test_policy_entropy(self):
        uniform = np.log(np.full((1, 3, 4), 0.25, "float32"))
        peaked = np.log(np.array([[[1.0 - 3e-6, 1e-6, 1e-6, 1e-6]] * 3], "float32"))
        mask = np.array([[1, 1, 0]], "float32")
        self.assertAllClose(losses.policy_entropy(uniform, mask), [2 * np.log(4.0)])  # the masked step does not count
        self.assertAllClose(losses.policy_entropy(peaked, mask), [0.0], atol=1e-4)

    def test_mean_and_none_baselines(self):
        gan = seqgan()
        rewards = tf.constant([[0.2, 0.4, 0.6, 0.8, 0.5, 0.5], [0.4, 0.2, 0.3, 0.1, 0.9, 0.7]])
        mean = gan._baselines(rewards, None, None)
        # b_1: the batch mean of Q_1; b_t = Q_{t-1} after
        self.assertAllClose(mean, [[0.3, 0.2, 0.4, 0.6, 0.8, 0.5], [0.3, 0.4, 0.2, 0.3, 0.1, 0.9]])
        none = seqgan(baseline="none")._baselines(rewards, None, None)
        self.assertAllClose(none, np.zeros((2, 6)))


class SeqGANTest(TestCase):
    def test_fit_trains_both_networks(self):
        gan = seqgan()
        gan.compile(run_eagerly=True)
        generator_before = values(gan.captioner.trainable_variables)
        discriminator_before = values(gan.discriminator.trainable_variables)
        history = gan.fit(dataset(), epochs=2, steps_per_epoch=1, verbose=0).history
        self.assertEqual(
            set(history), {"g_loss", "d_loss", "reward", "d_real", "d_fake", "d_wrong", "mle"}
        )
        for name, series in history.items():
            self.assertTrue(np.all(np.isfinite(series)), name)
        self.assertTrue(0.0 < history["reward"][-1] < 1.0)
        self.assertTrue(changed(generator_before, gan.captioner.trainable_variables))
        self.assertTrue(changed(discriminator_before, gan.discriminator.trainable_variables))

    def test_greedy_baseline_and_several_discriminator_steps(self):
        gan = seqgan(baseline="greedy", d_steps=2, mle_weight=0.0)
        gan.compile(run_eagerly=True)
        history = gan.fit(dataset(), epochs=1, steps_per_epoch=1, verbose=0).history
        for name, series in history.items():
            self.assertTrue(np.all(np.isfinite(series)), name)
        self.assertEqual(gan.d_optimizer.iterations.numpy(), 2)
        self.assertEqual(gan.g_optimizer.iterations.numpy(), 1)
        self.assertAllClose(history["mle"], [history["mle"][0]])  # tracked even when weighted 0

    def test_discriminator_pretraining_changes_only_the_discriminator(self):
        gan = seqgan(discriminator_only=True)
        gan.compile(run_eagerly=True)
        generator_before = values(gan.captioner.weights)
        discriminator_before = values(gan.discriminator.trainable_variables)
        history = gan.fit(dataset(), epochs=2, steps_per_epoch=1, verbose=0).history
        self.assertEqual(set(history), {"d_loss", "d_real", "d_fake", "d_wrong"})
        self.assertFalse(changed(generator_before, gan.captioner.weights))
        self.assertTrue(changed(discriminator_before, gan.discriminator.trainable_variables))
        self.assertEqual(gan.g_optimizer.iterations.numpy(), 0)

    def test_lagged_rollout_policy_moves_at_its_rate(self):
        gan = seqgan(rollout_update_rate=0.75)
        gan.compile(run_eagerly=True)
        lagged_before = values(gan.rollout_policy.weights)
        self.assertTrue(all(np.array_equal(a, b) for a, b in zip(lagged_before, values(gan.captioner.weights))))
        gan.fit(dataset(), epochs=1, steps_per_epoch=1, verbose=0)
        current = values(gan.captioner.weights)
        for before, now, lagged in zip(lagged_before, current, gan.rollout_policy.weights):
            self.assertAllClose(lagged, 0.75 * before + 0.25 * now, atol=1e-6)
        self.assertTrue(changed(current, gan.rollout_policy.weights))
        self.assertEqual(gan.rollout_policy.trainable_variables, [])

    def test_serialization_and_saving(self):
        gan = seqgan(num_rollouts=5, baseline="none", mle_weight=0.3, rollout_update_rate=0.8, d_steps=2,
                     entropy_weight=0.05)
        restored = self.assert_serialization_round_trip(gan)
        self.assertEqual((restored.num_rollouts, restored.baseline, restored.d_steps, restored.entropy_weight),
                         (5, "none", 2, 0.05))
        self.assertIsNotNone(restored.rollout_policy)
        batch = tiny_batch(2)
        loaded = self.assert_saving_round_trip(gan, {"image": batch["image"], "token_ids": batch["token_ids"]})
        for a, b in zip(loaded.rollout_policy.weights, gan.rollout_policy.weights):
            self.assertAllClose(a, b)

    def test_bad_options(self):
        for options in ({"baseline": "max"}, {"num_rollouts": 0}, {"rollout_update_rate": 1.0}, {"d_steps": 0},
                        {"mle_weight": -1.0}, {"entropy_weight": -0.1}):
            with self.assertRaises(UserError, msg=str(options)):
                seqgan(**options)
        with self.assertRaises(UserError):  # unbuilt networks
            SeqGAN(tiny_captioner(), type(tiny_discriminator())(VOCAB, embedding_dim=8, hidden_dim=16))

    def test_entropy_bonus_widens_the_policy(self):
        """With D frozen and no MLE term, the bonus raises the entropy of G's next-token
        distributions; without it the same steps do not."""
        batch = tiny_batch(8)

        def mean_entropy(captioner):
            features = captioner.encode_images(batch["image"])
            logits = captioner.sequence_logits(features, batch["token_ids"][:, :-1])
            log_probs = keras.ops.log_softmax(logits, axis=-1)
            return float(keras.ops.mean(-keras.ops.sum(keras.ops.exp(log_probs) * log_probs, axis=-1)))

        entropies = {}
        for weight in (0.0, 1.0):
            keras.utils.set_random_seed(1)
            gan = SeqGAN(tiny_captioner(MAX_LENGTH, end_bias=1.0), tiny_discriminator(sharpness=20.0), num_rollouts=2,
                         mle_weight=0.0, entropy_weight=weight, seed=1)
            gan.compile(g_optimizer=keras.optimizers.Adam(0.02), d_optimizer=keras.optimizers.SGD(0.0))
            before = mean_entropy(gan.captioner)
            gan.fit(dataset(8), epochs=6, steps_per_epoch=1, verbose=0)
            entropies[weight] = mean_entropy(gan.captioner) - before
        self.assertGreater(entropies[1.0], 0.02, entropies)
        self.assertGreater(entropies[1.0], entropies[0.0] + 0.05, entropies)

    def test_policy_gradient_raises_the_reward_of_a_fixed_discriminator(self):
        """With D frozen and no MLE term, the rollout policy gradient makes G's captions score higher."""
        keras.utils.set_random_seed(1)
        gan = SeqGAN(
            tiny_captioner(MAX_LENGTH, end_bias=1.0),
            tiny_discriminator(sharpness=20.0),
            num_rollouts=2,
            mle_weight=0.0,
            seed=1,
        )
        gan.compile(g_optimizer=keras.optimizers.Adam(0.02), d_optimizer=keras.optimizers.SGD(0.0))
        history = gan.fit(dataset(8), epochs=15, steps_per_epoch=1, verbose=0).history
        rewards = np.array(history["reward"])
        self.assertGreater(rewards[-5:].mean(), rewards[:5].mean() + 0.05, rewards.round(3))

    def test_mirrored_strategy_matches_one_device(self):
        """Two replicas on a global batch of 4 give the losses and weights of one device."""
        data = dataset(4)
        one_device = seqgan(rollout_update_rate=0.5)
        one_device.compile(run_eagerly=True)
        initial = one_device.get_weights()
        expected = one_device.fit(data, epochs=1, steps_per_epoch=1, verbose=0).history
        with two_cpu_strategy().scope():
            mirrored = seqgan(rollout_update_rate=0.5)
            mirrored.compile()  # in a tf.function, as training runs
            mirrored.set_weights(initial)
        got = mirrored.fit(data, epochs=1, steps_per_epoch=1, verbose=0).history
        for name, series in expected.items():
            self.assertAllClose(got[name], series, atol=1e-5, msg=name)
        moved = 0.0
        for a, b, start in zip(one_device.get_weights(), mirrored.get_weights(), initial):
            self.assertAllClose(a, b, atol=1e-5)
            moved = max(moved, np.abs(a - start).max())
        self.assertGreater(moved, 1e-5)
