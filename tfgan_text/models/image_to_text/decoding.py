"""In-graph caption decoding for `Captioner`: greedy search, seeded sampling and beam search.

Every function takes `(captioner, features, ...)`, with `features = captioner.encode_images(images)`,
and returns `(token_ids, log_prob)` (`beam_search_beams` also gives every beam and its score):

- `token_ids`: int64 `[B, max_length - 1]`, the generated tokens without `<start>`, ending with
  `<end>` where one was produced (a row without `<end>` ran out of room), then `PAD_ID` (0).
- `log_prob`: float32 `[B]`, the sum of the log-probabilities of the generated tokens,
  `<end>` included.

Decoding starts from `<start>` and runs one `tf.while_loop` (the decoder step is traced once,
so graphs stay small and trace fast) of at most `max_length - 1` steps, leaving it early when
every row has finished. Only core TF ops are used, so the functions can sit in SavedModel
signatures served by TF Serving; they run eagerly too. The batch size may be unknown.

Masking: `PAD_ID` and `START_ID` are never generated (their scores are set to -inf before a
token is chosen), since a generated pad would cut the caption and a generated `<start>` has no
meaning to `Tokenizer.detokenize`. Nothing else is masked: `<unk>` can be produced, and no
rule is needed against a `<start>` mid-caption since `<start>` is never generated. Greedy
and beam search report the model's own log-probabilities (log-softmax over the whole
vocabulary, as teacher-forced scoring with `captioner.sequence_logits` gives them); `sample`
reports those of the distribution it drew from (see there).
"""

import tensorflow as tf

from tfgan_text.errors import UserError
from tfgan_text.text.vocabulary import END_ID, PAD_ID, START_ID

_NEG_INF = float("-inf")


def _num_steps(captioner, max_length):
    """Python int: generated tokens at most, `max_length - 1` (`max_length` counts `<start>`)."""
    max_length = captioner.max_length if max_length is None else max_length
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise UserError(f"max_length must be an integer >= 2, not {max_length!r}")
    return max_length - 1


def _forbidden(vocabulary_size):
    """bool `[V]`: the ids never generated (`PAD_ID`, `START_ID`)."""
    return _one_hot_any(tf.constant([PAD_ID, START_ID], tf.int64), vocabulary_size)


def _one_hot_any(ids, depth):
    """bool `[..., depth]`: True at the ids listed along the last axis of `ids` `[..., N]`."""
    return tf.reduce_any(tf.one_hot(ids, depth, on_value=True, off_value=False, dtype=tf.bool), axis=-2)


def _mask(scores, forbidden):
    """`scores` `[..., V]` with the forbidden ids set to -inf."""
    return tf.where(forbidden, tf.constant(_NEG_INF, scores.dtype), scores)


def _log_probs(logits):
    """float32 log-softmax over the whole vocabulary (the model's own distribution)."""
    return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)


def greedy_search(captioner, features, max_length=None):
    """Greedy decoding: the most probable allowed token at every step.

    Args:
        captioner: a `Captioner` (or any model with `initial_state`, `step`, `vocabulary_size`,
            `max_length`).
        features: float `[B, ...]`, `captioner.encode_images(images)`.
        max_length: int or None (the captioner's), ids per caption with `<start>` and `<end>`:
            at most `max_length - 1` tokens are generated.

    Returns:
        `(token_ids, log_prob)`: int64 `[B, max_length - 1]` (no `<start>`; `<end>` where
        produced, then 0) and float32 `[B]`, the model's log-probability of those tokens
        (`<end>` included). A row stops, and its `log_prob` stops growing, at `<end>`.

    Example:
        tokens, log_prob = greedy_search(captioner, captioner.encode_images(images))
        captions = tokenizer.detokenize(tokens)
    """
    steps = _num_steps(captioner, max_length)
    forbidden = _forbidden(captioner.vocabulary_size)

    def choose(t, logits):
        log_probs = _log_probs(logits)
        return tf.argmax(_mask(log_probs, forbidden), axis=-1, output_type=tf.int64), log_probs

    return _decode_loop(captioner, features, steps, choose)


