"""Karpathy's splits of COCO, Flickr8k and Flickr30k (Karpathy & Fei-Fei 2015).

One JSON file `dataset_<name>.json`: `{"images": [{"filename", "filepath"?, "split",
"sentences": [{"tokens", "raw"}]}], "dataset": name}`, split one of train, val, test, restval;
restval counts as train. Captions are the "raw" sentences (the tokens joined by spaces where
"raw" is missing). `path` is the JSON file or a folder holding one `dataset_*.json`.

Images are `<image_root>/<filepath>/<filename>`. Without `image_root`, the first of the JSON's
folder, its parent, and their `images/`, `Flicker8k_Dataset/`, `Flickr8k_Dataset/` and
`flickr30k-images/` sub-folders that holds one of the split's first 10 images.

Example:
    read("coco/dataset_coco.json", format="karpathy", split="test", image_root="coco")
"""

import glob
import os

from tfgan_text.data.formats import records
from tfgan_text.errors import DataError, UserError

LOOKS_FOR = "dataset_*.json (Karpathy split)"
SPLIT_NAMES = {"train": "train", "restval": "train", "val": "val", "test": "test"}
IMAGE_FOLDERS = ("", "images", "Flicker8k_Dataset", "Flickr8k_Dataset", "flickr30k-images")


def _json_files(path):
    """The Karpathy split files at `path`."""
    if os.path.isfile(path):
        return [path]
    return sorted(glob.glob(os.path.join(glob.escape(path), "dataset_*.json")))


def matches(path):
    """Whether `path` is, or holds, a Karpathy split JSON file."""
    if os.path.isfile(path):
        named = os.path.basename(path).startswith("dataset_")
        return path.endswith(".json") and (named or b'"sentences"' in records.file_head(path))
    return bool(_json_files(path))


def read(path, split="train", image_size=64, on_error="raise", image_root=None):
    """A Karpathy split at `path` as a dataset (see `tfgan_text.data.formats.read`).

    Args:
        image_root: str, the folder that `filepath/filename` are relative to (see above).
    """
    issues = records.Issues(on_error)
    files = _json_files(path)
    if not files:
        raise DataError(f"{path}: no Karpathy split file (looked for {LOOKS_FOR})")
    if len(files) > 1:
        names = ", ".join(os.path.basename(file) for file in files)
        raise UserError(f"{path} holds several Karpathy split files ({names}); pass one of them as the path")
    json_path = files[0]
    data = records.load_json(json_path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError(f'{json_path}: expected {{"images": [...], "dataset": ...}}')

    entries = []
    for index, entry in enumerate(data["images"]):
        where = f"{json_path}: images[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str) or "split" not in entry:
            issues.report(f"{where} lacks 'filename' or 'split'")
        elif entry["split"] not in SPLIT_NAMES:
            issues.report(f"{where}: unknown split {entry['split']!r} (expected {', '.join(SPLIT_NAMES)})")
        else:
            entries.append((entry, where))
    available = {SPLIT_NAMES[entry["split"]] for entry, _ in entries}
    records.check_split(split, available, json_path)
    entries = [(entry, where) for entry, where in entries if SPLIT_NAMES[entry["split"]] == split]
    relatives = [os.path.join(entry.get("filepath") or "", entry["filename"]) for entry, _ in entries]
    root = image_root or _image_root(json_path, relatives[:10])

    examples = []
    for (entry, where), relative in zip(entries, relatives):
        captions = _captions(entry.get("sentences"))
        if captions is None:
            issues.report(f"{where}: 'sentences' is not a list of {{'raw' or 'tokens'}}")
        elif not captions:
            issues.report(f"{os.path.join(root, relative)}: no captions ({where})")
        else:
            examples.append(records.Example(os.path.join(root, relative), captions, where=where))
    return records.build(examples, issues, image_size, path)


def _captions(sentences):
    """The non-empty captions of a "sentences" list, or None if it is malformed."""
    if not isinstance(sentences, list):
        return None
    captions = []
    for sentence in sentences:
        if not isinstance(sentence, dict):
            return None
        if isinstance(sentence.get("raw"), str):
            text = sentence["raw"]
        elif isinstance(sentence.get("tokens"), list):
            text = " ".join(str(token) for token in sentence["tokens"])
        else:
            return None
        if text.strip():
            captions.append(text.strip())
    return captions


def _image_root(json_path, first_images):
    """The first candidate folder (see the module docstring) holding one of `first_images`."""
    json_dir = os.path.dirname(os.path.abspath(json_path))
    candidates = [
        os.path.join(base, folder) for base in (json_dir, os.path.dirname(json_dir)) for folder in IMAGE_FOLDERS
    ]
    for candidate in candidates:
        if any(os.path.isfile(os.path.join(candidate, image)) for image in first_images):
            return candidate
    raise DataError(f"{json_path}: cannot find {first_images[0]} under {json_dir} or its parent; pass image_root=")
