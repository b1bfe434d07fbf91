"""Captioner export: SavedModel signatures, in-graph image decoding and its bad input, REST, ONNX,
`python -m tfgan_text.inference.onnx_caption` and `tfgan-text caption`.

One tiny (untrained) captioner is exported once, SavedModel and ONNX, and shared by every test.
"""

import base64
import functools
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import types
import zlib

import keras
import numpy as np
import onnx
import onnxruntime
import requests
import tensorflow as tf
import tensorflow_text  # noqa: F401  the exported detokenizer's ops, as TF Serving links them
from PIL import Image
from tensorflow.python.framework import op_def_registry

from tests.test_case import TestCase
from tests.test_cli import run_cli
from tests.test_export import PYTHON_OPS, ROOT, _graph_ops, _saved_model_cli, _write_run
from tests.test_serving import ServerProcess
from tfgan_text.errors import UserError
from tfgan_text.export import export_run
from tfgan_text.file_names import EXTRA_DIR
from tfgan_text.export.image_to_text import MAX_PIXELS, SIGNATURES
from tfgan_text.file_names import CAPTIONER_CONFIG_FILE
from tfgan_text.models.image_to_text import decoding
from tfgan_text.models.image_to_text.captioner import Captioner
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.serving.signature import op_error_line
from tfgan_text.text import PyTokenizer
from tfgan_text.text.vocabulary import END_ID, Vocabulary

SIZE = 32
CAPTIONS = [
    "a small red circle on the left",
    "a large blue square at the top",
    "there is a green star in the middle",
    "two shapes: a yellow triangle and a red circle",
    "a purple triangle at the bottom right",
]
# Files that are not images the model can take, and a fragment of their one-line error.
BAD_FILES = {
    "text.txt": "not a JPEG, PNG, GIF or BMP image",
    "empty.png": "not a JPEG, PNG, GIF or BMP image",
    "cut.jpg": "Invalid JPEG data",
    "cut.png": "Invalid PNG data",
    "bomb.png": f"20000 x 20000 pixels, over the limit of {MAX_PIXELS} pixels",
    "huge_frame.gif": f"30000 x 20000 pixels, over the limit of {MAX_PIXELS} pixels",
}
GOOD_FILES = ("square.png", "photo.jpg", "gray.png", "rgba.png", "one.png", "anim.gif", "image.bmp", "big.png")


