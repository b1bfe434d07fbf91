"""The seed rule (`tfgan_text.noise`): one noise vector per seed, the same on every path.

`tfgan-text generate --seed S --n N` draws image k of a caption from seed S + k; the SavedModel's
`serving_default`, the REST server and `onnx_generate` draw row i from `seeds[i]` by the same
rule, so all of them give the same images.
"""

import base64
import io
import json
import math
import os

import keras
import numpy as np
import requests
import scipy.stats
import tensorflow as tf
import tensorflow_text  # noqa: F401  the exported tokenizer's ops
from PIL import Image

from tests.test_case import TestCase
from tests.test_cli import run_cli
from tests.test_export import CAPTIONS, _write_run
from tests.test_serving import ServerProcess
from tfgan_text.export import export_run
from tfgan_text.image_grid import image_grid
from tfgan_text.inference import onnx_generate
from tfgan_text.noise import image_seeds, seed_noise, seed_noise_tensor
from tfgan_text.text import PyTokenizer

SEEDS = [0, 1, 7, -1, -(2**63), 2**63 - 1, 123_456_789_012_345]


def reference_noise(seed, noise_dim):
    """The rule as `tfgan_text.noise` states it, in Python integers and `math`."""
    lo, hi = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF

    def mix(x):
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)

    def word(counter):
        return mix(mix(mix(counter ^ 0x9E3779B9) ^ lo) ^ hi)

    values = []
    for pair in range((noise_dim + 1) // 2):
        u1 = ((word(2 * pair) >> 8) + 1) / 2**24
        u2 = (word(2 * pair + 1) >> 8) / 2**24
        radius = math.sqrt(-2.0 * math.log(u1))
        values += [radius * math.cos(2 * math.pi * u2), radius * math.sin(2 * math.pi * u2)]
    return np.array(values[:noise_dim], np.float32)


def _grid_pixels(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


class NoiseTest(TestCase):
    def test_numpy_and_the_graph_follow_the_documented_rule(self):
        expected = np.stack([reference_noise(seed, 101) for seed in SEEDS])
        self.assertAllClose(seed_noise(SEEDS, 101), expected, atol=1e-6)
        graph = tf.function(lambda seeds: seed_noise_tensor(seeds, 101),
                            input_signature=[tf.TensorSpec([None], tf.int64)])
        self.assertAllClose(graph(tf.constant(SEEDS, tf.int64)), expected, atol=1e-6)

    def test_noise_is_standard_normal_and_independent(self):
        noise = seed_noise(np.arange(20_000), 100)
        values = noise.ravel()
        self.assertLess(abs(values.mean()), 0.005)
        self.assertLess(abs(values.std() - 1.0), 0.005)
        self.assertGreater(scipy.stats.kstest(values, "norm").pvalue, 1e-3)
        for a, b in ((noise[:, 0], noise[:, 1]), (noise[:-1].ravel(), noise[1:].ravel())):  # components, seeds
            self.assertLess(abs(np.corrcoef(a, b)[0, 1]), 0.02)

    def test_a_rows_noise_depends_on_its_seed_alone(self):
        self.assertEqual(image_seeds(5, 3), [5, 6, 7])
        self.assertAllEqual(seed_noise([5, 9], 16)[0], seed_noise([5], 16)[0])
        self.assertNotAllClose(seed_noise([5], 16), seed_noise([6], 16))


class EveryPathTest(TestCase):
    """A tiny run, exported: the same captions, seed and --n through each path."""

    def test_cli_onnx_saved_model_and_rest_give_the_same_images(self):
        keras.utils.set_random_seed(0)
        run_dir = os.path.join(self.temp_dir(), "run")
        os.makedirs(run_dir)
        model = _write_run(run_dir)
        served = os.path.join(self.temp_dir(), "saved_models")
        result = export_run(run_dir, "tiny", to=served, onnx=True)
        captions, per_caption, seed = CAPTIONS[:2], 3, 5
        rows = [caption for caption in captions for _ in range(per_caption)]
        seeds = [s for _ in captions for s in image_seeds(seed, per_caption)]
        self.assertEqual(seeds, [5, 6, 7, 5, 6, 7])

        # Floats: the Keras model, the SavedModel's ONNX function and ONNX Runtime on the rule's noise.
        ids = PyTokenizer.load(result["onnx"]).encode(rows)
        keras_images = keras.ops.convert_to_numpy(model.generate(ids, noise=seed_noise(seeds, 16)))
        loaded = tf.saved_model.load(result["saved_model"])
        in_graph_noise = seed_noise_tensor(tf.constant(seeds, tf.int64), 16)
        saved_floats = loaded.signatures["from_token_ids"](token_ids=tf.constant(ids), noise=in_graph_noise)["images"]
        onnx_floats = onnx_generate.onnx_images(result["onnx"], rows, seed_noise(seeds, 16))
        self.assertLess(np.abs(saved_floats.numpy() - onnx_floats).max(), 1e-4)
        self.assertLess(np.abs(keras_images - onnx_floats).max(), 1e-4)

        # Grids: the CLI from the run and from the export, onnx_generate, and the SavedModel's PNGs.
        grids = {name: os.path.join(self.temp_dir(), f"{name}.png") for name in ("run", "export", "onnx", "pngs")}
        for name, model_dir in (("run", run_dir), ("export", os.path.dirname(result["saved_model"]))):
            status, _, err = run_cli("generate", *captions, "--model", model_dir, "--n", str(per_caption), "--seed",
                                     str(seed), "--out", grids[name])
            self.assertEqual(status, 0, err)
        self.assertEqual(onnx_generate.main(["--model", result["onnx"], *captions, "--n", str(per_caption), "--seed",
                                             str(seed), "--out", grids["onnx"]]), 0)
        pngs = loaded.signatures["serving_default"](captions=tf.constant(rows), seeds=tf.constant(seeds, tf.int64))
        saved_images = np.stack([np.asarray(Image.open(io.BytesIO(png))) for png in pngs["png_bytes"].numpy()])
        image_grid(saved_images, rows, columns=per_caption).save(grids["pngs"])
        self.assertAllEqual(_grid_pixels(grids["export"]), _grid_pixels(grids["pngs"]))
        for name in ("run", "onnx"):  # float paths: a pixel may round the other way
            self.assertLessEqual(np.abs(_grid_pixels(grids[name]) - _grid_pixels(grids["pngs"])).max(), 1, name)

        # REST: `tfgan-text serve` on the export answers with the SavedModel's PNGs.
        server = ServerProcess(served, os.path.join(self.temp_dir(), "server.log"))
        try:
            server.wait_until_serving("tiny")
            body = {"instances": [{"captions": caption, "seeds": s} for caption, s in zip(rows, seeds)]}
            answer = requests.post(f"{server.url}/v1/models/tiny:predict", data=json.dumps(body), timeout=60)
            self.assertEqual(answer.status_code, 200, answer.text)
        finally:
            server.stop()
        rest_pngs = [base64.b64decode(row["png_bytes"]["b64"]) for row in answer.json()["predictions"]]
        self.assertEqual(rest_pngs, list(pngs["png_bytes"].numpy()))
