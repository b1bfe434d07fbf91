"""The record of the run an export came from: its `run.json`, written into the SavedModel's
`assets.extra/` and beside the ONNX graph, so that an exported model says how it was trained
(`tfgan-text train ... --preset NAME` rebuilds a shipped one from it)."""

import json
import os

from tfgan_text.errors import UserError
from tfgan_text.file_names import RUN_SETTINGS_FILE


def read_run_settings(run_dir):
    """The settings in `run_dir/run.json`, or None where the directory has none (a model
    directory that is not a run)."""
    path = os.path.join(run_dir, RUN_SETTINGS_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise UserError(f"{path} cannot be read: {error}") from None


def write_run_settings(directory, run_settings):
    """Writes `run_settings` as `directory/run.json` (nothing for None)."""
    if run_settings is None:
        return
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, RUN_SETTINGS_FILE), "w", encoding="utf-8", newline="\n") as file:
        json.dump(run_settings, file, indent=2, sort_keys=True)
        file.write("\n")
