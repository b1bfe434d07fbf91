"""Tests of `tfgan-text evaluate` and its judges: the shipped models scored with the shipped,
hash-checked judges; reports that hold what the issue asks; one line on bad input."""

import gzip
import json
import os
import shutil
import struct
import zipfile

import numpy as np

from tests.test_case import TestCase
from tests.test_cli import ROOT, run_cli
from tfgan_text.errors import UserError
from tfgan_text.evaluation import model_task
from tfgan_text.evaluation.text_to_image import content_groups
from tfgan_text.metrics import judges

DCGAN = os.path.join(ROOT, "saved_models", "dcgan_shapes")
CAPTIONER = os.path.join(ROOT, "saved_models", "shapes_captioner")
FASHION_DCGAN = os.path.join(ROOT, "saved_models", "dcgan_fashion_mnist")


def write_idx(path, array):
    """An IDX file of unsigned bytes (gzip when the name ends in .gz)."""
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with (gzip.open if path.endswith(".gz") else open)(path, "wb") as file:
        file.write(header + array.tobytes())


class JudgeTest(TestCase):
    def test_every_shipped_judge_passes_its_hash_check_and_records_its_command(self):
        entries = judges.registry()
        self.assertContainsSubset({"shapes-attributes-32px", "shapes-attributes-64px", "shapes-matching-64px", "fashion-mnist-32px"}, entries)
        for name, entry in entries.items():
            self.assertTrue(entry["command"].startswith("python bench/train_judges.py " + name), entry["command"])
            judges.verified_dir(name)

    def test_a_changed_file_is_refused_in_one_line(self):
        copy = os.path.join(self.temp_dir(), "judges")
        shutil.copytree(judges.JUDGES_DIR, copy)
        with open(os.path.join(copy, "fashion-mnist-32px", judges.JUDGE_MODEL_FILE), "ab") as file:
            file.write(b"\0")
        with self.assertRaisesRegex(UserError, r"^judge fashion-mnist-32px: .* has sha256 .*the file changed[^\n]*$"):
            judges.load("fashion-mnist-32px", copy)
        os.remove(os.path.join(copy, "shapes-attributes-64px", judges.JUDGE_MODEL_FILE))
        with self.assertRaisesRegex(UserError, "is missing"):
            judges.load("shapes-attributes-64px", copy)
        with self.assertRaisesRegex(UserError, "no judge named 'nope'"):
            judges.load("nope", copy)

    def test_attribute_judge_reads_features_and_pair_probabilities(self):
        judge = judges.load("shapes-attributes-64px")
        out = judge.read(np.zeros([3, 32, 32, 3], np.uint8))  # resized to 64 px
        self.assertEqual(out["features"].shape[0], 3)
        self.assertEqual(out["probabilities"].shape, (3, 64))
        self.assertAllClose(out["probabilities"].sum(axis=1), np.ones(3), atol=1e-5)

    def test_inception_judge_with_random_weights(self):
        judge = judges.InceptionJudge(None)
        out = judge.read(np.random.RandomState(0).randint(0, 256, [2, 32, 32, 3]).astype(np.uint8))
        self.assertEqual(out["features"].shape, (2, 2048))
        self.assertEqual(out["probabilities"].shape, (2, 1000))
        self.assertTrue(np.all(np.isfinite(out["features"])) and np.all(np.isfinite(out["probabilities"])))
        with self.assertRaisesRegex(UserError, "no file"):
            judges.InceptionJudge("/no/such/weights.h5")

    def test_evaluate_with_inception_weights_from_a_file(self):
        import keras

        weights = os.path.join(self.temp_dir(), "inception.weights.h5")
        keras.applications.InceptionV3(weights=None, include_top=True).save_weights(weights)
        out = os.path.join(self.temp_dir(), "report.json")
        status, _, stderr = run_cli("evaluate", DCGAN, "--num-images", "8", "--metrics", "kid", "is",
                                    "--inception-weights", weights, "--out", out)
        self.assertEqual(status, 0, stderr)
        with open(out) as file:
            report = json.load(file)
        self.assertEqual(report["judge"]["name"], "inception-v3")
        self.assertEqual(report["judge"]["sha256"], {"inception.weights.h5": judges.file_sha256(weights)})
        self.assertTrue(np.isfinite(report["metrics"]["kid"]["mean"]) and report["metrics"]["is"]["mean"] >= 1.0)

    def test_content_groups(self):
        attributes = {key: np.array([[0, -1], [0, -1], [1, 2]]) for key in ("shape", "color", "size", "position")}
        self.assertAllEqual(content_groups(attributes=attributes), [0, 0, 1])
        self.assertAllEqual(content_groups(labels=[3, 1, 3]), [0, 1, 0])
        self.assertAllEqual(content_groups(captions=["a", "b", "b"]), [0, 1, 1])


