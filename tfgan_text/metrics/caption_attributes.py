"""Attribute correctness of captions of the built-in shapes dataset (`tfgan_text.data.shapes`).

A caption is cut into object mentions at the joins the caption templates use (";", ", and",
", with", "and a/an/the", and the relations "above", "below", "to the left of", "to the right
of"). A piece that names a colour or a shape is one mention; it may also name a size
("small"/"little", "large"/"big") and a place (a place label, alone or inside a phrase such as
"in the top left corner"). Mentions are matched one-to-one with the image's objects in the way
that makes the most statements true, then each statement is checked against the image:

- `color`, `shape`: every mention names exactly one colour (shape), that of its object. A
  mention without one, or with no object to match, is wrong.
- `size`, `position`: the same for the mentions that name one (None when none does); a relation
  between two mentions must hold between their objects' grid places.
- `count`: as many mentions as objects, and a stated count ("one", "a single", "two shapes")
  equal to it.
- `all_correct`: all of the above (size and position where mentioned).

Every caption the dataset generates is all correct (a test checks the whole test split).

Example:

    check_caption("a small red circle above a blue star",
                  {"shape": [0, 3], "color": [0, 5], "size": [0, 1], "position": [1, 4]})
    # {"color": True, "shape": True, "size": True, "position": True, "count": True, ...}
"""

import itertools
import re

import numpy as np

from tfgan_text.data.shapes import ATTRIBUTE_NAMES, _PLACE_LABELS, _SINGLE, _SIZE_WORDS, _TWO_THINGS

# Each relation of the first object to the second, as a test on (row, column) grid places.
_RELATIONS = {
    "above": lambda first, second: first[0] < second[0],
    "below": lambda first, second: first[0] > second[0],
    "to the left of": lambda first, second: first[1] < second[1],
    "to the right of": lambda first, second: first[1] > second[1],
}
_WORDS = {  # word or phrase -> (attribute, id)
    **{word: ("color", i) for i, word in enumerate(ATTRIBUTE_NAMES["color"])},
    **{word: ("shape", i) for i, word in enumerate(ATTRIBUTE_NAMES["shape"])},
    **{word: ("size", i) for i, words in enumerate(_SIZE_WORDS) for word in words},
    **{label: ("position", i) for i, labels in enumerate(_PLACE_LABELS) for label in labels},
}


def _alternatives(phrases):
    """A regex group of whole-word phrases, longest first ("top left" before "top")."""
    phrases = sorted(set(phrases), key=len, reverse=True)
    return r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b"


_WORD = re.compile(_alternatives(_WORDS))
_SPLIT = re.compile(r";|, and |, with |\band (?=(?:an?|the) )|" + _alternatives(_RELATIONS))
_STATED_COUNTS = {1: re.compile(_alternatives(_SINGLE)), 2: re.compile(_alternatives(_TWO_THINGS))}
_CHECKED = ("color", "shape", "size", "position")


def _mentions(caption):
    """Object mentions (dicts of attribute -> set of ids) and relations (first mention, second
    mention, relation; a mention index of None where the relation lacks that side)."""
    mentions, relations = [], []
    for k, part in enumerate(_SPLIT.split(caption)):
        if k % 2:  # a join; the relation's phrase, or None
            if part:
                relations.append([len(mentions) - 1 if mentions else None, None, part])
            continue
        found = {key: set() for key in _CHECKED}
        for match in _WORD.finditer(part):
            key, value = _WORDS[match.group(1)]
            found[key].add(value)
        if found["color"] or found["shape"]:
            mentions.append(found)
            for relation in relations:
                if relation[1] is None:
                    relation[1] = len(mentions) - 1
    return mentions, relations


def _judge(mentions, relations, objects, assignment):
    """Per attribute, the truth of each statement when mention i is `objects[assignment[i]]`
    (None: no object): lists of bools."""
    truths = {key: [] for key in _CHECKED}
    for i, found in enumerate(mentions):
        obj = objects[assignment[i]] if assignment[i] is not None else None
        for key in _CHECKED:
            if found[key] or key in ("color", "shape"):
                truths[key].append(obj is not None and found[key] == {obj[key]})
    for first, second, word in relations:
        pair = [assignment[m] if m is not None else None for m in (first, second)]
        if None in pair:
            truths["position"].append(False)
        else:
            places = [divmod(objects[j]["position"], 3) for j in pair]
            truths["position"].append(_RELATIONS[word](*places))
    return truths


def check_caption(caption, attributes):
    """Which statements of one caption are true of its image.

    Args:
        caption: str, lower-case words as the dataset writes them.
        attributes: mapping with `shape`, `color`, `size`, `position`, each a length-2
            sequence of ids into `shapes.ATTRIBUTE_NAMES` (-1: no second object).

    Returns:
        dict of `color`, `shape`, `count`, `all_correct` (bools) and `size`, `position`
        (bools, or None when the caption names no size / no place or relation).
    """
    objects = [
        {key: int(attributes[key][j]) for key in _CHECKED}
        for j in range(2)
        if int(attributes["shape"][j]) >= 0
    ]
    caption = caption.lower()
    mentions, relations = _mentions(caption)
    # Mention chosen[j] is object j; the other mentions have none. Keep the most truthful
    # (with no mention, the one empty choice).
    best = None
    for chosen in itertools.permutations(range(len(mentions)), min(len(mentions), len(objects))):
        assignment = [chosen.index(i) if i in chosen else None for i in range(len(mentions))]
        truths = _judge(mentions, relations, objects, assignment)
        if best is None or sum(map(sum, truths.values())) > sum(map(sum, best.values())):
            best = truths
    stated = {count for count, pattern in _STATED_COUNTS.items() if pattern.search(caption)}
    result = {
        "color": bool(mentions) and all(best["color"]),
        "shape": bool(mentions) and all(best["shape"]),
        "size": all(best["size"]) if best["size"] else None,
        "position": all(best["position"]) if best["position"] else None,
        "count": len(mentions) == len(objects) and stated <= {len(objects)},
    }
    result["all_correct"] = all(value is not False for value in result.values())
    return result


def attribute_correctness(captions, attributes):
    """Mean rates of `check_caption` over a set of captions.

    Args:
        captions: str array-like `[n]`, or `[n, k]` for k captions of each image.
        attributes: mapping with `shape`, `color`, `size`, `position` int arrays `[n, 2]`, as
            `shapes.load_split` returns them.

    Returns:
        dict of floats: `color`, `shape`, `count`, `all_correct` over all captions, `size` and
        `position` over the captions that name one (NaN when none does).
    """
    captions = np.asarray(captions, dtype=object)
    checks = [
        check_caption(str(caption), {key: attributes[key][i] for key in _CHECKED})
        for i, row in enumerate(captions.reshape(len(captions), -1))
        for caption in row
    ]
    rates = {}
    for key in ("color", "shape", "size", "position", "count", "all_correct"):
        values = [c[key] for c in checks if c[key] is not None]
        rates[key] = float(np.mean(values)) if values else float("nan")
    return rates
