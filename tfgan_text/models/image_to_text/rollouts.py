"""Training-time caption sampling and Monte Carlo rollout rewards for SeqGAN-style training.

SeqGAN (Yu et al. 2017) rewards the t-th token of a sampled caption with `Q_t`, the mean over
R Monte Carlo rollouts of the discriminator's probability that the caption is real, each rollout
finishing the prefix `w_1 .. w_t` by sampling from a rollout policy; the last token's reward is
the discriminator's score of the whole caption. Its reference code re-runs the policy from
`<start>` for every (rollout, prefix) pair and calls the discriminator for each: R x (L - 1)
calls and O(R L^2) decoder steps (`naive_rollout_rewards` here, kept as the reference).

`rollout_rewards` gets the same numbers in one batched loop: the decoder state at every prefix
is kept (`sample_captions` records it, or `decoder_states` recomputes it in one teacher-forced
pass), all rollouts of all prefixes continue together as one batch of `(L - 1) * R * B` rows,
and the discriminator scores every completion in one batched computation. Continuation step
k only runs the prefixes that still have tokens to fill (prefix t needs `L - t` steps), so the
loop does `R B L (L - 1) / 2` row-steps instead of the reference's `R B L (L - 1)`. The
discriminator's sentence LSTM is treated the same way (`read_prefixes_once`): it reads each
caption's prefixes once and steps through the continuations inside the rollout loop, then one
batched `match` scores every completion against its image; or, with
`read_prefixes_once=False`, one `score` call reads every completion whole.

Randomness is an explicit argument: uniform noise `[R, P, P, B]` (`P = L - 1`) with named
axes `(rollout, prefix, step, row)`: `noise[r, t - 1, k, b]` draws the k-th continuation token
(caption position `t + k + 1`, 1-based) of rollout r of prefix t of caption b, by inverse-CDF
sampling (`inverse_cdf_sample`). Both implementations read the same entry for the same draw,
so they give the same rewards up to float rounding, and a rollout mixed up with another one
(a scrambled reshape, as TextGAN-PyTorch #62) shows as a mismatch.

Sampling policy: `PAD_ID` and `START_ID` are never generated (their logits are set to -1e9,
so their probability is exactly 0); after `<end>` a caption is padded with `PAD_ID`. A prefix
that already holds `<end>` is therefore its own completion in every rollout, and its reward is
the caption's own score. The log-probabilities of the policy gradient are those of this same
masked distribution (`token_log_probs`).

Layout of the batched rows: `[P, R, B]` flattened prefix-major (`_to_rows` / `_from_rows`,
the only two places rows are flattened and unflattened), so the prefixes still running at
step k are the leading `P - k` of them.
"""

import keras
import tensorflow as tf
from keras import ops

from tfgan_text.text.vocabulary import END_ID, PAD_ID, START_ID

BANNED_IDS = (PAD_ID, START_ID)
_BANNED_LOGIT = -1e9


def policy_logits(logits):
    """float32 `logits [..., V]` with the never-generated ids (`BANNED_IDS`) set to -1e9."""
    logits = ops.cast(logits, "float32")
    vocabulary_size = logits.shape[-1]
    banned = ops.sum(ops.one_hot(ops.array(BANNED_IDS), vocabulary_size), axis=0) > 0
    return ops.where(banned, _BANNED_LOGIT, logits)


def policy_log_probs(logits):
    """float32 `[..., V]`: log-probabilities of the masked policy of `logits [..., V]`."""
    return ops.log_softmax(policy_logits(logits), axis=-1)


def token_log_probs(logits, tokens):
    """float32 `[B, L]`: log-probability of `tokens [B, L]` under the masked policy of `logits [B, L, V]`."""
    log_probs = policy_log_probs(logits)
    tokens = ops.cast(tokens, "int32")
    return ops.sum(log_probs * ops.one_hot(tokens, log_probs.shape[-1]), axis=-1)


def generated_mask(tokens):
    """float32 `[B, L]`: 1 on generated tokens up to and including the first `<end>`, 0 after."""
    tokens = ops.convert_to_tensor(tokens)
    is_end = ops.cast(ops.equal(tokens, END_ID), "int32")
    ends_before = ops.cumsum(is_end, axis=1) - is_end
    return ops.cast(ops.logical_and(ops.not_equal(tokens, PAD_ID), ops.equal(ends_before, 0)), "float32")


