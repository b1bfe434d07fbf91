"""Caption metrics (tfgan_text.metrics.captions) against pycocoevalcap, the reference COCO
scorer (in the `dev` extra), and against values computed by hand."""

import json
import math
import os
import shutil
from unittest import mock

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge

from tests.test_case import TestCase
from tfgan_text.errors import UserError
from tfgan_text.metrics import captions
from tfgan_text.metrics.captions import DocumentFrequency

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "caption_metrics.json")


def load_fixture():
    """20 hand-written images with 3-5 references each and one candidate each."""
    with open(FIXTURE, encoding="utf-8") as f:
        data = json.load(f)
    return data["references"], data["candidates"]


def random_corpus(seed, n=150):
    """Captions of 0-11 words from a 15-word vocabulary: many partial n-gram matches, repeated
    words, ties of reference length, and empty candidates."""
    rng = np.random.default_rng(seed)
    vocab = "a the red blue circle square big small on left right top of is and".split()

    def caption(shortest):
        return " ".join(rng.choice(vocab, size=rng.integers(shortest, 12)))

    references = {f"image{i}": [caption(1) for _ in range(rng.integers(1, 6))] for i in range(n)}
    return references, {key: [caption(0)] for key in references}


class ReferenceScorerTest(TestCase):
    """Equal to pycocoevalcap to 1e-6, corpus score and per caption."""

    def setUp(self):
        super().setUp()
        self.corpora = [load_fixture(), random_corpus(0)]

    def test_bleu(self):
        for references, candidates in self.corpora:
            expected, per_caption = Bleu(4).compute_score(references, candidates, verbose=0)
            self.assertAllClose(captions.bleu(references, candidates), expected, rtol=0, atol=1e-6)
            got = captions.bleu(references, candidates, per_caption=True)
            self.assertEqual(got.shape, (len(candidates), 4))
            self.assertAllClose(got, np.array(per_caption).T, rtol=0, atol=1e-6)

    def test_rouge_l(self):
        for references, candidates in self.corpora:
            expected, per_caption = Rouge().compute_score(references, candidates)
            self.assertAlmostEqual(captions.rouge_l(references, candidates), expected, delta=1e-6)
            got = captions.rouge_l(references, candidates, per_caption=True)
            self.assertAllClose(got, per_caption, rtol=0, atol=1e-6)

    def test_cider_d(self):
        # pycocoevalcap's `Cider` is CIDEr-D: clipping, Gaussian length penalty, times 10.
        for references, candidates in self.corpora:
            expected, per_caption = Cider().compute_score(references, candidates)
            self.assertAlmostEqual(captions.cider_d(references, candidates), expected, delta=1e-6)
            got = captions.cider_d(references, candidates, per_caption=True)
            self.assertAllClose(got, per_caption, rtol=0, atol=1e-6)
        self.assertGreater(expected, 0.1)  # the comparison is not of zeros


@pytest.mark.slow
class MeteorTest(TestCase):
    """Three METEOR runs in java (10-30 s each): the reference's, ours (corpus, per caption)."""

    def test_equals_pycocoevalcap(self):
        if not shutil.which("java"):
            self.skipTest("METEOR runs in java, which is not on the PATH")
        references, candidates = load_fixture()
        expected, per_caption = Meteor().compute_score(references, candidates)
        scores = captions.caption_scores(references, candidates, meteor=True)
        self.assertAlmostEqual(scores["METEOR"], expected, delta=1e-6)
        got = captions.meteor(references, candidates, per_caption=True)
        self.assertAllClose(got, per_caption, rtol=0, atol=1e-6)
        self.assertGreater(expected, 0.1)


