"""Data kinds: one package per kind of TensorBoard data (scalars first).

A kind turns what the read stage found for its plugin into report elements, draws each element
(on the chart workers) and exports its data. Templates show an element with the kind's own
partials, ``templates/kinds/<kind>/<format>.j2``. :mod:`tbreport.registry` finds the built-in
kinds and those of other packages (entry points ``tbreport.kinds``). See docs/extending.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter


class Element(Protocol):
    """One thing shown in a report (a chart, a table, a grid), picklable for the workers."""

    #: the kind that made it (its registry name)
    kind: str
    tag: str
    #: file-name-safe and unique within the report
    slug: str


class Kind(Protocol):
    name: str
    #: TensorBoard plugin names whose data this kind shows
    plugins: tuple[str, ...]

    def draw(self, element: Element, image_format: str, painter: Painter) -> bytes:
        """The element's image (PNG or SVG bytes), drawn in a chart worker."""
        ...

    def export(self, element: Element) -> bytes:
        """The element's data as a file for readers to re-plot (CSV)."""
        ...
