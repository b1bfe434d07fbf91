"""AttnGAN's word attention and the generator that reads words through it."""

import keras
import numpy as np

from tests.test_case import TestCase
from tfgan_text.errors import UserError
from tfgan_text.models.text_to_image.dcgan_networks import DCGANGenerator
from tfgan_text.models.text_to_image.word_attention import WordAttention


def _inputs(batch=2, places=4, channels=6, words=5, words_dim=7, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((batch, places, places, channels)).astype("float32")
    word_features = rng.standard_normal((batch, words, words_dim)).astype("float32")
    mask = np.ones((batch, words), "float32")
    mask[0, 3:] = 0.0
    return features, word_features, mask


def _generator_inputs(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "float32")
    return {
        "noise": rng.standard_normal((2, 100)).astype("float32"),
        "embedding": rng.standard_normal((2, 16)).astype("float32"),
        "words": rng.standard_normal((2, 5, 12)).astype("float32") * mask[..., None],
        "word_mask": mask,
    }


class WordAttentionTest(TestCase):
    def test_each_place_gets_a_mix_of_its_captions_mapped_words(self):
        features, words, mask = _inputs()
        attention = WordAttention()
        out = keras.ops.convert_to_numpy(attention((features, words, mask)))
        self.assertEqual(out.shape, (2, 4, 4, 12))
        self.assertAllClose(out[..., :6], features)
        mapped = words @ keras.ops.convert_to_numpy(attention.word_projection.kernel)
        scores = np.einsum("bhwc,btc->bhwt", features, mapped) / np.sqrt(6) + (mask[:, None, None] - 1) * 1e9
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        self.assertAllClose(out[..., 6:], np.einsum("bhwt,btc->bhwc", weights, mapped), atol=1e-5)
        self.assertAllClose(weights[0, ..., 3:], np.zeros((4, 4, 2)))  # padding gets no weight

    def test_padding_is_ignored_and_a_caption_of_no_words_reads_zeros(self):
        features, words, mask = _inputs()
        attention = WordAttention()
        out = keras.ops.convert_to_numpy(attention((features, words, mask)))
        changed = words.copy()
        changed[0, 3:] = 50.0
        self.assertAllClose(keras.ops.convert_to_numpy(attention((features, changed, mask))), out)
        empty = keras.ops.convert_to_numpy(attention((features, words, np.zeros_like(mask))))
        self.assertTrue(np.all(np.isfinite(empty)))
        self.assertAllClose(empty[..., 6:], np.zeros((2, 4, 4, 6)))


class AttendingGeneratorTest(TestCase):
    def _generator(self, **kwargs):
        return DCGANGenerator(image_size=32, embedding_dim=16, ngf=8, words_dim=12, **kwargs)

    def test_attention_after_the_named_blocks_reads_the_words(self):
        generator = self._generator(attention_sizes=(8, 16))
        attended = [layer.name for layer in generator.layers if isinstance(layer, WordAttention)]
        self.assertEqual(attended, ["up0_word_attention", "up1_word_attention"])
        inputs = _generator_inputs()
        images = keras.ops.convert_to_numpy(generator(inputs))
        self.assertEqual(images.shape, (2, 32, 32, 3))
        changed = dict(inputs, words=inputs["words"].copy())
        changed["words"][0, 1] += 3.0
        after = keras.ops.convert_to_numpy(generator(changed))
        self.assertGreater(np.abs(after[0] - images[0]).max(), 1e-4)  # a word of caption 0 matters
        self.assertAllClose(after[1], images[1])  # and only to its own image

    def test_round_trip_and_bad_sizes(self):
        generator = self._generator(attention_sizes=(16,))
        loaded = self.assert_saving_round_trip(generator, _generator_inputs(1))
        self.assertEqual(loaded.attention_sizes, (16,))
        for sizes in ((32,), (4,), (12,)):
            with self.assertRaisesRegex(UserError, r"hidden map sizes \[8, 16\] at image size 32"):
                self._generator(attention_sizes=sizes)
