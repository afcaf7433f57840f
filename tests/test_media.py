"""The images and audio kinds: decoded as TensorBoard decodes them, only images that really
decode shown (hostile ones refused with warnings), files named from slugs, and real Chromium
showing the grid and the players from file://."""

from __future__ import annotations

import base64
import io
import re
import struct
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
import sitecheck
from conftest import fixture_logdir

from tbreport.errors import StrictModeError
from tbreport.kinds.audio import AudioClips
from tbreport.kinds.images import ImageGrid
from tbreport.kinds.images.pictures import MAX_SIDE
from tbreport.kinds.media import pick
from tbreport.options import ConfigError, make_options
from tbreport.pipeline import build
from tbreport.read import read_logdir
from tbreport.report import build_report

DATE = "2021-05-24 20:41:00 -0400"


def options(logdir: Path, out: Path, **cli):
    return make_options({"runs_dir": str(logdir), "out": str(out), "jobs": 1, **cli}, {}, None)


def report_of(logdir: Path, **cli):
    opts = options(logdir, logdir / "unused", **cli)
    return build_report(read_logdir(str(logdir)), opts)


def elements(report, cls):
    return [e for e in report.charts if isinstance(e, cls)]


def accumulated(run_dir: Path):
    """TensorBoard's own view: every tensor (legacy fields migrated by data_compat)."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    acc = pea.EventAccumulator(str(run_dir), size_guidance={pea.TENSORS: 0})
    acc.Reload()
    return {
        tag: {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in acc.Tensors(tag)}
        for tag in acc.Tags()["tensors"]
    }


def media_bytes(element) -> dict[str, bytes]:
    return {m.name: m.data for m in element.media}


# --- decoding, against TensorBoard's EventAccumulator ----------------------------------------


@pytest.mark.parametrize("fixture", ["media", "tf2_media"])
def test_images_are_the_bytes_tensorboard_reads(fixture):
    logdir = fixture_logdir(fixture)
    report = report_of(logdir)
    grids = elements(report, ImageGrid)
    assert grids
    compared = 0
    for grid in grids:
        files = media_bytes(grid)
        for row in grid.rows:
            tb = accumulated(logdir / row.run)[grid.tag]
            steps = sorted(tb)
            assert row.steps == len(steps)
            # first, last and 3 evenly spaced between
            assert [c.step for c in row.cells] == [steps[i] for i in pick(len(steps), 3)]
            assert [c.step for c in row.cells][0] == steps[0]
            assert [c.step for c in row.cells][-1] == steps[-1]
            for cell in row.cells:
                expected = [bytes(b) for b in tb[cell.step][2:]]  # [w, h, img...]
                assert [files[p.original] for p in cell.items] == expected
                compared += len(expected)
    assert compared >= 8
    if fixture == "tf2_media":  # tf.summary.image(max_outputs=3): three images per step
        (tf,) = [g for g in grids if g.tag == "tf/images"]
        assert all(len(c.items) == 3 for c in tf.rows[0].cells)
        assert any(g.tag.endswith("/image") for g in grids)  # Keras write_images


def test_image_steps_option_picks_first_last_and_between():
    logdir = fixture_logdir("media")
    (single,) = [g for g in elements(report_of(logdir), ImageGrid) if g.tag == "img/single"]
    torch_row = [r for r in single.rows if r.run == "torch"][0]
    assert [c.step for c in torch_row.cells] == [0, 2, 3, 4, 6]
    report = report_of(logdir, image_steps=0)
    (single,) = [g for g in elements(report, ImageGrid) if g.tag == "img/single"]
    torch_row = [r for r in single.rows if r.run == "torch"][0]
    assert [c.step for c in torch_row.cells] == [0, 6]
    report = report_of(logdir, image_steps=10)
    (single,) = [g for g in elements(report, ImageGrid) if g.tag == "img/single"]
    assert [c.step for c in [r for r in single.rows if r.run == "torch"][0].cells] == list(range(7))
    with pytest.raises(ConfigError, match="image-steps"):
        options(logdir, logdir, image_steps=-1)


@pytest.mark.parametrize("fixture", ["media", "tf2_media"])
def test_audio_is_what_tensorboard_reads(fixture):
    logdir = fixture_logdir(fixture)
    (clips,) = elements(report_of(logdir), AudioClips)
    files = media_bytes(clips)
    for row in clips.rows:
        tb = accumulated(logdir / row.run)[clips.tag]
        for cell in row.cells:
            # TensorBoard's dataclass_compat projects [k, 2] (clip, label) to the clips [k]
            expected = [bytes(x) for x in tb[cell.step].reshape(-1)]
            assert [files[c.media] for c in cell.items] == expected
            assert [c.label for c in cell.items] == [""] * len(expected)  # no writer labels
            for clip in cell.items:
                assert clip.sample_rate == 8000 and clip.seconds == pytest.approx(0.05)
    assert clips.count == (2 if fixture == "media" else 6)


def test_large_image_is_scaled_and_small_ones_kept():
    from PIL import Image

    (large,) = [
        g for g in elements(report_of(fixture_logdir("media")), ImageGrid) if g.tag == "img/large"
    ]
    (picture,) = large.rows[0].cells[0].items
    files = media_bytes(large)
    assert (picture.width, picture.height) == (800, 300)
    assert picture.shown != picture.original
    with Image.open(io.BytesIO(files[picture.shown])) as im:
        assert im.size == (picture.shown_width, picture.shown_height) == (MAX_SIDE, 120)
    (single,) = [
        g for g in elements(report_of(fixture_logdir("media")), ImageGrid) if g.tag == "img/single"
    ]
    assert all(p.shown == p.original for r in single.rows for c in r.cells for p in c.items)


# --- hostile images and clips ----------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares a size but holds almost no data (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def good_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (5, 4), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


HOSTILE = {
    "gif-html": b"GIF89a<html><script>window.__pwned=1</script></html>",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=1"><rect/></svg>',
    "truncated-png": good_png()[:-30],
    "bomb-warning": png_header(10_000, 10_000),  # over MAX_IMAGE_PIXELS: Pillow only warns
    "bomb": png_header(100_000, 100_000),  # over twice the limit: Pillow refuses
}


def write_images(writer, tag: str, images: list[bytes], step: int) -> None:
    """Legacy Summary.Image values through the real torch writer, bytes as given."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    values = [
        Summary.Value(tag=tag, image=Summary.Image(height=4, width=5, encoded_image_string=img))
        for img in images
    ]
    writer._get_file_writer().add_summary(Summary(value=values), step)


