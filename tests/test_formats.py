"""Tests of the readers of real dataset layouts, on small fixture trees in each exact layout."""

import gzip
import hashlib
import json
import os
import struct
import tempfile
import warnings

import numpy as np
import tensorflow as tf
from PIL import Image

from tests.test_case import TestCase
from tfgan_text.data import formats
from tfgan_text.errors import DataError, UserError

SIZE = 8
RED, BLUE = (255, 0, 0), (0, 0, 255)
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def _fresh_dir(test):
    """A new empty folder for one fixture tree (`TestCase.temp_dir` needs absl flags parsed)."""
    return tempfile.mkdtemp(dir=test.get_temp_dir())


def _image(path, color=None, size=(12, 10), mode="RGB", seed=0):
    """A real image file (format from the extension): solid `color`, or seeded noise."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if color is None:
        pixels = np.random.RandomState(seed).randint(0, 256, (size[1], size[0], 3)).astype(np.uint8)
        image = Image.fromarray(pixels)
    else:
        image = Image.new("RGB", size, color)
    image.convert(mode).save(path)


def _text(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(content.encode("utf-8") if isinstance(content, str) else content)


def _checksum(root):
    """A digest of every path and file content under `root`."""
    digest = hashlib.sha256()
    for folder, folders, files in sorted(os.walk(root)):
        folders.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as file:
                digest.update(file.read())
    return digest.hexdigest()


def _elements(dataset):
    return list(dataset.as_numpy_iterator())


def _captions(dataset):
    return [[caption.decode() for caption in element["captions"]] for element in _elements(dataset)]


class FolderFormatTest(TestCase):
    def _folder(self, lines=None):
        root = _fresh_dir(self)
        _image(os.path.join(root, "img", "red.png"), RED, size=(20, 10))
        _image(os.path.join(root, "img", "gray.jpg"), (90, 90, 90), mode="L")
        _image(os.path.join(root, "img", "anim.gif"), BLUE)
        _image(os.path.join(root, "b.bmp"), seed=1)
        lines = lines or [
            {"image": "img/red.png", "captions": ["a red square", "red"], "label": 0},
            {"image": "img/gray.jpg", "captions": ["a gray square"], "label": 1, "split": "train"},
            {"image": "img/anim.gif", "captions": ["blue", "a blue one", "bleu"], "label": 2, "split": "val"},
            {"image": "b.bmp", "captions": ["noise"], "label": 1, "split": "val"},
        ]
        _text(os.path.join(root, "captions.jsonl"), "\n".join(json.dumps(line) for line in lines) + "\n")
        return root

    def test_reads_images_captions_labels_and_splits(self):
        root = self._folder()
        before = _checksum(root)
        self.assertEqual(formats.detect(root), "folder")
        train = formats.read(root, image_size=SIZE)
        self.assertEqual(train.element_spec["image"], tf.TensorSpec([SIZE, SIZE, 3], tf.uint8))
        self.assertEqual(train.element_spec["captions"], tf.TensorSpec([None], tf.string))
        self.assertEqual(train.element_spec["label"], tf.TensorSpec([], tf.int32))
        elements = _elements(train)
        self.assertEqual(_captions(train), [["a red square", "red"], ["a gray square"]])
        self.assertEqual([e["label"] for e in elements], [0, 1])
        self.assertAllEqual(elements[0]["image"], np.full((SIZE, SIZE, 3), RED, np.uint8))
        gray = elements[1]["image"].astype(int)
        self.assertAllClose(gray, np.full((SIZE, SIZE, 3), 90), atol=2)
        val = formats.read(os.path.join(root, "captions.jsonl"), split="val", image_size=SIZE)
        self.assertEqual(_captions(val), [["blue", "a blue one", "bleu"], ["noise"]])
        self.assertAllEqual(_elements(val)[0]["image"], np.full((SIZE, SIZE, 3), BLUE, np.uint8))
        with self.assertRaisesRegex(UserError, "no split 'test'; it has: train, val"):
            formats.read(root, split="test")
        self.assertEqual(_checksum(root), before)

    def test_no_labels_gives_no_label_key(self):
        root = self._folder([{"image": "img/red.png", "captions": ["red"]}])
        self.assertNotIn("label", formats.read(root, image_size=SIZE).element_spec)

    def _assert_error(self, root, *parts):
        with self.assertRaises(DataError) as raised:
            formats.read(root, image_size=SIZE)
        message = str(raised.exception)
        self.assertNotIn("\n", message)
        for part in parts:
            self.assertIn(part, message)

    def test_bad_lines(self):
        good = json.dumps({"image": "img/red.png", "captions": ["red"]})
        cases = {
            "not json": ("{not json", "not JSON"),
            "no captions key": (json.dumps({"image": "img/red.png"}), '"captions"'),
            "empty captions": (json.dumps({"image": "img/red.png", "captions": []}), "no captions"),
            "bad label": (json.dumps({"image": "img/red.png", "captions": ["x"], "label": "cat"}), '"label"'),
            "bad split": (json.dumps({"image": "img/red.png", "captions": ["x"], "split": "dev"}), '"split"'),
            "missing image": (json.dumps({"image": "img/none.jpg", "captions": ["x"]}), "no such image file"),
        }
        for name, (line, expected) in cases.items():
            with self.subTest(name):
                root = self._folder()
                _text(os.path.join(root, "captions.jsonl"), good + "\n" + line + "\n")
                self._assert_error(root, os.path.join(root, "captions.jsonl") + ":2", expected)

    def test_non_utf8_line(self):
        root = self._folder()
        _text(os.path.join(root, "captions.jsonl"), b'{"image": "img/red.png", "captions": ["caf\xe9"]}\n')
        self._assert_error(root, "captions.jsonl:1", "not UTF-8")

    def test_corrupt_truncated_and_unsupported_images(self):
        root = self._folder()
        with open(os.path.join(root, "img", "gray.jpg"), "rb") as file:
            jpeg = file.read()
        bad = {
            "truncated.jpg": jpeg[: len(jpeg) // 2],
            "garbage.png": b"not an image at all" * 20,
        }
        for name, content in bad.items():
            with self.subTest(name):
                _text(os.path.join(root, name), content)
                _text(os.path.join(root, "captions.jsonl"), json.dumps({"image": name, "captions": ["x"]}) + "\n")
                self._assert_error(root, os.path.join(root, name), "cannot decode image", "captions.jsonl:1")
        _image(os.path.join(root, "picture.tiff"), RED)
        _text(os.path.join(root, "captions.jsonl"), json.dumps({"image": "picture.tiff", "captions": ["x"]}) + "\n")
        self._assert_error(root, "picture.tiff", "TIFF")

    def test_skip_drops_bad_entries_with_one_warning(self):
        root = self._folder()
        _text(os.path.join(root, "broken.jpg"), b"\xff\xd8\xff garbage")
        lines = [
            json.dumps({"image": "img/red.png", "captions": ["red"]}),
            "{oops",
            json.dumps({"image": "broken.jpg", "captions": ["x"]}),
            json.dumps({"image": "nowhere.png", "captions": ["x"]}),
            json.dumps({"image": "b.bmp", "captions": ["noise"]}),
        ]
        _text(os.path.join(root, "captions.jsonl"), "\n".join(lines))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dataset = formats.read(root, image_size=SIZE, on_error="skip")
        self.assertEqual(_captions(dataset), [["red"], ["noise"]])
        messages = [str(w.message) for w in caught if "skipped" in str(w.message)]
        self.assertLen(messages, 1)
        self.assertIn("skipped 3 bad entries", messages[0])
        self.assertNotIn("\n", messages[0])


class ReedLayoutTest(TestCase):
    def _oxford(self, caption_dir="text_c10"):
        root = _fresh_dir(self)
        classes = {1: "class_00001", 2: "class_00001", 3: "class_00077", 4: "class_00077"}
        for number, class_name in classes.items():
            name = f"image_{number:05d}"
            _image(os.path.join(root, "jpg", name + ".jpg"), seed=number)
            lines = [f"flower {number} caption {line}" for line in range(10)]
            _text(os.path.join(root, caption_dir, class_name, name + ".txt"), "\n".join(lines) + "\n\n")
        return root

    def test_oxford102_both_caption_layouts(self):
        for caption_dir in ("text_c10", "text"):
            with self.subTest(caption_dir):
                root = self._oxford(caption_dir)
                self.assertEqual(formats.detect(root), "oxford102")
                elements = _elements(formats.read(root, image_size=SIZE))
                self.assertEqual([e["label"] for e in elements], [0, 0, 76, 76])
                self.assertEqual(len(elements[2]["captions"]), 10)
                self.assertEqual(elements[2]["captions"][9].decode(), "flower 3 caption 9")
                self.assertEqual(elements[0]["image"].shape, (SIZE, SIZE, 3))
                with self.assertRaisesRegex(UserError, "no split 'test'; it has: train$"):
                    formats.read(root, split="test")

    def test_oxford102_class_split(self):
        root = self._oxford()
        _text(os.path.join(root, "trainvalclasses.txt"), "class_00001\n")
        _text(os.path.join(root, "testclasses.txt"), "class_00077\n")
        test = formats.read(root, split="test", image_size=SIZE)
        self.assertEqual([e["label"] for e in _elements(test)], [76, 76])
        with self.assertRaisesRegex(UserError, "it has: train, test"):
            formats.read(root, split="val")

    def test_oxford102_bad_caption_files_and_missing_captions(self):
        cases = {"empty": (b"\n\n", "empty caption file"), "not utf-8": (b"fine\n\xff\xfe bad\n", ":2: not UTF-8")}
        for name, (content, expected) in cases.items():
            with self.subTest(name):
                root = self._oxford()
                path = os.path.join(root, "text_c10", "class_00077", "image_00003.txt")
                _text(path, content)
                with self.assertRaisesRegex(DataError, f"^{path}.*{expected}"):
                    formats.read(root)
        root = self._oxford()
        os.remove(os.path.join(root, "text_c10", "class_00001", "image_00002.txt"))
        with self.assertRaisesRegex(DataError, "image_00002.jpg: no captions"):
            formats.read(root)
        os.remove(os.path.join(root, "jpg", "image_00002.jpg"))
        os.remove(os.path.join(root, "jpg", "image_00004.jpg"))
        with self.assertRaisesRegex(DataError, "image_00004.jpg: no such image file .*image_00004.txt"):
            formats.read(root)

    def _cub(self, caption_dir="text"):
        root = _fresh_dir(self)
        base = os.path.join(root, "CUB_200_2011")
        images = [
            ("001.Black_footed_Albatross", "Black_Footed_Albatross_0001_796111", 1),
            ("001.Black_footed_Albatross", "Black_Footed_Albatross_0002_55", 0),
            ("017.Cardinal", "Cardinal_0001_17057", 1),
        ]
        listing, split, boxes = [], [], []
        for image_id, (class_name, name, is_train) in enumerate(images, start=1):
            # A 60 x 60 red image with a blue 20 x 20 bird box at (20, 20).
            pixels = np.full((60, 60, 3), RED, np.uint8)
            pixels[20:40, 20:40] = BLUE
            os.makedirs(os.path.join(base, "images", class_name), exist_ok=True)
            Image.fromarray(pixels).save(os.path.join(base, "images", class_name, name + ".jpg"), quality=100)
            listing.append(f"{image_id} {class_name}/{name}.jpg")
            split.append(f"{image_id} {is_train}")
            boxes.append(f"{image_id} 20.0 20.0 20.0 20.0")
            _text(os.path.join(root, caption_dir, class_name, name + ".txt"), f"{name} one\n{name} two\n")
        _text(os.path.join(base, "images.txt"), "\n".join(listing) + "\n")
        _text(os.path.join(base, "train_test_split.txt"), "\n".join(split) + "\n")
        _text(os.path.join(base, "bounding_boxes.txt"), "\n".join(boxes) + "\n")
        return root

    def test_cub_splits_labels_captions(self):
        root = self._cub()
        before = _checksum(root)
        self.assertEqual(formats.detect(root), "cub")
        train = _elements(formats.read(root, image_size=SIZE))
        self.assertEqual([e["label"] for e in train], [0, 16])
        self.assertEqual(train[1]["captions"].tolist(), [b"Cardinal_0001_17057 one", b"Cardinal_0001_17057 two"])
        test = _elements(formats.read(os.path.join(root, "CUB_200_2011"), split="test", image_size=SIZE))
        self.assertEqual([e["label"] for e in test], [0])
        with self.assertRaisesRegex(UserError, "it has: train, test"):
            formats.read(root, split="val")
        self.assertEqual(_checksum(root), before)

    def test_cub_class_split_from_reed_class_lists(self):
        root = self._cub("text_c10")
        _text(os.path.join(root, "trainvalclasses.txt"), "017.Cardinal\n")
        _text(os.path.join(root, "testclasses.txt"), "001.Black_footed_Albatross\n")
        test = formats.read(root, split="test", split_by="classes", image_size=SIZE)
        self.assertEqual([e["label"] for e in _elements(test)], [0, 0])
        train = formats.read(root, split="train", split_by="classes", image_size=SIZE)
        self.assertEqual([e["label"] for e in _elements(train)], [16])

    def test_cub_crop_to_bbox(self):
        root = self._cub()

        def blue_share(crop):
            image = _elements(formats.read(root, image_size=30, crop_to_bbox=crop))[0]["image"].astype(int)
            return np.mean((image[..., 2] > 128) & (image[..., 0] < 128))

        # StackGAN's crop: a 30 x 30 square around the 20 x 20 box, so the box fills 4/9 of it.
        self.assertAllClose(blue_share(True), 4 / 9, atol=0.05)
        self.assertAllClose(blue_share(False), 1 / 9, atol=0.05)

    def test_cub_bad_input(self):
        root = self._cub()
        caption = os.path.join(root, "text", "017.Cardinal", "Cardinal_0001_17057.txt")
        _text(caption, b"\xc3\x28 invalid\n")
        with self.assertRaisesRegex(DataError, f"^{caption}:1: not UTF-8"):
            formats.read(root)
        os.remove(caption)
        with self.assertRaisesRegex(DataError, "Cardinal_0001_17057.jpg: no captions .*images.txt:3"):
            formats.read(root)
        root = self._cub()
        _text(os.path.join(root, "CUB_200_2011", "bounding_boxes.txt"), "1 1 2 3 4\n")
        with self.assertRaisesRegex(DataError, "bounding_boxes.txt: no bounding box for image id 3"):
            formats.read(root, crop_to_bbox=True)


class CaptionJsonTest(TestCase):
    def _coco(self):
        root = _fresh_dir(self)
        for split, ids in (("train", (1, 2, 3)), ("val", (4, 5))):
            folder = f"{split}2014"
            images = [{"id": i, "file_name": f"COCO_{folder}_{i:012d}.jpg"} for i in ids]
            for i in ids:
                _image(os.path.join(root, folder, images[ids.index(i)]["file_name"]), seed=i)
            annotations = [
                {"image_id": i, "id": 10 * i + k, "caption": f"photo {i} caption {k} "}
                for i in ids
                for k in range(i % 3 + 1)
            ]
            data = {"info": {}, "images": images, "licenses": [], "annotations": annotations}
            _text(os.path.join(root, "annotations", f"captions_{folder}.json"), json.dumps(data))
        return root

    def test_coco_pairs_split_and_folder(self):
        root = self._coco()
        self.assertEqual(formats.detect(root), "coco")
        train = formats.read(root, image_size=SIZE)
        self.assertEqual(
            _captions(train),
            [
                ["photo 1 caption 0", "photo 1 caption 1"],
                ["photo 2 caption 0", "photo 2 caption 1", "photo 2 caption 2"],
                ["photo 3 caption 0"],
            ],
        )
        self.assertNotIn("label", train.element_spec)
        val = formats.read(root, split="val", image_size=SIZE, year=2014)
        self.assertLen(_elements(val), 2)
        one_file = os.path.join(root, "annotations", "captions_val2014.json")
        self.assertEqual(formats.detect(one_file), "coco")
        self.assertLen(_elements(formats.read(one_file, split="val", image_size=SIZE)), 2)
        with self.assertRaisesRegex(UserError, "no split 'test'; it has: train, val"):
            formats.read(root, split="test")
        with self.assertRaisesRegex(UserError, "year"):
            formats.read(root, year=2017)

    def test_coco_bad_input(self):
        root = self._coco()
        path = os.path.join(root, "annotations", "captions_val2014.json")
        data = json.load(open(path))
        data["annotations"] = [a for a in data["annotations"] if a["image_id"] != 5]
        _text(path, json.dumps(data))
        with self.assertRaisesRegex(DataError, r"COCO_val2014_000000000005.jpg: no captions \(image id 5"):
            formats.read(root, split="val")
        _text(path, '{"images": [\n{"id": 1,}\n]}')
        with self.assertRaisesRegex(DataError, f"^{path}:2: not JSON"):
            formats.read(root, split="val")

    def _karpathy(self):
        root = _fresh_dir(self)
        entries = []
        for i, split in enumerate(["train", "restval", "val", "test", "test"]):
            name = f"{1000 + i}_abc.jpg"
            _image(os.path.join(root, "Flicker8k_Dataset", name), seed=i)
            sentences = [{"tokens": ["a", "dog", str(i)], "raw": f"A dog {i}."}, {"tokens": ["dog", str(i)]}]
            entries.append({"filename": name, "imgid": i, "split": split, "sentences": sentences})
        _text(os.path.join(root, "dataset_flickr8k.json"), json.dumps({"images": entries, "dataset": "flickr8k"}))
        return root

    def test_karpathy_restval_is_train(self):
        root = self._karpathy()
        self.assertEqual(formats.detect(root), "karpathy")
        train = formats.read(root, image_size=SIZE)
        self.assertEqual(_captions(train), [["A dog 0.", "dog 0"], ["A dog 1.", "dog 1"]])
        self.assertLen(_elements(formats.read(root, split="test", image_size=SIZE)), 2)
        self.assertLen(_elements(formats.read(root, split="val", image_size=SIZE)), 1)

    def test_karpathy_bad_input(self):
        root = self._karpathy()
        path = os.path.join(root, "dataset_flickr8k.json")
        data = json.load(open(path))
        data["images"][2]["sentences"] = []
        _text(path, json.dumps(data))
        with self.assertRaisesRegex(DataError, r"1002_abc.jpg: no captions \(.*images\[2\]"):
            formats.read(root, split="val")
        os.remove(os.path.join(root, "Flicker8k_Dataset", "1003_abc.jpg"))
        with self.assertRaisesRegex(DataError, "1003_abc.jpg: no such image file"):
            formats.read(root, split="test")


class Flickr8kTest(TestCase):
    def _flickr(self):
        root = _fresh_dir(self)
        names = [f"{100 + i}_f.jpg" for i in range(4)]
        for i, name in enumerate(names):
            _image(os.path.join(root, "Flicker8k_Dataset", name), seed=i)
        lines = [f"{name}#{k}\t{name} caption {k}" for name in names for k in range(5)]
        lines.append("2258277193_586949ec62.jpg.1#0\tlisted in no split, not on disk")
        text = os.path.join(root, "Flickr8k_text")
        _text(os.path.join(text, "Flickr8k.token.txt"), "\r\n".join(lines) + "\r\n")
        _text(os.path.join(text, "Flickr_8k.trainImages.txt"), f"{names[0]}\n{names[1]}\n")
        _text(os.path.join(text, "Flickr_8k.devImages.txt"), f"{names[2]}\n")
        _text(os.path.join(text, "Flickr_8k.testImages.txt"), f"{names[3]}\n")
        return root, names

    def test_splits_from_the_split_files(self):
        root, names = self._flickr()
        self.assertEqual(formats.detect(root), "flickr8k")
        train = _captions(formats.read(root, image_size=SIZE))
        self.assertEqual(train, [[f"{name} caption {k}" for k in range(5)] for name in names[:2]])
        val = _captions(formats.read(root, split="val", image_size=SIZE))
        self.assertEqual(val[0][0], f"{names[2]} caption 0")
        self.assertLen(_captions(formats.read(root, split="test", image_size=SIZE)), 1)

    def test_bad_input(self):
        root, names = self._flickr()
        token = os.path.join(root, "Flickr8k_text", "Flickr8k.token.txt")
        with open(token, "ab") as file:
            file.write(b"broken line without a tab\n")
        with self.assertRaisesRegex(DataError, f"^{token}:22: expected"):
            formats.read(root)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            self.assertLen(_elements(formats.read(root, on_error="skip", image_size=SIZE)), 2)
        root, names = self._flickr()
        _text(os.path.join(root, "Flickr8k_text", "Flickr_8k.devImages.txt"), "999_none.jpg\n")
        with self.assertRaisesRegex(DataError, "999_none.jpg: no captions .*devImages.txt:1"):
            formats.read(root, split="val")


def _idx(path, array):
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, 8, array.ndim, *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    with (gzip.open if path.endswith(".gz") else open)(path, "wb") as file:
        file.write(data)


class IdxTest(TestCase):
    def _mnist(self, name="mnist"):
        root = os.path.join(_fresh_dir(self), name)
        os.makedirs(root)
        rng = np.random.RandomState(0)
        _idx(os.path.join(root, "train-images-idx3-ubyte.gz"), rng.randint(0, 256, (10, 28, 28)))
        _idx(os.path.join(root, "train-labels-idx1-ubyte.gz"), np.arange(10))
        _idx(os.path.join(root, "t10k-images-idx3-ubyte"), np.full((2, 28, 28), 200))
        _idx(os.path.join(root, "t10k-labels-idx1-ubyte"), np.array([7, 8]))
        return root

    def test_reads_splits_and_templated_captions(self):
        root = self._mnist()
        self.assertEqual(formats.detect(root), "idx")
        train = _elements(formats.read(root, image_size=SIZE))
        self.assertEqual([e["label"] for e in train], list(range(9)))
        val = _elements(formats.read(root, split="val", image_size=SIZE))
        self.assertEqual([e["label"] for e in val], [9])
        test = _elements(formats.read(root, split="test", image_size=SIZE))
        self.assertAllEqual(test[0]["image"], np.full((SIZE, SIZE, 3), 200, np.uint8))
        captions = [c.decode() for c in test[1]["captions"]]
        self.assertIn("a photo of a handwritten digit eight", captions)
        self.assertIn("an image of a handwritten digit eight, grayscale", captions)
        no_val = formats.read(root, image_size=SIZE, val_fraction=0)
        self.assertLen(_elements(no_val), 10)
        with self.assertRaisesRegex(UserError, "it has: train, test"):
            formats.read(root, split="val", val_fraction=0)

    def test_class_names(self):
        root = self._mnist("fashion-mnist")
        captions = _elements(formats.read(root, split="test", image_size=SIZE))[1]["captions"]
        self.assertIn(b"a photo of a bag", captions.tolist())
        names = [f"kana {i}" for i in range(10)]
        root = self._mnist("kuzushiji")
        with self.assertRaisesRegex(UserError, "class_names"):
            formats.read(root)
        captions = _elements(formats.read(root, split="test", class_names=names, image_size=SIZE))[0]["captions"]
        self.assertEqual(captions[1], b"a kana 7")

    def test_truncated_file(self):
        root = self._mnist()
        path = os.path.join(root, "t10k-images-idx3-ubyte")
        with open(path, "rb") as file:
            data = file.read()
        _text(path, data[:-5])
        with self.assertRaisesRegex(DataError, f"^{path}: .*truncated"):
            formats.read(root, split="test")

    def test_real_fashion_mnist(self):
        if not os.path.isdir(FASHION_MNIST):
            self.skipTest(f"{FASHION_MNIST} is absent (apt-get install dataset-fashion-mnist)")
        self.assertEqual(formats.detect(FASHION_MNIST), "idx")
        train = formats.read(FASHION_MNIST, image_size=SIZE)
        self.assertEqual(int(train.cardinality()), 54000)
        self.assertEqual(int(formats.read(FASHION_MNIST, split="val").cardinality()), 6000)
        first = next(iter(formats.read(FASHION_MNIST, split="test", image_size=SIZE)))
        self.assertEqual(first["image"].shape, (SIZE, SIZE, 3))
        self.assertEqual(int(first["label"]), 9)  # The first test image is an ankle boot.
        self.assertIn(b"an ankle boot", first["captions"].numpy().tolist())


class ReadAndDetectTest(TestCase):
    def test_missing_path(self):
        path = os.path.join(_fresh_dir(self), "nowhere")
        for call in (formats.detect, formats.read):
            with self.assertRaisesRegex(DataError, f"^{path}: no such file or directory$"):
                call(path)

    def test_unknown_layout_lists_what_was_looked_for(self):
        root = _fresh_dir(self)
        _text(os.path.join(root, "notes.txt"), "hello")
        with self.assertRaises(DataError) as raised:
            formats.read(root)
        message = str(raised.exception)
        self.assertTrue(message.startswith(f"{root}: unknown dataset layout"))
        for name, reader in formats.FORMATS.items():
            self.assertIn(f"{reader.LOOKS_FOR} ({name})", message)

    def test_bad_options(self):
        root = _fresh_dir(self)
        _image(os.path.join(root, "a.png"), RED)
        _text(os.path.join(root, "captions.jsonl"), json.dumps({"image": "a.png", "captions": ["red"]}))
        with self.assertRaisesRegex(UserError, "unknown format 'tfrecord'"):
            formats.read(root, format="tfrecord")
        with self.assertRaisesRegex(UserError, "has no option 'crop_to_bbox'"):
            formats.read(root, crop_to_bbox=True)
        with self.assertRaisesRegex(UserError, "on_error"):
            formats.read(root, on_error="ignore")
        with self.assertRaisesRegex(UserError, "image_size"):
            formats.read(root, image_size=0)
        with self.assertRaisesRegex(DataError, "Flickr8k.token.txt"):
            formats.read(root, format="flickr8k")
