"""Golden files: the generated text of the quick-start example, and the repository's site/.

Update with ``python -m pytest tests/test_golden.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
import sitecheck
from click.testing import CliRunner

from tbreport.cli import main

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
#: how the repository's site/ is made (the article's front matter)
SITE_ARGS = [
    "build",
    "tests/fixtures/logdirs/quickstart",
    "--format",
    "jekyll",
    "--title",
    "PyTorch + Tensorboard (quick-start)",
    "--date",
    "2021-05-24 20:41:00 -0400",
    "--categories",
    "ml general",
    "--permalink",
    "/:categories/:title:output_ext",
    "--quiet",
]


def _check(path: Path, text: str, update: bool) -> None:
    if update:
        path.write_text(text)
    assert path.is_file(), f"{path} missing: run pytest --update-golden"
    assert text == path.read_text(), f"{path.name} changed: review, then pytest --update-golden"


def _strip_data_uris(html: str) -> str:
    # images embed bytes that depend on the font renderer; the text around them is the golden
    html = re.sub(r"data:([a-z/+]+);base64,[A-Za-z0-9+/=]+", r"data:\1;base64,…", html)
    # the inline scripts (vendored uPlot, tbreport.js) and their CSP hashes are checked by
    # test_interactive.py, the embedded data by test_golden_embedded_data
    html = re.sub(r"'sha256-[A-Za-z0-9+/=]+'", "'sha256-…'", html)
    html = re.sub(r'(<script type="application/json" id="tbreport-data">).*?(</script>)',
                  r"\1…\2", html, flags=re.S)  # fmt: skip
    return re.sub(r"<script>.*?</script>", "<script>…</script>", html, flags=re.S)


def _inflated(page_json: str) -> str:
    """The page's chart data with each chart's deflated points shown as the raw bytes (base64),
    so the golden does not depend on the zlib version's choice of compressed encoding."""
    doc = json.loads(page_json)
    for chart in doc["charts"]:
        if chart is not None:
            raw = zlib.decompress(base64.b64decode(chart["data"]), -15)
            chart["data"] = base64.b64encode(raw).decode("ascii")
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def _build(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    # the report names the logdir as given: relative, so the golden text is checkout-independent
    monkeypatch.chdir(ROOT)
    out = tmp_path / fmt
    result = CliRunner().invoke(
        main,
        [
            "build",
            "tests/fixtures/logdirs/quickstart",
            "--format",
            fmt,
            "--out",
            str(out),
            "--quiet",
            "--date",
            "2021-05-24 20:41:00 -0400",
            "--title",
            "PyTorch + Tensorboard (quick-start)",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_golden_html(tmp_path, update_golden, monkeypatch):
    out = _build(tmp_path, "html", monkeypatch)
    _check(
        GOLDEN / "quickstart.html",
        _strip_data_uris((out / "index.html").read_text()),
        update_golden,
    )


def test_golden_embedded_data(tmp_path, update_golden, monkeypatch):
    """The data the page's script draws from (format version 3, docs/html-report.md)."""
    out = _build(tmp_path, "html", monkeypatch)
    html = (out / "index.html").read_text()
    found = re.search(r'<script type="application/json" id="tbreport-data">(.*?)</script>', html)
    assert found, "no embedded chart data"
    _check(GOLDEN / "quickstart.data.json", _inflated(found.group(1)), update_golden)


def test_golden_markdown(tmp_path, update_golden, monkeypatch):
    out = _build(tmp_path, "jekyll", monkeypatch)
    (post,) = (out / "_posts").iterdir()
    _check(GOLDEN / "quickstart.md", post.read_text(), update_golden)


def _png_pixels(data: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data), format="png")


def test_repository_site_is_current(tmp_path, monkeypatch, update_golden):
    """site/ holds the quick-start post exactly as the current code builds it."""
    monkeypatch.chdir(ROOT)
    fresh = tmp_path / "site"
    result = CliRunner().invoke(main, [*SITE_ARGS, "--out", str(fresh)])
    assert result.exit_code == 0, result.output
    if update_golden:
        shutil.rmtree(ROOT / "site", ignore_errors=True)
        shutil.copytree(fresh, ROOT / "site")
    want = sorted(p.relative_to(fresh).as_posix() for p in fresh.rglob("*") if p.is_file())
    have = sorted(
        p.relative_to(ROOT / "site").as_posix()
        for p in (ROOT / "site").rglob("*")
        if p.is_file() and "_site" not in p.parts and ".jekyll-cache" not in p.parts
    )
    assert have == want, "site/ is out of date: run pytest tests/test_golden.py --update-golden"
    for rel in want:
        new, old = (fresh / rel).read_bytes(), (ROOT / "site" / rel).read_bytes()
        if rel.endswith(".tbreport-manifest.json"):
            # it holds the images' hashes: the same files, compared above, are what matters
            files = [{k: v.keys() for k, v in json.loads(t)["reports"].items()} for t in (new, old)]
            assert files[0] == files[1]
        elif rel.endswith(".png"):
            # pixels, not bytes: the same chart may compress differently elsewhere
            a, b = _png_pixels(new), _png_pixels(old)
            assert a.shape == b.shape and float(np.abs(a - b).mean()) < 0.01, rel
        else:
            assert new == old, f"site/{rel} is out of date: pytest --update-golden"


@pytest.mark.skipif("not sitecheck.have_jekyll()", reason="Debian's jekyll is not installed")
def test_repository_site_builds_with_jekyll(tmp_path):
    result = sitecheck.jekyll_build(ROOT / "site", dest=tmp_path / "_site", baseurl="/tbreport")
    assert result.ok, result
    page = tmp_path / "_site" / "ml" / "general" / "pytorch-tensorboard-quick-start.html"
    assert page.is_file()
    text = page.read_text()
    for src in re.findall(r'src="(/tbreport/assets/images/[^"]+)"', text):
        assert (tmp_path / "_site" / src.removeprefix("/tbreport/")).is_file()
    assert "Fig 1." in text and "tutorial/poly" in text