class HandComputedTest(TestCase):
    def test_bleu_of_an_identical_caption_is_one(self):
        caption = "a small red circle on the left"
        refs, cands = {0: [caption]}, {0: [caption]}
        self.assertAllClose(captions.bleu(refs, cands), [1.0] * 4, atol=1e-6)

    def test_bleu_precisions_and_smoothing(self):
        # Matches 5/6, 3/5, 1/4, 0/3; equal lengths, so no brevity penalty; the 4-gram
        # precision is (0 + 1e-15) / (3 + 1e-9).
        refs, cands = {0: ["the cat is on the mat"]}, {0: ["the cat sat on the mat"]}
        expected = [5 / 6, math.sqrt(0.5), 0.5, (0.125 * 1e-15 / (3 + 1e-9)) ** 0.25]
        self.assertAllClose(captions.bleu(refs, cands), expected, rtol=1e-6, atol=0)

    def test_bleu_closest_reference_length(self):
        # References of 2 and 4 words are equally close to 3; the shorter counts: no penalty.
        refs, cands = {0: ["a circle", "a red circle here"]}, {0: ["a red circle"]}
        self.assertAllClose(captions.bleu(refs, cands), [1, 1, 1, 1e-6**0.25], rtol=1e-6)
        # 2 words against 6: brevity penalty exp(1 - 6 / 2).
        refs, cands = {0: ["a red circle on the left"]}, {0: ["a red"]}
        self.assertAlmostEqual(captions.bleu(refs, cands)[0], math.exp(-2), delta=1e-9)

    def test_corpus_bleu_sums_counts(self):
        refs = {0: ["a b c d"], 1: ["e g"]}
        cands = {0: ["a b c d"], 1: ["e f"]}
        # (4 + 1) / (4 + 2) matched unigrams, not the mean of 4/4 and 1/2.
        self.assertAlmostEqual(captions.bleu(refs, cands)[0], 5 / 6, delta=1e-9)
        self.assertAllClose(captions.bleu(refs, cands, per_caption=True)[:, 0], [1, 0.5], atol=1e-9)

    def test_rouge_l(self):
        # LCS "a red circle the left" = 5: precision 5/6, recall 5/8, F with beta 1.2.
        refs, cands = {0: ["a small red circle at the top left"]}, {0: ["a red circle on the left"]}
        p, r = 5 / 6, 5 / 8
        self.assertAlmostEqual(captions.rouge_l(refs, cands), 2.44 * p * r / (r + 1.44 * p))
        # Best precision and best recall come from different references: 3/3 and 2/2.
        refs = {0: ["a red", "a red circle on the left side"]}
        self.assertAlmostEqual(captions.rouge_l(refs, {0: ["a red circle"]}), 1.0)
        self.assertEqual(captions.rouge_l(refs, {0: [""]}), 0.0)

    def test_cider_d(self):
        # Two documents, every n-gram in one: idf = log 2 for all. "blue star" equals its
        # reference in 1- and 2-grams and has no 3- or 4-grams: 10 * (1 + 1 + 0 + 0) / 4 = 5.
        # "red red circle": clipped 1-gram cosine 2 / sqrt(10), 2-gram 1 / sqrt(2), no 3-gram
        # in the reference, one word longer: exp(-1 / 72).
        refs = {"a": ["red circle"], "b": ["blue star"]}
        cands = {"a": ["red red circle"], "b": ["blue star"]}
        first = 10 * (2 / math.sqrt(10) + 1 / math.sqrt(2)) / 4 * math.exp(-1 / 72)
        self.assertAllClose(captions.cider_d(refs, cands, per_caption=True), [first, 5.0])
        self.assertAlmostEqual(captions.cider_d(refs, cands), (first + 5) / 2)

    def test_document_frequency(self):
        refs = {"a": ["red circle", "red"], "b": ["red star"]}
        df = DocumentFrequency.from_references(refs)
        self.assertEqual(df.num_documents, 2)
        self.assertEqual(df.counts[("red",)], 2)  # once per document, not per caption
        self.assertEqual(df.counts[("red", "circle")], 1)
        self.assertNotIn(("circle", "red"), df.counts)

    def test_cider_d_with_corpus_document_frequency(self):
        references, candidates = load_fixture()
        given = DocumentFrequency.from_references(references)
        self.assertAllClose(
            captions.cider_d(references, candidates, given, per_caption=True),
            captions.cider_d(references, candidates, per_caption=True),
        )
        # One image scored with the idf of a 4-image corpus ("circle" in 3 of them); with its
        # own references alone (one document) every idf, and the score, would be 0.
        df = DocumentFrequency({("red",): 1, ("circle",): 3, ("red", "circle"): 1}, 4)
        refs, cands = {0: ["red circle"]}, {0: ["red red circle"]}
        red, circle = math.log(4), math.log(4 / 3)
        unigram = math.sqrt(red**2 + circle**2) / math.sqrt(4 * red**2 + circle**2)
        expected = 10 * (unigram + 1 / math.sqrt(2)) / 4 * math.exp(-1 / 72)
        self.assertAlmostEqual(captions.cider_d(refs, cands, df), expected)
        self.assertEqual(captions.cider_d(refs, cands), 0.0)


class CaptionScoresTest(TestCase):
    def test_keys_without_meteor(self):
        references, candidates = load_fixture()
        scores = captions.caption_scores(references, candidates, meteor=False)
        keys = ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D"]
        self.assertEqual(list(scores), keys)
        self.assertEqual(
            [scores[f"BLEU-{n}"] for n in range(1, 5)], captions.bleu(references, candidates)
        )
        self.assertEqual(scores["ROUGE-L"], captions.rouge_l(references, candidates))
        self.assertEqual(scores["CIDEr-D"], captions.cider_d(references, candidates))
        self.assertTrue(all(isinstance(v, float) for v in scores.values()))

    def test_no_java(self):
        refs, cands = {0: ["a red circle"]}, {0: ["a red circle"]}
        with mock.patch.object(captions.shutil, "which", return_value=None):
            self.assertFalse(captions.meteor_available())
            self.assertNotIn("METEOR", captions.caption_scores(refs, cands))  # "auto"
            with self.assertRaisesRegex(UserError, "METEOR needs pycocoevalcap .* java"):
                captions.meteor(refs, cands)
            with self.assertRaisesRegex(UserError, "METEOR needs"):
                captions.caption_scores(refs, cands, meteor=True)

    def test_bad_input(self):
        with self.assertRaisesRegex(UserError, "same ids"):
            captions.bleu({0: ["a"], 1: ["b"]}, {0: ["a"]})
        with self.assertRaisesRegex(UserError, "exactly one caption"):
            captions.rouge_l({0: ["a"]}, {0: ["a", "b"]})
        with self.assertRaisesRegex(UserError, "non-empty list"):
            captions.cider_d({0: []}, {0: ["a"]})
        with self.assertRaisesRegex(UserError, "no captions"):
            captions.bleu({}, {})
        with self.assertRaisesRegex(UserError, "meteor must be"):
            captions.caption_scores({0: ["a"]}, {0: ["a"]}, meteor="yes")
