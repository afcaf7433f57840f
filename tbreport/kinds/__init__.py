"""Data kinds: one package per kind of TensorBoard data (scalars first).

A kind turns what the read stage found for its plugin into report elements, draws each element
(on the chart workers) and exports its data. Templates show an element with the kind's own
partials, ``templates/kinds/<kind>/<format>.j2``. :mod:`tbreport.registry` finds the built-in
kinds and those of other packages (entry points ``tbreport.kinds``). See docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tbreport.model import ColorScale, DataWarning, Element, Run, Trial
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
    #: hparams trials of the selected runs, in name order (see tbreport.report.trials)
    trials: tuple[Trial, ...] = ()
    #: the trial of each run that belongs to one
    trial_of: Mapping[str, str] = field(default_factory=dict)
    #: a line style per run ("solid" when missing): a trial's runs share its colour
    styles: Mapping[str, str] = field(default_factory=dict)
    #: runs folded into their trial (add_hparams sub-runs): metrics for the HParams table only
    folded: tuple[Run, ...] = ()
    #: hparams experiments (hparam and metric infos) by the run holding them
    experiments: Mapping[str, Any] = field(default_factory=dict)
    #: groups of runs (``--group``/``--group-by``): member run names per group key, in report
    #: order; empty when runs are not grouped
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``--colour-by``: the scale the colours are on (charts draw its colour bar)
    color_scale: ColorScale | None = None
    #: problems a kind finds in the data while making its elements (an image that does not
    #: decode); the report stage adds them to the report's warnings
    warnings: list[DataWarning] = field(default_factory=list)


#: what the pipeline makes for each element of a kind (``Kind.makes``): a drawn "image" and
#: exported "data"
IMAGE = "image"
DATA = "data"


@dataclass(frozen=True)
class Media:
    """A file an element brings with it besides its drawn image (a logged image, an audio
    clip). Formats decide where it goes: a data URI in HTML, a file under the post's assets in
    Jekyll; templates reach it by name in ``f.files``."""

    #: a file name made from slugs and numbers only (never from the data), unique in the report
    name: str
    mime: str
    data: bytes


class Kind(Protocol):
    name: str
    #: TensorBoard plugin names whose data this kind shows
    plugins: tuple[str, ...]
    #: IMAGE and/or DATA: whether ``draw`` and ``export`` are called for its elements
    makes: frozenset[str]

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

    def files(self, element: Element) -> tuple[Media, ...]:
        """The element's own files (logged images, audio clips); none is fine."""
        ...

    # Optional: ``embed(element) -> dict`` gives the JSON the page's script draws the element
    # from (see tbreport/kinds/scalars/embed.py); kinds without it keep their static image.
    # A kind whose ``embed`` gives some elements None says which with ``embeds(element)``.


def drawn_by_script(kind: Kind, element: Element) -> bool:
    """Whether the page's script draws ``element`` (and makes its CSV): its kind has ``embed``
    and, when the kind has ``embeds``, that says so for this element."""
    if getattr(kind, "embed", None) is None:
        return False
    embeds = getattr(kind, "embeds", None)
    return embeds is None or bool(embeds(element))
