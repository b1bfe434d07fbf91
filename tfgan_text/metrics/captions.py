"""Caption metrics as the COCO caption evaluation computes them: BLEU-1..4, METEOR, ROUGE-L and
CIDEr-D.

Every function takes the two dicts that the scorers of `pycocoevalcap` take: `references`
`{id: [str, ...]}` (one or more per id) and `candidates` `{id: [str]}` (exactly one per id), the
same ids in both, each string already tokenised (tokens joined by spaces). Scores are in the
order of `candidates`' ids. BLEU, ROUGE-L and CIDEr-D are written here in plain Python and equal
`pycocoevalcap` 1.2 (`Bleu(4)`, `Rouge()`, `Cider()`) to 1e-6, corpus and per caption (a test
checks it); METEOR runs `pycocoevalcap`'s Java METEOR 1.5.

Example:

    refs = {1: ["a red circle on the left", "a small red circle"]}
    caption_scores(refs, {1: ["a red circle"]}, meteor=False)  # {"BLEU-1": ..., "CIDEr-D": ...}
"""

import importlib.util
import math
import shutil
from collections import Counter
from typing import NamedTuple

import numpy as np

from tfgan_text.errors import UserError

_ORDER = 4  # n-grams of 1 to 4 words, in BLEU and CIDEr-D
# The COCO BLEU scorer adds these to every matched and possible n-gram count, so that a
# precision of 0 gives a (tiny) score instead of a log of zero.
_TINY, _SMALL = 1e-15, 1e-9
_ROUGE_BETA = 1.2  # recall weighs beta^2 times precision, as in the COCO scorer
_CIDER_SIGMA = 6.0  # width, in words, of CIDEr-D's Gaussian length penalty


def _validated(references, candidates):
    """(ids, [reference token lists per id], [candidate tokens per id]) in candidates' order."""
    if set(references) != set(candidates):
        missing = sorted(map(str, set(references) ^ set(candidates)))
        raise UserError(f"references and candidates need the same ids; not in both: {missing[:5]}")
    ids = list(candidates)
    if not ids:
        raise UserError("no captions to score")
    for i in ids:
        if not isinstance(candidates[i], list) or len(candidates[i]) != 1:
            raise UserError(f"candidates[{i!r}] must be a list of exactly one caption")
        if not isinstance(references[i], list) or not references[i]:
            raise UserError(f"references[{i!r}] must be a non-empty list of captions")
    refs = [[r.split() for r in references[i]] for i in ids]
    cands = [candidates[i][0].split() for i in ids]
    return ids, refs, cands


def _ngrams(words):
    """Counter of the n-grams (tuples) of 1 to 4 words."""
    return Counter(
        tuple(words[i : i + n]) for n in range(1, _ORDER + 1) for i in range(len(words) - n + 1)
    )


# ----------------------------------------------------------------------------- BLEU


def _bleu_statistics(candidate, references):
    """[length, closest reference length, matched 1..4-grams, possible 1..4-grams]: the sums
    that corpus BLEU adds over captions. Matches are clipped to the most times the n-gram occurs
    in one reference; the closest reference length is the shorter one on a tie."""
    most = Counter()
    for reference in references:
        most |= _ngrams(reference)
    matched = [0] * _ORDER
    for gram, count in _ngrams(candidate).items():
        matched[len(gram) - 1] += min(count, most[gram])
    length = len(candidate)
    closest = min((abs(len(r) - length), len(r)) for r in references)[1]
    possible = [max(0, length - n) for n in range(_ORDER)]
    return np.array([length, closest, *matched, *possible], dtype=np.int64)


def _bleu_from_statistics(statistics):
    """BLEU-1..4 from `_bleu_statistics` (one row, or the sum of rows for a corpus)."""
    length, reference_length = statistics[:2]
    matched, possible = statistics[2 : 2 + _ORDER], statistics[2 + _ORDER :]
    scores, product = [], 1.0
    for n in range(_ORDER):
        product *= (matched[n] + _TINY) / (possible[n] + _SMALL)
        scores.append(product ** (1.0 / (n + 1)))
    ratio = (length + _TINY) / (reference_length + _SMALL)
    penalty = math.exp(1.0 - 1.0 / ratio) if ratio < 1.0 else 1.0
    return [float(score * penalty) for score in scores]


