"""Scalars kind, directions: which way is better for a tag (loss lower, accuracy higher)."""

from __future__ import annotations

import re
from collections.abc import Mapping

# --------------------------------------------------------------------------------------------
# Metric direction
# --------------------------------------------------------------------------------------------

MIN = "min"
MAX = "max"
NONE = "none"
_DIRECTIONS = (MIN, MAX, NONE)

_LOWER_IS_BETTER = frozenset(
    {
        "loss", "losses", "error", "errors", "err", "perplexity", "ppl",
        "mse", "mae", "rmse", "nll", "cer", "wer", "crossentropy", "xent",
    }
)  # fmt: skip
_HIGHER_IS_BETTER = frozenset(
    {
        "acc", "accuracy", "precision", "recall", "f1", "auc", "reward", "rewards",
        "return", "returns", "score", "scores", "iou", "miou", "map", "bleu",
    }
)  # fmt: skip

_TOKEN = re.compile(r"[^\W_]+")
# camelCase and letter/digit pieces: valLoss -> val, loss; mAP50 -> m, ap, 50; HTTPError
_PIECE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_ALPHA_DIGIT = re.compile(r"[A-Za-z]+|[0-9]+")


def direction_of(tag: str, overrides: Mapping[str, str] | None = None) -> str:
    """Whether lower ("min") or higher ("max") values of the tag are better, or "none".

    ``overrides`` maps a regex (``re.search`` on the tag) to a direction; the first match in
    order wins. Otherwise whole words decide (``val_loss``, ``train/Loss``, ``epochAccuracy``;
    not ``lossless``), and with several the last wins, as the head of an English compound
    comes last: ``reward_loss`` is a loss.
    """
    rules = dict(overrides or {})
    for pattern, direction in rules.items():
        # checked up front so a typo fails on every tag, not only on the tags it matches
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction for {pattern!r} must be min, max or none: {direction!r}")
    for pattern, direction in rules.items():
        if re.search(pattern, tag):
            return direction
    found = NONE
    for token in _TOKEN.findall(tag):
        found = _token_direction(token) or found
    return found


def _token_direction(token: str) -> str | None:
    words = [token, *_ALPHA_DIGIT.findall(token), *_PIECE.findall(token)]
    # the whole token first: "mIoU" and "f1" are words that the piece split would break
    for word in (words[0], *reversed(words[1:])):
        word = word.lower()
        if word in _LOWER_IS_BETTER:
            return MIN
        if word in _HIGHER_IS_BETTER:
            return MAX
    return None
