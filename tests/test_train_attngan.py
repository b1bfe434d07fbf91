"""AttnGAN runs: DAMSM first or given, checkpoints, resume (also after SIGKILL), bad settings,
export with the attention signature, ONNX parity, serving, and attention maps."""

import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import onnxruntime
import requests
import tensorflow as tf
import tensorflow_text  # noqa: F401  the exported tokenizer's ops
from tensorflow.python.framework import op_def_registry

from tests.test_case import TestCase
from tests.test_cli import run_cli
from tests.test_export import PYTHON_OPS, _graph_ops
from tests.test_serving import ServerProcess
from tests.test_train_dcgan import checkpoint_steps, tree_digest
from tfgan_text.export import export_run
from tfgan_text.export.text_to_image import ATTENTION_SIGNATURE, SIGNATURES
from tfgan_text.inference.attention_maps import load_attention_drawer
from tfgan_text.models import load_model
from tfgan_text.noise import seed_noise
from tfgan_text.text import PyTokenizer
from tfgan_text.training.train_attngan import train_attngan
from tfgan_text.training.train_damsm import train_damsm

CAPTIONS = ["a big red circle on the left", "a small blue star"]
# The quick preset, two stages 16 -> 32 px; 3 epochs of 8 steps in the CLI tests.
RUN_FLAGS = ["--preset", "quick", "--epochs", "3", "--steps-per-epoch", "8", "--checkpoint-every", "4"]


@functools.cache
def _damsm_run():
    """A tiny finished DAMSM run at 32 px, shared by the tests."""
    path = os.path.join(tempfile.mkdtemp(prefix="tfgan_damsm_"), "damsm")
    train_damsm(path, verbose=0, preset="quick", image_size=32, steps_per_epoch=4, batch_size=8)
    return path


@functools.cache
def _trained_run():
    """A tiny AttnGAN run on that DAMSM, exported (SavedModel + ONNX) once."""
    root = tempfile.mkdtemp(prefix="tfgan_attngan_")
    run = os.path.join(root, "run")
    model = train_attngan(run, verbose=0, damsm=_damsm_run(), preset="quick", steps_per_epoch=4)
    result = export_run(run, "attngan", to=os.path.join(root, "saved_models"), onnx=True)
    return run, model, result


class TrainAttnGANTest(TestCase):
    def test_run_writes_everything_and_resume_adds_epochs(self):
        run = os.path.join(self.temp_dir(), "run")
        model = train_attngan(run, verbose=0, damsm=_damsm_run(), preset="quick", steps_per_epoch=4)
        for name in ("model.keras", "run.json", "vocab.txt", "tokenizer.json", "samples/samples_epoch_001.png",
                     "samples/samples_epoch_001_stages.png"):
            self.assertTrue(os.path.isfile(os.path.join(run, name)), name)
        self.assertTrue(os.listdir(os.path.join(run, "logs")))
        self.assertEqual(checkpoint_steps(run)[-1], 4)
        self.assertEqual([d.image_size for d in model.discriminators], [16, 32])
        with open(os.path.join(run, "vocab.txt")) as mine, open(os.path.join(_damsm_run(), "vocab.txt")) as damsm:
            self.assertEqual(mine.read(), damsm.read())  # G reads the DAMSM's token ids
        resumed = train_attngan(run, resume=True, verbose=0, epochs=2)
        self.assertEqual(checkpoint_steps(run)[-1], 8)
        self.assertTrue(os.path.isfile(os.path.join(run, "samples", "samples_epoch_002_stages.png")))
        self.assertEqual(resumed.generator.image_size, 32)

    def test_without_damsm_a_damsm_run_is_trained_first_in_the_run(self):
        run = os.path.join(self.temp_dir(), "run")
        status, out, err = run_cli("train", "attngan", "--out", run, "--preset", "quick", "--steps-per-epoch", "2",
                                   "--batch-size", "4")
        self.assertEqual(status, 0, err)
        for name in ("text_encoder.keras", "image_encoder.keras", "damsm_report.json"):
            self.assertTrue(os.path.isfile(os.path.join(run, "damsm", name)), name)
        self.assertIn("trained:", out)

    def test_bad_settings_are_one_line_errors_and_write_nothing(self):
        root = self.temp_dir()
        run = os.path.join(root, "run")
        cases = [
            (["--damsm", os.path.join(root, "nothing")], "is not a finished `train damsm` run"),
            (["--damsm-preset", "nope"], "unknown preset 'nope' for train damsm"),
            (["--base-size", "24"], "base-size must be one of 16, 32, 64, 128"),
            (["--stages", "5"], r"stages must be in \[1, 4\]"),
            (["--damsm-weight", "-1"], "damsm-weight must be a number >= 0"),
        ]
        for flags, message in cases:
            status, out, err = run_cli("train", "attngan", "--out", run, "--preset", "quick", *flags)
            self.assertEqual(status, 2, flags)
            self.assertRegex(err, message)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertFalse(os.path.exists(run), flags)
        status, _, err = run_cli("train", "attngan", "--out", run, "--resume")
        self.assertEqual(status, 2)
        self.assertIn("no run to resume", err)

    def test_resume_refuses_another_architecture_and_keeps_the_run(self):
        run, _, _ = _trained_run()
        before = tree_digest(run)
        status, _, err = run_cli("train", "attngan", "--out", run, "--resume", "--stages", "3")
        self.assertEqual(status, 2)
        self.assertIn("a checkpoint of another architecture cannot be resumed", err)
        self.assertEqual(tree_digest(run), before)