@pytest.fixture
def hostile_logdir(torch_writer, tmp_path):
    w = torch_writer("evil")
    for step, (name, data) in enumerate(HOSTILE.items()):
        write_images(w, f"bad/{name}", [data], step)
    write_images(w, "good/img", [good_png()], 0)
    w.add_audio("bad/audio", np.zeros(80, dtype=np.float32), 0, sample_rate=8000)
    from tensorboard.compat.proto.summary_pb2 import Summary

    fake = Summary.Audio(sample_rate=8000, encoded_audio_string=b"<html>not a wav</html>")
    w._get_file_writer().add_summary(Summary(value=[Summary.Value(tag="bad/audio", audio=fake)]), 1)
    w.flush()
    return tmp_path / "logs"


def test_hostile_images_are_refused_with_warnings(hostile_logdir, tmp_path):
    result = build(options(hostile_logdir, tmp_path / "site"))
    refused = [w for w in result.warnings if w.kind == "image-not-shown"]
    assert sorted(w.tag for w in refused) == sorted(f"bad/{n}" for n in HOSTILE)
    for w in refused:
        assert w.severity == "warning" and w.run == "evil"
        assert w.path and w.path.endswith(Path(w.path).name) and w.offset is not None
        step = list(HOSTILE).index(w.tag.removeprefix("bad/"))
        assert f"step {step}:" in w.message and f"byte {w.offset} " in w.message
    why = {w.tag: w.message for w in refused}
    assert "not PNG, JPEG, GIF or WebP" in why["bad/gif-html"]
    assert "not PNG, JPEG, GIF or WebP" in why["bad/svg"]
    assert "does not decode" in why["bad/truncated-png"]
    assert "MAX_IMAGE_PIXELS" in why["bad/bomb"] and "MAX_IMAGE_PIXELS" in why["bad/bomb-warning"]
    (audio,) = [w for w in result.warnings if w.kind == "audio-not-shown"]
    assert audio.tag == "bad/audio" and "step 1:" in audio.message and "not a WAV" in audio.message
    page = (tmp_path / "site" / "index.html").read_text()
    embedded = [base64.b64decode(d) for d in re.findall(r"data:image/[a-z]+;base64,([^\"]+)", page)]
    assert good_png() in embedded
    assert not any(data in embedded for data in HOSTILE.values())
    assert "<script>window.__pwned" not in page and "<svg" not in page
    assert len(re.findall(r'<audio controls preload="metadata" src="data:audio/wav', page)) == 1
    with pytest.raises(StrictModeError, match="image"):
        build(options(hostile_logdir, tmp_path / "strict", strict=True))


