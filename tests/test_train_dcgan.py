"""Tests of DCGAN runs: both stages, checkpoints, resume (also after SIGKILL), NaN stops, bad input."""

import glob
import hashlib
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.data import shapes
from tfgan_text.errors import UserError
from tfgan_text.models import load_model
from tfgan_text.models.text_to_image.encoder_discriminator import EncoderFeatureDiscriminator
from tfgan_text.text.vocabulary import Vocabulary
from tfgan_text.training.checkpoints import TrainingCheckpoint, kept_checkpoints, restore_model_variables
from tfgan_text.training.dcgan_settings import DCGANSettings
from tfgan_text.training.train_dcgan import train_dcgan

TINY = dict(
    image_size=32, batch_size=8, steps_per_epoch=3, epochs=1, text_encoder_epochs=1, ngf=8, ndf=8,
    text_embedding_dim=16, text_hidden_dim=16, checkpoint_every=2,
)
TINY_FLAGS = [
    "--image-size", "32", "--batch-size", "16", "--steps-per-epoch", "8", "--epochs", "3",
    "--text-encoder-epochs", "1", "--ngf", "16", "--ndf", "16", "--checkpoint-every", "4",
]


def tree_digest(directory):
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(directory, "**"), recursive=True)):
        digest.update(path.encode())
        if os.path.isfile(path):
            with open(path, "rb") as file:
                digest.update(file.read())
    return digest.hexdigest()


