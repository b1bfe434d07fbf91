"""Export: versioned SavedModels (signatures, ops, atomicity, saved_model_cli) and ONNX parity."""

import errno
import functools
import io
import json
import os
import subprocess
import sys
import tempfile
import types

import keras
import numpy as np
import onnx
import onnxruntime
import tensorflow as tf
import tensorflow_text  # noqa: F401  the exported tokenizer's ops, as TF Serving links them
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

from tests.test_case import TestCase
from tests.test_cli import run_cli
from tfgan_text.errors import UserError
from tfgan_text.export import export_run
from tfgan_text.file_names import EXTRA_DIR
from tfgan_text.export.text_to_image import SIGNATURES
from tfgan_text.noise import seed_noise_tensor
from tfgan_text.export.versions import versions, write_version
from tfgan_text.models.text_to_image.dcgan import DCGANDiscriminator, DCGANGenerator, TextConditionalDCGAN
from tfgan_text.models.text_encoder import WordRNNEncoder
from tfgan_text.text import PyTokenizer
from tfgan_text.text.tokenizer import Tokenizer
from tfgan_text.text.vocabulary import Vocabulary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTIONS = ["a small red circle on the left", "top left: a blue star, large", "there is a green square at the bottom"]
ODD_CAPTIONS = ["", "🙂🦄 ✨", "word " * 2000, "ÀÉÎ naïve café №5", "\x00\x01 control"]
# Ops that would need Python at serving time: never in an exported graph.
PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def _write_run(directory, image_size=32, **generator_options):
    """An (untrained) tiny text-to-image run: model.keras and its vocabulary."""
    vocabulary = Vocabulary.build(CAPTIONS, max_length=12)
    vocabulary.save(directory)
    encoder = WordRNNEncoder(len(vocabulary), embedding_dim=8, hidden_dim=8)
    model = TextConditionalDCGAN(
        DCGANGenerator(image_size, noise_dim=16, embedding_dim=8, ngf=8, words_dim=8, **generator_options),
        DCGANDiscriminator(image_size, embedding_dim=8, ndf=8),
        encoder,
        gan_int=not generator_options.get("attention_sizes"),
        seed=0,
    )
    model.save(os.path.join(directory, "model.keras"))
    return model


@functools.cache
def _exported():
    """One tiny run exported once (SavedModel version 1 + ONNX), shared by the tests."""
    keras.utils.set_random_seed(0)
    root = tempfile.mkdtemp(prefix="tfgan_export_")
    run_dir = os.path.join(root, "run")
    os.makedirs(run_dir)
    model = _write_run(run_dir)
    served = os.path.join(root, "saved_models")
    result = export_run(run_dir, "tiny", to=served, onnx=True)
    return types.SimpleNamespace(run_dir=run_dir, model=model, served=served, result=result)


