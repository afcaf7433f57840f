"""The images kind: per tag, a grid of runs x steps of the logged images (TF1 ``Summary.Image``
and the ``images`` plugin's tensors), each checked by decoding it and scaled for the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tbreport.kinds import Media
from tbreport.kinds.media import Record, Refused, Row, media_rows

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext


@dataclass(frozen=True)
class Picture:
    """One logged image, by the names of its files in the element's media."""

    #: the image as logged
    original: str
    #: what the page shows: a scaled copy of a large image, else the original
    shown: str
    width: int
    height: int
    shown_width: int
    shown_height: int
    format: str


@dataclass(frozen=True)
class ImageGrid:
    """One image tag: a row per run, a cell per step shown."""

    tag: str
    slug: str
    rows: tuple[Row[Picture], ...]
    media: tuple[Media, ...]
    kind: str = "images"

    @property
    def refused(self) -> int:
        return sum(cell.refused for row in self.rows for cell in row.cells)


def record_pictures(record: Record, stem: str, media: list[Media]) -> list[Picture | Refused]:
    """The images of one record; each one that decodes is added to ``media``."""
    from tbreport.kinds.images.pictures import FORMATS, check_image, encoded_images

    out: list[Picture | Refused] = []
    for k, data in enumerate(encoded_images(record.value)):
        try:
            checked = check_image(data)
        except Refused as why:
            out.append(Refused(f"image {k} is not shown: {why}"))
            continue
        ext, mime = FORMATS[checked.format]
        original = f"{stem}-{k}.{ext}"
        media.append(Media(original, mime, data))
        shown = original
        if checked.scaled is not None:
            scaled_ext, scaled_mime, scaled = checked.scaled
            shown = f"{stem}-{k}-scaled.{scaled_ext}"
            media.append(Media(shown, scaled_mime, scaled))
        out.append(
            Picture(
                original,
                shown,
                checked.width,
                checked.height,
                checked.shown_width,
                checked.shown_height,
                checked.format,
            )
        )
    return out


class Images:
    name = "images"
    plugins = ("images",)
    makes: frozenset[str] = frozenset()

    def elements(self, ctx: KindContext) -> list[ImageGrid]:
        grids = []
        for tag in ctx.tags:
            media: list[Media] = []
            slug = ctx.slugs[tag]

            def items(record: Record, stem: str) -> list[Picture | Refused]:
                return record_pictures(record, f"{slug}-{stem}", media)  # noqa: B023 (used at once)

            rows = media_rows(
                ctx.runs,
                tag,
                "images",
                ctx.colors,
                ctx.options.restarts,
                ctx.options.image_steps,
                items,
                ctx.warnings,
                "image",
            )
            if rows:
                grids.append(ImageGrid(tag, slug, tuple(rows), tuple(media)))
        return grids

    def figure(self, element: ImageGrid) -> dict[str, Any]:
        return {}

    def draw(self, element: ImageGrid, image_format: str, painter: Painter) -> bytes:
        raise NotImplementedError("image grids are not drawn: their images are files")

    def export(self, element: ImageGrid) -> bytes:
        raise NotImplementedError("image grids export no data: their images are files")

    def files(self, element: ImageGrid) -> tuple[Media, ...]:
        return element.media


KIND = Images()
