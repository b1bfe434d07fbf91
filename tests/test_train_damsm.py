"""Tests of DAMSM runs (`train_damsm`, `tfgan-text train damsm`): what a run writes and reports,
resume, the backbone image encoder on a real weights file, one-line errors that write nothing,
and the evaluation code reading a DAMSM run as its matching model."""

import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tests.test_cli import ROOT, run_cli
from tfgan_text.errors import UserError
from tfgan_text.metrics.judges import MatchingJudge
from tfgan_text.models import load_model
from tfgan_text.models.backbone_image_encoder import BackboneImageEncoder
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.models.text_encoder import WordRNNEncoder
from tfgan_text.training.checkpoints import kept_checkpoints
from tfgan_text.training.train_damsm import train_damsm

TINY = dict(batch_size=8, steps_per_epoch=3, epochs=1, text_embedding_dim=8, text_hidden_dim=16,
            image_encoder_filters=[8, 16, 16], checkpoint_every=2)
TINY_FLAGS = ["--batch-size", "8", "--steps-per-epoch", "3", "--epochs", "1", "--text-embedding-dim", "8",
              "--text-hidden-dim", "16", "--image-encoder-filters", "8", "16", "16", "--checkpoint-every", "2"]
# MobileNetV2 at 32 px: 2x2 regions from block 13, a 1x1 last map.
BACKBONE = dict(image_encoder="MobileNetV2", backbone_region_layer="block_13_expand_relu")


def backbone_weights_file(directory):
    """A real weights file of MobileNetV2 without its top: a freshly built network's, saved
    (what a user gives with --backbone-weights; nothing is downloaded). Returns (network, path)."""
    network = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = os.path.join(directory, "mobilenet_v2_notop.weights.h5")
    network.save_weights(path)
    return network, path


class TrainDAMSMTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_dir = os.path.join(tempfile.mkdtemp(), "damsm")
        cls.status, cls.out, cls.err = run_cli("train", "damsm", "--out", cls.run_dir, "--image-size", "64", *TINY_FLAGS)

    def test_a_run_writes_both_encoders_its_vocabulary_and_a_report(self):
        self.assertEqual(self.status, 0, self.err)
        self.assertRegex(self.out.strip().splitlines()[-1],
                         r"^DAMSM encoders: .*text_encoder.keras, .*image_encoder.keras; val \(1000 images\): "
                         r"image->text R@1 [\d.]+ R@5 [\d.]+, text->image R@1 [\d.]+ R@5 [\d.]+, R-precision [\d.]+ ± [\d.]+$")
        for name in ("run.json", "vocab.txt", "tokenizer.json", "text_encoder.keras", "image_encoder.keras",
                     "damsm_report.json", "checkpoints", "logs"):
            self.assertTrue(os.path.exists(os.path.join(self.run_dir, name)), name)
        with open(os.path.join(self.run_dir, "run.json"), encoding="utf-8") as file:
            settings = json.load(file)
        self.assertEqual((settings["image_size"], settings["text_hidden_dim"]), (64, 16))
        text_encoder = load_model(os.path.join(self.run_dir, "text_encoder.keras"))
        self.assertIsInstance(text_encoder, WordRNNEncoder)
        self.assertEqual(sorted(text_encoder(np.array([[3, 4, 0]]))), ["mask", "sentence", "words"])
        image_encoder = load_model(os.path.join(self.run_dir, "image_encoder.keras"))
        self.assertIsInstance(image_encoder, ImageEncoder)
        out = image_encoder(np.zeros([1, 64, 64, 3], "float32"))
        self.assertEqual((out["regions"].shape, out["global"].shape), ((1, 16, 16, 16), (1, 16)))

        with open(os.path.join(self.run_dir, "damsm_report.json"), encoding="utf-8") as file:
            report = json.load(file)
        self.assertEqual((report["split"], report["num_images"], report["num_captions"]), ("val", 1000, 10000))
        for way in ("image_to_text", "text_to_image"):
            self.assertEqual(sorted(report[way]), ["recall_at_1", "recall_at_5"])
            self.assertLessEqual(report[way]["recall_at_1"], report[way]["recall_at_5"])
        self.assertEqual(sorted(report["r_precision"]), ["mean", "num_candidates", "std"])
        self.assertEqual(report["r_precision"]["num_candidates"], 100)

    def test_resume_continues_from_the_last_checkpoint(self):
        run = os.path.join(self.temp_dir(), "damsm")
        shutil.copytree(self.run_dir, run)
        self.assertEqual([step for step, _ in kept_checkpoints(os.path.join(run, "checkpoints"))], [2, 3])
        train_damsm(run, resume=True, epochs=2, verbose=0)
        self.assertEqual([step for step, _ in kept_checkpoints(os.path.join(run, "checkpoints"))], [3, 4, 6])
        with self.assertRaisesRegex(UserError, "text-hidden-dim=16, not 32: a checkpoint of another architecture"):
            train_damsm(run, resume=True, text_hidden_dim=32)

    def test_the_evaluation_reads_a_damsm_run_as_its_matching_model(self):
        judge = MatchingJudge.from_run(self.run_dir)
        self.assertEqual(judge.embed_captions(["a red circle", "a blue star"]).shape, (2, 16))
        self.assertEqual(judge.embed_images(np.zeros([3, 32, 32, 3], np.uint8)).shape, (3, 16))
        report_path = os.path.join(self.temp_dir(), "report.json")
        status, _, err = run_cli("evaluate", os.path.join(ROOT, "saved_models", "dcgan_shapes"), "--metrics", "r_precision",
                                 "--num-images", "200", "--matching-model", self.run_dir, "--out", report_path)
        self.assertEqual(status, 0, err)
        with open(report_path, encoding="utf-8") as file:
            report = json.load(file)
        self.assertEqual(report["matching_judge"]["name"], "damsm")
        for side in ("metrics", "real"):
            self.assertEqual(report[side]["r_precision"]["num_candidates"], 100)