def _bleu(refs, cands, per_caption):
    statistics = np.array([_bleu_statistics(c, r) for c, r in zip(cands, refs)])
    if per_caption:
        return np.array([_bleu_from_statistics(row) for row in statistics], dtype=np.float64)
    return _bleu_from_statistics(statistics.sum(axis=0))


def bleu(references, candidates, per_caption=False):
    """BLEU-1..4 (Papineni et al. 2002) as the COCO scorer computes it.

    Corpus BLEU: clipped n-gram matches and candidate lengths summed over all captions, each
    caption's reference length being that of its closest reference (the shorter on a tie); the
    brevity penalty compares the two sums. BLEU-n is the geometric mean of the 1..n-gram
    precisions, each (matched + 1e-15) / (possible + 1e-9).

    Args:
        references: dict `{id: [str, ...]}`.
        candidates: dict `{id: [str]}`.
        per_caption: bool; True returns each caption's own BLEU-1..4 instead (the same formula
            on its counts alone), a float64 array `[N, 4]` in candidates' order.

    Returns:
        list of 4 floats `[BLEU-1, BLEU-2, BLEU-3, BLEU-4]`, or the `[N, 4]` array.
    """
    _, refs, cands = _validated(references, candidates)
    return _bleu(refs, cands, per_caption)


# ----------------------------------------------------------------------------- ROUGE-L