def inverse_cdf_sample(logits, uniform):
    """int32 `[N]`: one token per row of `logits [N, V]`, drawn with the uniform `[N]` in [0, 1).

    The token is the first id whose cumulative probability exceeds `uniform * total` (the
    inverse CDF of the masked policy `policy_logits`), so the same uniform and logits give the
    same token wherever they are computed; banned ids (probability 0) are never chosen.
    """
    probs = ops.softmax(policy_logits(logits), axis=-1)
    cdf = ops.cumsum(probs, axis=-1)
    threshold = ops.cast(uniform, "float32")[:, None] * cdf[:, -1:]
    token = ops.sum(ops.cast(cdf <= threshold, "int32"), axis=-1)
    return ops.minimum(token, probs.shape[-1] - 1)


def _finished(previous):
    """bool: the caption has ended (its previous token was `<end>` or padding)."""
    return ops.logical_or(ops.equal(previous, END_ID), ops.equal(previous, PAD_ID))


def _loop(length, body, loop_vars, shape_invariants=None):
    """`tf.while_loop` over `i = 0..length-1` (`body(i, *loop_vars)` -> new loop vars): the step
    is traced once, so graphs stay small and trace fast; eagerly it is a Python loop."""
    outputs = tf.while_loop(
        lambda i, *_: i < length,
        lambda i, *values: (i + 1,) + tuple(body(i, *values)),
        (tf.constant(0),) + tuple(loop_vars),
        shape_invariants=None if shape_invariants is None else (tf.TensorShape([]),) + tuple(shape_invariants),
        maximum_iterations=length,
    )
    return outputs[1:]


def _batch_major(stacked):
    """`[L, B, ...]` (a stacked `TensorArray`) -> `[B, L, ...]`."""
    return ops.moveaxis(stacked, 0, 1)


def sample_captions(policy, features, uniforms, training=False):
    """Samples captions and records the decoder state before each input.

    Args:
        policy: a `Captioner` (`initial_state`, `step`).
        features: float `[B, ...]`, `policy.encode_images(images)`.
        uniforms: float `[L, B]` in [0, 1): `uniforms[i, b]` draws token i + 1 of caption b.
        training: bool, passed to `policy.step`.

    Returns:
        `(tokens, states)`: int32 `[B, L]` (no `<start>`, padded after `<end>`) and `[h, c]`,
        each float `[B, L, H]`: `states[:, i]` is the state in which input i is read (the
        inputs being `<start>, w_1, ..., w_{L-1}`), the one a rollout from prefix `w_1..w_i`
        continues from.
    """
    length = uniforms.shape[0]
    h, c = policy.initial_state(features)
    previous = tf.fill(tf.shape(h)[:1], START_ID)

    def body(i, previous, h, c, tokens, hs, cs):
        hs, cs = hs.write(i, h), cs.write(i, c)
        logits, (h, c) = policy.step(previous, [h, c], features, training=training)
        token = ops.where(_finished(previous), PAD_ID, inverse_cdf_sample(logits, uniforms[i]))
        return token, h, c, tokens.write(i, token), hs, cs

    arrays = tuple(tf.TensorArray(dtype, size=length) for dtype in (tf.int32, h.dtype, h.dtype))  # distinct arrays
    _, _, _, tokens, hs, cs = _loop(length, body, (previous, h, c) + arrays)
    return _batch_major(tokens.stack()), [_batch_major(hs.stack()), _batch_major(cs.stack())]


def greedy_captions(policy, features, length, training=False):
    """int32 `[B, length]`: the most probable allowed token at every step (padded after `<end>`)."""
    h, c = policy.initial_state(features)
    previous = tf.fill(tf.shape(h)[:1], START_ID)

    def body(i, previous, h, c, tokens):
        logits, (h, c) = policy.step(previous, [h, c], features, training=training)
        token = ops.cast(ops.argmax(policy_logits(logits), axis=-1), "int32")
        token = ops.where(_finished(previous), PAD_ID, token)
        return token, h, c, tokens.write(i, token)

    *_, tokens = _loop(length, body, (previous, h, c, tf.TensorArray(tf.int32, size=length)))
    return _batch_major(tokens.stack())


