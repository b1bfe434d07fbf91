"""MS-COCO captions (Lin et al. 2014; Chen et al. 2015).

Layout: `annotations/captions_<split><year>.json`, i.e. `{"images": [{"id", "file_name"}],
"annotations": [{"image_id", "id", "caption"}]}`, with the images in the folder of the same
name beside `annotations/` (or under `images/`): `annotations/captions_train2014.json` pairs
with `train2014/`, `captions_val2017.json` with `val2017/`. Splits: those with a captions file
(COCO publishes train and val captions). `path` may also be one captions JSON file: its split
comes from its name ("train" for other names) and its images from `image_dir`, else `images/`
or the folder of the file.

Example:
    read("coco", format="coco", split="val", year=2014)
"""

import os
import re

from tfgan_text.data.formats import records
from tfgan_text.errors import DataError, UserError

LOOKS_FOR = "annotations/captions_<split><year>.json"
_NAME = re.compile(r"^captions_(train|val|test)(\d{4})?\.json$")


def _caption_files(path):
    """`{split: {year: captions JSON path}}` at `path` (year "" when the name has none)."""
    if os.path.isfile(path):
        match = _NAME.match(os.path.basename(path))
        return {match[1]: {match[2] or "": path}} if match else {"train": {"": path}}
    files = {}
    for folder in (os.path.join(path, "annotations"), path):
        if os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                match = _NAME.match(name)
                if match:
                    files.setdefault(match[1], {}).setdefault(match[2] or "", os.path.join(folder, name))
    return files


def matches(path):
    """Whether `path` is, or holds, COCO captions JSON."""
    if os.path.isfile(path):
        named = _NAME.match(os.path.basename(path)) is not None
        return path.endswith(".json") and (named or b'"file_name"' in records.file_head(path))
    return bool(_caption_files(path))


def read(path, split="train", image_size=64, on_error="raise", year=None, image_dir=None):
    """COCO captions at `path` as a dataset (see `tfgan_text.data.formats.read`).

    Args:
        year: int or str, which release (2014, 2017) where several are present; default the newest.
        image_dir: str, the image folder; default found beside the captions file.
    """
    issues = records.Issues(on_error)
    files = _caption_files(path)
    if not files:
        raise DataError(f"{path}: no COCO captions file (looked for {LOOKS_FOR})")
    by_year = files[records.check_split(split, files, path)]
    year = max(by_year) if year is None else str(year)
    if year not in by_year:
        raise UserError(f"{path} has no {split} captions for year={year}; years: {', '.join(sorted(by_year))}")
    json_path = by_year[year]
    folder = image_dir or _image_dir(json_path)

    data = records.load_json(json_path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(
        data.get("annotations"), list
    ):
        raise DataError(f'{json_path}: expected {{"images": [...], "annotations": [...]}}')
    images = {}
    for index, entry in enumerate(data["images"]):
        where = f"{json_path}: images[{index}]"
        if not isinstance(entry, dict) or "id" not in entry or not isinstance(entry.get("file_name"), str):
            issues.report(f"{where} lacks 'id' or 'file_name'")
            continue
        images[entry["id"]] = (entry["file_name"], where)
    captions = {}
    for index, entry in enumerate(data["annotations"]):
        where = f"{json_path}: annotations[{index}]"
        if not isinstance(entry, dict) or "image_id" not in entry or not isinstance(entry.get("caption"), str):
            issues.report(f"{where} lacks 'image_id' or 'caption'")
        elif not entry["caption"].strip():
            issues.report(f"{where}: empty caption")
        elif entry["image_id"] not in images:
            issues.report(f"{where}: image_id {entry['image_id']!r} is not among the images")
        else:
            captions.setdefault(entry["image_id"], []).append(entry["caption"].strip())

    examples = []
    for image_id, (file_name, where) in images.items():
        image = os.path.join(folder, file_name)
        if image_id not in captions:
            issues.report(f"{image}: no captions (image id {image_id!r}, {where})")
            continue
        examples.append(records.Example(image, captions[image_id], where=where))
    return records.build(examples, issues, image_size, path)


def _image_dir(json_path):
    """The image folder paired with a captions file: `<split><year>/` beside `annotations/`."""
    json_dir = os.path.dirname(os.path.abspath(json_path))
    root = os.path.dirname(json_dir) if os.path.basename(json_dir) == "annotations" else json_dir
    match = _NAME.match(os.path.basename(json_path))
    if match:
        folder = match[1] + (match[2] or "")
        candidates = [os.path.join(root, folder), os.path.join(root, "images", folder)]
    else:
        candidates = [os.path.join(root, "images"), root]
    for candidate in candidates:
        if os.path.isdir(candidate):
            return candidate
    raise DataError(f"{json_path}: no image folder (looked for {', '.join(candidates)}); pass image_dir=")
