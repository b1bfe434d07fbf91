"""In-graph caption decoding for `Captioner`: greedy search, seeded sampling and beam search.

Every function takes `(captioner, features, ...)`, with `features = captioner.encode_images(images)`,
and returns `(token_ids, log_prob)`:

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
meaning to `Tokenizer.detokenize`. No other token is masked (`<unk>` can be produced). Greedy
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
    return tf.reduce_any(tf.one_hot([PAD_ID, START_ID], vocabulary_size, on_value=True, off_value=False, dtype=tf.bool), 0)


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
        features: float `[B, F]`, `captioner.encode_images(images)`.
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
    features = tf.convert_to_tensor(features)
    batch = tf.shape(features)[0]
    columns = tf.range(steps)

    def keep_going(t, *_):
        return t < steps

    def body(t, previous, state, token_ids, log_prob, finished):
        logits, new_state = captioner.step(previous, state, training=False)
        log_probs = _log_probs(logits)
        token = tf.argmax(_mask(log_probs, forbidden), axis=-1, output_type=tf.int64)
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
