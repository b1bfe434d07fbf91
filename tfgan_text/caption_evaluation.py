"""Captioning quality of a `Captioner` on a dataset split: n-gram scores, diversity, attributes.

The work behind `bench/captioning_quality.py` and the notebook's metrics. References and
generated captions are compared as the same tokens (the run's tokenizer rule, tokens joined
by spaces), as the COCO scorer expects them tokenised.
"""

import numpy as np
import tensorflow as tf

from tfgan_text.data import shapes
from tfgan_text.metrics import diversity
from tfgan_text.metrics.caption_attributes import attribute_correctness
from tfgan_text.metrics.captions import caption_scores
from tfgan_text.models.image_to_text.decoding import beam_search, sample
from tfgan_text.text import PyTokenizer


def read_split(dataset, num_images=None):
    """`(images uint8 [N, S, S, 3], captions list of lists of str, attributes dict or None)`."""
    if num_images is not None:
        dataset = dataset.take(num_images)
    examples = list(dataset.as_numpy_iterator())
    images = np.stack([e["image"] for e in examples])
    captions = [[c.decode("utf-8") for c in e["captions"]] for e in examples]
    attributes = None
    if examples and "attributes" in examples[0]:
        attributes = {key: np.stack([e["attributes"][key] for e in examples]) for key in shapes.ATTRIBUTES}
    return images, captions, attributes


class CaptionDecoder:
    """Captions of uint8 images by beam search or by seeded sampling, in batches, in a graph.

    Args:
        captioner: a trained `Captioner`.
        vocabulary_dir: the directory of the run's vocabulary (`vocab.txt`, `tokenizer.json`).
        beam_width: int, beam width of `beam` (1: greedy).
        batch_size: int, images per graph call.
    """

    def __init__(self, captioner, vocabulary_dir, beam_width=3, batch_size=100):
        from tfgan_text.text.tokenizer import Tokenizer

        self.tokenizer = Tokenizer(vocabulary_dir)
        self.batch_size = batch_size
        features = lambda images: captioner.encode_images(tf.cast(images, tf.float32) / 127.5 - 1.0)  # noqa: E731
        self._beam = tf.function(lambda images: beam_search(captioner, features(images), beam_width)[0])
        self._sample = tf.function(lambda images, seeds: sample(captioner, features(images), seeds)[0])

    def _captions(self, decode, images, *extra):
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = [images[start : start + self.batch_size], *(x[start : start + self.batch_size] for x in extra)]
            ids = decode(*batch)
            out += [c.decode("utf-8") for c in self.tokenizer.detokenize(ids).numpy()]
        return out

    def beam(self, images):
        """list of str, one caption per image."""
        return self._captions(self._beam, images)

    def samples(self, images, per_image, seed=0):
        """list of lists of str: `per_image` sampled captions (temperature 1) of each image."""
        seeds = np.arange(len(images) * per_image, dtype=np.int64) + seed * 1_000_003
        repeated = np.repeat(images, per_image, axis=0)
        flat = self._captions(self._sample, repeated, seeds)
        return [flat[i * per_image : (i + 1) * per_image] for i in range(len(images))]


def evaluate_captioner(captioner, vocabulary_dir, dataset, num_images=None, beam_width=3, samples_per_image=5,
                       seed=0, meteor="auto"):
    """Quality figures of `captioner` on the images of `dataset` (a split of `tfgan_text.data.load`).

    - n-gram scores of the beam-search captions against all references: BLEU-1..4, ROUGE-L,
      CIDEr-D (and METEOR where Java is present), equal to pycocoevalcap's;
    - `attributes` (shapes only): rates of true colour, shape, size, position and object
      count words in the beam-search captions, and `all_correct` (every statement true and
      every object named), from `metrics.caption_attributes`;
    - diversity of the beam-search captions over the whole split (`corpus_div_1`,
      `corpus_div_2`, `vocabulary_used`: mode collapse shows here) and of `samples_per_image`
      sampled captions of each image (`div_1`, `div_2`, `self_bleu`, Shetty et al. 2017).

    Returns:
        dict of floats (and the `attributes` dict), plus `num_images`.
    """
    images, references, attributes = read_split(dataset, num_images)
    decoder = CaptionDecoder(captioner, vocabulary_dir, beam_width=beam_width)
    tokens = PyTokenizer.load(vocabulary_dir).tokens
    refs = {i: [" ".join(tokens(c)) for c in captions] for i, captions in enumerate(references)}
    generated = decoder.beam(images)
    figures = dict(caption_scores(refs, {i: [c] for i, c in enumerate(generated)}, meteor=meteor))
    if attributes is not None:
        figures["attributes"] = attribute_correctness(generated, attributes)
    figures.update(diversity.corpus_diversity(generated))
    if samples_per_image:
        sets = decoder.samples(images, samples_per_image, seed)
        figures["div_1"] = diversity.div_n(sets, 1)
        figures["div_2"] = diversity.div_n(sets, 2)
        figures["self_bleu"] = diversity.self_bleu(sets)
    figures["num_images"] = len(images)
    figures["examples"] = [{"generated": g, "reference": r[0]} for g, r in zip(generated[:5], references[:5])]
    return figures


def reference_diversity(dataset, vocabulary_dir, num_images=None, per_image=5):
    """The same diversity figures for the human captions of `dataset`: the yardstick of the
    generated ones (more diverse than people is not better).

    `corpus_div_1`, `corpus_div_2`, `vocabulary_used` of each image's first caption (as the one
    beam caption per image), `div_1`, `div_2`, `self_bleu` of its first `per_image` captions (as
    the sampled sets); captions are tokenised by the run's rule, as in `evaluate_captioner`.
    """
    _, references, _ = read_split(dataset, num_images)
    tokens = PyTokenizer.load(vocabulary_dir).tokens
    sets = [[" ".join(tokens(c)) for c in captions[:per_image]] for captions in references]
    return {
        **diversity.corpus_diversity(captions[0] for captions in sets),
        "div_1": diversity.div_n(sets, 1),
        "div_2": diversity.div_n(sets, 2),
        "self_bleu": diversity.self_bleu(sets),
    }