def _decode_loop(captioner, features, steps, choose):
    """The loop every one-hypothesis decoder shares: from `<start>`, `choose(t, logits)` gives
    each step's tokens int64 `[B]` and the log-probabilities `[B, V]` they are scored by;
    finished rows get `PAD_ID` and stop accumulating `log_prob`; the loop leaves early once
    every row has produced `<end>`. Returns `(token_ids [B, steps], log_prob [B])`."""
    features = tf.convert_to_tensor(features)
    batch = tf.shape(features)[0]
    columns = tf.range(steps)

    def keep_going(t, *_):
        return t < steps

    def body(t, previous, state, token_ids, log_prob, finished):
        logits, new_state = captioner.step(previous, state, features, training=False)
        token, log_probs = choose(t, logits)
        token = tf.where(finished, tf.constant(PAD_ID, tf.int64), token)
        gained = tf.gather(log_probs, token, batch_dims=1)
        log_prob += tf.where(finished, tf.zeros_like(gained), gained)
        token_ids = tf.where(tf.equal(columns, t)[None, :], token[:, None], token_ids)
        finished = tf.logical_or(finished, tf.equal(token, END_ID))
        # Early exit once every row is done: remaining columns stay PAD_ID.
        t = tf.where(tf.reduce_all(finished), steps, t + 1)
        return t, token, new_state, token_ids, log_prob, finished

    initial = (
        tf.constant(0),
        tf.fill([batch], tf.constant(START_ID, tf.int64)),
        captioner.initial_state(features),
        tf.zeros([batch, steps], tf.int64),
        tf.zeros([batch], tf.float32),
        tf.zeros([batch], tf.bool),
    )
    _, _, _, token_ids, log_prob, _ = tf.while_loop(keep_going, body, initial, maximum_iterations=steps)
    return token_ids, log_prob


# The second half of each row's stateless seed, so that `sample` draws a stream of its own.
_SAMPLE_SALT = 0x5EED


def _row_uniforms(seeds, steps):
    """float32 `[B, steps]` in [0, 1): row i from Philox seeded by `(seeds[i], salt)` only."""
    seeds = tf.cast(seeds, tf.int64)
    salt = tf.constant(_SAMPLE_SALT, tf.int64)
    return tf.map_fn(
        lambda seed: tf.random.stateless_uniform([steps], seed=tf.stack([seed, salt]), alg="philox"),
        seeds,
        fn_output_signature=tf.TensorSpec([steps], tf.float32),
    )


def sample(captioner, features, seeds, temperature=1.0, top_k=0, max_length=None):
    """Ancestral sampling with temperature and top-k truncation, reproducible per row.

    Each step draws from `softmax(logits / temperature)` restricted to the `top_k` most
    probable allowed tokens (`top_k=0`: all of them; `PAD_ID` and `START_ID` are never
    drawn). The draw is by inverse CDF from one uniform per row and step; row i's uniforms
    come from a stateless Philox stream seeded by `(seeds[i], constant)`, so a seed gives the
    same caption whatever else is in the batch, on every machine (up to float round-off in the
    model). Small `temperature` approaches greedy search, and so does `top_k=1`.

    `log_prob` is the log-probability under the distribution actually sampled from (tempered,
    truncated, renormalised over the allowed tokens), as a policy-gradient estimator needs; at
    `temperature=1, top_k=0` it differs from the model's own log-probability (what greedy and
    beam search report) only by the mass the model gives to pad and `<start>`.

    Args:
        captioner: a `Captioner`.
        features: float `[B, ...]`, `captioner.encode_images(images)`.
        seeds: int `[B]`, one seed per row.
        temperature: float > 0 (Python number or scalar tensor).
        top_k: Python int >= 0; 0 (or >= the vocabulary size) means no truncation.
        max_length: int or None (the captioner's), ids per caption with `<start>` and `<end>`.

    Returns:
        `(token_ids, log_prob)`: int64 `[B, max_length - 1]` and float32 `[B]`, as
        `greedy_search`.

    Example:
        tokens, log_prob = sample(captioner, features, seeds=tf.constant([0, 1, 2], tf.int64))
    """
    steps = _num_steps(captioner, max_length)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise UserError(f"top_k must be an integer >= 0, not {top_k!r}")
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise UserError(f"temperature must be > 0, not {temperature!r}")
    vocabulary_size = captioner.vocabulary_size
    top_k = top_k if 0 < top_k < vocabulary_size else 0
    forbidden = _forbidden(vocabulary_size)
    temperature = tf.cast(temperature, tf.float32)
    uniforms = _row_uniforms(seeds, steps)

    def choose(t, logits):
        scores = _mask(tf.cast(logits, tf.float32) / temperature, forbidden)
        if top_k:
            kept = _one_hot_any(tf.math.top_k(scores, top_k).indices, vocabulary_size)
            scores = tf.where(kept, scores, _NEG_INF)
        log_probs = tf.nn.log_softmax(scores, axis=-1)
        return _inverse_cdf(tf.exp(log_probs), tf.gather(uniforms, t, axis=1)), log_probs

    return _decode_loop(captioner, features, steps, choose)


