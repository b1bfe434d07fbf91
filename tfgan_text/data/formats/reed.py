"""The caption layout of Reed et al. 2016, shared by the Oxford-102 and CUB readers.

Captions sit in `<captions dir>/<class>/<image name>.txt`, one per line, 10 per image. The
captions dir is `text_c10/` in Reed's and StackGAN's data and `text/` in AttnGAN's. Reed's
data also splits by class: `trainclasses.txt`, `valclasses.txt`, `trainvalclasses.txt`,
`testclasses.txt` list class folder names (the zero-shot split of GAN-INT-CLS, StackGAN and
AttnGAN).
"""

import os
import re

from tfgan_text.data.formats import records
from tfgan_text.errors import DataError

CAPTION_DIRS = ("text_c10", "text")
CLASS_LISTS = {
    "train": "trainclasses.txt",
    "val": "valclasses.txt",
    "trainval": "trainvalclasses.txt",
    "test": "testclasses.txt",
}


def find_caption_dir(roots, name=None):
    """The first of `roots`/`text_c10`, `roots`/`text` (or `roots`/`name`) that is a folder, or None."""
    for root in roots:
        for candidate in (name,) if name else CAPTION_DIRS:
            if os.path.isdir(os.path.join(root, candidate)):
                return os.path.join(root, candidate)
    return None


def caption_index(caption_dir):
    """`{image name: (class folder, caption file path)}` for every `<class>/<name>.txt`."""
    index = {}
    for class_name in sorted(os.listdir(caption_dir)):
        class_dir = os.path.join(caption_dir, class_name)
        if not os.path.isdir(class_dir):
            continue
        for file_name in sorted(os.listdir(class_dir)):
            stem, extension = os.path.splitext(file_name)
            if extension == ".txt":
                index[stem] = (class_name, os.path.join(class_dir, file_name))
    return index


def read_captions(path):
    """The non-blank lines of one caption file; a `DataError` if it is empty or not UTF-8."""
    captions = [text for _, text in records.text_lines(path)]
    if not captions:
        raise DataError(f"{path}: empty caption file")
    return captions


def class_number(class_name):
    """The class index in a class folder name: `class_00077` -> 76, `017.Cardinal` -> 16."""
    match = re.search(r"\d+", class_name)
    if match is None:
        raise DataError(f"{class_name}: class folder name carries no class number")
    return int(match.group()) - 1


def class_splits(root):
    """`{split: set of class folder names}` from Reed's class lists in `root`; {} if none."""
    lists = {}
    for key, file_name in CLASS_LISTS.items():
        path = os.path.join(root, file_name)
        if os.path.isfile(path):
            lists[key] = {text for _, text in records.text_lines(path)}
    splits = {}
    if "train" in lists and "val" in lists:
        splits["train"], splits["val"] = lists["train"], lists["val"]
    elif "trainval" in lists or "train" in lists:
        splits["train"] = lists.get("trainval", lists.get("train"))
    if "test" in lists:
        splits["test"] = lists["test"]
    return splits