def checkpoint_steps(run_dir):
    return sorted(int(p.split("ckpt-")[1].split(".")[0]) for p in glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.index")))


def _terms(model):
    """(name, weight) of each of a DCGAN's generator terms."""
    return [(term.name, term.weight) for term in model.generator_terms]


class PoisonGenerator(keras.callbacks.Callback):
    """Sets the generator's weights to NaN after batch `at`, as a diverging run would."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.at:
            for variable in self.model.generator.trainable_variables:
                variable.assign(tf.fill(variable.shape, float("nan")))


class TrainDCGANTest(TestCase):
    def test_run_writes_everything_and_resume_adds_epochs(self):
        run = os.path.join(self.temp_dir(), "run")
        model = train_dcgan(run, verbose=0, **TINY)
        for name in ("run.json", "vocab.txt", "tokenizer.json", "text_encoder.keras", "image_encoder.keras", "model.keras", "logs"):
            self.assertTrue(os.path.exists(os.path.join(run, name)), name)
        self.assertTrue(os.path.exists(os.path.join(run, "samples", "samples_epoch_001.png")))
        self.assertEqual(int(model.d_optimizer.iterations.numpy()), 3)
        self.assertEqual(checkpoint_steps(run), [2, 3])

        resumed = train_dcgan(run, resume=True, epochs=2, verbose=0)
        self.assertEqual(int(resumed.d_optimizer.iterations.numpy()), 6)
        self.assertEqual(int(resumed.g_optimizer.iterations.numpy()), 6)
        self.assertTrue(os.path.exists(os.path.join(run, "samples", "samples_epoch_002.png")))

    def test_nan_stops_training_and_keeps_the_last_good_checkpoint(self):
        run = os.path.join(self.temp_dir(), "run")
        with self.assertRaisesRegex(UserError, r"non-finite .*d_loss.*ckpt-2"):
            train_dcgan(run, callbacks=[PoisonGenerator(at=1)], verbose=0, **{**TINY, "checkpoint_every": 1})
        self.assertEqual(checkpoint_steps(run), [1, 2])
        self.assertFalse(os.path.exists(os.path.join(run, "model.keras")))
        reader = tf.train.load_checkpoint(os.path.join(run, "checkpoints", "ckpt-2"))
        for name in reader.get_variable_to_shape_map():
            value = reader.get_tensor(name)
            if np.issubdtype(np.asarray(value).dtype, np.floating):
                self.assertTrue(np.all(np.isfinite(value)), name)

    def test_bad_runs_are_one_line_errors_and_change_nothing(self):
        run = os.path.join(self.temp_dir(), "run")
        with self.assertRaisesRegex(UserError, "no run to resume"):
            train_dcgan(run, resume=True, verbose=0, **TINY)
        with self.assertRaisesRegex(UserError, "image size must be 32, 64 or 128, got 48"):
            train_dcgan(run, verbose=0, **{**TINY, "image_size": 48})
        with self.assertRaisesRegex(UserError, "batch-size must be a positive integer"):
            train_dcgan(run, verbose=0, **{**TINY, "batch_size": -4})
        with self.assertRaisesRegex(UserError, "text-encoder-image-downsampling must be one of strided, max_pool"):
            train_dcgan(run, verbose=0, **{**TINY, "text_encoder_image_downsampling": "avg"})
        with self.assertRaisesRegex(UserError, "generator-upsampling must be one of transposed, resize, got 'linear'"):
            train_dcgan(run, verbose=0, **{**TINY, "generator_upsampling": "linear"})
        with self.assertRaisesRegex(UserError, "generator-conditioning must be one of input, batch_norm, got 'film'"):
            train_dcgan(run, verbose=0, **{**TINY, "generator_conditioning": "film"})
        with self.assertRaisesRegex(UserError, "matching-weight must be a number >= 0, got -1"):
            train_dcgan(run, verbose=0, **{**TINY, "matching_weight": -1})
        with self.assertRaisesRegex(UserError, "reconstruction-weight must be a number >= 0, got -0.5"):
            train_dcgan(run, verbose=0, **{**TINY, "reconstruction_weight": -0.5})
        with self.assertRaisesRegex(UserError, "image-matching-weight must be a number >= 0, got -1"):
            train_dcgan(run, verbose=0, **{**TINY, "image_matching_weight": -1})
        with self.assertRaisesRegex(UserError, r"augment-shift must be a number in \[0, 0.5\), got 0.5"):
            train_dcgan(run, verbose=0, **{**TINY, "augment_shift": 0.5})
        with self.assertRaisesRegex(UserError, r"augment-cutout must be a number in \[0, 1\), got 1"):
            train_dcgan(run, verbose=0, **{**TINY, "augment_cutout": 1})
        with self.assertRaisesRegex(UserError, "text-encoder-word-weight must be a number >= 0, got -1"):
            train_dcgan(run, verbose=0, **{**TINY, "text_encoder_word_weight": -1})
        with self.assertRaisesRegex(UserError, "matching-word-weight needs matching-weight > 0"):
            train_dcgan(run, verbose=0, **{**TINY, "matching_word_weight": 1.0})
        with self.assertRaisesRegex(UserError, "text-encoder-shape-negatives swaps shapes words.*'char_cnn_rnn'"):
            train_dcgan(run, verbose=0, **{**TINY, "text_encoder": "char_cnn_rnn", "text_encoder_shape_negatives": 2})
        self.assertFalse(os.path.exists(run))

        train_dcgan(run, verbose=0, **TINY)
        before = tree_digest(run)
        with self.assertRaisesRegex(UserError, "already holds a run"):
            train_dcgan(run, verbose=0, **TINY)
        with self.assertRaisesRegex(UserError, "another architecture"):
            train_dcgan(run, resume=True, verbose=0, ngf=16)
        self.assertEqual(tree_digest(run), before)

    def test_matching_loss_run_uses_stage_one_image_encoder(self):
        run = os.path.join(self.temp_dir(), "run")
        # DAMSM as AttnGAN: the word loss beside the sentence loss, in stage 1 and in G's term.
        word_losses = {"text_encoder_word_weight": 1.0, "matching_word_weight": 0.5}
        # D fine-tunes its own copy of stage 1's image encoder; the teacher stays frozen.
        fine_tuned_d = {"discriminator": "encoder_features", "discriminator_fine_tune": True}
        model = train_dcgan(run, verbose=0, **{**TINY, "matching_weight": 1.0, **word_losses, **fine_tuned_d})
        self.assertEqual(_terms(model), [("sentence_matching", 1.0), ("word_matching", 0.5)])
        self.assertTrue(np.isfinite(model.history.history["g_word_matching"]).all())
        stage_one = load_model(os.path.join(run, "image_encoder.keras"))
        self.assertAllClose(model.image_encoder.get_weights(), stage_one.get_weights())  # frozen
        self.assertTrue(model.discriminator.fine_tune_encoder)
        moved = [not np.allclose(a, b) for a, b in zip(model.discriminator.image_encoder.get_weights(),
                                                        stage_one.get_weights())]
        self.assertTrue(any(moved))
        self.assertEqual(_terms(load_model(os.path.join(run, "model.keras"))), _terms(model))

        os.remove(os.path.join(run, "image_encoder.keras"))
        before = tree_digest(run)
        with self.assertRaisesRegex(UserError, "matching-weight needs stage 1's image encoder.*start a new run"):
            train_dcgan(run, resume=True, epochs=2, verbose=0)
        self.assertEqual(tree_digest(run), before)

    def test_image_matching_run_reads_stage_one_image_encoder_without_the_caption_matching_loss(self):
        run = os.path.join(self.temp_dir(), "run")
        model = train_dcgan(run, verbose=0, **{**TINY, "image_matching_weight": 2.0})
        self.assertEqual(_terms(model), [("image_matching", 2.0)])
        self.assertTrue(np.isfinite(model.history.history["g_image_matching"]).all())
        stage_one = load_model(os.path.join(run, "image_encoder.keras"))
        self.assertAllClose(model.image_encoder.get_weights(), stage_one.get_weights())  # frozen

    def test_conditional_batch_norm_run_trains_its_caption_maps(self):
        run = os.path.join(self.temp_dir(), "run")
        model = train_dcgan(run, verbose=0, **{**TINY, "generator_conditioning": "batch_norm"})
        self.assertEqual(model.generator.conditioning, "batch_norm")
        self.assertGreater(np.abs(model.generator.get_layer("up0_bn_scale").kernel.numpy()).max(), 0.0)  # starts at 0
        saved = load_model(os.path.join(run, "model.keras"))
        self.assertEqual(saved.generator.conditioning, "batch_norm")
        self.assertAllClose(saved.generator.get_weights(), model.generator.get_weights())

    def test_word_attention_run_trains_saves_and_resumes(self):
        for bad, message in (({"generator_attention_sizes": [64], "gan_int": False},
                              r"generator-attention-sizes must be among G's hidden map sizes \[8, 16, 32\] at image size 64"),
                             ({"generator_attention_sizes": [16]}, "generator-attention-sizes needs --no-gan-int"),
                             ({"generator_attention_sizes": [16], "gan_int": False, "captions_per_image": 2},
                              "generator-attention-sizes needs captions-per-image 1")):
            with self.assertRaisesRegex(UserError, message):
                DCGANSettings(**bad).check()
        run = os.path.join(self.temp_dir(), "run")
        model = train_dcgan(run, verbose=0, **{**TINY, "gan_int": False, "generator_attention_sizes": [8, 16]})
        self.assertEqual(model.generator.attention_sizes, (8, 16))
        self.assertTrue(np.isfinite(model.history.history["g_loss"]).all())
        before = tree_digest(run)
        with self.assertRaisesRegex(UserError, "trained with generator-attention-sizes=\\[8, 16\\], not \\[16\\]"):
            train_dcgan(run, resume=True, epochs=2, verbose=0, generator_attention_sizes=[16])
        self.assertEqual(tree_digest(run), before)
        resumed = train_dcgan(run, resume=True, epochs=2, verbose=0)
        self.assertEqual(int(resumed.g_optimizer.iterations.numpy()), 2 * TINY["steps_per_epoch"])
        saved = load_model(os.path.join(run, "model.keras"))
        self.assertAllClose(saved.generator.get_weights(), resumed.generator.get_weights())

    def test_encoder_features_discriminator_reads_a_frozen_copy_of_stage_one(self):
        for bad, message in (({"discriminator": "patch"}, "discriminator must be one of dcgan, encoder_features, got 'patch'"),
                             ({"discriminator": "encoder_features", "spectral_norm": True},
                              "spectral-norm applies to the dcgan discriminator, not 'encoder_features'"),
                             ({"discriminator_levels": 5}, r"discriminator-levels must be in \[1, 4\], got 5"),
                             ({"discriminator_patch_weight": 1.0},
                              "discriminator-patch-weight applies to the encoder_features discriminator, not 'dcgan'"),
                             ({"discriminator_fine_tune": True},
                              "discriminator-fine-tune applies to the encoder_features discriminator, not 'dcgan'"),
                             ({"discriminator": "encoder_features", "discriminator_patch_weight": -1.0},
                              "discriminator-patch-weight must be a number >= 0")):
            with self.assertRaisesRegex(UserError, message):
                DCGANSettings(**bad).check()
        run = os.path.join(self.temp_dir(), "run")
        model = train_dcgan(run, verbose=0, **{**TINY, "discriminator": "encoder_features", "discriminator_levels": 4,
                                                "text_encoder_image_coordinates": True,
                                                "discriminator_patch_weight": 0.5, "augment_shift": 0.0625,
                                                "augment_cutout": 0.5})
        self.assertIsInstance(model.discriminator, EncoderFeatureDiscriminator)
        self.assertEqual(model.discriminator.levels, 4)
        self.assertTrue(model.discriminator.patch_head)
        self.assertEqual(_terms(model), [("patch", 0.5)])
        self.assertEqual(model.augment_shift, 0.0625)  # trained with D's inputs shifted and cut out, in graph mode
        self.assertEqual(model.augment_cutout, 0.5)
        self.assertTrue(model.discriminator.image_encoder.coordinates)  # stage 1's CoordConv encoder
        self.assertIsNone(model.image_encoder)  # no matching loss: D alone reads stage 1's encoder
        stage_one = load_model(os.path.join(run, "image_encoder.keras"))
        self.assertAllClose(model.discriminator.image_encoder.get_weights(), stage_one.get_weights())  # frozen
        self.assertTrue(np.isfinite(model.history.history["d_loss"]).all())
        resumed = train_dcgan(run, resume=True, epochs=2, verbose=0)
        self.assertEqual(int(resumed.d_optimizer.iterations.numpy()), 2 * TINY["steps_per_epoch"])
        self.assertAllClose(resumed.discriminator.image_encoder.get_weights(), stage_one.get_weights())
        saved = load_model(os.path.join(run, "model.keras"))
        self.assertAllClose(saved.discriminator.get_weights(), resumed.discriminator.get_weights())

    def test_matching_loss_hard_negatives_swap_shape_then_colour_then_place_words(self):
        for bad, message in (({"matching_color_negatives": 2}, "matching-color-negatives needs matching-weight > 0"),
                             ({"matching_position_negatives": 1}, "matching-position-negatives needs matching-weight > 0"),
                             ({"text_encoder_position_negatives": -2}, "text-encoder-position-negatives must be an integer >= 0"),
                             ({"matching_weight": 1.0, "matching_shape_negatives": 1, "captions_per_image": 2},
                              "matching-shape-negatives needs captions-per-image 1"),
                             ({"matching_color_negatives": -1}, "matching-color-negatives must be an integer >= 0"),
                             ({"matching_weight": 1.0, "matching_word_weight": 1.0, "matching_word_negatives": True},
                              "matching-word-negatives needs matching-word-weight > 0 and matching hard negatives"),
                             ({"text_encoder_shape_negatives": 2, "text_encoder_word_negatives": True},
                              "text-encoder-word-negatives needs text-encoder-word-weight > 0")):
            with self.assertRaisesRegex(UserError, message):
                DCGANSettings(**bad).check()
        run = os.path.join(self.temp_dir(), "run")
        model = train_dcgan(run, verbose=0, **{**TINY, "matching_weight": 1.0, "matching_shape_negatives": 1,
                                                "matching_color_negatives": 2, "matching_position_negatives": 3,
                                                "text_encoder_position_negatives": 1, "text_encoder_word_weight": 1.0,
                                                "text_encoder_word_negatives": True, "matching_word_weight": 1.0,
                                                "matching_word_negatives": True})
        self.assertEqual([term.hard_negatives for term in model.generator_terms], [True, True])
        vocabulary = Vocabulary.load(run).tokens
        words = [[vocabulary[i] for i in group] for group in model.hard_negative_groups]
        self.assertEqual(len(words), 6)
        self.assertTrue(set(words[0]) <= set(shapes.ATTRIBUTE_NAMES["shape"]) and len(words[0]) > 1, words[0])
        self.assertEqual(words[1], words[2])
        self.assertTrue(set(words[1]) <= set(shapes.ATTRIBUTE_NAMES["color"]) and len(words[1]) > 1, words[1])
        self.assertEqual(words[3:], [["left", "right"], ["top", "bottom"], ["left", "right"]])
        self.assertTrue(np.isfinite(model.history.history["g_sentence_matching"]).all())

    def test_kept_checkpoints_restore_into_the_saved_model_and_not_into_another_architecture(self):
        run = os.path.join(self.temp_dir(), "run")
        trained = train_dcgan(run, verbose=0, **TINY)
        other = train_dcgan(os.path.join(self.temp_dir(), "other"), verbose=0, **{**TINY, "ngf": 16})
        with self.assertRaisesRegex(UserError, "does not fit this model"):
            TrainingCheckpoint(os.path.join(run, "checkpoints")).restore(other)

        kept = kept_checkpoints(os.path.join(run, "checkpoints"))
        self.assertEqual([step for step, _ in kept], [2, 3])
        loaded = load_model(os.path.join(run, "model.keras"))
        final = [variable.numpy() for variable in trained.variables]
        final_generator = [variable.numpy() for variable in trained.generator.variables]
        restore_model_variables(loaded, kept[0][1])  # one step before the end: G's weights differ
        self.assertFalse(all(np.array_equal(a, b.numpy()) for a, b in zip(final_generator, loaded.generator.variables)))
        restore_model_variables(loaded, kept[1][1])  # the last: the trained model's, in order
        for expected, variable in zip(final, loaded.variables, strict=True):
            self.assertAllEqual(variable.numpy(), expected, msg=variable.path)
        with self.assertRaisesRegex(UserError, "does not fit this model"):
            restore_model_variables(other, kept[1][1])


class KillAndResumeTest(TestCase):
    def test_sigkill_mid_epoch_loses_only_steps_since_the_last_checkpoint(self):
        run = os.path.join(self.temp_dir(), "run")
        command = [sys.executable, "-m", "tfgan_text.cli", "train", "dcgan", "--out", run, *TINY_FLAGS]
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
        model_checkpoint = TrainingCheckpoint(os.path.join(run, "checkpoints"))
        self.assertEqual(checkpoint_steps(run)[-1], 24)
        # The resumed run started at the last checkpoint before the kill: it ran 24 - saved[-1] steps.
        self.assertIn(f"Epoch {saved[-1] // 8 + 1}/3", resumed.stdout)
        self.assertIsNotNone(model_checkpoint.latest)
