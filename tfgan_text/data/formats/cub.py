"""CUB-200-2011 birds (Wah et al. 2011) with the captions of Reed et al. 2016.

Layout: `CUB_200_2011/images/<NNN.Class>/<name>.jpg`, `CUB_200_2011/images.txt`
(`<id> <NNN.Class>/<name>.jpg`), `bounding_boxes.txt` (`<id> x y w h`), `train_test_split.txt`
(`<id> 1|0`); captions `text_c10/<NNN.Class>/<name>.txt` (Reed, StackGAN) or `text/...`
(AttnGAN) beside `CUB_200_2011/` (or inside it), 10 lines each. Label: NNN - 1 (0..199).

`crop_to_bbox=True` crops as StackGAN (Zhang et al. 2017) and AttnGAN do: a square of 1.5 times
the longer side of the bounding box, centred on it, clipped to the image.

Splits (`split_by`): "images", the standard `train_test_split.txt` (5,994 train / 5,794 test);
"classes", Reed's class lists (150 / 50 classes, 8,855 / 2,933 images, the split of GAN-INT-CLS,
StackGAN and AttnGAN). By default the one present, images first; with neither, all is "train".
StackGAN's `filenames.pickle` is never loaded.

Example:
    read("birds", format="cub", split="test", crop_to_bbox=True)
"""

import os

from tfgan_text.data.formats import records, reed
from tfgan_text.errors import DataError, UserError

LOOKS_FOR = "CUB_200_2011/images.txt beside text_c10/ or text/"


def _base(path):
    """The `CUB_200_2011` folder at `path` (or `path` itself), or None."""
    for base in (os.path.join(path, "CUB_200_2011"), path):
        if os.path.isfile(os.path.join(base, "images.txt")):
            return base
    return None


def _roots(path, base):
    """Folders that may hold the caption folder and class lists."""
    return list(dict.fromkeys([path, base, os.path.dirname(os.path.abspath(base))]))


def matches(path):
    """Whether `path` holds the CUB layout with captions."""
    base = _base(path)
    return base is not None and reed.find_caption_dir(_roots(path, base)) is not None


def read(
    path, split="train", image_size=64, on_error="raise", crop_to_bbox=False, captions_dir=None, split_by=None
):
    """CUB at `path` as a dataset (see `tfgan_text.data.formats.read`).

    Args:
        crop_to_bbox: bool, crop to the enlarged bounding box (see the module docstring).
        captions_dir: str, "text_c10" or "text"; default the first present.
        split_by: None, "images" or "classes" (see the module docstring).
    """
    issues = records.Issues(on_error)
    base = _base(path)
    if base is None:
        raise DataError(f"{path}: no CUB_200_2011/images.txt")
    roots = _roots(path, base)
    caption_dir = reed.find_caption_dir(roots, captions_dir)
    if caption_dir is None:
        looked = captions_dir or " or ".join(reed.CAPTION_DIRS)
        raise DataError(f"{path}: no caption folder (looked for {looked} in {', '.join(roots)})")
    images = _id_table(os.path.join(base, "images.txt"), 1, issues)
    chosen = _split_ids(path, base, roots, images, split, split_by, issues)
    boxes = _id_table(os.path.join(base, "bounding_boxes.txt"), 4, issues) if crop_to_bbox else {}

    examples = []
    for image_id, ((relative,), where) in images.items():
        if chosen is not None and image_id not in chosen:
            continue
        image = os.path.join(base, "images", relative)
        class_name = os.path.dirname(relative)
        caption_path = os.path.join(caption_dir, class_name, os.path.splitext(os.path.basename(relative))[0] + ".txt")
        if not os.path.isfile(caption_path):
            issues.report(f"{image}: no captions ({caption_path} is missing; listed at {where})")
            continue
        try:
            texts = reed.read_captions(caption_path)
            label = reed.class_number(class_name)
            box = _crop_box(boxes, image_id, base) if crop_to_bbox else None
        except DataError as error:
            issues.report(error)
            continue
        examples.append(records.Example(image, texts, label, box, where))
    return records.build(examples, issues, image_size, path)


def _id_table(path, columns, issues):
    """`{image id: (fields, "file:line")}` of a CUB `<id> <field> ...` text file."""
    table = {}
    for number, text in records.text_lines(path):
        fields = text.split()
        if len(fields) != columns + 1:
            issues.report(f"{path}:{number}: expected {columns + 1} fields, found {len(fields)}")
            continue
        table[fields[0]] = (tuple(fields[1:]), f"{path}:{number}")
    return table


def _split_ids(path, base, roots, images, split, split_by, issues):
    """The image ids of `split`, or None for all of them."""
    if split_by not in (None, "images", "classes"):
        raise UserError(f"split_by must be None, 'images' or 'classes', got {split_by!r}")
    split_file = os.path.join(base, "train_test_split.txt")
    if split_by == "images" or (split_by is None and os.path.isfile(split_file)):
        table = _id_table(split_file, 1, issues)
        splits = {"train": set(), "test": set()}
        for image_id, ((is_train,), _) in table.items():
            splits["train" if is_train == "1" else "test"].add(image_id)
        return splits[records.check_split(split, splits, path)]
    class_lists = next((lists for lists in map(reed.class_splits, roots) if lists), {})
    if split_by == "classes" or (split_by is None and class_lists):
        if not class_lists:
            raise DataError(f"{path}: no class lists ({', '.join(reed.CLASS_LISTS.values())})")
        classes = class_lists[records.check_split(split, class_lists, path)]
        return {image_id for image_id, ((relative,), _) in images.items() if os.path.dirname(relative) in classes}
    records.check_split(split, {"train"}, path)
    return None


def _crop_box(boxes, image_id, base):
    """StackGAN's crop `(top, left, bottom, right)` around the bounding box of `image_id`."""
    if image_id not in boxes:
        raise DataError(f"{os.path.join(base, 'bounding_boxes.txt')}: no bounding box for image id {image_id}")
    fields, where = boxes[image_id]
    try:
        x, y, width, height = (float(field) for field in fields)
    except ValueError:
        raise DataError(f"{where}: bounding box is not four numbers") from None
    radius = int(max(width, height) * 0.75)
    center_x, center_y = int((2 * x + width) / 2), int((2 * y + height) / 2)
    return (center_y - radius, center_x - radius, center_y + radius, center_x + radius)
