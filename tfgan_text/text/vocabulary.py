"""The vocabulary: token <-> id, with the tokenizer settings, saved as `vocab.txt` + `tokenizer.json`."""

import collections
import json
import os
import unicodedata

from tfgan_text.errors import DataError, UserError
from tfgan_text.file_names import ONNX_CONFIG_FILE, ONNX_VOCAB_FILE, TOKENIZER_SETTINGS_FILE, VOCAB_FILE
from tfgan_text.text import token_rule

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
RESERVED = (PAD, UNK, START, END)
PAD_ID, UNK_ID, START_ID, END_ID = range(4)
FORMAT_VERSION = 1


def check_settings(max_length, add_start_end, normalization, lower_case):
    """Raises `UserError` when a tokenizer setting is out of range."""
    if not isinstance(add_start_end, bool):
        raise UserError(f"add_start_end must be true or false, not {add_start_end!r}")
    shortest = 3 if add_start_end else 1
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < shortest:
        raise UserError(f"max_length must be an integer >= {shortest}, not {max_length!r}")
    if normalization not in token_rule.NORMALIZATION_FORMS:
        raise UserError(
            f"normalization must be one of {', '.join(token_rule.NORMALIZATION_FORMS)}, not {normalization!r}"
        )
    if not isinstance(lower_case, bool):
        raise UserError(f"lower_case must be true or false, not {lower_case!r}")


def _token_problem(token):
    """Why `token` cannot be a vocabulary entry, or None."""
    if not token:
        return "empty token"
    if any(unicodedata.category(c)[0] == "Z" or unicodedata.category(c) == "Cc" for c in token):
        return f"token {token!r} holds a space or control character (tokens never do)"
    return None


