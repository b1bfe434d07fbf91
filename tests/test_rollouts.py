"""Training-time sampling and Monte Carlo rollouts: the batched loop against SeqGAN's reference."""

import functools
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

from tests.test_caption_discriminator import images, tiny_captioner, tiny_discriminator
from tests.test_case import TestCase
from tfgan_text.models.image_to_text import rollouts
from tfgan_text.text.vocabulary import END_ID, PAD_ID, START_ID

LENGTH = 6  # generated tokens per caption (max_length 7)
ROLLOUTS = 3
BATCH = 4


def _scrambled_from_rows(rows, prefixes, num_rollouts, batch):
    """A plausible-looking bug: rows read back as (rollout, prefix, row) instead of (prefix, rollout, row)."""
    values = tf.reshape(rows, [num_rollouts, prefixes, batch] + list(rows.shape[1:]))
    return tf.experimental.numpy.swapaxes(values, 0, 1)


def _rollout_major_from_rows(rows, prefixes, num_rollouts, batch):
    """Another one: rollout and row axes swapped."""
    values = tf.reshape(rows, [prefixes, batch, num_rollouts] + list(rows.shape[1:]))
    return tf.experimental.numpy.swapaxes(values, 1, 2)


class SamplingTest(TestCase):
    def test_inverse_cdf_sample(self):
        logits = np.log(np.array([[0.5, 0.1, 0.2, 0.1, 0.1], [0.0, 0.25, 0.0, 0.25, 0.5]]) + 1e-30)
        # ids 0 (pad) and 2 (start) are never drawn: the allowed mass is ids 1, 3, 4
        first = rollouts.inverse_cdf_sample(np.stack([logits[0]] * 4), np.array([0.0, 0.4, 0.7, 0.99]))
        self.assertAllEqual(first, [1, 3, 4, 4])  # allowed probabilities 1/3, 1/3, 1/3
        second = rollouts.inverse_cdf_sample(np.stack([logits[1]] * 3), np.array([0.0, 0.26, 0.5]))
        self.assertAllEqual(second, [1, 3, 4])

    def test_sampled_captions_and_recorded_states(self):
        captioner = tiny_captioner(end_bias=2.0)
        features = captioner.encode_images(images(BATCH))
        tokens, states = rollouts.sample_captions(captioner, features, keras.random.uniform((LENGTH, BATCH), seed=1))
        tokens = tokens.numpy()
        self.assertEqual(tokens.shape, (BATCH, LENGTH))
        self.assertFalse(np.isin(tokens[:, 0], [PAD_ID, START_ID]).any())
        self.assertFalse((tokens == START_ID).any())
        for row in tokens:  # padded after <end>, and nothing but <end> closes a caption
            ends = np.flatnonzero(row == END_ID)
            stop = ends[0] + 1 if len(ends) else LENGTH
            self.assertTrue((row[stop:] == PAD_ID).all())
            self.assertFalse((row[:stop] == PAD_ID).any())
        for got, initial in zip(states, captioner.initial_state(features)):  # h and c, not one twice
            self.assertAllClose(got[:, 0], initial, atol=1e-6)
        recomputed = rollouts.decoder_states(captioner, features, tokens)
        for got, expected in zip(states, recomputed):
            self.assertEqual(got.shape, (BATCH, LENGTH, 16))
            self.assertAllClose(got, expected, atol=1e-6)
        greedy = rollouts.greedy_captions(captioner, features, LENGTH)
        self.assertEqual(greedy.shape, (BATCH, LENGTH))

    def test_token_log_probs_and_mask(self):
        logits = np.zeros((1, 2, 5), "float32")
        log_probs = rollouts.token_log_probs(logits, np.array([[1, 4]]))
        self.assertAllClose(log_probs, np.log([[1 / 3, 1 / 3]]))  # 3 allowed ids of 5
        mask = rollouts.generated_mask(np.array([[5, 3, 0, 0], [5, 6, 7, 8]]))
        self.assertAllEqual(mask, [[1, 1, 0, 0], [1, 1, 1, 1]])


@functools.cache
def _case(seed, attention_heads=0):
    """Networks, images, sampled captions with their states, noise, and the reference rewards.

    Cached: the reference (R x (L - 1) eager calls) is the slow part, shared by several tests.
    """
    keras.utils.set_random_seed(seed)
    captioner = tiny_captioner(end_bias=1.5, attention_heads=attention_heads)  # captions of several lengths
    if attention_heads:  # the attended context weighs on the scores, so a row reading another image shows
        kernel = captioner.token_scores.kernel
        kernel.assign(kernel * np.concatenate([np.ones(16), np.full(16, 20.0)])[:, None].astype("float32"))
    discriminator = tiny_discriminator(sharpness=20.0)  # rewards spread over [0.3, 0.7]
    batch_images = images(BATCH, seed=seed)
    features = captioner.encode_images(batch_images)
    tokens, states = rollouts.sample_captions(captioner, features, keras.random.uniform((LENGTH, BATCH), seed=seed))
    noise = rollouts.rollout_noise(ROLLOUTS, LENGTH, BATCH, seed=seed + 100)
    expected = rollouts.naive_rollout_rewards(captioner, discriminator, batch_images, tokens, noise)
    return captioner, discriminator, batch_images, tokens, states, noise, expected.numpy()


