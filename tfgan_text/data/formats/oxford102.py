"""Oxford-102 Flowers (Nilsback & Zisserman 2008) with the captions of Reed et al. 2016.

Layout: images `jpg/image_XXXXX.jpg`; captions `text_c10/class_XXXXX/image_XXXXX.txt` (Reed,
StackGAN) or `text/class_XXXXX/...` (AttnGAN), 10 lines each. Label: class number - 1 (0..101).

Splits (`split_by`): "images", the official `setid.mat` (trnid / valid / tstid -> train / val /
test); "classes", Reed's class lists (see `reed`). By default the one present, images first;
with neither, every image is in "train".

Example:
    read("flowers", format="oxford102", split="test", image_size=64)
"""

import os

import scipy.io

from tfgan_text.data.formats import records, reed
from tfgan_text.errors import DataError, UserError

LOOKS_FOR = "jpg/ beside text_c10/ or text/"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def matches(path):
    """Whether `path` holds the Oxford-102 layout."""
    return os.path.isdir(os.path.join(path, "jpg")) and reed.find_caption_dir([path]) is not None


def read(path, split="train", image_size=64, on_error="raise", captions_dir=None, split_by=None):
    """Oxford-102 at `path` as a dataset (see `tfgan_text.data.formats.read`).

    Args:
        captions_dir: str, "text_c10" or "text"; default the first present.
        split_by: None, "images" or "classes" (see the module docstring).
    """
    issues = records.Issues(on_error)
    caption_dir = reed.find_caption_dir([path], captions_dir)
    if caption_dir is None:
        looked = captions_dir or " or ".join(reed.CAPTION_DIRS)
        raise DataError(f"{path}: no caption folder (looked for {looked})")
    image_dir = os.path.join(path, "jpg")
    if not os.path.isdir(image_dir):
        raise DataError(f"{image_dir}: no such image folder")
    captions = reed.caption_index(caption_dir)
    images = {
        os.path.splitext(name)[0]: os.path.join(image_dir, name)
        for name in os.listdir(image_dir)
        if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
    }
    by, members = _split_members(path, split_by)
    records.check_split(split, members, path)
    chosen = members[split]

    examples = []
    for name in sorted(set(captions) | set(images)):
        entry = captions.get(name)
        if (by == "images" and name not in chosen) or (by == "classes" and entry and entry[0] not in chosen):
            continue
        if entry is None:
            issues.report(f"{images[name]}: no captions (no {name}.txt in any class folder of {caption_dir})")
            continue
        class_name, caption_path = entry
        try:
            texts = reed.read_captions(caption_path)
            label = reed.class_number(class_name)
        except DataError as error:
            issues.report(error)
            continue
        image = images.get(name, os.path.join(image_dir, name + ".jpg"))
        examples.append(records.Example(image, texts, label, where=caption_path))
    return records.build(examples, issues, image_size, path)


def _split_members(path, split_by):
    """`(by, {split: members})`: image names by "images", class folders by "classes", else all train."""
    if split_by not in (None, "images", "classes"):
        raise UserError(f"split_by must be None, 'images' or 'classes', got {split_by!r}")
    setid = os.path.join(path, "setid.mat")
    if split_by == "images" or (split_by is None and os.path.isfile(setid)):
        return "images", _setid_splits(setid)
    class_lists = reed.class_splits(path)
    if split_by == "classes" or (split_by is None and class_lists):
        if not class_lists:
            raise DataError(f"{path}: no class lists ({', '.join(reed.CLASS_LISTS.values())})")
        return "classes", class_lists
    return None, {"train": None}


def _setid_splits(setid):
    """`{split: image names}` from the official `setid.mat` (1-based image ids)."""
    try:
        mat = scipy.io.loadmat(setid)
        return {
            split: {f"image_{int(i):05d}" for i in mat[key].ravel()}
            for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid"))
        }
    except FileNotFoundError:
        raise DataError(f"{setid}: no such file (split_by='images' needs it)") from None
    except Exception as error:  # scipy raises several types for a bad .mat file.
        raise DataError(f"{setid}: cannot read the split ({error})") from None