def _inverse_cdf(probs, uniform):
    """int64 `[B]`: the first id whose cumulative probability exceeds `uniform` `[B]` (scaled by
    the total), never an id of probability 0 (round-off falls back to the most probable id)."""
    cdf = tf.cumsum(probs, axis=-1)
    threshold = uniform[:, None] * cdf[:, -1:]
    token = tf.reduce_sum(tf.cast(cdf <= threshold, tf.int64), axis=-1)
    token = tf.minimum(token, tf.cast(tf.shape(probs)[-1] - 1, tf.int64))
    valid = tf.gather(probs, token, batch_dims=1) > 0
    return tf.where(valid, token, tf.argmax(probs, axis=-1, output_type=tf.int64))


def beam_search(captioner, features, beam_width=3, max_length=None, length_normalization=0.0):
    """Beam search: the best of `beam_width` hypotheses kept per image.

    See `beam_search_beams`, of which this returns the first (best) beam.

    Returns:
        `(token_ids, log_prob)`: int64 `[B, max_length - 1]` and float32 `[B]` (the raw
        log-probability, not the length-normalised score), as `greedy_search`.

    Example:
        tokens, log_prob = beam_search(captioner, features, beam_width=3, length_normalization=0.7)
    """
    token_ids, log_prob, _ = beam_search_beams(captioner, features, beam_width, max_length, length_normalization)
    return token_ids[:, 0], log_prob[:, 0]


