"""Data kinds: one package per kind of TensorBoard data (scalars first).

A kind turns what the read stage found for its plugin into report elements, draws each element
(on the chart workers) and exports its data. Templates show an element with the kind's own
partials, ``templates/kinds/<kind>/<format>.j2``. :mod:`tbreport.registry` finds the built-in
kinds and those of other packages (entry points ``tbreport.kinds``). See docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tbreport.model import Element, Run
from tbreport.options import Options

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter


@dataclass(frozen=True)
class KindContext:
    """What the report stage hands every kind: the selected runs and tags, and how to show them."""

    #: the runs shown, in report order (candidates and baseline runs)
    runs: tuple[Run, ...]
    #: every selected tag of those runs (scalars and tensors), in TensorBoard's order
    tags: tuple[str, ...]
    #: a file-name-safe slug per tag, unique in the report
    slugs: Mapping[str, str]
    #: a colour per run name
    colors: Mapping[str, str]
    #: names of the baseline runs (drawn dashed)
    baseline: frozenset[str]
    options: Options


class Kind(Protocol):
    name: str
    #: TensorBoard plugin names whose data this kind shows
    plugins: tuple[str, ...]

    def elements(self, ctx: KindContext) -> list[Element]:
        """This kind's report elements for the selected runs and tags (none is fine)."""
        ...

    def figure(self, element: Element) -> dict[str, Any]:
        """Values the kind's template partials need beyond the element itself."""
        ...

    def draw(self, element: Element, image_format: str, painter: Painter) -> bytes:
        """The element's image (PNG or SVG bytes), drawn in a chart worker."""
        ...

    def export(self, element: Element) -> bytes:
        """The element's data as a file for readers to re-plot (CSV)."""
        ...

    # Optional: ``embed(element) -> dict`` gives the JSON the page's script draws the element
    # from (see tbreport/kinds/scalars/embed.py); kinds without it keep their static image.
