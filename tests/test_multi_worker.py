"""Multi-worker runs with real worker processes: two `tfgan-text train` processes on localhost
under `MultiWorkerMirroredStrategy` train as one process does under `MirroredStrategy` over two
devices with the same global batch, only the chief writes the run, and a run whose workers are
killed resumes to the weights of an uninterrupted run."""

import contextlib
import io
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from tests.test_case import TestCase
from tests.test_train_dcgan import checkpoint_steps
from tfgan_text.cli import main
from tfgan_text.errors import UserError
from tfgan_text.models import load_model
from tfgan_text.training.checkpoints import restore_model_variables
from tfgan_text.training.strategy import check_tf_config, is_chief, localhost_tf_configs, select_strategy
from tfgan_text.training.train_captioner import train_captioner
from tfgan_text.training.train_dcgan import train_dcgan

# Both processes compute every step in the same order as the two replicas of one process:
# the weights agree to float round-off (observed: exactly).
TOLERANCE = 1e-5
DCGAN = dict(image_size=32, batch_size=8, steps_per_epoch=4, epochs=2, text_encoder_epochs=1, ngf=8, ndf=8,
             text_embedding_dim=16, text_hidden_dim=16, checkpoint_every=2)
CAPTIONER = dict(image_size=32, batch_size=8, steps_per_epoch=2, epochs=1, embedding_dim=8, hidden_dim=16,
                 encoder_filters=(8, 16), checkpoint_every=2)
SEQGAN = dict(mode="seqgan", epochs=1, steps_per_epoch=3, rollouts=2, d_pretrain_epochs=1, checkpoint_every=2)
RUN_FILES = ["checkpoints", "image_encoder.keras", "logs", "model.keras", "run.json", "samples", "text_encoder.keras",
             "tokenizer.json", "vocab.txt"]


def _flags(settings):
    """Command-line flags of settings keyword arguments."""
    flags = []
    for name, value in settings.items():
        flags += [f"--{name.replace('_', '-')}", *map(str, value if isinstance(value, tuple) else [value])]
    return flags


def _start_workers(verb, settings, out, scratch, resume=False, count=2):
    """`count` worker processes of `tfgan-text train VERB --strategy multi_worker` on localhost."""
    command = [sys.executable, "-m", "tfgan_text.cli", "train", verb, "--strategy", "multi_worker", "--out", out,
               *_flags(settings), *(["--resume"] if resume else [])]
    workers = []
    for tf_config in localhost_tf_configs(count):
        env = {**os.environ, "TF_CONFIG": tf_config, "TMPDIR": scratch, "TF_CPP_MIN_LOG_LEVEL": "3"}
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    return workers


def _finish(test, workers, timeout=300):
    for worker in workers:
        _, stderr = worker.communicate(timeout=timeout)
        test.assertEqual(worker.returncode, 0, stderr[-3000:])


def _max_difference(model_a, model_b):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(model_a.get_weights(), model_b.get_weights()))


@pytest.mark.slow
class MultiWorkerDCGANTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp()
        cls.mirrored = train_dcgan(os.path.join(cls.root, "mirrored"), strategy="mirrored", verbose=0, **DCGAN)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        super().tearDownClass()

    def test_two_workers_train_as_mirrored_strategy_and_only_the_chief_writes(self):
        run, scratch = os.path.join(self.root, "two_workers"), self.temp_dir()
        _finish(self, _start_workers("dcgan", DCGAN, run, scratch))

        trained = load_model(os.path.join(run, "model.keras"))
        self.assertLess(_max_difference(trained, self.mirrored), TOLERANCE)
        self.assertEqual(sorted(os.listdir(run)), RUN_FILES)
        self.assertEqual(checkpoint_steps(run), [4, 6, 8])
        earlier = load_model(os.path.join(run, "model.keras"))
        restore_model_variables(earlier, os.path.join(run, "checkpoints", "ckpt-4"))
        self.assertGreater(_max_difference(trained, earlier), 1e-4, "the last steps trained")
        self.assertEqual(os.listdir(os.path.join(run, "samples")), ["samples_epoch_001.png", "samples_epoch_002.png"])
        self.assertEqual(os.listdir(scratch), [], "the other worker's temporary copies are removed")

    def test_workers_killed_mid_run_resume_to_the_weights_of_an_uninterrupted_run(self):
        run, scratch = os.path.join(self.root, "killed"), self.temp_dir()
        workers = _start_workers("dcgan", DCGAN, run, scratch)
        deadline = time.time() + 300
        while not checkpoint_steps(run) and time.time() < deadline and workers[0].poll() is None:
            time.sleep(0.02)
        # Worker 1 dies; the chief, stuck in the step's all-reduce, is restarted by the
        # scheduler with every worker (as a TFJob restarts its replicas).
        for worker in reversed(workers):
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        saved = checkpoint_steps(run)
        self.assertTrue(saved and saved[-1] < 8, f"the kill came too late to test resuming: {saved}")
        self.assertFalse(os.path.exists(os.path.join(run, "model.keras")))

        _finish(self, _start_workers("dcgan", {}, run, scratch, resume=True))
        self.assertEqual(checkpoint_steps(run)[-1], 8)
        resumed = load_model(os.path.join(run, "model.keras"))
        self.assertLess(_max_difference(resumed, self.mirrored), TOLERANCE)