class EvaluateCommandTest(TestCase):
    def test_shipped_dcgan_with_the_shipped_judges(self):
        out = os.path.join(self.temp_dir(), "report.json")
        status, stdout, stderr = run_cli("evaluate", DCGAN, "--data", "shapes", "--split", "test",
                                         "--num-images", "200", "--out", out)
        self.assertEqual(status, 0, stderr)
        for name in ("fid", "kid", "is", "precision_recall.precision", "r_precision", "accuracy.color_accuracy"):
            self.assertIn(name, stdout)
        with open(out) as file:
            report = json.load(file)
        self.assertEqual(report["task"], "text_to_image")
        self.assertEqual(report["num_images"], 200)
        self.assertEqual(report["judge"]["sha256"], judges.registry()["shapes-attributes-64px"]["files"])
        metrics, real = report["metrics"], report["real"]
        # The real train images are nearer the real test images than any model's images.
        self.assertLess(real["fid"], metrics["fid"])
        self.assertGreater(real["accuracy"]["color_accuracy"], 0.9)
        self.assertGreater(real["r_precision"]["mean"], metrics["r_precision"]["mean"] - 0.2)
        self.assertGreater(metrics["accuracy"]["color_accuracy"], 0.5)  # the demo draws the named colours
        self.assertGreaterEqual(metrics["is"]["mean"], 1.0)

    def test_same_seed_same_report(self):
        args = ("evaluate", DCGAN, "--num-images", "20", "--metrics", "fid", "accuracy")
        first, second = run_cli(*args), run_cli(*args)
        self.assertEqual(first[0], 0, first[2])
        self.assertEqual(first[1], second[1])

    def test_shipped_captioner(self):
        out = os.path.join(self.temp_dir(), "report.json")
        status, stdout, stderr = run_cli("evaluate", CAPTIONER, "--num-images", "20", "--out", out)
        self.assertEqual(status, 0, stderr)
        self.assertIn("CIDEr-D", stdout)
        with open(out) as file:
            report = json.load(file)
        self.assertEqual(report["task"], "image_to_text")
        self.assertGreater(report["metrics"]["accuracy"]["color"], 0.8)
        self.assertEqual(report["real"]["accuracy"]["all_correct"], 1.0)

    def test_a_fashion_mnist_model_on_an_idx_folder(self):
        if not os.path.isdir(FASHION_DCGAN):
            self.skipTest(f"{FASHION_DCGAN} is not shipped")
        root = os.path.join(self.temp_dir(), "fashion")
        os.makedirs(root)
        rng = np.random.RandomState(0)
        for part, count in (("train", 120), ("t10k", 100)):
            write_idx(os.path.join(root, f"{part}-images-idx3-ubyte.gz"), rng.randint(0, 256, (count, 28, 28)))
            write_idx(os.path.join(root, f"{part}-labels-idx1-ubyte.gz"), np.arange(count) % 10)
        out = os.path.join(self.temp_dir(), "report.json")
        status, stdout, stderr = run_cli("evaluate", FASHION_DCGAN, "--data", root, "--out", out,
                                         "--metrics", "fid", "kid", "is", "accuracy")
        self.assertEqual(status, 0, stderr)
        with open(out) as file:
            report = json.load(file)
        self.assertEqual(report["judge"]["name"], "fashion-mnist-32px")
        self.assertIn("class_accuracy", report["metrics"]["accuracy"])
        # Noise images are not clothes: generated clothes are classed better than noise is.
        self.assertGreater(report["metrics"]["accuracy"]["class_accuracy"], report["real"]["accuracy"]["class_accuracy"])

    def test_bad_input_is_one_line(self):
        cases = [
            (("evaluate", DCGAN, "--metrics", "bleu"), "not a metric of text-to-image models"),
            (("evaluate", CAPTIONER, "--metrics", "fid"), "not a metric of image-to-text models"),
            (("evaluate", DCGAN, "--num-images", "1"), "at least 2"),
            (("evaluate", self.temp_dir()), "holds no trained model"),
            (("evaluate", DCGAN, "--out", "/no/such/dir/r.json"), "output directory does not exist"),
            (("evaluate", CAPTIONER, "--inception-weights", "w.h5"), "do not apply to a captioner"),
            (("evaluate", DCGAN, "--data", "/no/such/data"), "no such dataset"),
            (("evaluate", DCGAN, "--split", "nope"), "unknown shapes split 'nope'"),
            (("evaluate", DCGAN, "--matching-model", ROOT), "--matching-model"),
        ]
        for argv, message in cases:
            status, stdout, stderr = run_cli(*argv)
            self.assertEqual(status, 2, (argv, stderr))
            self.assertIn(message, stderr)
            self.assertEqual(len(stderr.strip().splitlines()), 1, stderr)

    def test_model_task(self):
        self.assertEqual(model_task(DCGAN), "text_to_image")
        self.assertEqual(model_task(CAPTIONER), "image_to_text")
        run = self.temp_dir()
        for module, name, task in (("tfgan_text.models.image_to_text.captioner", "Captioner", "image_to_text"),
                                   ("tfgan_text.models.text_to_image.dcgan", "TextConditionalDCGAN", "text_to_image"),
                                   ("tfgan_text.models.text_encoder", "WordRNNEncoder", None)):
            with zipfile.ZipFile(os.path.join(run, "model.keras"), "w") as archive:
                archive.writestr("config.json", json.dumps({"module": module, "class_name": name}))
            if task:
                self.assertEqual(model_task(run), task)
            else:
                with self.assertRaisesRegex(UserError, "holds a WordRNNEncoder, neither"):
                    model_task(run)
