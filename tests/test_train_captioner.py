"""Tests of captioner runs: MLE, adversarial runs from an MLE run, checkpoints, resume, bad input."""

import contextlib
import io
import json
import os
import tempfile

import numpy as np

from tests.test_case import TestCase
from tests.test_train_dcgan import checkpoint_steps, tree_digest
from tfgan_text.cli import main
from tfgan_text.errors import UserError
from tfgan_text.models import load_model
from tfgan_text.training.checkpoints import TrainingCheckpoint
from tfgan_text.training.train_captioner import CaptionerSettings, _build_mle_model, train_captioner

TINY = dict(
    image_size=32, batch_size=8, steps_per_epoch=3, epochs=1, embedding_dim=8, hidden_dim=16,
    encoder_filters=(8, 16), checkpoint_every=2,
)


class TrainCaptionerTest(TestCase):
    def test_mle_run_writes_everything_and_resume_adds_epochs(self):
        run = os.path.join(self.temp_dir(), "run")
        model = train_captioner(run, verbose=0, **TINY)
        for name in ("run.json", "vocab.txt", "tokenizer.json", "model.keras", "logs"):
            self.assertTrue(os.path.exists(os.path.join(run, name)), name)
        with open(os.path.join(run, "samples", "captions_epoch_001.txt"), encoding="utf-8") as file:
            lines = file.read().splitlines()
        self.assertEqual(len(lines), 16)
        self.assertTrue(all(len(line.split("\t")) == 2 for line in lines))
        self.assertTrue(os.path.exists(os.path.join(run, "samples", "captions_epoch_001.png")))
        self.assertEqual(int(model.optimizer.iterations.numpy()), 3)
        self.assertEqual(checkpoint_steps(run), [2, 3])
        fresh = _build_mle_model(CaptionerSettings(**TINY).check(), model.vocabulary_size, total_steps=3)
        self.assertEqual(TrainingCheckpoint(os.path.join(run, "checkpoints")).restore(fresh), 3)
        for a, b, variable in zip(model.variables + model.optimizer.variables,
                                  fresh.variables + fresh.optimizer.variables, model.variables + model.optimizer.variables):
            self.assertAllEqual(a, b, msg=variable.path)  # every weight, the image encoder's blocks too

        resumed = train_captioner(run, resume=True, epochs=2, verbose=0)
        self.assertEqual(int(resumed.optimizer.iterations.numpy()), 6)
        self.assertTrue(os.path.exists(os.path.join(run, "samples", "captions_epoch_002.txt")))

    def test_bad_runs_are_one_line_errors_and_change_nothing(self):
        run = os.path.join(self.temp_dir(), "run")
        with self.assertRaisesRegex(UserError, "no run to resume"):
            train_captioner(run, resume=True, verbose=0, **TINY)
        with self.assertRaisesRegex(UserError, "batch-size must be a positive integer"):
            train_captioner(run, verbose=0, **{**TINY, "batch_size": -4})
        with self.assertRaisesRegex(UserError, "unknown mode 'rl'"):
            train_captioner(run, verbose=0, **{**TINY, "mode": "rl"})
        with self.assertRaisesRegex(UserError, "encoder-downsampling must be one of strided, max_pool, got 'avg'"):
            train_captioner(run, verbose=0, **{**TINY, "encoder_downsampling": "avg"})
        with self.assertRaisesRegex(UserError, "learning-rate-decay must be one of constant, cosine, got 'linear'"):
            train_captioner(run, verbose=0, **{**TINY, "learning_rate_decay": "linear"})
        with self.assertRaisesRegex(UserError, "attention-heads must be an integer >= 0 that divides hidden-dim 16"):
            train_captioner(run, verbose=0, **{**TINY, "attention_heads": 3})
        with self.assertRaisesRegex(UserError, "--mode seqgan starts from an MLE captioner: train one first"):
            train_captioner(run, verbose=0, mode="seqgan")
        with self.assertRaisesRegex(UserError, "holds no trained MLE captioner"):
            train_captioner(run, verbose=0, mode="gumbel", init_from=self.temp_dir())
        self.assertFalse(os.path.exists(run))

        train_captioner(run, verbose=0, **TINY)
        before = tree_digest(run)
        with self.assertRaisesRegex(UserError, "already holds a run"):
            train_captioner(run, verbose=0, **TINY)
        with self.assertRaisesRegex(UserError, "another architecture"):
            train_captioner(run, resume=True, verbose=0, hidden_dim=32)
        self.assertEqual(tree_digest(run), before)

    def test_a_run_saved_before_the_encoder_options_resumes_and_starts_adversarial_runs(self):
        run = os.path.join(self.temp_dir(), "old")
        former = dict(encoder_downsampling="strided", encoder_coordinates=False, learning_rate_decay="constant",
                      attention_heads=0)
        train_captioner(run, verbose=0, **TINY, **former)
        path = os.path.join(run, "run.json")
        with open(path, encoding="utf-8") as file:
            settings = json.load(file)
        with open(path, "w", encoding="utf-8") as file:
            json.dump({k: v for k, v in settings.items() if k not in former}, file)
        resumed = train_captioner(run, resume=True, epochs=2, verbose=0)
        self.assertEqual((resumed.image_encoder.downsampling, resumed.attention_heads), ("strided", 0))
        self.assertEqual(int(resumed.optimizer.iterations.numpy()), 6)
        seqgan = train_captioner(os.path.join(self.temp_dir(), "seqgan"), verbose=0, mode="seqgan", init_from=run,
                                 steps_per_epoch=1, batch_size=4, epochs=1, rollouts=2, d_pretrain_epochs=0)
        self.assertEqual((seqgan.image_encoder.downsampling, seqgan.attention_heads), ("strided", 0))

    def test_cli_adversarial_mode_without_mle_run_is_one_line(self):
        out = os.path.join(self.temp_dir(), "adversarial")
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            status = main(["train", "captioner", "--mode", "seqgan", "--out", out])
        self.assertEqual(status, 2)
        message = stderr.getvalue().strip()
        self.assertEqual(len(message.splitlines()), 1)
        self.assertIn("tfgan-text train captioner --mode mle", message)
        self.assertFalse(os.path.exists(out))


class AdversarialRunTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp()
        cls.mle = os.path.join(cls.root, "mle")
        cls.mle_model = train_captioner(cls.mle, verbose=0, encoder_downsampling="max_pool", encoder_coordinates=True,
                                        learning_rate_decay="cosine", attention_heads=2, **TINY)

    def test_mle_options_cosine_decay_and_the_encoder_they_make(self):
        optimizer = self.mle_model.optimizer
        self.assertEqual(int(optimizer.iterations.numpy()), 3)
        self.assertAllClose(optimizer.learning_rate, 1e-3 * 0.05)  # the end of the cosine: alpha = 5%
        encoder = self.mle_model.image_encoder
        self.assertEqual((encoder.downsampling, encoder.coordinates, encoder.regions), ("max_pool", True, True))
        self.assertEqual(self.mle_model.attention_heads, 2)

    def test_seqgan_run_from_an_mle_run_and_its_resume(self):
        run = os.path.join(self.temp_dir(), "seqgan")
        captioner = train_captioner(run, verbose=0, mode="seqgan", init_from=self.mle, steps_per_epoch=2,
                                    batch_size=4, epochs=1, rollouts=2, checkpoint_every=1)
        for name in ("model.keras", "discriminator.keras", "vocab.txt", "tokenizer.json"):
            self.assertTrue(os.path.exists(os.path.join(run, name)), name)
        self.assertEqual(captioner.hidden_dim, 16)
        self.assertEqual(checkpoint_steps(run), [1, 2])
        with open(os.path.join(run, "run.json"), encoding="utf-8") as file:
            settings = json.load(file)
        self.assertEqual((settings["image_size"], settings["encoder_filters"]), (32, [8, 16]))
        mle = load_model(os.path.join(self.mle, "model.keras"))
        moved = max(np.abs(a - b).max() for a, b in zip(mle.get_weights(), captioner.get_weights()))
        self.assertGreater(moved, 0.0)

        train_captioner(run, resume=True, epochs=2, verbose=0)
        self.assertEqual(checkpoint_steps(run), [2, 3, 4])
        with self.assertRaisesRegex(UserError, "another architecture"):
            train_captioner(run, resume=True, mode="gumbel", verbose=0)

    def test_gumbel_run_from_an_mle_run(self):
        run = os.path.join(self.temp_dir(), "gumbel")
        train_captioner(run, verbose=0, mode="gumbel", init_from=self.mle, steps_per_epoch=2, batch_size=4,
                        epochs=1, d_pretrain_epochs=0)
        self.assertTrue(os.path.exists(os.path.join(run, "samples", "captions_epoch_001.txt")))
        # D's CNN starts as the MLE generator's: two D steps at 1e-4 later it is still close to it.
        discriminator = load_model(os.path.join(run, "discriminator.keras"))
        self.assertEqual((discriminator.image_encoder.downsampling, discriminator.image_encoder.coordinates),
                         ("max_pool", True))
        mine, trained = discriminator.image_encoder, self.mle_model.image_encoder
        self.assertFalse(mine.regions)  # D reads the pooled feature only
        for layer, source in zip(mine.blocks + [mine.global_projection], trained.blocks + [trained.global_projection]):
            for a, b in zip(layer.trainable_weights, source.trainable_weights):
                self.assertAllClose(a, b, atol=1e-3, msg=a.path)
        with self.assertRaisesRegex(UserError, "comes from the MLE run"):
            train_captioner(os.path.join(self.temp_dir(), "other"), verbose=0, mode="gumbel", init_from=self.mle,
                            hidden_dim=64)
        with self.assertRaisesRegex(UserError, "is a 'gumbel' run, not an MLE captioner run"):
            train_captioner(os.path.join(self.temp_dir(), "other"), verbose=0, mode="seqgan", init_from=run)