def decoder_states(policy, features, tokens, training=False):
    """`[h, c]`, each `[B, L, H]`: the states `sample_captions` records, for given `tokens [B, L]`.

    One teacher-forced pass of `policy` over `<start>, w_1, ..., w_{L-1}`: what a rollout
    policy other than the sampling one (SeqGAN's lagged copy) continues from.
    """
    tokens = ops.cast(tokens, "int32")
    inputs = ops.moveaxis(ops.pad(tokens[:, :-1], ((0, 0), (1, 0)), constant_values=START_ID), 1, 0)  # [L, B]
    length = tokens.shape[1]
    h, c = policy.initial_state(features)

    def body(i, h, c, hs, cs):
        hs, cs = hs.write(i, h), cs.write(i, c)
        _, (h, c) = policy.step(inputs[i], [h, c], features, training=training)
        return h, c, hs, cs

    arrays = (tf.TensorArray(h.dtype, size=length), tf.TensorArray(h.dtype, size=length))
    *_, hs, cs = _loop(length, body, (h, c) + arrays)
    return [_batch_major(hs.stack()), _batch_major(cs.stack())]


def _to_rows(values):
    """`[P, R, B, ...]` (prefix, rollout, row) -> `[P * R * B, ...]`, prefix-major."""
    shape = ops.shape(values)
    return ops.reshape(values, (shape[0] * shape[1] * shape[2],) + tuple(values.shape[3:]))


def _from_rows(rows, prefixes, rollouts, batch):
    """`[P * R * B, ...]` -> `[P, R, B, ...]`: the inverse of `_to_rows`."""
    return tf.reshape(rows, [prefixes, rollouts, batch] + list(rows.shape[1:]))


def rollout_noise(num_rollouts, length, batch, seed=None):
    """Uniform noise `[R, L - 1, L - 1, B]` for the rollouts: axes (rollout, prefix, step, row)."""
    return keras.random.uniform((num_rollouts, length - 1, length - 1, batch), seed=seed)


def sentence_states(discriminator, tokens, training=False):
    """`[h, c]`, each `[B, L, H_D]`: D's sentence LSTM state after each prefix `w_1..w_{i+1}` of `tokens [B, L]`."""
    tokens = ops.cast(tokens, "int32")
    inputs = ops.moveaxis(tokens, 1, 0)  # [L, B]
    h, c = discriminator.initial_sentence_state(ops.shape(tokens)[0])

    def body(i, h, c, hs, cs):
        h, c = discriminator.sentence_step(inputs[i], [h, c], training=training)
        return h, c, hs.write(i, h), cs.write(i, c)

    arrays = (tf.TensorArray(h.dtype, size=tokens.shape[1]), tf.TensorArray(h.dtype, size=tokens.shape[1]))
    *_, hs, cs = _loop(tokens.shape[1], body, (h, c) + arrays)
    return [_batch_major(hs.stack()), _batch_major(cs.stack())]