class KillAndResumeTest(TestCase):
    def test_sigkill_mid_epoch_loses_only_steps_since_the_last_checkpoint(self):
        run = os.path.join(self.temp_dir(), "run")
        command = [sys.executable, "-m", "tfgan_text.cli", "train", "attngan", "--out", run, "--damsm", _damsm_run(),
                   *RUN_FLAGS]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 300
        while not [s for s in checkpoint_steps(run) if s >= 8] and time.time() < deadline and process.poll() is None:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        saved = checkpoint_steps(run)
        self.assertTrue(saved and saved[-1] < 24, f"the kill came too late to test resuming: {saved}")
        resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
        self.assertEqual(resumed.returncode, 0, resumed.stderr[-2000:])
        self.assertEqual(checkpoint_steps(run)[-1], 24)
        self.assertIn(f"Epoch {saved[-1] // 8 + 1}/3", resumed.stdout)


class AttnGANExportTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_dir, cls.model, cls.result = _trained_run()
        cls.loaded = tf.saved_model.load(cls.result["saved_model"])
        cls.tokenizer = PyTokenizer.load(cls.run_dir)

    def test_signatures_are_the_dcgan_ones_plus_attention(self):
        self.assertEqual(sorted(self.loaded.signatures), sorted([*SIGNATURES, ATTENTION_SIGNATURE]))
        ids = self.tokenizer.encode(CAPTIONS)
        noise = seed_noise([5, 6], self.model.generator.noise_dim)
        expected = self.model.stage_outputs(ids, noise)
        served = self.loaded.signatures["from_token_ids"](token_ids=tf.constant(ids), noise=tf.constant(noise))
        self.assertAllClose(served["images"], expected["images"][-1], atol=1e-5)
        attention = self.loaded.signatures[ATTENTION_SIGNATURE](captions=tf.constant(CAPTIONS),
                                                                seeds=tf.constant([5, 6], tf.int64))
        self.assertAllClose(attention["attention_stage_2"], expected["attention"][0], atol=1e-5)
        default = self.loaded.signatures["serving_default"](captions=tf.constant(CAPTIONS), seeds=tf.constant([5, 6], tf.int64))
        self.assertAllEqual(attention["images"], default["images"])

    def test_onnx_matches_the_saved_model(self):
        session = onnxruntime.InferenceSession(os.path.join(self.result["onnx"], "model.onnx"))
        signature = self.loaded.signatures["from_token_ids"]
        for batch in (1, 5):
            ids = self.tokenizer.encode((CAPTIONS * 3)[:batch])
            noise = np.random.default_rng(batch).standard_normal((batch, self.model.generator.noise_dim)).astype("float32")
            got = session.run(["images"], {"token_ids": ids, "noise": noise})[0]
            expected = signature(token_ids=tf.constant(ids), noise=tf.constant(noise))["images"].numpy()
            self.assertEqual(got.shape, (batch, 32, 32, 3))
            self.assertLess(np.abs(got - expected).max(), 1e-4)

    def test_graph_holds_only_core_tf_and_tf_text_ops(self):
        ops = _graph_ops(self.result["saved_model"])
        for op in ops - set(dir(tf.raw_ops)):
            self.assertIsNotNone(op_def_registry.get(op), f"{op} is neither core TF nor TF Text")
        self.assertEqual(ops & PYTHON_OPS, set())

    def test_attention_maps_of_the_run_and_of_the_export_agree(self):
        run_draw, _ = load_attention_drawer(self.run_dir)
        export_draw, _ = load_attention_drawer(os.path.dirname(self.result["saved_model"]))
        run_images, run_maps = run_draw(CAPTIONS, [0, 0])
        export_images, export_maps = export_draw(CAPTIONS, [0, 0])
        self.assertEqual(len(run_maps), 1)
        self.assertAllClose(run_maps[0], export_maps[0], atol=1e-5)
        self.assertLessEqual(int(np.abs(run_images.astype(int) - export_images.astype(int)).max()), 1)

    def test_generate_attention_maps_from_the_command_line(self):
        out = os.path.join(self.temp_dir(), "maps.png")
        grid = os.path.join(self.temp_dir(), "grid.png")
        status, stdout, err = run_cli("generate", "--model", self.run_dir, "--attention-maps", out, "--out", grid, *CAPTIONS)
        self.assertEqual(status, 0, err)
        self.assertIn("2 row(s) of word attention maps", stdout)
        self.assertTrue(os.path.isfile(out) and os.path.isfile(grid))

    def test_attention_maps_of_a_dcgan_are_a_one_line_error_and_write_nothing(self):
        out = os.path.join(self.temp_dir(), "maps.png")
        grid = os.path.join(self.temp_dir(), "grid.png")
        status, _, err = run_cli("generate", "--model", "saved_models/dcgan_shapes", "--attention-maps", out, "--out",
                                 grid, "a red circle")
        self.assertEqual(status, 2)
        self.assertIn("is not an AttnGAN export", err)
        self.assertFalse(os.path.exists(out) or os.path.exists(grid))

    def test_served_over_rest_like_the_dcgan(self):
        base = os.path.dirname(os.path.dirname(self.result["saved_model"]))
        server = ServerProcess(base, os.path.join(self.temp_dir(), "server.log"))
        try:
            server.wait_until_serving("attngan")
            response = requests.post(f"{server.url}/v1/models/attngan:predict", timeout=60,
                                     json={"instances": [{"captions": caption, "seeds": 5} for caption in CAPTIONS]})
            self.assertEqual(response.status_code, 200, response.text[:500])
            predictions = response.json()["predictions"]
            expected = self.loaded.signatures["serving_default"](captions=tf.constant(CAPTIONS),
                                                                 seeds=tf.constant([5, 5], tf.int64))["images"].numpy()
            self.assertAllEqual(np.array([p["images"] for p in predictions], np.uint8), expected)
        finally:
            server.stop()

    def test_evaluate_scores_the_run_and_its_export_alike(self):
        reports = []
        for model in (self.run_dir, os.path.dirname(self.result["saved_model"])):
            out = os.path.join(self.temp_dir(), "report.json")
            status, _, err = run_cli("evaluate", model, "--metrics", "accuracy", "--num-images", "40", "--out", out)
            self.assertEqual(status, 0, err)
            with open(out, encoding="utf-8") as file:
                reports.append(json.load(file)["metrics"]["accuracy"])
        for name, value in reports[0].items():
            self.assertAlmostEqual(reports[1][name], value, delta=0.05, msg=name)

    def test_the_saved_model_keras_loads_with_every_network(self):
        model = load_model(os.path.join(self.run_dir, "model.keras"))
        self.assertEqual(len(model.discriminators), 2)
        ids = self.tokenizer.encode(CAPTIONS)
        noise = seed_noise([1, 2], model.generator.noise_dim)
        self.assertAllClose(keras.ops.convert_to_numpy(model((ids, noise))),
                            keras.ops.convert_to_numpy(self.model((ids, noise))), atol=1e-6)
