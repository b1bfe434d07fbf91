"""The seed rule: the noise vector a seed gives, the same on every path and every machine.

`tfgan-text generate --seed S --n N`, `python -m tfgan_text.inference.onnx_generate`, the
SavedModel's `serving_default(captions, seeds)` and so the REST server all draw image `k`
(0-based) of a caption's N images from seed `S + k` (as Stable Diffusion front ends number
the images of a batch): a REST request with seeds `[S, S+1, ...]` gets the same images as
the command line.

The noise of a seed `s` (a signed 64-bit integer) is defined with 32-bit integer arithmetic,
so that numpy, TensorFlow's graph and JavaScript compute it alike:

    lo, hi   = the low and high 32 bits of s (two's complement)
    mix(x)   = x ^= x >> 16; x *= 0x7FEB352D; x ^= x >> 15; x *= 0x846CA68B; x ^= x >> 16
               (all mod 2^32; C. Wellons' "lowbias32" integer hash)
    word(c)  = mix(mix(mix(c ^ 0x9E3779B9) ^ lo) ^ hi)
    u1, u2   = ((word(2p) >> 8) + 1) / 2^24 in (0, 1],  (word(2p + 1) >> 8) / 2^24 in [0, 1)
    z[2p], z[2p + 1] = sqrt(-2 ln u1) * (cos, sin)(2 pi u2)       (Box-Muller, in float64)

for p = 0, 1, ...; the vector is the first `noise_dim` values, as float32.
"""

import numpy as np

MIX_CONSTANTS = (0x7FEB352D, 0x846CA68B)
COUNTER_KEY = 0x9E3779B9
MASK_32 = 0xFFFFFFFF


def image_seeds(seed, count):
    """The seeds of a caption's `count` images for `seed`: `seed, seed + 1, ...`."""
    return [int(seed) + k for k in range(count)]


def _mix_numpy(x):
    x = x ^ (x >> np.uint64(16))
    x = (x * np.uint64(MIX_CONSTANTS[0])) & np.uint64(MASK_32)
    x = x ^ (x >> np.uint64(15))
    x = (x * np.uint64(MIX_CONSTANTS[1])) & np.uint64(MASK_32)
    return x ^ (x >> np.uint64(16))


def _box_muller(first, second, math):
    """The two float64 normals `([B, P], [B, P])` of each pair, from the top 24 bits `[B, P]` of
    its two words (`math`: numpy, or `tf.math`)."""
    radius = math.sqrt(-2.0 * math.log((first + 1.0) / 2.0**24))
    angle = 2.0 * np.pi * second / 2.0**24
    return radius * math.cos(angle), radius * math.sin(angle)


def seed_noise(seeds, noise_dim):
    """float32 `[B, noise_dim]`: row i is the noise of `seeds[i]` (numpy; no TensorFlow)."""
    seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
    as_unsigned = seeds.astype(np.uint64)  # two's complement
    lo = (as_unsigned & np.uint64(MASK_32))[:, None]
    hi = (as_unsigned >> np.uint64(32))[:, None]
    pairs = (noise_dim + 1) // 2
    counters = np.arange(2 * pairs, dtype=np.uint64)[None, :]
    words = _mix_numpy(_mix_numpy(_mix_numpy(counters ^ np.uint64(COUNTER_KEY)) ^ lo) ^ hi)
    top = (words >> np.uint64(8)).astype(np.float64)
    normals = np.stack(_box_muller(top[:, 0::2], top[:, 1::2], np), axis=-1)
    return normals.reshape(len(seeds), 2 * pairs)[:, :noise_dim].astype(np.float32)


def seed_noise_tensor(seeds, noise_dim):
    """`seed_noise` as TensorFlow graph ops (core ops only, for SavedModels): int64 `[B]` -> float32 `[B, noise_dim]`."""
    import tensorflow as tf

    seeds = tf.cast(seeds, tf.int64)
    lo = tf.cast(seeds, tf.uint32)[:, None]  # the cast keeps the low 32 bits
    hi = tf.cast(tf.bitwise.right_shift(seeds, tf.constant(32, tf.int64)), tf.uint32)[:, None]
    pairs = (noise_dim + 1) // 2
    counters = tf.range(2 * pairs, dtype=tf.int64)[None, :]

    def mix(x):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
        x = x * tf.constant(MIX_CONSTANTS[0], tf.uint32)
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
        x = x * tf.constant(MIX_CONSTANTS[1], tf.uint32)
        return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))

    counters = tf.bitwise.bitwise_xor(tf.cast(counters, tf.uint32), tf.constant(COUNTER_KEY, tf.uint32))
    words = mix(tf.bitwise.bitwise_xor(mix(tf.bitwise.bitwise_xor(mix(counters), lo)), hi))
    top = tf.cast(tf.bitwise.right_shift(words, tf.constant(8, tf.uint32)), tf.float64)
    normals = tf.stack(_box_muller(top[:, 0::2], top[:, 1::2], tf.math), axis=-1)
    return tf.cast(tf.reshape(normals, [-1, 2 * pairs])[:, :noise_dim], tf.float32)
