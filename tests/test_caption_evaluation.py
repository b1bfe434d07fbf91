"""Tests of the captioning evaluation: figures, their ranges, and their agreement with the metrics."""

import numpy as np

from tests.test_case import TestCase
from tfgan_text import data
from tfgan_text.caption_evaluation import CaptionDecoder, evaluate_captioner, read_split
from tfgan_text.metrics.caption_attributes import attribute_correctness
from tfgan_text.models.image_to_text.captioner import Captioner
from tfgan_text.models.image_encoder import ImageEncoder
from tfgan_text.text.vocabulary import Vocabulary


class CaptionEvaluationTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.split = data.load("shapes", split="test", image_size=32, num_examples=12)

    def _captioner(self, vocabulary):
        encoder = ImageEncoder(embedding_dim=16, filters=(8, 16), regions=False)
        captioner = Captioner(len(vocabulary), max_length=12, embedding_dim=8, hidden_dim=16, image_encoder=encoder)
        captioner.build({"image": (None, 32, 32, 3)})
        return captioner

    def test_figures_of_a_split(self):
        images, references, attributes = read_split(self.split)
        vocabulary = Vocabulary.build([c for captions in references for c in captions], max_length=12)
        directory = self.temp_dir()
        vocabulary.save(directory)
        captioner = self._captioner(vocabulary)
        figures = evaluate_captioner(captioner, directory, self.split, samples_per_image=3, meteor=False)
        self.assertEqual(figures["num_images"], 12)
        for name in ("BLEU-1", "BLEU-4", "ROUGE-L", "corpus_div_2", "div_1", "div_2", "self_bleu"):
            self.assertBetween(figures[name], 0.0, 1.0)
        self.assertGreaterEqual(figures["CIDEr-D"], 0.0)
        beam = CaptionDecoder(captioner, directory).beam(images)
        self.assertEqual(figures["attributes"], attribute_correctness(beam, attributes))
        samples = CaptionDecoder(captioner, directory).samples(images, 3)
        self.assertEqual([len(s) for s in samples], [3] * 12)
        self.assertEqual(samples, CaptionDecoder(captioner, directory).samples(images, 3))
        self.assertNotEqual(samples, CaptionDecoder(captioner, directory).samples(images, 3, seed=1))
        self.assertEqual(figures["vocabulary_used"], len({w for c in beam for w in c.split()}))
        self.assertTrue(np.isfinite(figures["BLEU-4"]))