def rollout_rewards(
    policy, discriminator, images, tokens, noise, states=None, image_features=None, read_prefixes_once=True,
    policy_features=None,
):
    """Monte Carlo rewards `Q_t` of sampled captions, all rollouts in one batched loop.

    Args:
        policy: the rollout policy, a `Captioner`, run in inference mode.
        discriminator: a `CaptionDiscriminator`, run in inference mode.
        images: float `[B, S, S, 3]`, the images the captions were sampled for.
        tokens: int `[B, L]`, the sampled captions (no `<start>`; padded after `<end>`); L static.
        noise: float `[R, L - 1, L - 1, B]` in [0, 1), axes (rollout, prefix, step, row).
        states: `[h, c]`, each `[B, L, H]`, the policy's state before each input
            (`sample_captions` gives them when `policy` sampled `tokens`), or None to compute
            them with `decoder_states`.
        image_features: float `[B, hidden]`, `discriminator.encode_images(images)`, or None.
        policy_features: `policy.encode_images(images)` (the features `states` were computed
            from), or None to compute them.
        read_prefixes_once: bool. True (default): D's sentence LSTM reads each caption's
            prefixes once (`sentence_states`) and steps through the continuations inside the
            rollout loop (`discriminator.sentence_step`), so it does the rollouts' row-steps
            and no more; then one batched `discriminator.match` scores every completion.
            False: one `discriminator.score` call reads every completion whole (any
            discriminator with `score(image_features, tokens=...)` works); about twice D's work.

    Returns:
        float32 `[B, L]`: `Q_t` for t = 1..L-1 the mean over the R rollouts of D's probability
        of the completion of prefix `w_1..w_t`; `Q_L` D's probability of the caption itself.
    """
    tokens = ops.cast(tokens, "int32")
    length = tokens.shape[1]
    prefixes = length - 1  # P: prefixes t = 1..L-1, index p = t - 1
    rollouts = noise.shape[0]  # R
    batch = ops.shape(tokens)[0]  # B
    if policy_features is None:
        policy_features = policy.encode_images(images, training=False)
    if states is None:
        states = decoder_states(policy, policy_features, tokens)
    if image_features is None:
        image_features = discriminator.encode_images(images, training=False)

    def per_prefix(values):
        """`[B, P, ...]` (a value of each prefix t = 1..P) -> `[P, R, B, ...]`, the same for every rollout."""
        values = ops.moveaxis(values, 1, 0)  # [P, B, ...]: prefix-major
        return ops.broadcast_to(values[:, None], (prefixes, rollouts, batch) + tuple(values.shape[2:]))

    # The policy continues prefix t by reading w_t in the state it was read in (input t).
    h, c = per_prefix(states[0][:, 1:]), per_prefix(states[1][:, 1:])  # [P, R, B, H]
    previous = per_prefix(tokens[:, :-1])  # w_t of prefix t: [P, R, B]
    if read_prefixes_once:  # D's sentence state after w_1..w_t, and after the whole caption
        d_h, d_c = sentence_states(discriminator, tokens)
        own_sentence = d_h[:, -1]
        d_h, d_c = per_prefix(d_h[:, :-1]), per_prefix(d_c[:, :-1])  # [P, R, B, H_D]
    else:
        d_h = d_c = ops.zeros((prefixes, rollouts, batch, 1))  # unused

    def body(step, previous, h, c, d_h, d_c, generated, sentences):
        """Continuation step k: the prefixes t <= L - 1 - k still have a token to fill."""
        running = prefixes - step
        h, c, previous, d_h, d_c = (x[:running] for x in (h, c, previous, d_h, d_c))
        # the rows are `running * R` groups of B, image innermost: each reads its image's features
        logits, (h, c) = policy.step(_to_rows(previous), [_to_rows(h), _to_rows(c)], policy_features, training=False)
        uniform = ops.moveaxis(noise[:, :running, step, :], 1, 0)  # [running, R, B]
        token = inverse_cdf_sample(logits, _to_rows(uniform))
        token = ops.where(_finished(_to_rows(previous)), PAD_ID, token)
        if read_prefixes_once:
            d_h, d_c = discriminator.sentence_step(token, [_to_rows(d_h), _to_rows(d_c)], training=False)
            d_h, d_c = _from_rows(d_h, running, rollouts, batch), _from_rows(d_c, running, rollouts, batch)
            # prefix t = L - 1 - k has now filled its last position: its completion is read
            sentences = sentences.write(step, d_h[running - 1])
        token = _from_rows(token, running, rollouts, batch)
        h, c = _from_rows(h, running, rollouts, batch), _from_rows(c, running, rollouts, batch)
        generated = generated.write(step, tf.pad(token, [[0, step], [0, 0], [0, 0]]))  # ended prefixes: 0
        return token, h, c, d_h, d_c, generated, sentences

    running_shape = tf.TensorShape([None, rollouts, None])
    *_, generated, sentences = _loop(
        prefixes,
        body,
        (
            previous,
            h,
            c,
            d_h,
            d_c,
            tf.TensorArray(tf.int32, size=prefixes, element_shape=[prefixes, rollouts, None]),
            tf.TensorArray(d_h.dtype, size=prefixes, element_shape=[rollouts, None, d_h.shape[-1]]),
        ),
        (
            running_shape,
            running_shape.concatenate(h.shape[-1:]),
            running_shape.concatenate(h.shape[-1:]),
            running_shape.concatenate(d_h.shape[-1:]),
            running_shape.concatenate(d_h.shape[-1:]),
            tf.TensorShape(None),
            tf.TensorShape(None),
        ),
    )
    features = ops.broadcast_to(image_features[None, None], (prefixes, rollouts, batch, image_features.shape[-1]))
    if read_prefixes_once:
        # sentences[k] is prefix t = L - 1 - k: reversed, prefix-major
        completions = ops.flip(sentences.stack(), axis=0)  # [P, R, B, H_D]
        logits = discriminator.match(
            ops.concatenate([_to_rows(features), image_features], axis=0),
            ops.concatenate([_to_rows(completions), own_sentence], axis=0),
        )
    else:
        generated = ops.moveaxis(generated.stack(), 0, -1)  # [P, R, B, K = P]: step k of each prefix
        # completion of prefix t at caption position i (0-based): w_{i+1} for i < t, else the
        # continuation token k = i - t.
        position = ops.arange(length)[None, :]
        prefix_length = ops.arange(1, prefixes + 1)[:, None]
        step_index = ops.clip(position - prefix_length, 0, prefixes - 1)  # [P, L]
        continued = tf.gather(generated, step_index, axis=3, batch_dims=1)  # [P, R, B, L]
        in_prefix = (position < prefix_length)[:, None, None, :]
        completions = ops.where(in_prefix, tokens[None, None], continued)  # [P, R, B, L]
        # One discriminator call: every completion, then the sampled captions themselves.
        logits = discriminator.score(
            ops.concatenate([_to_rows(features), image_features], axis=0),
            tokens=ops.concatenate([_to_rows(completions), tokens], axis=0),
            training=False,
        )
    probabilities = ops.sigmoid(ops.cast(logits, "float32"))
    split = prefixes * rollouts * batch
    per_rollout = _from_rows(probabilities[:split], prefixes, rollouts, batch)  # [P, R, B]
    rewards = ops.transpose(ops.mean(per_rollout, axis=1))  # [B, P]
    return ops.concatenate([rewards, probabilities[split:, None]], axis=1)