def _graph_ops(saved_model_dir):
    """Every op type in the SavedModel's graph and function library."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as file:
        proto.ParseFromString(file.read())
    ops = set()
    for meta_graph in proto.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def _saved_model_cli(*args):
    """TensorFlow's saved_model_cli, in a process that has TF Text's ops as the model server has."""
    code = "import sys, tensorflow_text; from tensorflow.python.tools import saved_model_cli; sys.argv = ['saved_model_cli'] + sys.argv[1:]; saved_model_cli.main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


class ExportTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        exported = _exported()
        cls.run_dir, cls.model, cls.served, cls.result = exported.run_dir, exported.model, exported.served, exported.result
        cls.loaded = tf.saved_model.load(cls.result["saved_model"])

    def test_layout_and_signatures(self):
        self.assertEqual(self.result["version"], 1)
        self.assertEqual(sorted(os.listdir(os.path.join(self.served, "tiny"))), ["1", "onnx"])
        self.assertEqual(set(self.loaded.signatures), set(SIGNATURES))
        vocab_asset = os.path.join(self.result["saved_model"], "assets", "vocab.txt")
        self.assertTrue(os.path.isfile(vocab_asset))
        self.assertEqual(PyTokenizer.load(os.path.join(self.result["saved_model"], EXTRA_DIR)).vocabulary.tokens,
                         Vocabulary.load(self.run_dir).tokens)

    def test_serving_default_gives_uint8_images_and_their_pngs(self):
        out = self.loaded.signatures["serving_default"](captions=tf.constant(CAPTIONS), seeds=tf.constant([0, 1, 2], tf.int64))
        self.assertEqual(set(out), {"images", "png_bytes"})
        self.assertEqual((out["images"].dtype, tuple(out["images"].shape)), (tf.uint8, (3, 32, 32, 3)))
        for image, png in zip(out["images"].numpy(), out["png_bytes"].numpy()):
            self.assertAllEqual(np.asarray(Image.open(io.BytesIO(png))), image)
        self.assertGreater(out["images"].numpy().std(), 0.0)

    def test_from_noise_matches_the_model_and_serving_default(self):
        seeds = tf.constant([7, 8, 9], tf.int64)
        noise = seed_noise_tensor(seeds, 16)
        by_seed = self.loaded.signatures["serving_default"](captions=tf.constant(CAPTIONS), seeds=seeds)
        by_noise = self.loaded.signatures["from_noise"](captions=tf.constant(CAPTIONS), noise=noise)
        self.assertAllEqual(by_seed["png_bytes"], by_noise["png_bytes"])
        ids = Tokenizer(self.run_dir)(tf.constant(CAPTIONS))
        expected = self.model.generate(ids, noise=noise)
        floats = self.loaded.signatures["from_token_ids"](token_ids=ids, noise=noise)["images"]
        self.assertAllClose(floats, expected, atol=1e-5)
        embedding = self.loaded.signatures["embed"](captions=tf.constant(CAPTIONS))["embedding"]
        self.assertAllClose(embedding, self.model.encode_text(ids), atol=1e-5)

    def test_odd_captions_and_empty_batch_get_defined_answers(self):
        out = self.loaded.signatures["serving_default"](
            captions=tf.constant(ODD_CAPTIONS), seeds=tf.constant(range(len(ODD_CAPTIONS)), tf.int64)
        )
        self.assertEqual(tuple(out["images"].shape), (len(ODD_CAPTIONS), 32, 32, 3))
        empty = self.loaded.signatures["serving_default"](captions=tf.constant([], tf.string), seeds=tf.constant([], tf.int64))
        self.assertEqual(tuple(empty["images"].shape), (0, 32, 32, 3))

    def test_same_caption_and_seed_give_the_same_png_in_another_process(self):
        code = (
            "import sys, tensorflow as tf, tensorflow_text; "
            "f = tf.saved_model.load(sys.argv[1]).signatures['serving_default']; "
            "out = f(captions=tf.constant(['a small red circle on the left']), seeds=tf.constant([42], tf.int64)); "
            "sys.stdout.buffer.write(out['png_bytes'].numpy()[0])"
        )
        other = subprocess.run([sys.executable, "-c", code, self.result["saved_model"]], capture_output=True, timeout=300,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        self.assertEqual(other.returncode, 0, other.stderr[-2000:])
        here = self.loaded.signatures["serving_default"](
            captions=tf.constant(["a small red circle on the left"]), seeds=tf.constant([42], tf.int64)
        )
        self.assertEqual(other.stdout, here["png_bytes"].numpy()[0])
        again = self.loaded.signatures["serving_default"](
            captions=tf.constant(["a small red circle on the left"]), seeds=tf.constant([43], tf.int64)
        )
        self.assertNotEqual(again["png_bytes"].numpy()[0], other.stdout)

    def test_graph_holds_only_core_tf_and_tf_text_ops(self):
        ops = _graph_ops(self.result["saved_model"])
        core = set(dir(tf.raw_ops))
        not_core = ops - core
        # The tokenizer's TF Text ops are there, and each is registered by tensorflow_text.
        self.assertTrue({"NormalizeUTF8", "RegexSplitWithOffsets"} <= not_core, not_core)
        for op in not_core:
            self.assertIsNotNone(op_def_registry.get(op), f"{op} is neither core TF nor TF Text")
        self.assertEqual(ops & PYTHON_OPS, set())

    def test_saved_model_cli_shows_and_runs_the_model(self):
        shown = _saved_model_cli("show", "--dir", self.result["saved_model"], "--all")
        self.assertEqual(shown.returncode, 0, shown.stderr[-2000:])
        for name in SIGNATURES:
            self.assertIn(f"signature_def['{name}']", shown.stdout)
        out_dir = self.temp_dir()
        ran = _saved_model_cli(
            "run", "--dir", self.result["saved_model"], "--tag_set", "serve", "--signature_def", "serving_default",
            "--input_exprs", "captions=['a small red circle on the left', ''];seeds=[3, 4]", "--outdir", out_dir,
        )
        self.assertEqual(ran.returncode, 0, ran.stderr[-2000:])
        images = np.load(os.path.join(out_dir, "images.npy"))
        self.assertEqual((images.dtype, images.shape), (np.uint8, (2, 32, 32, 3)))

    def test_versions_increment_and_are_never_overwritten(self):
        served = self.temp_dir()
        self.assertEqual(export_run(self.run_dir, "m", to=served)["version"], 1)
        self.assertEqual(export_run(self.run_dir, "m", to=served)["version"], 2)
        before = os.path.getmtime(os.path.join(served, "m", "2", "saved_model.pb"))
        with self.assertRaisesRegex(UserError, "never overwritten"):
            export_run(self.run_dir, "m", to=served, version=2)
        self.assertEqual(os.path.getmtime(os.path.join(served, "m", "2", "saved_model.pb")), before)
        self.assertEqual(export_run(self.run_dir, "m", to=served, version=7)["version"], 7)
        self.assertEqual(sorted(os.listdir(os.path.join(served, "m"))), ["1", "2", "7"])

    def test_a_failed_write_leaves_no_partial_version(self):
        root = os.path.join(self.temp_dir(), "m")

        def disk_full(directory):
            with open(os.path.join(directory, "saved_model.pb"), "wb") as file:
                file.write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")

        with self.assertRaisesRegex(UserError, "No space left on device"):
            write_version(root, disk_full)
        self.assertEqual(os.listdir(root), [])
        self.assertEqual(versions(root), [])

    def test_bad_exports_are_one_line_errors(self):
        not_a_dir = os.path.join(self.temp_dir(), "file")
        with open(not_a_dir, "w") as file:
            file.write("x")
        with self.assertRaisesRegex(UserError, "cannot create"):
            export_run(self.run_dir, "m", to=not_a_dir)
        for name in ("../up", "", "3", ".hidden"):
            with self.assertRaisesRegex(UserError, "--name"):
                export_run(self.run_dir, name, to=self.temp_dir())
        with self.assertRaisesRegex(UserError, "no run directory"):
            export_run("/no/such/run", "m", to=self.temp_dir())
        for argv, problem in [
            (("export", "/no/such/run", "--name", "m"), "/no/such/run"),
            (("export", self.run_dir, "--name", "m", "--to", not_a_dir), not_a_dir),
            (("export", self.run_dir, "--name", "tiny", "--to", self.served, "--version", "1"), "never overwritten"),
        ]:
            status, _, err = run_cli(*argv)
            self.assertEqual(status, 2)
            self.assertEqual(err.strip().count("\n"), 0, err)
            self.assertIn(problem, err)


class OnnxExportTest(TestCase):
    """The ONNX graph of the same tiny model."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        exported = _exported()
        cls.run_dir, cls.onnx_dir = exported.run_dir, exported.result["onnx"]
        cls.loaded = tf.saved_model.load(exported.result["saved_model"])
        cls.session = onnxruntime.InferenceSession(os.path.join(cls.onnx_dir, "model.onnx"))

    def test_files_checker_and_io_names(self):
        self.assertEqual(sorted(os.listdir(self.onnx_dir)), ["config.json", "model.onnx", "vocab.json"])
        model = onnx.load(os.path.join(self.onnx_dir, "model.onnx"))
        onnx.checker.check_model(model)
        self.assertGreaterEqual(max(opset.version for opset in model.opset_import if opset.domain in ("", "ai.onnx")), 17)
        self.assertEqual([i.name for i in self.session.get_inputs()], ["token_ids", "noise"])
        self.assertEqual([o.name for o in self.session.get_outputs()], ["images"])
        with open(os.path.join(self.onnx_dir, "config.json"), encoding="utf-8") as file:
            self.assertEqual(json.load(file)["model"]["noise_dim"], 16)

    def test_outputs_match_the_saved_model(self):
        tokenizer = PyTokenizer.load(self.onnx_dir)
        signature = self.loaded.signatures["from_token_ids"]
        captions = (CAPTIONS + ODD_CAPTIONS) * 2
        for batch in (1, 16):
            ids = tokenizer.encode(captions[:batch])
            self.assertAllEqual(ids, Tokenizer(self.run_dir)(tf.constant(captions[:batch])))
            noise = np.random.default_rng(batch).standard_normal((batch, 16)).astype(np.float32)
            got = self.session.run(["images"], {"token_ids": ids, "noise": noise})[0]
            expected = signature(token_ids=tf.constant(ids), noise=tf.constant(noise))["images"].numpy()
            self.assertEqual(got.shape, (batch, 32, 32, 3))
            self.assertLess(np.abs(got - expected).max(), 1e-4)

    def test_conditional_batch_norm_generator_exports_alike(self):
        self._assert_exports_alike({"conditioning": "batch_norm"}, ("up0_bn_scale", "up1_bn_shift"))

    def test_word_attention_generator_exports_alike(self):
        self._assert_exports_alike({"attention_sizes": (8, 16)}, ("up0_word_attention", "up1_word_attention"))

    def _assert_exports_alike(self, generator_options, layers):
        """SavedModel and ONNX give the Keras model's images, with the kernels of `layers`
        drawn away from their initial values."""
        run_dir = os.path.join(self.temp_dir(), "run")
        os.makedirs(run_dir)
        model = _write_run(run_dir, **generator_options)
        for name in layers:
            layer = model.generator.get_layer(name)
            kernel = layer.kernel if hasattr(layer, "kernel") else layer.word_projection.kernel
            kernel.assign(np.random.default_rng(0).normal(0, 0.3, kernel.shape))
        model.save(os.path.join(run_dir, "model.keras"))
        result = export_run(run_dir, "variant", to=os.path.join(self.temp_dir(), "served"), onnx=True)
        ids = Tokenizer(run_dir)(tf.constant(CAPTIONS)).numpy()
        noise = np.random.default_rng(1).standard_normal((len(CAPTIONS), 16)).astype(np.float32)
        expected = keras.ops.convert_to_numpy(model.generate(ids, noise=noise))
        served = tf.saved_model.load(result["saved_model"]).signatures["from_token_ids"]
        self.assertAllClose(served(token_ids=tf.constant(ids), noise=tf.constant(noise))["images"], expected, atol=1e-5)
        session = onnxruntime.InferenceSession(os.path.join(result["onnx"], "model.onnx"))
        self.assertLess(np.abs(session.run(["images"], {"token_ids": ids, "noise": noise})[0] - expected).max(), 1e-4)

    def test_onnx_generate_runs_where_tensorflow_cannot_be_imported(self):
        out = os.path.join(self.temp_dir(), "grid.png")
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
        probe = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True, env=env)
        self.assertNotEqual(probe.returncode, 0)
        result = subprocess.run(
            [sys.executable, "-m", "tfgan_text.inference.onnx_generate", "--model", self.onnx_dir, "a small red circle", "🙂",
             "--n", "3", "--out", out],
            capture_output=True, text=True, env=env, timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertIn("3 image(s) for each of 2 caption(s)", result.stdout)
        self.assertEqual(Image.open(out).mode, "RGB")
        missing = subprocess.run([sys.executable, "-m", "tfgan_text.inference.onnx_generate", "--model", self.temp_dir(), "x"],
                                 capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(missing.returncode, 2)
        self.assertNotIn("Traceback", missing.stderr)
