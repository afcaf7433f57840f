"""Names from the data (run names, tags): their order and sections as TensorBoard shows them,
file-name-safe slugs, and the control characters that must never reach any output.

Pure functions with no dependencies, used from reading to rendering.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Sequence

__all__ = [
    "natural_key",
    "plain_text",
    "scrub",
    "section_of",
    "slug",
    "strip_bidi",
    "unique_slugs",
    "writable",
]

# --- shared clean-up ------------------------------------------------------------------------

# C0 controls (except tab and line breaks) and DEL are invalid in XML 1.0 (jekyll-feed copies
# post content into feed.xml) and invisible in HTML; show them as Unicode control pictures.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Lone surrogates (os.listdir's surrogateescape) cannot be written as UTF-8; U+FFFE/U+FFFF are
# not characters in XML either.
_UNWRITABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _control_picture(m: re.Match[str]) -> str:
    c = ord(m.group())
    return "\u2421" if c == 0x7F else chr(0x2400 + c)


# Bidirectional embeddings, overrides, isolates and marks reorder the text around a name (a
# run called "\u202eevil" shows its neighbours backwards: "Trojan Source"). Names never need
# them: the Unicode bidi algorithm orders right-to-left letters without help.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip_bidi(s: str) -> str:
    """``s`` without bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E,
    U+200F, U+061C); for text drawn where nothing else applies (chart images)."""
    return _BIDI.sub("", s)


def writable(s: str) -> str:
    """``s`` with what UTF-8 and XML cannot hold (lone surrogates, U+FFFE, U+FFFF) as U+FFFD."""
    return _UNWRITABLE.sub("\ufffd", s)


def scrub(s: str) -> str:
    """``s`` with bidi controls removed, C0 controls as control pictures, lone surrogates
    as U+FFFD: the clean-up every output context starts from."""
    s = _UNWRITABLE.sub("\ufffd", strip_bidi(str(s)))
    return _CONTROL.sub(_control_picture, s)


def plain_text(s: str) -> str:
    """``s`` as plain text that cannot disturb what surrounds it: no bidirectional controls,
    C0 controls and DEL as Unicode control pictures (U+2400...), lone surrogates as U+FFFD.
    Still needs the escaping of where it goes (Jinja's autoescape in HTML attributes)."""
    return scrub(s)


# --- order and sections ---------------------------------------------------------------------

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


def did_you_mean(name: object, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` naming the closest of ``known`` to ``name``, or ""."""
    near = difflib.get_close_matches(str(name), list(dict.fromkeys(known)), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def section_of(tag: str) -> str:
    """The chart section of a tag: the text before its first ``/`` (the whole tag if none)."""
    return tag.split("/", 1)[0]


# --- file names -----------------------------------------------------------------------------

SLUG_MAX = 60
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "ae",
        "ø": "o",
        "Ø": "o",
        "œ": "oe",
        "Œ": "oe",
        "đ": "d",
        "Đ": "d",
        "ł": "l",
        "Ł": "l",
        "þ": "th",
        "Þ": "th",
        "ð": "d",
        "Ð": "d",
        "ı": "i",
    }
)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Device names Windows cannot create files for (a clone of the site on Windows would fail).
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)


def _trim(s: str, limit: int) -> str:
    return s[:limit].strip("-")


def slug(s: str, max_len: int = SLUG_MAX) -> str:
    """``[a-z0-9-]`` file-name part for ``s``: ASCII-folded (NFKD plus a few letters NFKD
    keeps, like ß), lower case, other runs become one ``-``, no ``-`` at either end, at most
    ``max_len`` characters. Never empty (``x``), never ``.``/``..`` or starting with ``_``/``.``
    (Jekyll skips those), never a Windows device name (``con`` becomes ``con-x``). Different
    inputs may share a slug: use :func:`unique_slugs` for a set of names."""
    folded = unicodedata.normalize("NFKD", scrub(s).translate(_FOLD))
    ascii_ = folded.encode("ascii", "ignore").decode("ascii").lower()
    out = _trim(_NOT_SLUG.sub("-", ascii_).strip("-"), max_len) or "x"
    if out in _WINDOWS_RESERVED:
        out = out + "-x"
    return out


def _short_hash(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def unique_slugs(names: Sequence[str], max_len: int = SLUG_MAX) -> list[str]:
    """Slugs for ``names``, pairwise different, in the same order.

    A name whose slug no other (different) name shares keeps its plain :func:`slug`. Names
    whose slugs collide (``a/b`` and ``a_b``) all get ``<slug>-<first 8 hex of sha1(name)>``,
    so each one's slug depends only on the name and which names collide, not on input order.
    Repeated names and the rare clash left after that (a name that is itself another's hashed
    slug keeps it) get ``-2``, ``-3``... in input order.
    """
    if max_len < 16:
        raise ValueError(f"max_len must be at least 16 to fit a hash suffix, got {max_len}")
    bases = [slug(n, max_len) for n in names]
    owners: dict[str, set[str]] = {}
    for name, base in zip(names, bases, strict=True):
        owners.setdefault(base, set()).add(name)
    first = [
        base if len(owners[base]) == 1 else f"{_trim(base, max_len - 9)}-{_short_hash(name)}"
        for name, base in zip(names, bases, strict=True)
    ]
    wanted = set(first)
    used: set[str] = set()
    result = list(first)
    # Plain slugs first, so a name never loses its own slug to another name's hashed one.
    for i in sorted(range(len(first)), key=lambda i: (first[i] != bases[i], i)):
        cand = first[i]
        if cand in used:
            k = 2
            while True:
                alt = f"{_trim(cand, max_len - len(str(k)) - 1)}-{k}"
                if alt not in used and alt not in wanted:
                    break
                k += 1
            cand = alt
        used.add(cand)
        result[i] = cand
    return result
