"""Report stage, colours: a colour and line style per run that stay with the run's name."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence

from tbreport.model import ColorScale

# --------------------------------------------------------------------------------------------
# Run colours
# --------------------------------------------------------------------------------------------

#: Okabe & Ito (2008) colour-blind-safe palette without black (reserved for axes and text)
#: and yellow (#F0E442, unreadable as a thin line on white): orange, sky blue, bluish green,
#: blue, vermillion, reddish purple.
PALETTE: tuple[str, ...] = ("#e69f00", "#56b4e9", "#009e73", "#0072b2", "#d55e00", "#cc79a7")

# after every base colour is used: darker variants, then lighter ones, then line styles
_VARIANTS: tuple[tuple[str, float], ...] = (("base", 0.0), ("dark", 0.4), ("light", 0.35))
_STYLES: tuple[str, ...] = ("solid", "dashed", "dotted", "dashdot")


def run_colors(names: Iterable[str]) -> dict[str, str]:
    """A ``#rrggbb`` colour per run name that stays with the name across charts and rebuilds.

    A name's home colour is picked by a SHA-256 hash of the name, so it does not depend on
    which other runs exist. When names share a home colour, the one that sorts first keeps it
    and the others take the next free colour in palette order; so a run's colour can change
    when a run that sorts before it and hashes to the same colour is added. More runs than
    colours get darker, then lighter variants, and then repeat (see ``run_styles``).
    """
    return {name: _slot_color(slot) for name, slot in _assign_slots(names).items()}


def run_styles(names: Iterable[str]) -> dict[str, str]:
    """A matplotlib line-style name per run: "solid" until ``run_colors`` repeats colours."""
    block = len(PALETTE) * len(_VARIANTS)
    return {
        name: _STYLES[(slot // block) % len(_STYLES)] for name, slot in _assign_slots(names).items()
    }


def _home_slot(name: str) -> int:
    # hashlib, not hash(): str hashes are salted per process; surrogatepass keeps names
    # decoded from undecodable file names hashable
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % len(PALETTE)


def _assign_slots(names: Iterable[str]) -> dict[str, int]:
    """Slot g means colour ``PALETTE[g % P]`` in variant round ``g // P``."""
    size = len(PALETTE)
    ordered = sorted(set(names))
    homes = {name: _home_slot(name) for name in ordered}
    slots: dict[str, int] = {}
    taken: set[int] = set()
    # homes first, so a run displaced by a collision never pushes a third run off its home
    for name in ordered:
        if homes[name] not in taken:
            slots[name] = homes[name]
            taken.add(homes[name])
    filled = {0: len(taken)}
    round_ = 0
    for name in ordered:
        if name in slots:
            continue
        # rounds past the first fill only here, lowest first, so a full round stays full
        while filled.get(round_, 0) >= size:
            round_ += 1
        for offset in range(size):
            slot = round_ * size + (homes[name] + offset) % size
            if slot not in taken:
                break
        slots[name] = slot
        taken.add(slot)
        filled[round_] = filled.get(round_, 0) + 1
    return slots


def _slot_color(slot: int) -> str:
    base = PALETTE[slot % len(PALETTE)]
    kind, amount = _VARIANTS[(slot // len(PALETTE)) % len(_VARIANTS)]
    if kind == "base":
        return base
    target = 0 if kind == "dark" else 255
    rgb = (int(base[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (target - c) * amount):02x}" for c in rgb)


# --------------------------------------------------------------------------------------------
# Past the palette: colour by rank
# --------------------------------------------------------------------------------------------

#: distinct colours ``run_colors`` has (every palette colour in every variant); past this many
#: runs or groups on a chart, colours would repeat, so colour shows rank instead
DISTINCT = len(PALETTE) * len(_VARIANTS)

#: viridis (perceptually uniform, colour-blind safe) at 0, 1/8, ..., 1
_VIRIDIS: tuple[str, ...] = (
    "#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30",
    "#fde725",
)  # fmt: skip
#: the ramp stops before viridis' yellow end, too light for a thin line on white
_RAMP_END = 0.85


def _ramp(t: float) -> str:
    pos = t * _RAMP_END * (len(_VIRIDIS) - 1)
    i = min(int(pos), len(_VIRIDIS) - 2)
    frac = pos - i
    lo, hi = _VIRIDIS[i], _VIRIDIS[i + 1]
    rgb = (
        round(int(lo[k : k + 2], 16) * (1 - frac) + int(hi[k : k + 2], 16) * frac)
        for k in (1, 3, 5)
    )
    return "#" + "".join(f"{c:02x}" for c in rgb)


def rank_colors(ranked: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """A colour per name along the viridis ramp in the given order (best first, dark), and a
    line style per name such that no two names look the same (``distinct``)."""
    n = len(ranked)
    colors = {name: _ramp(i / max(n - 1, 1)) for i, name in enumerate(ranked)}
    return distinct(colors, ranked)


#: the colour of a run without a value of the ``--colour-by`` hyperparameter
NO_VALUE = "#8c8c8c"
#: a scale of positive values spanning at least this ratio is drawn on a log scale
LOG_RATIO = 20.0
#: colours of a colour bar, evenly spaced along the ramp
_BAR_STOPS = 9


def scale_colors(
    values: Mapping[str, float | None], order: Sequence[str], name: str
) -> tuple[dict[str, str], dict[str, str], ColorScale]:
    """A colour per name from its value on the viridis ramp (low dark, high light; a log
    scale when every value is positive and they span ``LOG_RATIO`` or more), ``NO_VALUE`` for
    names without one; line styles as ``distinct``; and the scale for the colour bar."""
    finite = [v for v in values.values() if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    log = low > 0 and high / low >= LOG_RATIO

    def position(v: float) -> float:
        if high == low:
            return 0.5
        if log:
            return (math.log(v) - math.log(low)) / (math.log(high) - math.log(low))
        return (v - low) / (high - low)

    colors = {
        key: _ramp(position(v)) if v is not None and math.isfinite(v) else NO_VALUE
        for key, v in values.items()
    }
    stops = tuple(_ramp(i / (_BAR_STOPS - 1)) for i in range(_BAR_STOPS))
    out_colors, styles = distinct(colors, order)
    return out_colors, styles, ColorScale(name, low, high, log, stops)


def _mix(color: str, target: int, amount: float) -> str:
    rgb = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (target - c) * amount):02x}" for c in rgb)


def distinct(
    colors: Mapping[str, str], order: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Colours and line styles such that no two names in ``order`` have the same pair: names
    sharing a colour take the next line style, and past the four styles a slightly lighter,
    then darker shade of it (the k-th round of four by 6% more)."""
    used: set[tuple[str, str]] = set()
    out_colors: dict[str, str] = {}
    styles: dict[str, str] = {}
    #: per base colour, the first (shade, style) step not yet known to be taken: a sweep of
    #: thousands of runs on a few hundred ramp colours does not search from the start each time
    start: dict[str, int] = {}
    for name in order:
        base = colors[name]
        # a bounded search: 4 styles x 64 shades is more than any legend shows apart
        limit = len(_STYLES) * 64
        k = min(start.get(base, 0), limit - 1)
        while True:
            shade, style = divmod(k, len(_STYLES))
            color = base
            if shade:
                amount = min(0.06 * ((shade + 1) // 2), 0.9)
                color = _mix(base, 255 if shade % 2 else 0, amount)
            if (color, _STYLES[style]) not in used or k == limit - 1:
                break
            k += 1
        used.add((color, _STYLES[style]))
        start[base] = k + 1
        out_colors[name] = color
        styles[name] = _STYLES[style]
    return out_colors, styles