def beam_search_beams(captioner, features, beam_width=3, max_length=None, length_normalization=0.0):
    """Beam search returning every beam, best first.

    At every step each live hypothesis is extended by every allowed token (`PAD_ID` and
    `START_ID` never) and the `beam_width` best candidates are kept; a hypothesis ended by
    `<end>` stays in the beam unchanged (padded) and competes with the live ones for the
    `beam_width` places. Candidates are ranked, and the final choice is made, by
    `log_prob / length ** length_normalization`, where `length` counts the generated tokens
    with `<end>` (a hypothesis that never ended has `max_length - 1`). This is the length
    penalty of Wu et al. 2016 (GNMT, arXiv:1609.08144) in the plain form `len ** alpha`
    rather than GNMT's `((5 + len) / 6) ** alpha`: alpha 0 ranks by raw log-probability
    (favouring short captions), alpha 1 by the mean log-probability per token. Live
    hypotheses of one step all have the same length, so alpha only matters between finished
    and live ones. The search stops early once every beam has ended. `beam_width=1` is greedy
    search.

    Args:
        captioner: a `Captioner`.
        features: float `[B, ...]`, `captioner.encode_images(images)`.
        beam_width: Python int K >= 1.
        max_length: int or None (the captioner's), ids per caption with `<start>` and `<end>`.
        length_normalization: float alpha >= 0 (Python number or scalar tensor).

    Returns:
        `(token_ids, log_prob, score)`: int64 `[B, K, max_length - 1]` (formatted as
        `greedy_search`'s rows), float32 `[B, K]` raw log-probabilities and float32 `[B, K]`
        length-normalised scores, sorted by score, best first. A beam that never held a
        hypothesis (fewer than K exist, e.g. at short lengths) has log_prob and score -inf
        and meaningless tokens.
    """
    steps = _num_steps(captioner, max_length)
    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise UserError(f"beam_width must be an integer >= 1, not {beam_width!r}")
    if isinstance(length_normalization, (int, float)) and not length_normalization >= 0:
        raise UserError(f"length_normalization must be >= 0, not {length_normalization!r}")
    width = beam_width
    vocabulary_size = captioner.vocabulary_size
    alpha = tf.cast(length_normalization, tf.float32)
    forbidden = _forbidden(vocabulary_size)
    is_pad = tf.equal(tf.range(vocabulary_size, dtype=tf.int64), PAD_ID)
    features = tf.convert_to_tensor(features)
    batch = tf.shape(features)[0]
    columns = tf.range(steps)

    def normalise(log_prob, length):
        return log_prob / tf.pow(tf.cast(length, tf.float32), alpha)

    def keep_going(t, *_):
        return t < steps

    def body(t, previous, state, token_ids, log_prob, lengths, finished):
        logits, new_state = captioner.step(previous, state, beam_features, training=False)
        log_probs = tf.reshape(_mask(_log_probs(logits), forbidden), [batch, width, vocabulary_size])
        # Live beams: every extension; ended beams: only a pad, at their own score and length.
        extended = log_prob[:, :, None] + log_probs
        carried = tf.where(is_pad, log_prob[:, :, None], _NEG_INF)
        candidate = tf.where(finished[:, :, None], carried, extended)
        candidate_length = tf.where(finished, lengths, t + 1)[:, :, None]
        flat_scores = tf.reshape(normalise(candidate, candidate_length), [batch, width * vocabulary_size])
        chosen = tf.math.top_k(flat_scores, width).indices  # [B, K] int32
        parent = chosen // vocabulary_size
        token = tf.cast(chosen % vocabulary_size, tf.int64)
        log_prob = tf.gather(tf.reshape(candidate, [batch, width * vocabulary_size]), chosen, batch_dims=1)
        parent_finished = tf.gather(finished, parent, batch_dims=1)
        lengths = tf.where(parent_finished, tf.gather(lengths, parent, batch_dims=1), t + 1)
        finished = tf.logical_or(parent_finished, tf.equal(token, END_ID))
        token_ids = tf.gather(token_ids, parent, batch_dims=1)
        token_ids = tf.where(tf.equal(columns, t)[None, None, :], token[:, :, None], token_ids)
        rows = tf.reshape(parent + tf.range(batch)[:, None] * width, [-1])
        new_state = tf.nest.map_structure(lambda s: tf.gather(s, rows), new_state)
        done = tf.reduce_all(tf.logical_or(finished, tf.math.is_inf(log_prob)))
        t = tf.where(done, steps, t + 1)
        return t, tf.reshape(token, [-1]), new_state, token_ids, log_prob, lengths, finished

    state = tf.nest.map_structure(lambda s: tf.repeat(s, width, axis=0), captioner.initial_state(features))
    beam_features = tf.repeat(features, width, axis=0)  # a beam's image never changes: no reordering
    # Only the first beam is alive at the start, so the first step does not pick one token K times.
    first = tf.concat([tf.zeros([1]), tf.fill([width - 1], _NEG_INF)], axis=0)
    initial = (
        tf.constant(0),
        tf.fill([batch * width], tf.constant(START_ID, tf.int64)),
        state,
        tf.zeros([batch, width, steps], tf.int64),
        tf.tile(first[None, :], [batch, 1]),
        tf.zeros([batch, width], tf.int32),
        tf.zeros([batch, width], tf.bool),
    )
    _, _, _, token_ids, log_prob, lengths, _ = tf.while_loop(
        keep_going, body, initial, maximum_iterations=steps
    )
    score = normalise(log_prob, tf.maximum(lengths, 1))
    order = tf.math.top_k(score, width).indices
    return (
        tf.gather(token_ids, order, batch_dims=1),
        tf.gather(log_prob, order, batch_dims=1),
        tf.gather(score, order, batch_dims=1),
    )
