"""In-graph tokenizer: raw UTF-8 captions to padded ids with core TF and TF Text ops.

It runs in `tf.data` pipelines and in SavedModel signatures (TF Serving links TF Text's
`ops_lib`): no `py_function`, no `tensorflow_text.keras` layers. Imported by its full path,
`tfgan_text.text.tokenizer`, so that `tfgan_text.text` stays free of TensorFlow.
"""

import os

import numpy as np
import tensorflow as tf
import tensorflow_text

from tfgan_text.text import token_rule
from tfgan_text.file_names import VOCAB_FILE
from tfgan_text.text.vocabulary import (
    END_ID,
    PAD_ID,
    START_ID,
    UNK,
    UNK_ID,
    Vocabulary,
    check_settings,
)

_BOUNDS = np.array(token_rule.BOUNDS, np.int32)


class Tokenizer(tf.Module):
    """Captions (string [B]) to ids (int64 [B, max_length]) inside the graph.

    It follows `tfgan_text.text.token_rule`; `PyTokenizer` gives the same ids in plain Python.
    Unknown tokens get id 1, `<start>` (2) and `<end>` (3) wrap each caption when
    `add_start_end` (a truncated caption keeps both), and rows are padded with 0; a caption
    without tokens (empty, or only spaces) is all padding. When the vocabulary was saved or
    loaded, its lookup tables are initialised from `vocab.txt`, so a SavedModel that tracks
    the tokenizer carries that file as an asset.

    Args:
        vocabulary: a `Vocabulary`, or the directory it was saved in.
        max_length: int, ids per caption; None takes the vocabulary's setting.
        add_start_end: bool, wrap each caption in `<start>` ... `<end>`; None takes the setting.
        name: str, the module name.

    Example:
        tokenizer = Tokenizer("run/text")
        dataset = dataset.map(lambda image, caption: (image, tokenizer(caption)))
        ids = tokenizer(tf.constant(["a small red circle"]))  # int64 [1, max_length]
    """

    def __init__(self, vocabulary, max_length=None, add_start_end=None, name=None):
        super().__init__(name=name)
        self.vocabulary = Vocabulary.coerce(vocabulary)
        self.max_length = self.vocabulary.max_length if max_length is None else max_length
        self.add_start_end = self.vocabulary.add_start_end if add_start_end is None else add_start_end
        check_settings(
            self.max_length, self.add_start_end, self.vocabulary.normalization, self.vocabulary.lower_case
        )
        size = len(self.vocabulary)
        if self.vocabulary.directory is None:
            tokens = tf.constant(self.vocabulary.tokens)
            numbers = tf.range(size, dtype=tf.int64)
            to_ids = tf.lookup.KeyValueTensorInitializer(tokens, numbers)
            to_tokens = tf.lookup.KeyValueTensorInitializer(numbers, tokens)
        else:
            path = os.path.join(self.vocabulary.directory, VOCAB_FILE)
            line, number = tf.lookup.TextFileIndex.WHOLE_LINE, tf.lookup.TextFileIndex.LINE_NUMBER
            to_ids = tf.lookup.TextFileInitializer(path, tf.string, line, tf.int64, number, vocab_size=size)
            to_tokens = tf.lookup.TextFileInitializer(
                path, tf.int64, number, tf.string, line, vocab_size=size
            )
        self._ids = tf.lookup.StaticHashTable(to_ids, default_value=UNK_ID)
        self._tokens = tf.lookup.StaticHashTable(to_tokens, default_value=UNK)

    def tokens(self, captions):
        """string RaggedTensor [B, None]: the tokens of `captions` (string [B]; a scalar gives [None])."""
        captions = tf.convert_to_tensor(captions, tf.string)
        if captions.shape.rank == 0:
            return self.tokens(captions[tf.newaxis])[0]
        code_points = tf.strings.unicode_decode(captions, "UTF-8", errors="replace", replacement_char=0xFFFD)
        flat = code_points.flat_values
        assigned = tf.searchsorted(_BOUNDS, flat, side="right") % 2 == 1
        flat = tf.where(assigned, flat, token_rule.REPLACEMENT)
        flat = tf.where(flat == 0, ord(" "), flat)
        text = tf.strings.unicode_encode(code_points.with_flat_values(flat), "UTF-8")
        text = tensorflow_text.normalize_utf8(text, self.vocabulary.normalization)
        if self.vocabulary.lower_case:
            text = tf.strings.lower(text, encoding="utf-8")
        return tensorflow_text.regex_split(text, token_rule.SEPARATOR_PATTERN, token_rule.KEPT_PATTERN)

    def token_counts(self, captions):
        """int64 [B]: ids per caption before truncation (`<start>`/`<end>` included, 0 when no tokens)."""
        counts = self.tokens(tf.reshape(captions, [-1])).row_lengths()
        if self.add_start_end:
            counts = tf.where(counts > 0, counts + 2, counts)
        return tf.reshape(counts, tf.shape(captions))

    def __call__(self, captions):
        """int64 [B, max_length]: the ids of `captions` (string [B]; a scalar gives [max_length])."""
        captions = tf.convert_to_tensor(captions, tf.string)
        if captions.shape.rank == 0:
            return self(captions[tf.newaxis])[0]
        ids = tf.ragged.map_flat_values(self._ids.lookup, self.tokens(captions))
        if not self.add_start_end:
            return ids.to_tensor(default_value=PAD_ID, shape=[None, self.max_length])
        words = ids[:, : self.max_length - 2]
        start = tf.fill([words.nrows(), 1], tf.constant(START_ID, tf.int64))
        end = tf.fill([words.nrows(), 1], tf.constant(END_ID, tf.int64))
        wrapped = tf.concat([start, words, end], axis=1).to_tensor(
            default_value=PAD_ID, shape=[None, self.max_length]
        )
        return tf.where(ids.row_lengths()[:, tf.newaxis] > 0, wrapped, tf.constant(PAD_ID, tf.int64))

    def detokenize(self, ids):
        """string [B]: the tokens of `ids` (int [B, T]) joined by spaces.

        `<start>` is dropped and each row ends before its first `<end>` or padding.
        """
        ids = tf.cast(ids, tf.int64)
        if ids.shape.rank == 1:
            return self.detokenize(ids[tf.newaxis])[0]
        stopped = tf.cumsum(tf.cast((ids == END_ID) | (ids == PAD_ID), tf.int32), axis=1) > 0
        keep = tf.logical_not(stopped) & (ids != START_ID)
        words = tf.ragged.boolean_mask(self._tokens.lookup(ids), keep)
        return tf.strings.reduce_join(words, axis=1, separator=" ")
