"""Tests of the GAN-CLS training pipeline."""

import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfgan_text.data.pipeline import resume_position, steps_per_epoch, training_pipeline
from tfgan_text.errors import UserError

NUM_IMAGES = 12


def _dataset(labels=None, attributes=None, captions_per_image=3):
    images = np.random.RandomState(0).randint(0, 256, (NUM_IMAGES, 16, 16, 3)).astype(np.uint8)
    captions = np.array([[f"image{i} caption{j}" for j in range(captions_per_image)] for i in range(NUM_IMAGES)])
    elements = {"image": images, "captions": captions}
    if labels is not None:
        elements["label"] = np.asarray(labels, np.int32)
    if attributes is not None:
        elements["attributes"] = attributes
    return tf.data.Dataset.from_tensor_slices(elements)


def _image_of(caption):
    return int(caption.decode().split()[0][len("image"):])


def _hash_tokenizer(captions):
    """A stand-in tokenizer: one id per word, padded to 4."""
    words = tf.strings.split(captions)
    ids = tf.strings.to_hash_bucket_fast(words, 1000) + 4
    return ids.to_tensor(shape=[None, 4])


class TrainingPipelineTest(TestCase):
    def test_batch_structure_and_range(self):
        batch = next(iter(training_pipeline(_dataset(), 4, tokenizer=_hash_tokenizer, random_crop=True, flip=True)))
        self.assertEqual(batch["image"].shape, (4, 16, 16, 3))
        self.assertEqual(batch["image"].dtype, tf.float32)
        self.assertBetween(float(tf.reduce_min(batch["image"])), -1.0, 1.0)
        self.assertBetween(float(tf.reduce_max(batch["image"])), -1.0, 1.0)
        self.assertEqual(batch["caption"].shape, (4,))
        self.assertEqual(batch["wrong_caption"].shape, (4,))
        self.assertEqual(batch["token_ids"].shape, (4, 4))
        self.assertEqual(batch["wrong_token_ids"].shape, (4, 4))
        self.assertEqual(batch["content_key"].shape, (4,))

    def test_image_pixels_are_the_source_pixels_rescaled(self):
        batch = next(iter(training_pipeline(_dataset(), NUM_IMAGES, shuffle_buffer=0)))
        source = np.stack([e["image"] for e in _dataset().as_numpy_iterator()])
        np.testing.assert_allclose(batch["image"].numpy(), source / 127.5 - 1.0, atol=1e-6)

    def test_same_seed_same_batches_other_seed_other_batches(self):
        def run(seed):
            pipeline = training_pipeline(_dataset(), 4, seed=seed, random_crop=True, epochs=2)
            return [b["caption"].numpy().tolist() + b["wrong_caption"].numpy().tolist() for b in pipeline]

        self.assertEqual(run(3), run(3))
        self.assertNotEqual(run(3), run(4))

    def test_captions_belong_to_their_image_and_change_between_epochs(self):
        chosen = []
        for epoch_number in range(3):
            epoch = {}
            for batch in training_pipeline(_dataset(), 4, seed=1, start_epoch=epoch_number, epochs=epoch_number + 1):
                for caption, image in zip(batch["caption"].numpy(), batch["image"].numpy()):
                    epoch[_image_of(caption)] = caption
            self.assertLen(epoch, NUM_IMAGES)
            chosen.append(epoch)
        self.assertTrue(any(chosen[0][i] != chosen[1][i] or chosen[1][i] != chosen[2][i] for i in range(NUM_IMAGES)))

    def test_wrong_caption_comes_from_an_image_of_another_label(self):
        labels = [i % 3 for i in range(NUM_IMAGES)]
        for batch in training_pipeline(_dataset(labels=labels), 6, seed=2, epochs=1):
            for caption, wrong, label in zip(batch["caption"].numpy(), batch["wrong_caption"].numpy(), batch["label"].numpy()):
                self.assertEqual(labels[_image_of(caption)], label)
                self.assertNotEqual(labels[_image_of(wrong)], label)

    def test_wrong_caption_compares_all_attributes(self):
        # Images 0-5 all share one content; 6-11 each have another position of object 2.
        shape = np.tile([[1, 2]], (NUM_IMAGES, 1)).astype(np.int32)
        position = np.array([[0, 1]] * 6 + [[0, k] for k in range(2, 8)], np.int32)
        attributes = {"shape": shape, "color": shape, "size": shape, "position": position}
        content = [tuple(p) for p in position]
        for batch in training_pipeline(_dataset(attributes=attributes), NUM_IMAGES, seed=5, epochs=3):
            for caption, wrong in zip(batch["caption"].numpy(), batch["wrong_caption"].numpy()):
                self.assertNotEqual(content[_image_of(caption)], content[_image_of(wrong)])

    def test_without_labels_wrong_caption_is_another_image(self):
        for batch in training_pipeline(_dataset(), 4, seed=0, epochs=1):
            for caption, wrong in zip(batch["caption"].numpy(), batch["wrong_caption"].numpy()):
                self.assertNotEqual(_image_of(caption), _image_of(wrong))

    def test_batch_of_identical_content_falls_back_to_next_image(self):
        batch = next(iter(training_pipeline(_dataset(labels=[7] * NUM_IMAGES), 4, shuffle_buffer=0)))
        owners = [_image_of(c) for c in batch["caption"].numpy()]
        wrong_owners = [_image_of(c) for c in batch["wrong_caption"].numpy()]
        self.assertEqual(wrong_owners, owners[1:] + owners[:1])

    def test_several_captions_per_image(self):
        batch = next(iter(training_pipeline(_dataset(), 4, captions_per_image=2, tokenizer=_hash_tokenizer)))
        self.assertEqual(batch["caption"].shape, (4, 2))
        self.assertEqual(batch["token_ids"].shape, (4, 2, 4))
        for pair in batch["caption"].numpy():
            self.assertEqual(_image_of(pair[0]), _image_of(pair[1]))
            self.assertNotEqual(pair[0], pair[1])
        more_than_available = next(iter(training_pipeline(_dataset(captions_per_image=1), 4, captions_per_image=3)))
        self.assertEqual(more_than_available["caption"].shape, (4, 3))

    def test_flip_mirrors_some_images(self):
        plain = next(iter(training_pipeline(_dataset(), NUM_IMAGES, shuffle_buffer=0)))["image"].numpy()
        flipped = next(iter(training_pipeline(_dataset(), NUM_IMAGES, shuffle_buffer=0, flip=True)))["image"].numpy()
        mirrored = [np.allclose(f, p[:, ::-1]) for f, p in zip(flipped, plain)]
        unchanged = [np.allclose(f, p) for f, p in zip(flipped, plain)]
        self.assertTrue(any(mirrored) and any(unchanged))
        self.assertTrue(all(m or u for m, u in zip(mirrored, unchanged)))

    def test_stream_is_epochs_of_whole_batches(self):
        self.assertEqual(steps_per_epoch(_dataset(), 5), 2)
        batches = list(training_pipeline(_dataset(), 5, epochs=3))
        self.assertLen(batches, 6)
        for first in (0, 2, 4):
            owners = [_image_of(c) for b in batches[first:first + 2] for c in b["caption"].numpy()]
            self.assertLen(set(owners), 10)

    def test_resumed_stream_continues_the_interrupted_one(self):
        def captions(batches):
            return [(b["caption"].numpy().tolist(), b["wrong_caption"].numpy().tolist(), b["image"].numpy().sum()) for b in batches]

        full = captions(training_pipeline(_dataset(), 4, seed=7, random_crop=True, epochs=3))
        resumed = captions(training_pipeline(_dataset(), 4, seed=7, random_crop=True, epochs=3, start_epoch=1, start_batch=2))
        self.assertLen(full, 9)
        self.assertEqual(resumed, full[5:])
        # A run whose `fit` epochs are shorter than the data's (--steps-per-epoch) resumes by its
        # global step: after 5 steps, epoch 1 of the data at batch 2.
        at_step = training_pipeline(_dataset(), 4, seed=7, random_crop=True, epochs=3,
                                    **resume_position(_dataset(), 4, step=5))
        self.assertEqual(captions(at_step), full[5:])

    def test_bad_options(self):
        with self.assertRaisesRegex(UserError, "batch size"):
            training_pipeline(_dataset(), -1)
        with self.assertRaisesRegex(UserError, "captions per image"):
            training_pipeline(_dataset(), 2, captions_per_image=0)
        with self.assertRaisesRegex(UserError, "start batch 3"):
            training_pipeline(_dataset(), 4, start_batch=3)