# --- output: files from slugs, jekyll links, markdown counts ---------------------------------


def test_jekyll_shows_scaled_copies_linked_to_originals(tmp_path):
    out = tmp_path / "blog"
    result = build(options(fixture_logdir("media"), out, format="jekyll", date=DATE))
    assets = "assets/images/comparing-tbx-and-torch"
    media = sorted(
        p for p in result.written if p.startswith(assets) and not p.endswith(("csv", "loss.png"))
    )
    # names from slugs, run positions and steps only
    assert all(
        re.fullmatch(rf"{assets}/[a-z0-9-]+-r\d+-s\d+-\d+(-scaled)?\.(png|wav)", p) for p in media
    )
    post = (out / result.main).read_text()
    big = f"/{assets}/img-large-r1-s0-0"
    link = f"<a href=\"{{{{ '{big}.png' | relative_url }}}}\">"
    assert f"{link}<img src=\"{{{{ '{big}-scaled.png' | relative_url }}}}\"" in post
    assert post.count("<audio controls") == 2
    for path in media:
        assert f"'/{path}'" in post


def test_markdown_lists_counts(tmp_path):
    result = build(options(fixture_logdir("tf2_media"), tmp_path / "md", format="markdown"))
    text = (tmp_path / "md" / "report.md").read_text()
    assert "### tf/images" in text and "- tf: 9 image(s) at step(s) 0, 1, 2 of 3 logged" in text
    assert "- tf: 6 clip(s) at step(s) 0, 1, 2 of 3 logged" in text
    assert list(result.written) == ["report.md"]


# --- real Chromium ---------------------------------------------------------------------------


@pytest.mark.skipif("not sitecheck.have_chromium()", reason="chromium is not installed")
def test_chromium_shows_the_grid_and_players_from_file_url(tmp_path):
    with sitecheck.ChromiumSession() as browser:
        for fixture in ("media", "tf2_media"):
            out = tmp_path / fixture
            build(options(fixture_logdir(fixture), out))
            report = browser.open((out / "index.html").resolve().as_uri())
            assert report.problems == []  # a CSP without media-src data: logs an error
            pictures = sum(
                len(c.items)
                for g in elements(report_of(fixture_logdir(fixture)), ImageGrid)
                for r in g.rows
                for c in r.cells
            )
            grid = [i for i in report.images if i.src.startswith("data:image/")]
            assert len(grid) >= pictures > 0
            assert all(i.complete and i.natural_width > 0 for i in report.images)
            if fixture == "media":
                assert "torch · step 6" in report.text and "tbx · step 2" in report.text


def test_wav_clip_header_is_a_real_wav():
    # the fixture's clips are what the writers encode: WAV, which the players get as audio/wav
    (clips,) = elements(report_of(fixture_logdir("media")), AudioClips)
    for m in clips.media:
        with wave.open(io.BytesIO(m.data)) as w:
            assert w.getframerate() == 8000
        assert m.mime == "audio/wav"


def test_file_names_come_from_slugs_not_data(torch_writer, tmp_path):
    w = torch_writer("{{ run }}<b>")
    tag = "../../etc/{% raw %}<img src=x onerror=alert(1)>"
    w.add_image(tag, np.zeros((4, 4, 3), dtype=np.uint8), 0, dataformats="HWC")
    w.flush()
    result = build(options(tmp_path / "logs", tmp_path / "blog", format="jekyll", date=DATE))
    media = [p for p in result.written if p.endswith(".png") and p.startswith("assets/")]
    assert media and all(
        re.fullmatch(r"assets/images/[a-z0-9-]+/[a-z0-9-]+\.png", p) for p in media
    )
    body = (tmp_path / "blog" / result.main).read_text().split("\n---\n", 1)[1]  # after YAML
    assert "<img src=x" not in body and "{% raw %}" not in body and "<b>" not in body


def test_markdown_links_the_hosted_clips(tmp_path):
    # with --image-base-url the clips are written beside report.md to be hosted: linked too
    base = "https://example.org/pr/7/"
    out = tmp_path / "md"
    result = build(options(fixture_logdir("media"), out, format="markdown", image_base_url=base))
    clips = sorted(p for p in result.written if p.endswith(".wav"))
    text = (out / "report.md").read_text()
    assert clips and all(f"]({base}{clip})" in text for clip in clips)
    (grid,) = elements(report_of(fixture_logdir("media")), AudioClips)
    assert len(clips) == grid.count
