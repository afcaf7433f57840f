"""Report stage, ordering: TensorBoard's asciinumeric tag order and sections from tag prefixes."""

from __future__ import annotations

import re

# --------------------------------------------------------------------------------------------
# Tag ordering and sections
# --------------------------------------------------------------------------------------------

#: one chunk of a tag component: (0, number, "") for a number, (1, 0.0, text) for text, so
#: chunks of different kinds are decided by the first field and never compare float to str
Chunk = tuple[int, float, str]
NaturalKey = tuple[tuple[tuple[Chunk, ...], ...], str]

# TB's consumeNumber accepts "1.", "1.5", "1e-3"; an exponent without digits ("10eval") is
# left to the text, where TB would parse NaN and call the tags equal
_CHUNK = re.compile(r"([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)|([^0-9]+)")


def natural_key(s: str) -> NaturalKey:
    """Sort key for TensorBoard's asciinumeric tag order, per ``/`` component.

    Numbers compare by value (``a2b < a10b``, ``lr1e-4 < lr1e-3``), digits before other
    characters, a prefix before its extensions. Ties (``01`` vs ``1``) fall back to the raw
    string, so the order is total.
    """
    return tuple(_component_key(part) for part in s.split("/")), s


def _component_key(part: str) -> tuple[Chunk, ...]:
    chunks: list[Chunk] = []
    for number, text in _CHUNK.findall(part):
        # float, like TB's Number(): never raises, even for thousands of digits
        chunks.append((0, float(number), "") if number else (1, 0.0, text))
    return tuple(chunks)


def section_of(tag: str) -> str:
    """The chart section of a tag: the text before its first ``/`` (the whole tag if none)."""
    return tag.split("/", 1)[0]
