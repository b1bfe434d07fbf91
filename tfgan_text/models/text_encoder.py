"""Text encoders: AttnGAN's word-level bi-RNN and Reed's char-CNN-RNN, with their char ids.

Both encoders map a batch of ids to `{"words": [B, T', E], "sentence": [B, E], "mask": [B, T']}`:
per-step features (for word attention), one caption embedding (both float32, also under mixed
precision), and which steps are real (padding steps have zero features). An empty caption
embeds to the zero vector. Each encoder names the batch key it reads in `input_key`
(`"token_ids"` or `"char_ids"`).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfgan_text.errors import UserError

RNN_LAYERS = {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}

# Reed et al. 2016's alphabet (Zhang et al. 2015's, lower case, plus space): his 70-character
# string lists "-" twice, so it has 69 distinct symbols; the 70th id is for unknown characters.
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+=<>()[]{} "
PAD_ID = 0
UNKNOWN_ID = len(ALPHABET) + 1
CHAR_VOCABULARY_SIZE = len(ALPHABET) + 2
MAX_CHARS = 201


def _ascii_to_id():
    """Lookup table from an ASCII code point to its char id (upper case folds to lower case)."""
    table = np.full(128, UNKNOWN_ID, dtype=np.int32)
    for index, char in enumerate(ALPHABET, start=1):
        table[ord(char)] = index
        table[ord(char.upper())] = index
    return table


def char_ids(texts, length=MAX_CHARS):
    """Encodes UTF-8 strings as char ids for `CharCNNRNNEncoder`, in-graph (usable in `tf.data`).

    Letters are folded to lower case; characters outside `ALPHABET` (any non-ASCII, and bytes
    that are not valid UTF-8) get `UNKNOWN_ID`; the result is truncated or padded with `PAD_ID`
    to `length` characters, so an empty string gives a row of padding.

    Args:
        texts: string tensor, scalar or `[B]`.
        length: int, the number of characters kept (Reed et al.: 201).

    Returns:
        int32 tensor `[length]` or `[B, length]`.

    Example:
        >>> char_ids(["A red circle."], length=8)  # [[1, 69, 18, 5, 4, 69, 3, 9]]
    """
    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    scalar = texts.shape.rank == 0
    if scalar:
        texts = texts[tf.newaxis]
    codepoints = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")
    table = tf.constant(_ascii_to_id())
    ids = tf.ragged.map_flat_values(
        lambda points: tf.where(
            points < 128, tf.gather(table, tf.clip_by_value(points, 0, 127)), UNKNOWN_ID
        ),
        codepoints,
    )
    ids = ids.to_tensor(default_value=PAD_ID, shape=[None, length])
    return ids[0] if scalar else ids


def _masked_mean(values, mask):
    """Mean of `values` [B, T, D] over the steps where `mask` [B, T] is true; zeros where none is."""
    weights = ops.cast(mask, values.dtype)[..., None]
    total = ops.sum(values * weights, axis=1)
    count = ops.sum(weights, axis=1)
    return ops.divide_no_nan(total, count)


def _rnn_mask(mask):
    """The mask given to the RNN: an empty row keeps its first step, since cuDNN rejects
    zero-length sequences (tensorflow#33148); the caller zeroes what that row yields."""
    first_step = ops.arange(ops.shape(mask)[1]) == 0
    empty = ops.logical_not(ops.any(mask, axis=1, keepdims=True))
    return ops.logical_or(mask, ops.logical_and(empty, first_step[None, :]))


def _outputs(words, sentence, mask):
    """An encoder's outputs, the features in float32 whatever the layers compute in (mixed
    precision): they enter losses, other networks and exports."""
    return {"words": ops.cast(words, "float32"), "sentence": ops.cast(sentence, "float32"), "mask": mask}


def _check_rnn_type(rnn_type, allowed):
    if rnn_type not in allowed:
        raise UserError(f"rnn_type must be one of {', '.join(allowed)}; got {rnn_type!r}")


@keras.saving.register_keras_serializable(package="tfgan_text")
class WordRNNEncoder(keras.Model):
    """AttnGAN's text encoder: word embeddings and a bidirectional RNN (Xu et al. 2018).

    Token id 0 is padding and is masked. Word features are the concatenated forward and
    backward outputs at each step; the sentence embedding concatenates the two final states.

    Args:
        vocabulary_size: int, number of token ids (id 0 is padding).
        embedding_dim: int, width of the word vectors (AttnGAN: 300).
        hidden_dim: int, even, width E of word and sentence features; each direction has
            `hidden_dim // 2` units (AttnGAN: 256).
        rnn_type: str, `"lstm"` (AttnGAN) or `"gru"`.
        dropout: float, dropout rate on the word vectors (AttnGAN: 0.5).
        embedding_matrix: optional float array `[vocabulary_size, embedding_dim]` to start the
            word vectors from (e.g. GloVe rows in vocabulary order). It is an initial value, not
            configuration: it is left out of `get_config`, and the trained vectors travel with the
            saved weights.
        embedding_trainable: bool, whether the word vectors are trained.
        **kwargs: passed to `keras.Model`.

    Example:
        >>> encoder = WordRNNEncoder(vocabulary_size=100, embedding_dim=32, hidden_dim=64)
        >>> out = encoder(np.array([[5, 9, 2, 0]]))  # out["words"] [1, 4, 64], out["sentence"] [1, 64]
    """

    input_key = "token_ids"

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=300,
        hidden_dim=256,
        rnn_type="lstm",
        dropout=0.0,
        embedding_matrix=None,
        embedding_trainable=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_rnn_type(rnn_type, ("lstm", "gru"))
        if hidden_dim % 2:
            raise UserError(f"hidden_dim must be even (it is split between two directions); got {hidden_dim}")
        weights = None
        if embedding_matrix is not None:
            embedding_matrix = np.asarray(embedding_matrix, dtype="float32")
            if embedding_matrix.shape != (vocabulary_size, embedding_dim):
                raise UserError(
                    f"embedding_matrix has shape {embedding_matrix.shape}, "
                    f"expected ({vocabulary_size}, {embedding_dim})"
                )
            weights = [embedding_matrix]
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.rnn_type = rnn_type
        self.dropout = dropout
        self.embedding_trainable = embedding_trainable
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, weights=weights, trainable=embedding_trainable, name="embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        rnn = RNN_LAYERS[rnn_type](hidden_dim // 2, return_sequences=True, return_state=True)
        self.rnn = keras.layers.Bidirectional(rnn, name="rnn")

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.rnn.build(tuple(input_shape) + (self.embedding_dim,))
        self.built = True

    def call(self, token_ids, training=False):
        mask = ops.not_equal(token_ids, 0)
        vectors = self.embedding_dropout(self.embedding(token_ids), training=training)
        outputs, *states = self.rnn(vectors, mask=_rnn_mask(mask), training=training)
        # LSTM states are (h, c) per direction, GRU states (h,): take each direction's h.
        forward_h, backward_h = states[0], states[len(states) // 2]
        has_words = ops.cast(ops.any(mask, axis=1, keepdims=True), outputs.dtype)
        words = outputs * ops.cast(mask, outputs.dtype)[..., None]
        sentence = ops.concatenate([forward_h, backward_h], axis=-1) * has_words
        return _outputs(words, sentence, mask)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "rnn_type": self.rnn_type,
                "dropout": self.dropout,
                "embedding_trainable": self.embedding_trainable,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfgan_text")
class CharCNNRNNEncoder(keras.Model):
    """Reed et al.'s char-CNN-RNN text encoder (Reed et al. CVPR 2016, used by GAN-INT-CLS).

    One-hot characters -> three temporal convolutions (kernel 4, ReLU), each followed by max
    pooling (window 3, strides 3, 3, 2: 201 characters give 8 steps) -> an RNN over those steps
    -> a linear layer to E. Word features are the linear layer applied to each RNN output; the
    sentence embedding is the linear layer applied to their mean, as in Reed's code. Steps
    whose receptive field holds only padding are masked, so trailing padding does not change
    the result. Inputs need at least 66 characters (use `char_ids`, 201 by default).

    Args:
        embedding_dim: int, width E of the embedding (Reed: 1024).
        conv_filters: tuple of 3 ints, widths of the convolutions; the RNN has as many units
            as the last (Reed: (384, 512, 256); the default is lighter, for CPUs).
        rnn_type: str, `"simple"` (Reed's ReLU RNN), `"lstm"` or `"gru"`.
        dropout: float, dropout rate before the linear layer.
        **kwargs: passed to `keras.Model`.

    Example:
        >>> encoder = CharCNNRNNEncoder(embedding_dim=64, conv_filters=(32, 32, 32))
        >>> out = encoder(char_ids(["a small red circle"]))  # words [1, 8, 64], sentence [1, 64]
    """

    input_key = "char_ids"
    kernel_size = 4
    pool_size = 3
    pool_strides = (3, 3, 2)

    def __init__(self, embedding_dim=256, conv_filters=(128, 256, 256), rnn_type="simple", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        _check_rnn_type(rnn_type, tuple(RNN_LAYERS))
        if len(conv_filters) != 3:
            raise UserError(f"conv_filters must have 3 widths; got {conv_filters!r}")
        self.embedding_dim = embedding_dim
        self.conv_filters = tuple(conv_filters)
        self.rnn_type = rnn_type
        self.dropout = dropout
        self.convs = [
            keras.layers.Conv1D(filters, self.kernel_size, activation="relu", name=f"conv_{i}")
            for i, filters in enumerate(self.conv_filters)
        ]
        rnn_options = {"activation": "relu"} if rnn_type == "simple" else {}
        self.rnn = RNN_LAYERS[rnn_type](self.conv_filters[-1], return_sequences=True, name="rnn", **rnn_options)
        self.projection_dropout = keras.layers.Dropout(dropout, name="projection_dropout")
        self.projection = keras.layers.Dense(embedding_dim, name="projection")

    def build(self, input_shape):
        batch, steps = input_shape
        width = CHAR_VOCABULARY_SIZE - 1
        for conv, strides in zip(self.convs, self.pool_strides):
            conv.build((batch, steps, width))
            width = conv.filters
            if steps is not None:
                steps = (steps - self.kernel_size + 1 - self.pool_size) // strides + 1
        self.rnn.build((batch, steps, width))
        self.projection.build((batch, width))
        self.built = True

    def call(self, char_ids, training=False):
        # One-hot without a column for padding, so padding is a zero vector as in Reed's code.
        x = ops.one_hot(char_ids, CHAR_VOCABULARY_SIZE)[..., 1:]
        mask = ops.cast(ops.not_equal(char_ids, PAD_ID), x.dtype)[..., None]
        for conv, strides in zip(self.convs, self.pool_strides):
            x = conv(x)
            mask = ops.max_pool(mask, self.kernel_size, strides=1, padding="valid")
            x = ops.max_pool(x, self.pool_size, strides=strides, padding="valid")
            mask = ops.max_pool(mask, self.pool_size, strides=strides, padding="valid")
        mask = ops.greater(mask[..., 0], 0)
        hidden = self.rnn(x, mask=_rnn_mask(mask), training=training)
        words = self.projection(self.projection_dropout(hidden, training=training))
        words = words * ops.cast(mask, words.dtype)[..., None]
        has_chars = ops.cast(ops.any(mask, axis=1, keepdims=True), words.dtype)
        mean = _masked_mean(hidden, mask)
        sentence = self.projection(self.projection_dropout(mean, training=training)) * has_chars
        return _outputs(words, sentence, mask)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "conv_filters": self.conv_filters,
                "rnn_type": self.rnn_type,
                "dropout": self.dropout,
            }
        )
        return config
