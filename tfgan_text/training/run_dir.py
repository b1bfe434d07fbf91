"""A run directory: the settings of a training run, its vocabulary, checkpoints, samples, logs.

```
RUN_DIR/
  run.json          settings (architecture, data and training; the preset's name), written when the run starts
  vocab.txt         vocabulary and tokenizer settings (tfgan_text.text.Vocabulary)
  tokenizer.json
  text_encoder.keras    the pretrained text encoder (stage 1)
  checkpoints/      tf.train checkpoints for --resume
  samples/          a PNG grid of samples per epoch
  logs/             TensorBoard
  model.keras       the trained model, written when training ends
```

In a multi-worker run every worker reads the run directory, which they share, but only the
chief writes it: the others write the same files to a temporary directory of their own,
removed when the process ends, as TensorFlow's multi-worker guide prescribes (`for_worker`).
"""

import atexit
import json
import os
import shutil
import tempfile

from tfgan_text.errors import UserError
from tfgan_text.file_names import CHECKPOINTS_DIR, LOGS_DIR, RUN_SETTINGS_FILE, SAMPLES_DIR
from tfgan_text.training.strategy import is_chief, task_name


class RunDir:
    """Paths of a run directory, and its settings file.

    Args:
        path: str, the directory read (created by `start`).
        write_to: optional str, the directory written, when it is not `path` (a worker's
            temporary copy of a multi-worker run: see `for_worker`).
    """

    def __init__(self, path, write_to=None):
        self.path = os.path.abspath(path)
        self.write_path = os.path.abspath(write_to or path)

    @classmethod
    def for_worker(cls, path, strategy, resume):
        """The run directory `path` as this process of `strategy` sees it.

        The chief (or the one process of a single-machine run) reads and writes `path`. Any
        other worker writes to a temporary directory removed at exit, and reads its own
        copies there in a new run, or the chief's files in `path` when it resumes.
        """
        if is_chief(strategy):
            return cls(path)
        scratch = tempfile.mkdtemp(prefix=f"tfgan-text-{task_name(strategy)}-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        return cls(path if resume else scratch, write_to=scratch)

    def file(self, name):
        """The path of the run's file `name`, to read."""
        return os.path.join(self.path, name)

    def output(self, name):
        """Where this process writes the run's file `name`."""
        return os.path.join(self.write_path, name)

    @property
    def checkpoints(self):
        return self.file(CHECKPOINTS_DIR)

    @property
    def samples(self):
        return self.output(SAMPLES_DIR)

    @property
    def logs(self):
        return self.output(LOGS_DIR)

    def exists(self):
        return os.path.exists(self.file(RUN_SETTINGS_FILE))

    def start(self, settings):
        """Creates the directory for a new run and writes its settings; never reuses a run's."""
        if self.exists():
            raise UserError(f"{self.path} already holds a run: pass --resume to continue it, or choose another --out")
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise UserError(f"--out {self.path} is a file, not a directory")
        os.makedirs(self.write_path, exist_ok=True)
        self.write_settings(settings)

    def write_settings(self, settings):
        write_settings(self.write_path, settings)

    def read_settings(self):
        if not self.exists():
            raise UserError(f"no run to resume in {self.path} (no {RUN_SETTINGS_FILE}); start one without --resume")
        try:
            with open(self.file(RUN_SETTINGS_FILE), encoding="utf-8") as file:
                return json.load(file)
        except (OSError, ValueError) as error:
            raise UserError(f"{self.file(RUN_SETTINGS_FILE)} cannot be read: {error}") from None


def write_settings(directory, settings):
    """Writes `settings` as `directory/run.json`: a run's, or the copy an export keeps of it."""
    write_atomically(os.path.join(directory, RUN_SETTINGS_FILE), json.dumps(settings, indent=2, sort_keys=True).encode())


def write_atomically(path, payload):
    """Writes bytes to `path` through a temporary file and a rename: never half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(payload)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
