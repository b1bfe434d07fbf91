"""SeqGAN Monte Carlo rollouts: the batched loop against the naive reference, in one run.

Both compute the rewards `Q_t` of the same sampled captions with the same rollout policy,
discriminator and noise (`tfgan_text.models.image_to_text.rollouts`):

- `batched`: `rollout_rewards` in one `tf.function`, continuing every prefix of every rollout
  from the decoder states the sampling pass recorded (as `SeqGAN` does), D's sentence LSTM
  reading each prefix once and stepping through the continuations in the same loop;
- `batched_recomputed_states`: the same, recomputing the prefix states with one teacher-forced
  pass first (what a lagged rollout policy costs);
- `batched_completions_read_whole`: the same loop, with D reading every completion whole in one
  `score` call (`read_prefixes_once=False`) instead of stepping its LSTM inside the loop;
- `naive`: `naive_rollout_rewards`, SeqGAN's reference way: R x (L - 1) separate calls, each a
  `tf.function` (one per prefix length, traced in the warm-up) that re-runs its prefix from
  `<start>` (image encoder included) and calls the discriminator itself;
- `naive_shared_image_features`: the same calls, with both image encoders run once and their
  features passed in (a kinder reference: only the decoder and D's sentence LSTM repeat).

The networks have random weights (only their sizes matter for speed; with a random captioner
few captions end early, so nearly every prefix needs its rollouts: the worst case): a
shapes-sized captioner (vocabulary 70, embedding 128, LSTM 256, 64-px images, the default
`ImageEncoder`, attention over its 8x8 regions with `--attention-heads` 4, as `train captioner`
makes it; 0 for none) and discriminator of the same widths. Prints one JSON line: seconds per call
(median of `--repeats` after a warm-up), the speed-up of `batched` over `naive`, and the max
abs difference of their rewards (they must agree to float rounding).

Run: `python bench/rollouts.py [--batch 32] [--length 16] [--rollouts 16] [--repeats 3] [--attention-heads 4]`
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgan_text.models.image_to_text import rollouts  # noqa: E402
from tfgan_text.models.image_to_text.caption_discriminator import CaptionDiscriminator  # noqa: E402
from tfgan_text.models.image_to_text.captioner import Captioner  # noqa: E402

VOCABULARY = 70
EMBEDDING = 128
HIDDEN = 256
IMAGE_SIZE = 64


def median_seconds(call, repeats):
    """Median seconds of `repeats` calls of `call()` (each result forced), after one warm-up call."""
    np.asarray(call())
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(call())
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=16, help="generated tokens per caption, <end> included")
    parser.add_argument("--rollouts", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attention-heads", type=int, default=4, help="the captioner's (train captioner's default)")
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    image_shape = (None, IMAGE_SIZE, IMAGE_SIZE, 3)
    captioner = Captioner(VOCABULARY, max_length=args.length + 1, embedding_dim=EMBEDDING, hidden_dim=HIDDEN,
                          attention_heads=args.attention_heads)
    captioner.build({"image": image_shape})
    discriminator = CaptionDiscriminator(VOCABULARY, embedding_dim=EMBEDDING, hidden_dim=HIDDEN)
    discriminator.build({"image": image_shape})

    images = keras.random.uniform((args.batch, IMAGE_SIZE, IMAGE_SIZE, 3), -1.0, 1.0, seed=args.seed)
    features = captioner.encode_images(images)
    tokens, states = rollouts.sample_captions(
        captioner, features, keras.random.uniform((args.length, args.batch), seed=args.seed + 1)
    )
    noise = rollouts.rollout_noise(args.rollouts, args.length, args.batch, seed=args.seed + 2)

    batched_fn = tf.function(rollouts.rollout_rewards)
    single_fn = tf.function(rollouts.naive_single_rollout)

    def batched():
        return batched_fn(captioner, discriminator, images, tokens, noise, states=states, policy_features=features)

    def recomputed():
        return batched_fn(captioner, discriminator, images, tokens, noise)

    def whole():
        return batched_fn(captioner, discriminator, images, tokens, noise, states=states, read_prefixes_once=False,
                          policy_features=features)

    def naive():
        return rollouts.naive_rollout_rewards(captioner, discriminator, images, tokens, noise, single=single_fn)

    def naive_shared():
        return rollouts.naive_rollout_rewards(
            captioner, discriminator, images, tokens, noise, single=single_fn, share_image_features=True
        )

    batched_rewards, recomputed_rewards, whole_rewards, naive_rewards, shared_rewards = (
        np.asarray(f()) for f in (batched, recomputed, whole, naive, naive_shared)
    )
    batched_s = median_seconds(batched, args.repeats)
    recomputed_s = median_seconds(recomputed, args.repeats)
    whole_s = median_seconds(whole, args.repeats)
    naive_s = median_seconds(naive, args.repeats)
    shared_s = median_seconds(naive_shared, args.repeats)
    lengths = np.asarray(rollouts.generated_mask(tokens)).sum(axis=1)
    steps = args.length
    print(
        json.dumps(
            {
                "bench": "rollouts",
                "batch": args.batch,
                "caption_length": steps,
                "rollouts": args.rollouts,
                "vocabulary": VOCABULARY,
                "embedding": EMBEDDING,
                "hidden": HIDDEN,
                "attention_heads": args.attention_heads,
                "image_size": IMAGE_SIZE,
                "weights": "random",
                "mean_caption_length": round(float(lengths.mean()), 2),
                "device": "gpu" if tf.config.list_logical_devices("GPU") else "cpu",
                "batched_s": round(batched_s, 4),
                "batched_recomputed_states_s": round(recomputed_s, 4),
                "batched_completions_read_whole_s": round(whole_s, 4),
                "naive_s": round(naive_s, 4),
                "naive_shared_image_features_s": round(shared_s, 4),
                "speedup": round(naive_s / batched_s, 1),
                "speedup_recomputed_states": round(naive_s / recomputed_s, 1),
                "speedup_vs_naive_shared_image_features": round(shared_s / batched_s, 1),
                "naive_calls": args.rollouts * (steps - 1) + 1,
                "decoder_row_steps_batched": args.batch * args.rollouts * steps * (steps - 1) // 2,
                "decoder_row_steps_naive": args.batch * args.rollouts * steps * (steps - 1),
                "max_abs_diff": float(np.abs(batched_rewards - naive_rewards).max()),
                "max_abs_diff_recomputed_states": float(np.abs(recomputed_rewards - naive_rewards).max()),
                "max_abs_diff_completions_read_whole": float(np.abs(whole_rewards - naive_rewards).max()),
                "max_abs_diff_naive_shared_image_features": float(np.abs(shared_rewards - naive_rewards).max()),
            }
        )
    )


if __name__ == "__main__":
    main()
