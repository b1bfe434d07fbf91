"""A folder of images with `captions.jsonl`: the format to bring your own data in.

Each line of `captions.jsonl` is one image:
    {"image": "birds/0001.jpg", "captions": ["a small red bird", "..."], "label": 3, "split": "val"}
`image` is relative to the folder of `captions.jsonl`; `captions` a non-empty list of strings;
`label` (optional, on every line or none) a class index >= 0; `split` (optional) one of train,
val, test, "train" where absent. Images: JPEG, PNG, GIF or BMP.

Example:
    read("my_data", split="train", image_size=64)
"""

import json
import os

from tfgan_text.data.formats import records

LOOKS_FOR = "captions.jsonl"


def _jsonl(path):
    """The `captions.jsonl` at `path` (a folder, or the file itself)."""
    return path if os.path.isfile(path) else os.path.join(path, LOOKS_FOR)


def matches(path):
    """Whether `path` is, or holds, a `captions.jsonl`."""
    return os.path.basename(path) == LOOKS_FOR or os.path.isfile(os.path.join(path, LOOKS_FOR))


def read(path, split="train", image_size=64, on_error="raise"):
    """The folder at `path` as a dataset (see `tfgan_text.data.formats.read`)."""
    issues = records.Issues(on_error)
    jsonl = _jsonl(path)
    root = os.path.dirname(jsonl)
    entries = []
    for number, text in records.text_lines(jsonl, issues):
        where = f"{jsonl}:{number}"
        example, entry_split = _parse(text, where, root, issues)
        if example is not None:
            entries.append((example, entry_split))
    if any(example.label is not None for example, _ in entries):
        for example, _ in entries:
            if example.label is None:
                issues.report(f'{example.where}: no "label", while other lines have one')
        entries = [(example, name) for example, name in entries if example.label is not None]
    records.check_split(split, {name for _, name in entries} or {"train"}, jsonl)
    examples = [example for example, name in entries if name == split]
    return records.build(examples, issues, image_size, path)


def _parse(text, where, root, issues):
    """`(Example, split)` of one line, or `(None, None)` with the problem reported."""
    try:
        entry = json.loads(text)
    except json.JSONDecodeError as error:
        issues.report(f"{where}: not JSON ({error.msg})")
        return None, None
    if not isinstance(entry, dict) or "image" not in entry or "captions" not in entry:
        issues.report(f'{where}: needs an object with "image" and "captions"')
        return None, None
    image, captions = entry["image"], entry["captions"]
    label, split = entry.get("label"), entry.get("split", "train")
    if not isinstance(image, str) or not image:
        issues.report(f'{where}: "image" must be a relative path')
    elif not isinstance(captions, list) or not all(isinstance(caption, str) for caption in captions):
        issues.report(f'{where}: "captions" must be a list of strings')
    elif not any(caption.strip() for caption in captions):
        issues.report(f"{os.path.join(root, image)}: no captions ({where})")
    elif label is not None and (not isinstance(label, int) or isinstance(label, bool) or label < 0):
        issues.report(f'{where}: "label" must be an integer >= 0, got {label!r}')
    elif split not in records.SPLITS:
        issues.report(f'{where}: "split" must be one of {", ".join(records.SPLITS)}, got {split!r}')
    else:
        texts = [caption.strip() for caption in captions if caption.strip()]
        return records.Example(os.path.join(root, image), texts, label, where=where), split
    return None, None
