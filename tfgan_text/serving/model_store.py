"""The versioned SavedModels under a base folder, loaded and kept in step with the disk.

Layout, as TF Serving reads it: `BASE/NAME/VERSION/saved_model.pb` (+ `variables/`), VERSION
an integer. Other folders (`.tmp-...`, `onnx/`) and version folders without `saved_model.pb`
are ignored. A background thread polls the disk: new versions are loaded while the served
ones keep answering, versions whose folder is gone are dropped, and a version that fails to
load is tried again only after its files change.
"""

import logging
import os
import threading

import tensorflow as tf
import tensorflow_text  # noqa: F401  registers TF Text's ops, which TF Serving links (ops_lib)

from tfgan_text.export.versions import is_version_name
from tfgan_text.serving.errors import ServingError
from tfgan_text.serving.signature import Signature

SAVED_MODEL_FILE = "saved_model.pb"
logger = logging.getLogger(__name__)


class LoadedVersion:
    """One loaded version of a model and its signatures by name."""

    def __init__(self, version, path):
        self.version = version
        self.saved_model = tf.saved_model.load(path)
        self.signatures = {name: Signature(function) for name, function in self.saved_model.signatures.items()}


class ModelStore:
    """The loaded versions of every model under `base_dir`, refreshed every `poll_seconds`.

    Args:
        base_dir: str. The folder of models, `BASE/NAME/VERSION/`.
        poll_seconds: float. Seconds between two looks at the disk.
    """

    def __init__(self, base_dir, poll_seconds=1.0):
        self.base_dir = base_dir
        self.poll_seconds = poll_seconds
        self._models = {}
        self._failed = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = None

    def start(self):
        """Loads what is on disk now, then keeps polling in a background thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._poll, name="model-store-poll", daemon=True)
        self._thread.start()

    def stop(self):
        """Ends the polling thread."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def versions(self, name):
        """The loaded versions of model `name`, newest first; 404 when none is loaded."""
        with self._lock:
            versions = sorted(self._models.get(name, {}), reverse=True)
        if not versions:
            raise ServingError(404, f"no model named {name!r} is being served")
        return versions

    def get(self, name, version=None):
        """The LoadedVersion of model `name`: `version`, or the newest one when None."""
        versions = self.versions(name)
        version = versions[0] if version is None else version
        with self._lock:
            loaded = self._models[name].get(version)
            failure = self._failed.get((name, version))
        if loaded is not None:
            return loaded
        if failure is not None:
            raise ServingError(404, f"version {version} of model {name!r} failed to load: {failure[1]}")
        raise ServingError(404, f"version {version} of model {name!r} is not being served; it has {_listing(versions)}")

    def refresh(self):
        """Loads new versions on disk and drops the versions whose folder is gone."""
        on_disk = _versions_on_disk(self.base_dir)
        with self._lock:
            for name, versions in list(self._models.items()):
                for version in set(versions) - on_disk.get(name, set()):
                    logger.info("unloaded %s version %d: its folder is gone", name, version)
                    del versions[version]
        for name, versions in sorted(on_disk.items()):
            for version in sorted(versions - set(self._models.get(name, {}))):
                self._load(name, version)

    def _load(self, name, version):
        """Loads one version, or records why it failed (tried again once its files change)."""
        path = os.path.join(self.base_dir, name, str(version))
        fingerprint = _fingerprint(path)
        failure = self._failed.get((name, version))
        if failure is not None and failure[0] == fingerprint:
            return
        try:
            loaded = LoadedVersion(version, path)
        except Exception as error:  # a broken SavedModel must not stop the others being served
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            logger.warning("cannot load %s version %d: %s", name, version, message)
            with self._lock:
                self._failed[(name, version)] = (fingerprint, message)
            return
        with self._lock:
            self._models.setdefault(name, {})[version] = loaded
            self._failed.pop((name, version), None)
        logger.info("loaded %s version %d from %s", name, version, path)

    def _poll(self):
        """Refreshes every `poll_seconds` until stopped; a failed look at the disk is logged and retried."""
        while not self._stopped.wait(self.poll_seconds):
            try:
                self.refresh()
            except OSError as error:
                logger.warning("cannot read %s: %s", self.base_dir, error)


def _versions_on_disk(base_dir):
    """{model name: set of integer versions whose folder holds saved_model.pb}."""
    models = {}
    for name in _subfolders(base_dir):
        model_dir = os.path.join(base_dir, name)
        versions = {
            int(entry)
            for entry in _subfolders(model_dir)
            if is_version_name(entry) and os.path.isfile(os.path.join(model_dir, entry, SAVED_MODEL_FILE))
        }
        if versions:
            models[name] = versions
    return models


def _subfolders(path):
    """The names of the folders in `path`."""
    with os.scandir(path) as entries:
        return [entry.name for entry in entries if entry.is_dir()]


def _fingerprint(path):
    """Names, sizes and modification times of the files under `path`: changes when they do."""
    files = []
    for folder, _, names in os.walk(path):
        for name in names:
            stat = os.stat(os.path.join(folder, name))
            files.append((os.path.relpath(os.path.join(folder, name), path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(files))


def _listing(versions):
    """'versions 3, 1' for an error message."""
    return "versions " + ", ".join(str(version) for version in versions)
