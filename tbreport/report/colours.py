"""Report stage, colours: a colour and line style per run that stay with the run's name."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

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
    line style per name: names whose colours round to the same ``#rrggbb`` take the next style,
    so no two legend entries look the same."""
    n = len(ranked)
    colors = {name: _ramp(i / max(n - 1, 1)) for i, name in enumerate(ranked)}
    styles: dict[str, str] = {}
    seen: dict[str, int] = {}
    for name in ranked:
        k = seen.get(colors[name], 0)
        seen[colors[name]] = k + 1
        styles[name] = _STYLES[k % len(_STYLES)]
    return colors, styles
