"""Diversity of generated captions: Div-1, Div-2, self-BLEU (mBLEU-4) and the vocabulary used.

Definitions of Shetty et al. 2017, "Speaking the Same Language: Matching Machine to Human
Captions by Adversarial Training" (ICCV), which captioning-GAN papers report:

- Div-n of a set of captions: distinct n-grams in the set / total words in the set (n-grams do
  not cross captions). A set is the captions generated for one image; `div_n` and `self_bleu`
  average over images. Pass one set holding every caption for a corpus-wide figure.
- self-BLEU (their mBleu-4): each caption's BLEU-4 against the other captions of its set as
  references (the COCO sentence BLEU of `captions.bleu`), averaged over the set.
- vocabulary used: distinct words over all captions.

Captions are tokenised strings (tokens joined by spaces), as in `captions`.

Example:

    sets = [["a red circle", "a red square"], ["a blue star", "a blue star"]]
    div_n(sets, 1)  # (4/6 + 3/6) / 2 = 0.583...
"""

import numpy as np

from tfgan_text.errors import UserError
from tfgan_text.metrics.captions import bleu


def _token_sets(caption_sets):
    """list of lists of token lists; UserError for no set or an empty set."""
    sets = [[str(c).split() for c in captions] for captions in caption_sets]
    if not sets or not all(sets):
        raise UserError("diversity needs at least one non-empty set of captions")
    return sets


def div_n(caption_sets, n):
    """Mean over sets of distinct n-grams / total words (Div-n of Shetty et al. 2017).

    Args:
        caption_sets: sequence of sequences of str, the captions of each image (a numpy str
            array `[images, captions]` works).
        n: int >= 1, the n-gram length (1 for Div-1, 2 for Div-2).

    Returns:
        float in [0, 1]; a set with no words counts 0.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UserError(f"n must be an integer >= 1, got {n!r}")
    ratios = []
    for captions in _token_sets(caption_sets):
        words = sum(len(c) for c in captions)
        distinct = {tuple(c[i : i + n]) for c in captions for i in range(len(c) - n + 1)}
        ratios.append(len(distinct) / words if words else 0.0)
    return float(np.mean(ratios))


def self_bleu(caption_sets):
    """Mean over sets of the mean BLEU-4 of each caption against the rest of its set (mBleu-4 of
    Shetty et al. 2017; lower is more diverse). Every set needs two captions or more."""
    scores = []
    for captions in caption_sets:
        captions = [str(c) for c in captions]
        if len(captions) < 2:
            raise UserError("self-BLEU needs two captions or more in every set")
        references = {i: captions[:i] + captions[i + 1 :] for i in range(len(captions))}
        candidates = {i: [c] for i, c in enumerate(captions)}
        scores.append(bleu(references, candidates, per_caption=True)[:, 3].mean())
    if not scores:
        raise UserError("self-BLEU needs at least one set of captions")
    return float(np.mean(scores))


def vocabulary_used(captions):
    """Number of distinct words over a flat sequence of captions."""
    return len({word for caption in captions for word in str(caption).split()})


def corpus_diversity(captions):
    """`{"corpus_div_1", "corpus_div_2", "vocabulary_used"}` of one caption per image over a
    whole split: mode collapse (one sentence for many images) shows here."""
    captions = list(captions)
    return {"corpus_div_1": div_n([captions], 1), "corpus_div_2": div_n([captions], 2),
            "vocabulary_used": vocabulary_used(captions)}