def _png(width, height, rgb=(200, 30, 30), rows=None):
    """A PNG of one colour, written row by row (no 300 MB array for 10,000 x 10,000 pixels).

    `rows=k` writes only the first k rows: the header declares the full size (a bomb's header).
    """

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(1)
    row = b"\x00" + bytes(rgb) * width
    data = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _gif_of_many_frames(count, side=2000):
    """A GIF of `count` frames of side x side in two colours: a few kilobytes a frame, though a
    decoder that reads every frame needs side * side bytes for each."""
    frames = [Image.new("P", (side, side), index) for index in range(2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    two = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10, optimize=False)
    second = two.index(b"\x21\xf9\x04", two.index(b"\x21\xf9\x04") + 1)  # the second frame's control block
    return two[:-1] + two[second:-1] * (count - 1) + b";"


def _encoded(image, format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def _write_images(directory):
    """The good and bad image files of the tests, by name (missing.png is not written)."""
    rng = np.random.default_rng(0)
    noise = lambda *shape: rng.integers(0, 256, shape, dtype=np.uint8)  # noqa: E731
    photo = _encoded(Image.fromarray(noise(48, 64, 3)), "JPEG", quality=90)
    noisy_png = _encoded(Image.fromarray(noise(40, 40, 3)), "PNG")
    frames = [Image.fromarray(noise(20, 30, 3)).convert("P") for _ in range(2)]
    files = {
        "square.png": _encoded(Image.fromarray(noise(SIZE, SIZE, 3)), "PNG"),
        "photo.jpg": photo,
        "gray.png": _encoded(Image.fromarray(noise(30, 40)), "PNG"),
        "rgba.png": _encoded(Image.fromarray(noise(50, 30, 4), "RGBA"), "PNG"),
        "one.png": _encoded(Image.new("RGB", (1, 1), (250, 10, 10)), "PNG"),
        "anim.gif": _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "image.bmp": _encoded(Image.fromarray(noise(20, 30, 3)), "BMP"),
        "big.png": _png(10_000, 10_000),
        "text.txt": b"a small red circle on the left\n",
        "empty.png": b"",
        "cut.jpg": photo[: len(photo) // 2],
        "cut.png": noisy_png[: len(noisy_png) // 2],
        "bomb.png": _png(20_000, 20_000, rows=2),
        # A 10 x 10 screen whose first frame declares 30,000 x 20,000 pixels.
        "huge_frame.gif": b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0x80, 0, 0) + bytes(6)
        + b"\x2c" + struct.pack("<HHHHB", 0, 0, 30_000, 20_000, 0) + b"\x02\x01\x00\x00;",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = os.path.join(directory, name)
        with open(paths[name], "wb") as file:
            file.write(data)
    paths["missing.png"] = os.path.join(directory, "missing.png")
    return paths


def _write_captioner_run(directory):
    """An (untrained) tiny captioner run: model.keras and its vocabulary.

    Its image features barely vary at initialisation, so the weights from the pooled feature to
    the initial state are scaled up, and the `<end>` score gets a bias: captions differ by image
    and end at various lengths.
    """
    vocabulary = Vocabulary.build(CAPTIONS, max_length=12)
    vocabulary.save(directory)
    model = Captioner(
        len(vocabulary), max_length=vocabulary.max_length, embedding_dim=8, hidden_dim=16,
        image_encoder=ImageEncoder(embedding_dim=16, filters=(8, 16), regions=True, downsampling="max_pool",
                                   coordinates=True),
        attention_heads=2,
    )
    model({"image": np.zeros([2, SIZE, SIZE, 3], "float32"), "token_ids": np.zeros([2, vocabulary.max_length], "int64")})
    for layer in (model.image_encoder.global_projection, model.image_encoder.region_projection, model.initial_h,
                  model.initial_c):
        layer.kernel.assign(layer.kernel * 10.0)
    bias = model.token_scores.bias.numpy()
    bias[END_ID] += 0.3
    model.token_scores.bias.assign(bias)
    model.save(os.path.join(directory, "model.keras"))
    return model


@functools.cache
def _exported():
    """The tiny captioner run, its export (SavedModel version 1 + ONNX) and the test images."""
    keras.utils.set_random_seed(0)
    root = tempfile.mkdtemp(prefix="tfgan_caption_export_")
    run_dir = os.path.join(root, "run")
    os.makedirs(run_dir)
    model = _write_captioner_run(run_dir)
    served = os.path.join(root, "saved_models")
    result = export_run(run_dir, "captioner", to=served, onnx=True)
    images = os.path.join(root, "images")
    os.makedirs(images)
    return types.SimpleNamespace(
        root=root, run_dir=run_dir, model=model, served=served, result=result, paths=_write_images(images)
    )


def _read(path):
    with open(path, "rb") as file:
        return file.read()


def _pixels(paths):
    """float32 `[B, S, S, 3]` in [-1, 1] of S x S PNG files (which decode to exactly their pixels)."""
    return np.stack([np.asarray(Image.open(path).convert("RGB"), np.float32) / 127.5 - 1.0 for path in paths])


class CaptionerExportTestCase(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        exported = _exported()
        cls.run_dir, cls.model, cls.served, cls.result = exported.run_dir, exported.model, exported.served, exported.result
        cls.paths = exported.paths
        cls.loaded = tf.saved_model.load(cls.result["saved_model"])
        cls.tokenizer = PyTokenizer.load(cls.run_dir)
        # Images of exactly S x S: decoding them in the graph gives back their pixels.
        cls.square_paths = []
        rng = np.random.default_rng(1)
        for index in range(16):
            path = os.path.join(exported.root, "images", f"square_{index}.png")
            pixels = rng.integers(0, 256, 3) + rng.integers(-40, 40, (SIZE, SIZE, 3))  # a colour of its own, noisy
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
            cls.square_paths.append(path)
        cls.square_bytes = tf.constant([_read(path) for path in cls.square_paths])

    def signature(self, name, paths_or_bytes, **inputs):
        data = [item if isinstance(item, bytes) else _read(item) for item in paths_or_bytes]
        outputs = self.loaded.signatures[name](image_bytes=tf.constant(data, tf.string), **inputs)
        return [text.decode("utf-8") for text in outputs["captions"].numpy()], outputs["log_prob"].numpy()

    def keras_captions(self, search, images, **kwargs):
        token_ids, log_prob = search(self.model, self.model.encode_images(images), **kwargs)
        return self.tokenizer.detokenize(token_ids.numpy()), log_prob.numpy()


class SavedModelTest(CaptionerExportTestCase):
    def test_layout_signatures_and_saved_model_cli(self):
        self.assertEqual(sorted(os.listdir(os.path.join(self.served, "captioner"))), ["1", "onnx"])
        self.assertEqual(set(self.loaded.signatures), set(SIGNATURES))
        self.assertTrue(os.path.isfile(os.path.join(self.result["saved_model"], "assets", "vocab.txt")))
        extra = os.path.join(self.result["saved_model"], EXTRA_DIR)
        self.assertEqual(sorted(os.listdir(extra)), sorted(["vocab.txt", "tokenizer.json", CAPTIONER_CONFIG_FILE]))
        with open(os.path.join(extra, CAPTIONER_CONFIG_FILE), encoding="utf-8") as file:
            config = json.load(file)
        self.assertEqual((config["beam_width"], config["image_size"], config["max_length"]), (3, SIZE, 12))
        shown = _saved_model_cli("show", "--dir", self.result["saved_model"], "--all")
        self.assertEqual(shown.returncode, 0, shown.stderr[-2000:])
        for name in SIGNATURES:
            self.assertIn(f"signature_def['{name}']", shown.stdout)
        for line in ("inputs['image_bytes'] tensor_info:", "inputs['seeds'] tensor_info:",
                     "outputs['captions'] tensor_info:", "outputs['log_prob'] tensor_info:", "dtype: DT_STRING",
                     "dtype: DT_FLOAT", "dtype: DT_INT64"):
            self.assertIn(line, shown.stdout)

    def test_graph_holds_only_core_tf_and_tf_text_ops(self):
        ops = _graph_ops(self.result["saved_model"])
        self.assertTrue({"DecodeImage", "ExtractJpegShape", "ScaleAndTranslate", "While", "LookupTableFindV2"} <= ops, ops)
        for op in ops - set(dir(tf.raw_ops)):
            self.assertIsNotNone(op_def_registry.get(op), f"{op} is neither core TF nor TF Text")
        self.assertEqual(ops & PYTHON_OPS, set())

    def test_square_png_decodes_to_its_pixels(self):
        from tfgan_text.export.image_to_text import decode_images

        decoded = decode_images(self.square_bytes, SIZE)
        self.assertAllEqual(decoded, _pixels(self.square_paths))

    def test_greedy_equals_keras_greedy_search(self):
        captions, log_prob = self.signature("greedy", self.square_paths)
        expected, expected_log_prob = self.keras_captions(decoding.greedy_search, _pixels(self.square_paths))
        self.assertEqual(captions, expected)
        self.assertAllClose(log_prob, expected_log_prob, atol=1e-5)
        self.assertGreater(len(set(captions)), 1)  # not one caption for every image

    def test_beam_equals_keras_beam_search(self):
        captions, log_prob = self.signature("serving_default", self.square_paths)
        expected, expected_log_prob = self.keras_captions(decoding.beam_search, _pixels(self.square_paths), beam_width=3)
        self.assertEqual(captions, expected)
        self.assertAllClose(log_prob, expected_log_prob, atol=1e-5)
        _, greedy_log_prob = self.signature("greedy", self.square_paths)
        self.assertTrue(np.all(log_prob >= greedy_log_prob - 1e-5))  # beam finds no worse than greedy here

    def test_sample_is_a_function_of_image_and_seed(self):
        seeds = tf.constant(range(16), tf.int64)
        first = self.signature("sample", self.square_paths, seeds=seeds)
        self.assertEqual(self.signature("sample", self.square_paths, seeds=seeds)[0], first[0])
        expected = self.keras_captions(decoding.sample, _pixels(self.square_paths), seeds=seeds)
        self.assertEqual(first[0], expected[0])
        self.assertAllClose(first[1], expected[1], atol=1e-5)
        alone = self.signature("sample", self.square_paths[5:6], seeds=seeds[5:6])
        self.assertEqual(alone[0], first[0][5:6])  # whatever else is in the batch
        other = self.signature("sample", self.square_paths, seeds=seeds + 100)
        self.assertNotEqual(other[0], first[0])

    def test_any_size_grayscale_alpha_gif_bmp_and_10000_square_get_captions(self):
        names = [name for name in GOOD_FILES if name != "big.png"]
        captions, log_prob = self.signature("greedy", [self.paths[name] for name in names])
        self.assertLen(captions, len(names))
        self.assertTrue(np.all(np.isfinite(log_prob)) and np.all(log_prob < 0))
        # Grayscale is repeated to RGB and alpha dropped, as tf.io.decode_image(channels=3) does.
        from tfgan_text.export.image_to_text import decode_images

        gray = decode_images(tf.constant([_read(self.paths["gray.png"])]), SIZE).numpy()
        self.assertAllEqual(gray[..., 0], gray[..., 1])
        self.assertAllEqual(gray[..., 0], gray[..., 2])
        rgb = _encoded(Image.open(self.paths["rgba.png"]).convert("RGB"), "PNG")
        rgba_and_rgb = decode_images(tf.constant([_read(self.paths["rgba.png"]), rgb]), SIZE).numpy()
        self.assertAllEqual(rgba_and_rgb[0], rgba_and_rgb[1])
        big, big_log_prob = self.signature("greedy", [self.paths["big.png"], self.paths["one.png"]])
        flat = np.full([1, SIZE, SIZE, 3], [200, 30, 30], np.float32) / 127.5 - 1.0
        self.assertEqual(big[0], self.keras_captions(decoding.greedy_search, flat)[0][0])
        self.assertTrue(np.isfinite(big_log_prob).all())

    def test_a_gif_of_many_large_frames_is_decoded_from_its_first_frame_alone(self):
        from tfgan_text.export.image_to_text import _first_gif_frame

        many = _gif_of_many_frames(500, side=1000)  # 1.3 MB; 500 MB and seconds were every frame read
        self.assertGreater(len(many), 1_000_000)
        cut, height, width = _first_gif_frame(tf.constant(many))
        self.assertLess(len(cut.numpy()), 3_000)
        self.assertEqual((int(height), int(width)), (1000, 1000))
        captions, _ = self.signature("greedy", [many, _gif_of_many_frames(2, side=1000)])
        self.assertEqual(captions[0], captions[1])
        flat = np.zeros([1, SIZE, SIZE, 3], np.float32) - 1.0  # the first frame is black
        self.assertEqual(captions[0], self.keras_captions(decoding.greedy_search, flat)[0][0])

    def test_bad_bytes_are_one_line_invalid_argument_errors(self):
        for name, fragment in BAD_FILES.items():
            seeds = {"seeds": tf.constant([0, 1], tf.int64)}
            for signature, inputs in (("serving_default", {}), ("greedy", {}), ("sample", seeds)):
                with self.subTest(name=name, signature=signature):
                    with self.assertRaises(tf.errors.InvalidArgumentError) as caught:
                        self.signature(signature, [self.paths["one.png"], self.paths[name]], **inputs)
                    line = op_error_line(caught.exception.message)
                    self.assertIn(fragment, line)
                    self.assertNotIn("\n", line)
        captions, _ = self.signature("greedy", [self.paths["one.png"]])
        self.assertLen(captions, 1)

    def test_empty_batch_and_seed_count(self):
        for name, inputs in (("serving_default", {}), ("greedy", {}), ("sample", {"seeds": tf.constant([], tf.int64)})):
            captions, log_prob = self.signature(name, [], **inputs)
            self.assertEqual((captions, log_prob.shape), ([], (0,)))
        with self.assertRaises(tf.errors.InvalidArgumentError) as caught:
            self.signature("sample", self.square_paths[:2], seeds=tf.constant([1], tf.int64))
        self.assertEqual(op_error_line(caught.exception.message), "give one seed per image: got 2 images and 1 seeds")


class ExportRunTest(CaptionerExportTestCase):
    def test_export_of_a_captioner_keeps_existing_versions(self):
        root = os.path.join(self.temp_dir(), "saved_models")
        shutil.copytree(os.path.join(self.served, "captioner"), os.path.join(root, "captioner"))
        version_1 = os.path.join(root, "captioner", "1", "saved_model.pb")
        before = (_read(version_1), os.path.getmtime(version_1))
        onnx_before = _read(os.path.join(root, "captioner", "onnx", "model.onnx"))
        result = export_run(self.run_dir, "captioner", to=root, beam_width=2)
        self.assertEqual(result["version"], 2)
        self.assertEqual((_read(version_1), os.path.getmtime(version_1)), before)
        self.assertEqual(_read(os.path.join(root, "captioner", "onnx", "model.onnx")), onnx_before)
        with self.assertRaisesRegex(UserError, "never overwritten"):
            export_run(self.run_dir, "captioner", to=root, version=1)
        self.assertEqual((_read(version_1), os.path.getmtime(version_1)), before)
        self.assertEqual(sorted(os.listdir(os.path.join(root, "captioner"))), ["1", "2", "onnx"])
        two = tf.saved_model.load(result["saved_model"]).signatures["serving_default"]
        captions = two(image_bytes=self.square_bytes)["captions"].numpy()
        expected = self.keras_captions(decoding.beam_search, _pixels(self.square_paths), beam_width=2)[0]
        self.assertEqual([text.decode() for text in captions], expected)

    def test_bad_exports_are_one_line_errors(self):
        with self.assertRaisesRegex(UserError, "a beam width is for captioners"):
            dcgan_run = self.temp_dir()
            _write_run(dcgan_run)
            export_run(dcgan_run, "m", to=self.temp_dir(), beam_width=2)
        with self.assertRaisesRegex(UserError, "beam width must be a positive integer"):
            export_run(self.run_dir, "m", to=self.temp_dir(), beam_width=0)
        other_vocabulary = self.temp_dir()
        shutil.copy(os.path.join(self.run_dir, "model.keras"), other_vocabulary)
        Vocabulary.build(["just a few words"], max_length=12).save(other_vocabulary)
        with self.assertRaisesRegex(UserError, "not from the same run"):
            export_run(other_vocabulary, "m", to=self.temp_dir())


class OnnxTest(CaptionerExportTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.onnx_dir = cls.result["onnx"]
        cls.session = onnxruntime.InferenceSession(os.path.join(cls.onnx_dir, "model.onnx"))

    def test_files_and_io_names(self):
        self.assertEqual(sorted(os.listdir(self.onnx_dir)), ["config.json", "model.onnx", "vocab.json"])
        model = onnx.load(os.path.join(self.onnx_dir, "model.onnx"))
        onnx.checker.check_model(model)
        self.assertGreaterEqual(max(opset.version for opset in model.opset_import if opset.domain in ("", "ai.onnx")), 17)
        self.assertEqual([(i.name, i.type) for i in self.session.get_inputs()], [("images", "tensor(float)")])
        self.assertEqual([(o.name, o.type) for o in self.session.get_outputs()],
                         [("token_ids", "tensor(int64)"), ("log_prob", "tensor(float)")])
        with open(os.path.join(self.onnx_dir, "config.json"), encoding="utf-8") as file:
            config = json.load(file)
        self.assertEqual((config["model"]["kind"], config["model"]["image_size"], config["model"]["max_length"]),
                         ("captioner", SIZE, 12))

    def test_greedy_matches_the_saved_model(self):
        for batch in (1, 16):
            with self.subTest(batch=batch):
                images = _pixels(self.square_paths[:batch])
                token_ids, log_prob = self.session.run(["token_ids", "log_prob"], {"images": images})
                self.assertEqual((token_ids.dtype, token_ids.shape), (np.int64, (batch, 11)))
                keras_ids, _ = decoding.greedy_search(self.model, self.model.encode_images(images))
                self.assertAllEqual(token_ids, keras_ids)
                captions, expected_log_prob = self.signature("greedy", self.square_paths[:batch])
                self.assertEqual(PyTokenizer.load(self.onnx_dir).detokenize(token_ids), captions)
                self.assertLess(np.abs(log_prob - expected_log_prob).max(), 1e-4)

    def test_onnx_caption_runs_where_tensorflow_cannot_be_imported(self):
        blocker = self.temp_dir()
        with open(os.path.join(blocker, "sitecustomize.py"), "w") as file:
            file.write(
                "import sys\n"
                "class _NoTensorFlow:\n"
                "    def find_spec(self, name, path=None, target=None):\n"
                "        if name.split('.')[0] in ('tensorflow', 'keras', 'tensorflow_text', 'tf2onnx'):\n"
                "            raise ImportError(f'{name} is blocked in this test')\n"
                "sys.meta_path.insert(0, _NoTensorFlow())\n"
            )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([blocker, ROOT])}
        names = ["square.png", "text.txt", "gray.png", "missing.png", "bomb.png", "rgba.png", "cut.jpg", "big.png"]
        result = subprocess.run(
            [sys.executable, "-m", "tfgan_text.inference.onnx_caption", "--model", self.onnx_dir, *[self.paths[n] for n in names]],
            capture_output=True, text=True, env=env, timeout=300,
        )
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertNotIn("Traceback", result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual([line.split("\t")[0] for line in lines],
                         [self.paths[n] for n in ("square.png", "gray.png", "rgba.png", "big.png")])
        expected = self.signature("greedy", [self.paths["square.png"]])[0][0]
        self.assertEqual(lines[0], f"{self.paths['square.png']}\t{expected}")
        errors = result.stderr.strip().splitlines()
        self.assertLen(errors, 4)
        for error, name in zip(errors, ("text.txt", "missing.png", "bomb.png", "cut.jpg")):
            self.assertTrue(error.startswith(f"onnx_caption: error: {self.paths[name]}: "), error)
        self.assertIn("over the limit", errors[2])
        not_onnx = subprocess.run([sys.executable, "-m", "tfgan_text.inference.onnx_caption", "--model", self.temp_dir(),
                                   self.paths["square.png"]], capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(not_onnx.returncode, 2)
        self.assertEqual(len(not_onnx.stderr.strip().splitlines()), 1, not_onnx.stderr)


class RestTest(CaptionerExportTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ServerProcess(cls.served, os.path.join(tempfile.mkdtemp(prefix="caption_serve_"), "server.log"))
        try:
            cls.server.wait_until_serving("captioner")
        except RuntimeError:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        super().tearDownClass()

    def predict(self, body):
        return requests.post(f"{self.server.url}/v1/models/captioner:predict", data=json.dumps(body), timeout=120)

    @staticmethod
    def b64(path):
        return {"b64": base64.b64encode(_read(path)).decode("ascii")}

    def test_metadata_lists_the_signatures(self):
        answer = requests.get(f"{self.server.url}/v1/models/captioner/metadata", timeout=30).json()
        signatures = answer["metadata"]["signature_def"]["signature_def"]
        self.assertEqual(set(signatures), set(SIGNATURES))
        self.assertEqual(signatures["sample"]["inputs"]["image_bytes"]["dtype"], "DT_STRING")
        self.assertEqual(signatures["sample"]["inputs"]["seeds"]["dtype"], "DT_INT64")
        self.assertEqual(signatures["serving_default"]["outputs"]["captions"]["dtype"], "DT_STRING")
        self.assertEqual(signatures["serving_default"]["outputs"]["log_prob"]["dtype"], "DT_FLOAT")

    def test_b64_images_get_captions_in_row_and_columnar_form(self):
        paths = self.square_paths[:3]
        rows = self.predict({"instances": [{"image_bytes": self.b64(path)} for path in paths]})
        self.assertEqual(rows.status_code, 200, rows.text)
        captions, log_prob = self.signature("serving_default", paths)
        self.assertEqual([row["captions"] for row in rows.json()["predictions"]], captions)
        self.assertAllClose([row["log_prob"] for row in rows.json()["predictions"]], log_prob, atol=1e-5)
        columns = self.predict({"signature_name": "sample",
                                "inputs": {"image_bytes": [self.b64(path) for path in paths], "seeds": [4, 5, 6]}})
        self.assertEqual(columns.status_code, 200, columns.text)
        self.assertEqual(columns.json()["outputs"]["captions"],
                         self.signature("sample", paths, seeds=tf.constant([4, 5, 6], tf.int64))[0])
        bare = self.predict({"signature_name": "greedy", "instances": [self.b64(self.paths["big.png"])]})
        self.assertEqual(bare.status_code, 200, bare.text)
        self.assertEqual(bare.json()["predictions"][0]["captions"], self.signature("greedy", [self.paths["big.png"]])[0][0])

    def test_bad_images_are_400_with_one_line_and_the_server_stays_up(self):
        for name, fragment in BAD_FILES.items():
            with self.subTest(name=name):
                answer = self.predict({"instances": [self.b64(self.paths["one.png"]), self.b64(self.paths[name])]})
                self.assertEqual(answer.status_code, 400, answer.text)
                self.assertIn(fragment, answer.json()["error"])
                self.assertNotIn("\n", answer.json()["error"])
        text = self.predict({"instances": ["not base64, plain text"]})
        self.assertEqual(text.status_code, 400, text.text)
        self.assertIn("not a JPEG, PNG, GIF or BMP image", text.json()["error"])
        good = self.predict({"signature_name": "greedy", "instances": [self.b64(self.paths["photo.jpg"])]})
        self.assertEqual(good.status_code, 200, good.text)


class CaptionCommandTest(CaptionerExportTestCase):
    def caption(self, *argv):
        status, out, err = run_cli("caption", *argv)
        self.assertNotIn("Traceback", err)
        return status, out, err

    def test_exported_model_good_and_bad_files(self):
        names = ["square.png", "text.txt", "gray.png", "missing.png", "cut.jpg", "rgba.png", "one.png", "cut.png",
                 "bomb.png", "anim.gif", "image.bmp", "empty.png", "photo.jpg"]
        status, out, err = self.caption("--model", os.path.join(self.served, "captioner"),
                                        *[self.paths[name] for name in names], self.paths["one.png"])
        self.assertEqual(status, 2)
        good = [name for name in names if name in GOOD_FILES] + ["one.png"]
        lines = out.splitlines()
        self.assertEqual([line.split("\t")[0] for line in lines], [self.paths[name] for name in good])
        expected = self.signature("serving_default", [self.paths[name] for name in good])[0]
        self.assertEqual([line.split("\t", 1)[1] for line in lines], expected)
        errors = err.strip().splitlines()
        bad = [name for name in names if name not in GOOD_FILES]
        self.assertLen(errors, len(bad))
        for error, name in zip(errors, bad):
            self.assertTrue(error.startswith(f"tfgan-text: error: {self.paths[name]}: "), error)
            self.assertIn(BAD_FILES.get(name, "No such file or directory"), error)

    def test_run_directory_greedy_sample_and_other_beam_widths(self):
        paths = self.square_paths[:4] + [self.paths["big.png"]]
        exported = os.path.join(self.served, "captioner")
        status, out, err = self.caption("--model", self.run_dir, *paths, "--greedy")
        self.assertEqual(status, 0, err)
        self.assertEqual(out.splitlines(), [f"{p}\t{c}" for p, c in zip(paths, self.signature("greedy", paths)[0])])
        status, out, err = self.caption("--model", exported, *paths[:4], "--sample", "--seed", "7")
        self.assertEqual(status, 0, err)
        sampled = self.signature("sample", paths[:4], seeds=tf.constant([7] * 4, tf.int64))[0]
        self.assertEqual(out.splitlines(), [f"{p}\t{c}" for p, c in zip(paths[:4], sampled)])
        status, out, err = self.caption("--model", self.run_dir, *paths[:4], "--beam", "2")
        self.assertEqual(status, 0, err)
        beam_2 = self.keras_captions(decoding.beam_search, _pixels(paths[:4]), beam_width=2)[0]
        self.assertEqual([line.split("\t", 1)[1] for line in out.splitlines()], beam_2)
        status, out, err = self.caption("--model", exported, paths[0], "--beam", "3")
        self.assertEqual((status, out), (0, f"{paths[0]}\t{self.signature('serving_default', paths[:1])[0][0]}\n"))

    def test_bad_commands_are_one_line_errors(self):
        exported = os.path.join(self.served, "captioner")
        dcgan_run = self.temp_dir()
        _write_run(dcgan_run)
        square = self.paths["square.png"]
        for argv, fragment in [
            (("--model", exported, square, "--beam", "5"), "exported with beam width 3"),
            (("--model", exported, square, "--seed", "3"), "--seed goes with --sample"),
            (("--model", os.path.join(self.temp_dir(), "nothing"), square), "holds no trained model"),
            (("--model", dcgan_run, square), "is not a captioner"),
            (("--model", os.path.join(ROOT, "saved_models", "dcgan_shapes"), square), "not an exported captioner"),
        ]:
            with self.subTest(argv=argv):
                status, out, err = self.caption(*argv)
                self.assertEqual((status, out), (2, ""))
                self.assertEqual(err.strip().count("\n"), 0, err)
                self.assertIn(fragment, err)