class BackboneImageEncoderTest(TestCase):
    def test_the_weights_file_is_loaded_frozen_and_travels_in_the_keras_file(self):
        network, path = backbone_weights_file(self.temp_dir())
        encoder = BackboneImageEncoder("MobileNetV2", "block_13_expand_relu", embedding_dim=16, input_size=64,
                                       weights=path)
        images = np.random.default_rng(0).uniform(-1, 1, [2, 32, 32, 3]).astype("float32")
        out = encoder(images)
        self.assertEqual((out["regions"].shape, out["global"].shape), ((2, 4, 4, 16), (2, 16)))
        for layer in (layer for layer in network.layers if layer.weights):
            for expected, actual in zip(layer.get_weights(), encoder.network.get_layer(layer.name).get_weights()):
                self.assertAllEqual(actual, expected)
        # Frozen: only the two projections train.
        self.assertEqual(sorted(v.path.split("/")[-2] for v in encoder.trainable_variables),
                         ["global_projection", "global_projection", "region_projection", "region_projection"])
        # The network reads the images resized to 64 px; MobileNetV2's preprocess_input maps [0, 255]
        # back to [-1, 1].
        regions, _ = encoder.network(tf.image.resize(images, [64, 64]))
        self.assertAllClose(out["regions"], encoder.region_projection(regions), atol=1e-5)

        saved = os.path.join(self.temp_dir(), "image_encoder.keras")
        encoder.save(saved)
        os.remove(path)
        restored = load_model(saved)
        for key in ("regions", "global"):
            self.assertAllClose(restored(images)[key], out[key], atol=1e-6)

    def test_bad_backbones_are_one_line_errors(self):
        _, path = backbone_weights_file(self.temp_dir())
        with self.assertRaisesRegex(UserError, r"^MobileNetV2 has no layer 'nope'; the last layer of each map size at "
                                               r"32 px: .*block_13_expand_relu 2x2, .*out_relu 1x1$"):
            BackboneImageEncoder("MobileNetV2", "nope", input_size=32, weights=path)
        with self.assertRaisesRegex(UserError, "^InceptionV3 at 64 px: Input size must be at least 75x75"):
            BackboneImageEncoder("InceptionV3", input_size=64)
        with self.assertRaisesRegex(UserError, r"^backbone weights .* do not fit MobileNetV3Small without its top: [^\n]*$"):
            BackboneImageEncoder("MobileNetV3Small", "activation", input_size=32, weights=path)
        with self.assertRaisesRegex(UserError, "^unknown image encoder 'ResNet7'"):
            BackboneImageEncoder("ResNet7")

    def test_a_run_on_a_backbone(self):
        _, path = backbone_weights_file(self.temp_dir())
        run = os.path.join(self.temp_dir(), "damsm")
        _, image_encoder, report = train_damsm(run, verbose=0, image_size=32, backbone_weights=path, **BACKBONE, **TINY)
        self.assertIn("r_precision", report)
        restored = load_model(os.path.join(run, "image_encoder.keras"))
        self.assertIsInstance(restored, BackboneImageEncoder)
        images = np.zeros([1, 32, 32, 3], "float32")
        self.assertAllClose(restored(images)["regions"], image_encoder(images)["regions"], atol=1e-6)
        self.assertEqual(restored(images)["regions"].shape, (1, 2, 2, 16))


class BadSettingsTest(TestCase):
    def test_bad_settings_are_one_line_and_write_nothing(self):
        directory = self.temp_dir()
        _, weights = backbone_weights_file(directory)
        out = os.path.join(directory, "run")
        cases = (
            (["--image-encoder", "MobileNetV2"], "image-encoder MobileNetV2 needs --backbone-weights FILE"),
            (["--image-encoder", "ResNet7", "--backbone-weights", weights], "unknown image encoder 'ResNet7'"),
            (["--image-encoder", "InceptionV3", "--backbone-weights", os.path.join(directory, "missing.h5")],
             "backbone-weights: no readable file"),
            (["--image-encoder", "MobileNetV2", "--backbone-weights", weights],
             "image-encoder MobileNetV2 needs --backbone-region-layer NAME"),
            (["--image-encoder", "MobileNetV2", "--backbone-weights", weights, "--backbone-region-layer", "nope",
              "--image-size", "32"], "MobileNetV2 has no layer 'nope'"),
            (["--backbone-weights", weights], "backbone-weights applies to a keras.applications image encoder, not cnn"),
            (["--image-size", "48"], "image size must be one of 32, 64, 128, 256, 299, got 48"),
            (["--text-hidden-dim", "15"], "text-hidden-dim must be even"),
            (["--image-encoder-filters", "32"], "image-encoder-filters must be two or more positive integers"),
            (["--gamma1", "0"], "gamma1 must be a number > 0"),
            (["--rnn-type", "simple"], "argument --rnn-type: invalid choice: 'simple'"),
        )
        for words, message in cases:
            with self.subTest(words=words):
                status, _, err = run_cli("train", "damsm", "--out", out, *words)
                self.assertEqual(status, 2)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn(message, err)
                self.assertFalse(os.path.exists(out))