@pytest.mark.slow
class MultiWorkerSeqGANTest(TestCase):
    def test_two_workers_train_seqgan_as_mirrored_strategy(self):
        root = self.temp_dir()
        mle = os.path.join(root, "mle")
        train_captioner(mle, verbose=0, **CAPTIONER)
        settings = {**SEQGAN, "init_from": mle}
        mirrored = train_captioner(os.path.join(root, "mirrored"), strategy="mirrored", verbose=0, **settings)
        run = os.path.join(root, "two_workers")
        _finish(self, _start_workers("captioner", settings, run, self.temp_dir()))

        self.assertLess(_max_difference(load_model(os.path.join(run, "model.keras")), mirrored), TOLERANCE)
        self.assertLess(_max_difference(load_model(os.path.join(run, "discriminator.keras")),
                                        load_model(os.path.join(root, "mirrored", "discriminator.keras"))), TOLERANCE)
        self.assertGreater(_max_difference(mirrored, load_model(os.path.join(mle, "model.keras"))), 1e-4)


class TFConfigTest(TestCase):
    CLUSTER = {"worker": ["a:1", "b:2"]}

    def test_valid_configs_pass(self):
        check_tf_config(json.dumps({"cluster": self.CLUSTER, "task": {"type": "worker", "index": 1}}))
        check_tf_config(json.dumps({"cluster": {"chief": ["c:3"], **self.CLUSTER}, "task": {"type": "chief", "index": 0}}))

    def test_missing_or_malformed_config_or_a_wrong_task_is_one_line(self):
        cases = {
            None: "needs the TF_CONFIG environment variable",
            "{cluster": "not valid JSON",
            json.dumps({"task": {"type": "worker", "index": 0}}): 'has no "cluster"',
            json.dumps({"cluster": {"ps": ["a:1"], **self.CLUSTER}, "task": {"type": "worker", "index": 0}}): "'ps' tasks",
            json.dumps({"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}): "host:port",
            json.dumps({"cluster": self.CLUSTER}): 'no "task"',
            json.dumps({"cluster": self.CLUSTER, "task": {"type": "worker", "index": 2}}): "task worker 2 is not in its cluster",
            json.dumps({"cluster": self.CLUSTER, "task": {"type": "chief", "index": 0}}): "task chief 0 is not in its cluster",
            json.dumps({"cluster": {"chief": ["a:1", "b:2"]}, "task": {"type": "chief", "index": 0}}): "at most one",
        }
        for text, message in cases.items():
            with self.subTest(tf_config=text), self.assertRaisesRegex(UserError, message) as raised:
                check_tf_config(text)
            self.assertNotIn("\n", str(raised.exception))

    def test_cli_refuses_a_bad_tf_config_before_writing_anything(self):
        run = os.path.join(self.temp_dir(), "run")
        os.environ["TF_CONFIG"] = json.dumps({"cluster": self.CLUSTER, "task": {"type": "worker", "index": 5}})
        try:
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr):
                status = main(["train", "dcgan", "--strategy", "multi_worker", "--out", run, *_flags(DCGAN)])
        finally:
            del os.environ["TF_CONFIG"]
        self.assertEqual(status, 2)
        self.assertEqual(stderr.getvalue().strip().count("\n"), 0)
        self.assertIn("task worker 5 is not in its cluster", stderr.getvalue())
        self.assertFalse(os.path.exists(run))

    def test_single_process_strategies_are_the_chief(self):
        self.assertTrue(is_chief(select_strategy("one_device")))
        self.assertTrue(is_chief(select_strategy("mirrored")))