class CounterfactualWrongCaptionTest(TestCase):
    """Wrong captions that are the image's own caption with one shape word swapped."""

    SHAPES = ("circle", "star", "heart")

    def setUp(self):
        super().setUp()
        from tfgan_text.text.tokenizer import Tokenizer
        from tfgan_text.text.vocabulary import Vocabulary

        # Image i: "a <colour> <shape> on the left" and "a <colour> <shape> and a blue <shape'>",
        # a different colour-shape pair for each of the 12 images.
        colors = ("red", "green", "pink", "white")
        captions = np.array(
            [[f"a {colors[i % 4]} {self.SHAPES[i % 3]} on the left",
              f"a {colors[i % 4]} {self.SHAPES[i % 3]} and a blue {self.SHAPES[(i + 1) % 3]}"] for i in range(NUM_IMAGES)]
        )
        images = np.random.RandomState(0).randint(0, 256, (NUM_IMAGES, 16, 16, 3)).astype(np.uint8)
        self.dataset = tf.data.Dataset.from_tensor_slices(
            {"image": images, "captions": captions, "label": np.arange(NUM_IMAGES, dtype=np.int32)}
        )
        vocabulary = Vocabulary.build(captions.ravel().tolist(), min_count=1)
        self.tokenizer = Tokenizer(vocabulary)
        self.words = [vocabulary.id(word) for word in self.SHAPES]

    def _pipeline(self, rate, **options):
        return training_pipeline(
            self.dataset, 6, tokenizer=self.tokenizer, seed=3, epochs=4, counterfactual_words=self.words,
            counterfactual_rate=rate, **options,
        )

    def test_counterfactuals_differ_only_in_one_shape_word(self):
        kinds = []
        for batch in self._pipeline(0.5):
            self.assertAllEqual(batch["wrong_token_ids"], self.tokenizer(batch["wrong_caption"]))
            for caption, wrong in zip(batch["caption"].numpy(), batch["wrong_caption"].numpy()):
                own, other = caption.decode().split(), wrong.decode().split()
                changed = [(a, b) for a, b in zip(own, other) if a != b] if len(own) == len(other) else None
                if changed is not None and len(changed) == 1 and set(changed[0]) <= set(self.SHAPES):
                    kinds.append("counterfactual")
                else:
                    self.assertNotEqual(caption, wrong)
                    kinds.append("other image")
        # 48 draws at rate 0.5: both kinds occur (a chance of 2 * 0.5^48 to fail).
        self.assertIn("counterfactual", kinds)
        self.assertIn("other image", kinds)
        for batch in self._pipeline(1.0):
            for caption, wrong in zip(batch["caption"].numpy(), batch["wrong_caption"].numpy()):
                own, other = caption.decode().split(), wrong.decode().split()
                self.assertEqual(sum(a != b for a, b in zip(own, other)), 1)
                self.assertEqual(len(own), len(other))

    def test_rate_zero_keeps_every_other_draw(self):
        plain = training_pipeline(self.dataset, 6, tokenizer=self.tokenizer, seed=3, epochs=4, random_crop=True)
        with_option = self._pipeline(0.0, random_crop=True)
        for a, b in zip(plain, with_option):
            self.assertEqual(set(a), set(b))
            for key in a:
                self.assertAllEqual(a[key], b[key])

    def test_resumed_stream_continues_the_interrupted_one(self):
        full = [b["wrong_caption"].numpy().tolist() for b in self._pipeline(0.5)]
        resumed = [b["wrong_caption"].numpy().tolist() for b in self._pipeline(0.5, start_epoch=1, start_batch=1)]
        self.assertEqual(resumed, full[3:])

    def test_bad_options(self):
        with self.assertRaisesRegex(UserError, "word tokenizer"):
            training_pipeline(self.dataset, 6, tokenizer=_hash_tokenizer, counterfactual_words=self.words)
        with self.assertRaisesRegex(UserError, "two or more distinct"):
            training_pipeline(self.dataset, 6, tokenizer=self.tokenizer, counterfactual_words=[5, 5])
        with self.assertRaisesRegex(UserError, "rate"):
            training_pipeline(self.dataset, 6, tokenizer=self.tokenizer, counterfactual_words=self.words,
                              counterfactual_rate=1.5)