def _lcs_length(a, b):
    """Length of the longest common subsequence of two token lists (dynamic programming)."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _rouge_l(refs, cands):
    scores = []
    for candidate, references in zip(cands, refs):
        lcs = [_lcs_length(candidate, r) for r in references]
        precision = max(lcs) / len(candidate) if candidate else 0.0
        recall = max(m / len(r) if r else 0.0 for m, r in zip(lcs, references))
        if precision > 0 and recall > 0:
            b2 = _ROUGE_BETA**2
            scores.append((1 + b2) * precision * recall / (recall + b2 * precision))
        else:
            scores.append(0.0)
    return np.array(scores, dtype=np.float64)


def rouge_l(references, candidates, per_caption=False):
    """ROUGE-L (Lin 2004) as the COCO scorer computes it: per caption, the F-measure (beta 1.2)
    of the best LCS precision and the best LCS recall over its references (each maximised on its
    own); the corpus score is the mean over captions.

    Args and return as in `bleu`; per caption, a float64 array `[N]`.
    """
    _, refs, cands = _validated(references, candidates)
    scores = _rouge_l(refs, cands)
    return scores if per_caption else float(scores.mean())


# ----------------------------------------------------------------------------- CIDEr-D


class DocumentFrequency(NamedTuple):
    """In how many documents (images) each n-gram of 1..4 words occurs in at least one
    reference, and the number of documents: the idf of CIDEr-D.

    Build it once from a training corpus to score training captions against it (a reward):

        df = DocumentFrequency.from_references(train_references)
        rewards = cider_d(batch_references, batch_captions, df, per_caption=True)
    """

    counts: dict
    num_documents: int

    @classmethod
    def from_references(cls, references):
        """From a dict `{id: [str, ...]}`, one document per id."""
        counts = Counter()
        for captions in references.values():
            counts.update(set().union(*(_ngrams(c.split()) for c in captions)))
        return cls(dict(counts), len(references))


def _tf_idf(words, document_frequency):
    """Per n in 1..4: {n-gram: count * idf} and its L2 norm; idf = log(documents) -
    log(max(1, document frequency)), so an n-gram no reference has gets the largest weight."""
    log_documents = math.log(document_frequency.num_documents)
    vectors = [{} for _ in range(_ORDER)]
    for gram, count in _ngrams(words).items():
        idf = log_documents - math.log(max(1.0, document_frequency.counts.get(gram, 0)))
        vectors[len(gram) - 1][gram] = count * idf
    norms = [math.sqrt(sum(w * w for w in v.values())) for v in vectors]
    return vectors, norms


def _cider_d(refs, cands, document_frequency):
    scores = []
    for candidate, references in zip(cands, refs):
        vectors, norms = _tf_idf(candidate, document_frequency)
        total = np.zeros(_ORDER)
        for reference in references:
            ref_vectors, ref_norms = _tf_idf(reference, document_frequency)
            penalty = math.exp(-((len(candidate) - len(reference)) ** 2) / (2 * _CIDER_SIGMA**2))
            for n in range(_ORDER):
                ref = ref_vectors[n]
                # Clipping: a candidate n-gram counts at most as much as in the reference.
                dot = sum(min(w, ref.get(g, 0.0)) * ref.get(g, 0.0) for g, w in vectors[n].items())
                if norms[n] > 0 and ref_norms[n] > 0:
                    dot /= norms[n] * ref_norms[n]
                total[n] += dot * penalty
        scores.append(10.0 * total.mean() / len(references))
    return np.array(scores, dtype=np.float64)


def cider_d(references, candidates, document_frequency=None, per_caption=False):
    """CIDEr-D (Vedantam et al. 2015) as `pycocoevalcap.cider.Cider` computes it (that class is
    CIDEr-D: clipped tf-idf, Gaussian length penalty with sigma 6, times 10).

    Per caption and n in 1..4: the cosine of the candidate's and each reference's tf-idf vectors
    of n-grams, with each candidate weight clipped to the reference's, times
    exp(-(len(candidate) - len(reference))^2 / (2 * 6^2)); averaged over references and n, times
    10. The corpus score is the mean over captions.

    Args:
        references, candidates: as in `bleu`.
        document_frequency: a `DocumentFrequency`; None computes it from `references` (one
            document per id), as the COCO scorer does.
        per_caption: bool; True returns a float64 array `[N]` in candidates' order.

    Returns:
        float, or the `[N]` array.
    """
    _, refs, cands = _validated(references, candidates)
    if document_frequency is None:
        document_frequency = DocumentFrequency.from_references(references)
    scores = _cider_d(refs, cands, document_frequency)
    return scores if per_caption else float(scores.mean())


# ----------------------------------------------------------------------------- METEOR


def meteor_available():
    """True when `pycocoevalcap` is installed and `java` is on the PATH."""
    return bool(shutil.which("java")) and importlib.util.find_spec("pycocoevalcap") is not None


def _meteor(references, candidates, ids, per_caption):
    if not meteor_available():
        raise UserError(
            "METEOR needs pycocoevalcap (pip install 'tfgan-text[metrics]') and java on the PATH"
        )
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()  # starts METEOR 1.5 in a java process; it ends with the object
    try:
        score, scores = scorer.compute_score(
            {i: references[i] for i in ids}, {i: candidates[i] for i in ids}
        )
    except (ValueError, OSError) as error:
        raise UserError(f"METEOR's java process gave no score: {error}") from None
    return np.array(scores, dtype=np.float64) if per_caption else float(score)


def meteor(references, candidates, per_caption=False):
    """METEOR 1.5 (Banerjee & Lavie 2005), run by `pycocoevalcap`'s Java scorer (English,
    normalised). The corpus score is METEOR's own aggregate over all captions, not the mean.

    Args and return as in `rouge_l`. Raises `UserError` where pycocoevalcap or java is missing.
    """
    ids, _, _ = _validated(references, candidates)
    return _meteor(references, candidates, ids, per_caption)


def caption_scores(references, candidates, meteor="auto"):
    """All corpus scores: `{"BLEU-1", ..., "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D"}`.

    Args:
        references, candidates: as in `bleu`.
        meteor: True (needs java and pycocoevalcap, else `UserError`), False, or "auto" (when
            `meteor_available()`).
    """
    if meteor not in (True, False, "auto"):
        raise UserError(f"meteor must be True, False or 'auto', got {meteor!r}")
    ids, refs, cands = _validated(references, candidates)
    scores = {f"BLEU-{n + 1}": s for n, s in enumerate(_bleu(refs, cands, per_caption=False))}
    if meteor is True or (meteor == "auto" and meteor_available()):
        scores["METEOR"] = _meteor(references, candidates, ids, per_caption=False)
    scores["ROUGE-L"] = float(_rouge_l(refs, cands).mean())
    document_frequency = DocumentFrequency.from_references(references)
    scores["CIDEr-D"] = float(_cider_d(refs, cands, document_frequency).mean())
    return scores
