"""Versioned model directories as TF Serving reads them: `ROOT/NAME/<integer version>/`.

TF Serving polls a model's directory and loads the highest integer version, so a version must
appear whole at once: it is written to a hidden temporary directory beside it and renamed into
place, and an existing version is never overwritten.
"""

import os
import shutil
import tempfile

from tfgan_text.errors import UserError


def is_version_name(name):
    """Whether a folder name is a version number as TF Serving reads it ("3"; not "03" or ".tmp-3")."""
    return name.isascii() and name.isdigit() and name == str(int(name))


def versions(model_root):
    """Sorted integer versions present in `model_root` (other folder names are skipped)."""
    if not os.path.isdir(model_root):
        return []
    return sorted(
        int(name) for name in os.listdir(model_root) if is_version_name(name) and os.path.isdir(os.path.join(model_root, name))
    )


def latest_version_dir(model_root):
    """The directory of the highest version in `model_root`, or None."""
    present = versions(model_root)
    return os.path.join(model_root, str(present[-1])) if present else None


def write_version(model_root, write, version=None):
    """Runs `write(directory)` into a temporary directory, then renames it to `model_root/VERSION`.

    Args:
        model_root: str, `saved_models/NAME` (created if needed).
        write: callable taking the directory to fill.
        version: int or None for one more than the highest version present.

    Returns:
        `(version, path)`. Raises `UserError` (nothing left behind) when the version exists or
        the directory cannot be written.
    """
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version <= 0):
        raise UserError(f"--version must be a positive integer, got {version!r}")
    try:
        os.makedirs(model_root, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {model_root}: {error.strerror or error}") from None
    version = version or (versions(model_root) or [0])[-1] + 1
    target = os.path.join(model_root, str(version))
    if os.path.exists(target):
        raise UserError(f"{target} exists: versions are never overwritten; pick another --version or none")
    try:
        temporary = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_root)
    except OSError as error:
        raise UserError(f"cannot write in {model_root}: {error.strerror or error}") from None
    try:
        write(temporary)
        os.chmod(temporary, 0o755)  # mkdtemp makes it private; a model server may run as another user
        os.rename(temporary, target)  # atomic; fails rather than replace a version made meanwhile
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise UserError(f"cannot write version {version} in {model_root}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return version, target
