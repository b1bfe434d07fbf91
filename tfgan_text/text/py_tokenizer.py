"""Pure-Python tokenizer: the in-graph `Tokenizer`'s mirror, for clients without TensorFlow."""

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.text import token_rule
from tfgan_text.text.vocabulary import END_ID, PAD_ID, START_ID, UNK, Vocabulary, check_settings


def _caption_list(captions):
    if isinstance(captions, (str, bytes)):
        raise UserError("pass a list of captions, not one caption")
    captions = list(captions)
    for caption in captions:
        if not isinstance(caption, (str, bytes)):
            raise UserError(f"a caption is a str or UTF-8 bytes, not {type(caption).__name__}")
    return captions


class PyTokenizer:
    """Captions to ids in plain Python and NumPy, id for id the same as the in-graph `Tokenizer`.

    It follows `tfgan_text.text.token_rule` and reads the `vocab.txt` and `tokenizer.json` that
    ship beside an exported model (the ONNX graph takes ids, not text).

    Args:
        vocabulary: a `Vocabulary`, or the directory it was saved in.
        max_length: int, ids per caption; None takes the vocabulary's setting.
        add_start_end: bool, wrap each caption in `<start>` ... `<end>`; None takes the setting.

    Example:
        tokenizer = PyTokenizer.load("saved_models/dcgan/onnx")
        ids = tokenizer.encode(["a small red circle"])  # int64 [1, max_length]
    """

    def __init__(self, vocabulary, max_length=None, add_start_end=None):
        self.vocabulary = Vocabulary.coerce(vocabulary)
        self.max_length = self.vocabulary.max_length if max_length is None else max_length
        self.add_start_end = self.vocabulary.add_start_end if add_start_end is None else add_start_end
        check_settings(
            self.max_length, self.add_start_end, self.vocabulary.normalization, self.vocabulary.lower_case
        )

    @classmethod
    def load(cls, directory, max_length=None, add_start_end=None):
        """The tokenizer of the `vocab.txt` and `tokenizer.json` in `directory`."""
        return cls(Vocabulary.load(directory), max_length, add_start_end)

    def tokens(self, caption):
        """The tokens (list of str) of one caption (str, or UTF-8 bytes)."""
        return token_rule.tokens(caption, self.vocabulary.normalization, self.vocabulary.lower_case)

    def _ids(self, caption):
        ids = [self.vocabulary.id(token) for token in self.tokens(caption)]
        if self.add_start_end and ids:
            return [START_ID] + ids[: self.max_length - 2] + [END_ID], len(ids) + 2
        return ids[: self.max_length], len(ids)

    def token_counts(self, captions):
        """int64 [B]: ids per caption before truncation (`<start>`/`<end>` included, 0 when no tokens)."""
        return np.array([self._ids(caption)[1] for caption in _caption_list(captions)], np.int64)

    def encode(self, captions):
        """int64 [B, max_length]: the ids of `captions` (list of str), padded with 0 or truncated.

        With `add_start_end`, a truncated caption keeps its `<start>` and `<end>`; a caption
        without tokens (empty, or only spaces) is all padding.
        """
        captions = _caption_list(captions)
        ids = np.zeros((len(captions), self.max_length), np.int64)
        for row, caption in enumerate(captions):
            caption_ids = self._ids(caption)[0]
            ids[row, : len(caption_ids)] = caption_ids
        return ids

    def detokenize(self, ids):
        """list of str: tokens joined by spaces, `<start>` dropped, each row cut at `<end>` or padding."""
        ids = np.asarray(ids, np.int64)
        if ids.ndim != 2:
            raise UserError(f"ids must be a [batch, length] array, not one of shape {ids.shape}")
        captions = []
        for row in ids:
            words = []
            for i in row:
                if i in (END_ID, PAD_ID):
                    break
                if i != START_ID:
                    words.append(self.vocabulary.tokens[i] if 0 <= i < len(self.vocabulary) else UNK)
            captions.append(" ".join(words))
        return captions