class RolloutRewardsTest(TestCase):
    def _setup(self, seed):
        return _case(seed)[:-1]

    def test_batched_equals_naive(self):
        ragged = set()
        for seed in range(3):
            captioner, discriminator, batch_images, tokens, states, noise, expected = _case(seed)
            ragged.update(rollouts.generated_mask(tokens).numpy().sum(axis=1).tolist())
            batched = rollouts.rollout_rewards(captioner, discriminator, batch_images, tokens, noise, states=states)
            recomputed = rollouts.rollout_rewards(captioner, discriminator, batch_images, tokens, noise)
            whole = rollouts.rollout_rewards(
                captioner, discriminator, batch_images, tokens, noise, states=states, read_prefixes_once=False
            )
            self.assertEqual(batched.shape, (BATCH, LENGTH))
            self.assertAllClose(batched, expected, atol=1e-5, msg=f"seed {seed}")
            self.assertAllClose(recomputed, expected, atol=1e-5, msg=f"seed {seed}, recomputed states")
            self.assertAllClose(whole, expected, atol=1e-5, msg=f"seed {seed}, completions read whole")
            self.assertGreater(np.ptp(expected), 0.1)  # rewards that can tell rollouts apart
            if seed == 0:
                compiled = tf.function(rollouts.rollout_rewards)(
                    captioner, discriminator, batch_images, tokens, noise, states=states
                )
                self.assertAllClose(compiled, expected, atol=1e-5, msg="in a tf.function")
                shared = rollouts.naive_rollout_rewards(
                    captioner, discriminator, batch_images, tokens, noise, share_image_features=True
                )
                self.assertAllClose(shared, expected, atol=1e-6, msg="reference with shared image features")
        self.assertGreater(len(ragged), 2, "captions of several lengths, some ended before the last step")
        self.assertIn(LENGTH, ragged)

    def test_batched_equals_naive_with_an_attending_policy(self):
        """Every continuation row attends over its own image's regions (features tiled per row)."""
        captioner, discriminator, batch_images, tokens, states, noise, expected = _case(0, attention_heads=2)
        features = captioner.encode_images(batch_images)
        batched = rollouts.rollout_rewards(
            captioner, discriminator, batch_images, tokens, noise, states=states, policy_features=features
        )
        self.assertAllClose(batched, expected, atol=1e-5)
        self.assertAllClose(rollouts.rollout_rewards(captioner, discriminator, batch_images, tokens, noise), expected,
                            atol=1e-5, msg="features and states recomputed")
        # The same rollouts fed the images in another order give other rewards: the test can fail.
        swapped = rollouts.rollout_rewards(
            captioner, discriminator, batch_images, tokens, noise, states=states, policy_features=features[::-1]
        )
        self.assertGreater(np.abs(swapped - expected).max(), 1e-3)

    def test_ended_prefix_reward_is_the_caption_score(self):
        captioner, discriminator, batch_images, tokens, states, noise = self._setup(1)
        rewards = rollouts.rollout_rewards(captioner, discriminator, batch_images, tokens, noise, states=states)
        lengths = rollouts.generated_mask(tokens).numpy().sum(axis=1).astype(int)
        own = keras.ops.sigmoid(discriminator({"image": batch_images, "tokens": tokens})).numpy()
        self.assertAllClose(rewards[:, -1], own, atol=1e-6)
        self.assertLess(lengths.min(), LENGTH)
        for row, length in enumerate(lengths):
            if length < LENGTH:  # prefixes of `length` tokens and more hold <end>
                self.assertAllClose(rewards[row, length - 1 :], np.full(LENGTH - length + 1, own[row]), atol=1e-6)

    def test_rollouts_differ_and_depend_on_the_noise(self):
        captioner, discriminator, batch_images, tokens, states, noise = self._setup(2)
        rewards = rollouts.rollout_rewards(captioner, discriminator, batch_images, tokens, noise, states=states)
        other = rollouts.rollout_rewards(
            captioner, discriminator, batch_images, tokens, 1.0 - noise, states=states
        )
        self.assertNotAllClose(rewards[:, :-1], other[:, :-1])
        self.assertAllClose(rewards[:, -1], other[:, -1])
        self.assertTrue(np.all((rewards.numpy() > 0) & (rewards.numpy() < 1)))

    def test_a_scrambled_reshape_is_detected(self):
        """Rows read back in the wrong order (TextGAN-PyTorch #62) no longer match the reference."""
        captioner, discriminator, batch_images, tokens, states, noise, expected = _case(0)
        for scramble in (_scrambled_from_rows, _rollout_major_from_rows):
            for read_prefixes_once in (True, False):
                with mock.patch.object(rollouts, "_from_rows", scramble):
                    scrambled = rollouts.rollout_rewards(
                        captioner, discriminator, batch_images, tokens, noise, states=states,
                        read_prefixes_once=read_prefixes_once,
                    )
                self.assertEqual(scrambled.shape, expected.shape)
                difference = np.abs(scrambled.numpy() - expected).max()
                self.assertGreater(difference, 1e-3, (scramble.__name__, read_prefixes_once))