def naive_single_rollout(
    policy, discriminator, images, tokens, noise, prefix_length, features=None, image_features=None
):
    """float32 `[B]`: D's probability of one rollout of every caption from prefix `w_1..w_t`.

    SeqGAN's reference way: the policy re-reads the prefix from `<start>`, samples the rest
    with `noise [L - 1, B]` (`noise[k]` the k-th continuation token, as `rollout_rewards` reads
    it), and D scores the completion in a call of its own. `prefix_length` is a Python int t in
    1..L-1. The image encoders run in every call unless their outputs are given: `features`
    (`policy.encode_images(images)`) and `image_features` (`discriminator.encode_images(images)`).
    """
    tokens = ops.cast(tokens, "int32")
    if features is None:
        features = policy.encode_images(images, training=False)
    state = policy.initial_state(features)
    previous = ops.full((ops.shape(tokens)[0],), START_ID, "int32")
    completion = []
    for i in range(tokens.shape[1]):
        logits, state = policy.step(previous, state, features, training=False)
        if i < prefix_length:
            token = tokens[:, i]
        else:
            token = inverse_cdf_sample(logits, noise[i - prefix_length])
            token = ops.where(_finished(previous), PAD_ID, token)
        completion.append(token)
        previous = token
    completion = ops.stack(completion, axis=1)
    if image_features is None:
        logits = discriminator({"image": images, "tokens": completion}, training=False)
    else:
        logits = discriminator.score(image_features, tokens=completion, training=False)
    return ops.sigmoid(ops.cast(logits, "float32"))


def naive_rollout_rewards(policy, discriminator, images, tokens, noise, single=None, share_image_features=False):
    """The rewards of `rollout_rewards`, computed as SeqGAN's reference code does (slow).

    R x (L - 1) separate calls of `single` (default `naive_single_rollout`; pass a
    `tf.function` of it to compile each call), each re-running its prefix from scratch and
    calling D, plus one D call on the captions themselves. Same arguments and result as
    `rollout_rewards` (without `states`): the reference it is tested and benchmarked against.
    `share_image_features=True` runs the two image encoders once instead of in every call (a
    kinder reference for a benchmark).
    """
    single = single or naive_single_rollout
    tokens = ops.cast(tokens, "int32")
    rollouts, prefixes = noise.shape[0], noise.shape[1]
    shared = {}
    if share_image_features:
        shared = {
            "features": policy.encode_images(images, training=False),
            "image_features": discriminator.encode_images(images, training=False),
        }
    rewards = []
    for t in range(1, prefixes + 1):
        scores = [single(policy, discriminator, images, tokens, noise[r, t - 1], t, **shared) for r in range(rollouts)]
        rewards.append(ops.mean(ops.stack(scores, axis=0), axis=0))
    final = ops.sigmoid(ops.cast(discriminator({"image": images, "tokens": tokens}, training=False), "float32"))
    return ops.stack(rewards + [final], axis=1)
