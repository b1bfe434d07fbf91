"""Diversity of caption sets (tfgan_text.metrics.diversity) on toy sets counted by hand."""

import numpy as np

from tests.test_case import TestCase
from tfgan_text.errors import UserError
from tfgan_text.metrics import diversity

SETS = [["a red circle", "a red square"], ["a blue star", "a blue star"]]


class DiversityTest(TestCase):
    def test_div_n_per_set_then_mean(self):
        # Set 1: {a, red, circle, square} / 6 words; set 2: {a, blue, star} / 6 words.
        self.assertAlmostEqual(diversity.div_n(SETS, 1), (4 / 6 + 3 / 6) / 2)
        # Set 1: {a red, red circle, red square} / 6; set 2: {a blue, blue star} / 6.
        self.assertAlmostEqual(diversity.div_n(SETS, 2), (3 / 6 + 2 / 6) / 2)
        # All captions as one set: 6 distinct words of 12.
        everything = [[c for captions in SETS for c in captions]]
        self.assertAlmostEqual(diversity.div_n(everything, 1), 6 / 12)
        # A numpy str array [images, captions] works too.
        self.assertAlmostEqual(diversity.div_n(np.array(SETS), 1), (4 / 6 + 3 / 6) / 2)

    def test_div_n_denominator_is_words_and_ngrams_stay_in_captions(self):
        # Bigrams "a b" and "c d" (not "b c") over 4 words.
        self.assertAlmostEqual(diversity.div_n([["a b", "c d"]], 2), 2 / 4)
        self.assertEqual(diversity.div_n([["a", "b"]], 2), 0.0)  # no bigram at all
        self.assertEqual(diversity.div_n([["", ""]], 1), 0.0)  # no word at all

    def test_vocabulary_used(self):
        self.assertEqual(diversity.vocabulary_used([c for s in SETS for c in s]), 6)
        self.assertEqual(diversity.vocabulary_used([]), 0)

    def test_self_bleu(self):
        same = ["a small red circle on the left"] * 3
        self.assertAlmostEqual(diversity.self_bleu([same]), 1.0, delta=1e-6)
        # Each against the other: 6/7, 5/6, 4/5, 3/4 of 1- to 4-grams, equal lengths.
        pair = ["a small red circle on the left", "a small red circle on the right"]
        self.assertAlmostEqual(diversity.self_bleu([pair]), (3 / 7) ** 0.25, delta=1e-6)
        # Two copies score 1 each; the third shares nothing (its BLEU-4 is ~1e-15).
        mixed = ["a b c d", "a b c d", "e f g h"]
        self.assertAlmostEqual(diversity.self_bleu([mixed]), 2 / 3, delta=1e-6)
        # The mean over sets.
        self.assertAlmostEqual(diversity.self_bleu([same, ["a b c d", "e f g h"]]), 0.5, delta=1e-6)

    def test_bad_input(self):
        with self.assertRaisesRegex(UserError, "two captions or more"):
            diversity.self_bleu([["a red circle"]])
        with self.assertRaisesRegex(UserError, "at least one set"):
            diversity.self_bleu([])
        with self.assertRaisesRegex(UserError, "non-empty set"):
            diversity.div_n([["a"], []], 1)
        with self.assertRaisesRegex(UserError, "n must be"):
            diversity.div_n(SETS, 0)
