"""Flickr8k (Hodosh et al. 2013).

Layout: `Flickr8k.token.txt` with lines `<image>.jpg#<0-4>\\t<caption>`, images in
`Flicker8k_Dataset/` (the archive's spelling; `Flickr8k_Dataset/` also works), splits in
`Flickr_8k.{train,dev,test}Images.txt` (dev is "val"), one image name per line. The text files
may sit in `Flickr8k_text/`. Without the split files every captioned image is in "train".

Example:
    read("flickr8k", format="flickr8k", split="val")
"""

import os

from tfgan_text.data.formats import records
from tfgan_text.errors import DataError

LOOKS_FOR = "Flickr8k.token.txt (or Flickr8k_text/Flickr8k.token.txt)"
TOKEN_FILE = "Flickr8k.token.txt"
TEXT_FOLDERS = ("", "Flickr8k_text")
IMAGE_FOLDERS = ("Flicker8k_Dataset", "Flickr8k_Dataset")
SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


def _token_file(path):
    """The captions file at `path`, or None."""
    for folder in TEXT_FOLDERS:
        candidate = os.path.join(path, folder, TOKEN_FILE)
        if os.path.isfile(candidate):
            return candidate
    return None


def matches(path):
    """Whether `path` holds the Flickr8k layout."""
    return _token_file(path) is not None


def read(path, split="train", image_size=64, on_error="raise", image_dir=None):
    """Flickr8k at `path` as a dataset (see `tfgan_text.data.formats.read`).

    Args:
        image_dir: str, the image folder; default `Flicker8k_Dataset/` at `path`.
    """
    issues = records.Issues(on_error)
    token_file = _token_file(path)
    if token_file is None:
        raise DataError(f"{path}: no captions file (looked for {LOOKS_FOR})")
    image_dir = image_dir or _image_dir(path)

    captions, wheres = {}, {}
    for number, text in records.text_lines(token_file, issues):
        where = f"{token_file}:{number}"
        key, tab, caption = text.partition("\t")
        name = key.partition("#")[0].strip()
        if not tab or not name:
            issues.report(f"{where}: expected '<image>#<n><TAB><caption>'")
        elif not caption.strip():
            issues.report(f"{where}: empty caption")
        else:
            captions.setdefault(name, []).append(caption.strip())
            wheres.setdefault(name, where)

    text_dir = os.path.dirname(token_file)
    split_files = {name: os.path.join(text_dir, file) for name, file in SPLIT_FILES.items()}
    split_files = {name: file for name, file in split_files.items() if os.path.isfile(file)}
    if split_files:
        records.check_split(split, split_files, path)
        split_file = split_files[split]
        listed = [(text, f"{split_file}:{number}") for number, text in records.text_lines(split_file, issues)]
    else:
        records.check_split(split, {"train"}, path)
        listed = list(wheres.items())

    examples = []
    for name, where in listed:
        image = os.path.join(image_dir, name)
        if name not in captions:
            issues.report(f"{image}: no captions in {token_file} (listed at {where})")
            continue
        examples.append(records.Example(image, captions[name], where=where))
    return records.build(examples, issues, image_size, path)


def _image_dir(path):
    """The image folder at `path`."""
    for folder in IMAGE_FOLDERS:
        if os.path.isdir(os.path.join(path, folder)):
            return os.path.join(path, folder)
    raise DataError(f"{path}: no image folder (looked for {' or '.join(IMAGE_FOLDERS)}); pass image_dir=")
