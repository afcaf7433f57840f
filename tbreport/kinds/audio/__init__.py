"""The audio kind: per tag, the logged clips (TF1 ``Summary.Audio`` and the ``audio`` plugin's
``[k, 2]`` tensors of clip and label) of the steps shown, a player per clip.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tbreport.kinds import Media
from tbreport.kinds.media import Record, Refused, Row, media_rows

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext

_DT_STRING = 7


@dataclass(frozen=True)
class Clip:
    """One logged clip, by the name of its file in the element's media."""

    media: str
    #: the label logged with it (untrusted text; TensorBoard shows it as Markdown)
    label: str
    seconds: float
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class AudioClips:
    """One audio tag: a row per run, a cell per step shown."""

    tag: str
    slug: str
    rows: tuple[Row[Clip], ...]
    media: tuple[Media, ...]
    kind: str = "audio"

    @property
    def count(self) -> int:
        return sum(len(cell.items) for row in self.rows for cell in row.cells)


def encoded_clips(value: Any) -> list[tuple[bytes, bytes]]:
    """(clip, label) pairs of one summary value, as TensorBoard's data_compat migrates them:
    ``Summary.Audio`` holds one clip without a label; the plugin's tensor is ``[k, 2]``."""
    field = value.WhichOneof("value")
    if field == "audio":
        return [(value.audio.encoded_audio_string, b"")]
    tensor = value.tensor
    dims = [d.size for d in tensor.tensor_shape.dim]
    if field != "tensor" or tensor.dtype != _DT_STRING:
        raise Refused("the value is not an audio tensor (strings [k, 2] of clip and label)")
    strings = list(tensor.string_val)
    if len(dims) == 2 and dims[1] == 2 and len(strings) == 2 * dims[0]:
        return list(zip(strings[0::2], strings[1::2], strict=True))
    if len(dims) == 1 and len(strings) == dims[0]:  # clips without labels
        return [(clip, b"") for clip in strings]
    raise Refused(f"the audio tensor has shape {dims}, not [k, 2] (clip, label)")


def record_clips(record: Record, stem: str, media: list[Media]) -> list[Clip | Refused]:
    """The clips of one record; each WAV one is added to ``media``."""
    out: list[Clip | Refused] = []
    for k, (data, label) in enumerate(encoded_clips(record.value)):
        try:
            with wave.open(io.BytesIO(data)) as clip:
                rate, channels, frames = clip.getframerate(), clip.getnchannels(), clip.getnframes()
        except (wave.Error, EOFError) as err:
            # every writer encodes WAV (TensorBoard's audio plugin knows no other encoding)
            out.append(Refused(f"clip {k} is not shown: it is not a WAV file ({err})"))
            continue
        name = f"{stem}-{k}.wav"
        media.append(Media(name, "audio/wav", data))
        seconds = frames / rate if rate else 0.0
        text = label.decode("utf-8", errors="replace")
        out.append(Clip(name, text, seconds, rate, channels))
    return out


class Audio:
    name = "audio"
    plugins = ("audio",)
    makes: frozenset[str] = frozenset()

    def elements(self, ctx: KindContext) -> list[AudioClips]:
        out = []
        for tag in ctx.tags:
            media: list[Media] = []
            slug = ctx.slugs[tag]

            def items(record: Record, stem: str) -> list[Clip | Refused]:
                return record_clips(record, f"{slug}-{stem}", media)  # noqa: B023 (used at once)

            rows = media_rows(
                ctx.runs,
                tag,
                "audio",
                ctx.colors,
                ctx.options.restarts,
                ctx.options.image_steps,
                items,
                ctx.warnings,
                "audio",
            )
            if rows:
                out.append(AudioClips(tag, slug, tuple(rows), tuple(media)))
        return out

    def figure(self, element: AudioClips) -> dict[str, Any]:
        return {}

    def draw(self, element: AudioClips, image_format: str, painter: Painter) -> bytes:
        raise NotImplementedError("audio is not drawn: its clips are files")

    def export(self, element: AudioClips) -> bytes:
        raise NotImplementedError("audio exports no data: its clips are files")

    def files(self, element: AudioClips) -> tuple[Media, ...]:
        return element.media


KIND = Audio()