class Vocabulary:
    """The tokens of a caption corpus and the settings of the tokenizers that use them.

    Ids are line numbers of `vocab.txt`: 0 `<pad>`, 1 `<unk>`, 2 `<start>`, 3 `<end>`, then the
    words, most frequent first. `tokenizer.json` holds the settings. Both files ship beside
    every exported model, and both tokenizers read them.

    Args:
        tokens: list of str, the token of each id; the first four are the reserved tokens.
        max_length: int, ids per caption (padded with 0 or truncated), default 32.
        add_start_end: bool, put `<start>` before and `<end>` after each caption's tokens.
        normalization: str, Unicode normal form, "NFKC" (default), "NFC", "NFD" or "NFKD".
        lower_case: bool, lower-case before splitting (default True).

    Example:
        vocabulary = Vocabulary.build(["a red circle", "a blue square"], min_count=1)
        vocabulary.save("run/text")
        same = Vocabulary.load("run/text")
    """

    def __init__(self, tokens, max_length=32, add_start_end=True, normalization="NFKC", lower_case=True):
        check_settings(max_length, add_start_end, normalization, lower_case)
        tokens = tuple(tokens)
        if tokens[:4] != RESERVED:
            raise UserError(f"a vocabulary starts with {', '.join(RESERVED)}, not {', '.join(tokens[:4])}")
        for token in tokens[4:]:
            problem = _token_problem(token) if isinstance(token, str) else f"token {token!r} is not a string"
            if problem:
                raise UserError(problem)
        if len(set(tokens)) != len(tokens):
            raise UserError("a vocabulary holds each token once")
        self.tokens = tokens
        self.max_length = max_length
        self.add_start_end = add_start_end
        self.normalization = normalization
        self.lower_case = lower_case
        self.directory = None
        self._ids = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(
        cls,
        captions,
        min_count=1,
        max_size=None,
        max_length=32,
        add_start_end=True,
        normalization="NFKC",
        lower_case=True,
    ):
        """A vocabulary of the tokens of `captions` (iterable of str).

        Tokens come from `token_rule.tokens` with the given settings. Words seen at least
        `min_count` times are kept, most frequent first, ties in code-point order of the token;
        `max_size` (None: no limit) caps the number of ids, the 4 reserved ones included.
        The other arguments are those of `Vocabulary`.
        """
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise UserError(f"min_count must be an integer >= 1, not {min_count!r}")
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 4
        ):
            raise UserError(f"max_size must be an integer >= 4 or None, not {max_size!r}")
        check_settings(max_length, add_start_end, normalization, lower_case)
        counts = collections.Counter()
        for caption in captions:
            counts.update(token_rule.tokens(caption, normalization, lower_case))
        words = sorted(
            (token for token, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            words = words[: max_size - 4]
        return cls(RESERVED + tuple(words), max_length, add_start_end, normalization, lower_case)

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self._ids

    def id(self, token):
        """The id of `token`, `UNK_ID` (1) when it is not in the vocabulary."""
        return self._ids.get(token, UNK_ID)

    def settings(self):
        """The contents of `tokenizer.json`."""
        return {
            "format_version": FORMAT_VERSION,
            "max_length": self.max_length,
            "add_start_end": self.add_start_end,
            "normalization": self.normalization,
            "lower_case": self.lower_case,
        }

    def save(self, directory):
        """Writes `vocab.txt` (UTF-8, one token a line, line index = id) and `tokenizer.json`."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, VOCAB_FILE), "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(token + "\n" for token in self.tokens))
        with open(os.path.join(directory, TOKENIZER_SETTINGS_FILE), "w", encoding="utf-8", newline="\n") as f:
            json.dump(self.settings(), f, indent=2)
            f.write("\n")
        self.directory = directory

    def save_json(self, directory, config):
        """Writes the JSON form: `vocab.json` (the tokens) and `config.json` (`config` with the
        settings under `"tokenizer"`)."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, ONNX_VOCAB_FILE), "w", encoding="utf-8", newline="\n") as f:
            json.dump(list(self.tokens), f, ensure_ascii=False)
            f.write("\n")
        with open(os.path.join(directory, ONNX_CONFIG_FILE), "w", encoding="utf-8", newline="\n") as f:
            json.dump({**config, "tokenizer": self.settings()}, f, indent=2)
            f.write("\n")

    @classmethod
    def load(cls, directory):
        """Reads what `save` (or `save_json`) wrote; raises `DataError` naming the file and line of a problem."""
        vocab_path = os.path.join(directory, VOCAB_FILE)
        settings_path = os.path.join(directory, TOKENIZER_SETTINGS_FILE)
        if not os.path.exists(vocab_path) and os.path.exists(os.path.join(directory, ONNX_VOCAB_FILE)):
            vocab_path = os.path.join(directory, ONNX_VOCAB_FILE)
            settings_path = os.path.join(directory, ONNX_CONFIG_FILE)
            settings = _read_settings(settings_path, key="tokenizer")
            tokens = _read_json_tokens(vocab_path)
        else:
            settings = _read_settings(settings_path)
            tokens = _read_tokens(vocab_path)
        try:
            vocabulary = cls(tokens, **settings)
        except UserError as error:
            raise DataError(f"{settings_path}: {error}") from None
        vocabulary.directory = directory
        return vocabulary

    @classmethod
    def coerce(cls, vocabulary):
        """`vocabulary` itself, or the vocabulary saved in that directory."""
        if isinstance(vocabulary, cls):
            return vocabulary
        if isinstance(vocabulary, (str, os.PathLike)):
            return cls.load(os.fspath(vocabulary))
        raise UserError(
            f"expected a Vocabulary or a directory holding {VOCAB_FILE}, not {type(vocabulary).__name__}"
        )


def _read_tokens(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise DataError(f"{path}: cannot read the vocabulary ({error.strerror or error})") from None
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    tokens, first = [], {}
    for number, line in enumerate(lines, start=1):
        try:
            token = line.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{path}, line {number}: not UTF-8") from None
        if number <= 4:
            problem = (
                None
                if token == RESERVED[number - 1]
                else f"expected {RESERVED[number - 1]!r}, found {token!r}"
            )
        elif token in first:
            problem = f"token {token!r} repeats line {first[token]}"
        else:
            problem = _token_problem(token)
        if problem:
            raise DataError(f"{path}, line {number}: {problem}")
        first[token] = number
        tokens.append(token)
    if len(tokens) < 4:
        raise DataError(f"{path}: a vocabulary starts with the 4 lines {', '.join(RESERVED)}")
    return tokens


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as error:
        raise DataError(f"{path}: cannot read the {what} ({error.strerror or error})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None


def _read_json_tokens(path):
    tokens = _read_json(path, "vocabulary")
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise DataError(f"{path}: expected a JSON list of strings")
    if tuple(tokens[:4]) != RESERVED:
        raise DataError(f"{path}: a vocabulary starts with {', '.join(RESERVED)}")
    return tokens


def _read_settings(path, key=None):
    settings = _read_json(path, "tokenizer settings")
    if key is not None:
        settings = settings.get(key) if isinstance(settings, dict) else None
        if settings is None:
            raise DataError(f"{path}: no {key!r} object")
    if not isinstance(settings, dict):
        raise DataError(f"{path}: expected a JSON object")
    settings = dict(settings)
    version = settings.pop("format_version", None)
    if version != FORMAT_VERSION:
        raise DataError(
            f"{path}: format_version {version!r} is not supported (this version reads {FORMAT_VERSION})"
        )
    expected = {"max_length", "add_start_end", "normalization", "lower_case"}
    if set(settings) != expected:
        missing, extra = sorted(expected - set(settings)), sorted(set(settings) - expected)
        raise DataError(f"{path}: missing keys {missing}, unknown keys {extra}")
    return settings
