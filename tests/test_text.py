"""The text kind and what the report says about data it does not show: decoding and rendering
compared with TensorBoard's own text plugin, sanitising of hostile Markdown, builds without
scalars, and the kinds listed by ``ls`` and ``build --json``."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sitecheck
from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport.cli import main
from tbreport.kinds.text.report import decode_texts
from tbreport.options import make_options
from tbreport.pipeline import build
from tbreport.read import read_logdir
from tbreport.read.events import load_values

DATE = "2024-05-01 12:00:00 +0000"
HOSTILE_TEXT = (
    "| a | b |\n|---|---|\n| **1** | 2 |\n\n"
    '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
    " [click](javascript:window.__pwned=1) [ok](https://example.org/ok)"
    " {% endraw %} {{ site.title }} {% raw %} {{ x }} {%"
)


class _Tokens(HTMLParser):
    """Tags, attributes and text, whitespace-insensitive: bleach (TensorBoard) and nh3 (us)
    serialise the same tree differently. ``rel`` is nh3's addition to links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.out.append(("start", tag, tuple(sorted((k, v) for k, v in attrs if k != "rel"))))

    def handle_endtag(self, tag):
        self.out.append(("end", tag))

    def handle_data(self, data):
        if data.strip():
            self.out.append(("text", " ".join(data.split())))


def tokens(html: str) -> list[tuple]:
    parser = _Tokens()
    parser.feed(html)
    parser.close()
    return parser.out


def _options(runs: Path, out: Path, **kw):
    cli = {"runs_dir": str(runs), "out": str(out), "date": DATE, "quiet": True, **kw}
    return make_options(cli, {}, None)


def _panels(result):
    return [e for e in result.report.charts if e.kind == "text"]


@pytest.fixture(scope="module")
def default_build(tmp_path_factory):
    """``default_build(name)``: the default build of a fixture logdir, made once in this
    module (the tests using it only read the result)."""
    done = {}

    def get(name: str):
        if name not in done:
            out = tmp_path_factory.mktemp(name) / "out"
            done[name] = build(_options(fixture_logdir(name), out))
        return done[name]

    return get


@pytest.mark.parametrize("fixture", ["torch_kinds", "tf2_text"])
def test_text_matches_tensorboards_text_plugin(fixture, default_build):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.text import text_plugin
    from tensorboard.util import tensor_util

    result = default_build(fixture)
    panels = _panels(result)
    assert panels
    for panel in panels:
        for shown in panel.runs:
            acc = EventAccumulator(
                str(fixture_logdir(fixture) / shown.run), size_guidance={"tensors": 0}
            )
            acc.Reload()
            events = acc.Tensors(panel.tag)
            assert shown.steps == len(events)
            ours = [shown.latest, *shown.earlier]
            for entry, event in zip(ours, reversed(events), strict=True):
                array = tensor_util.make_ndarray(event.tensor_proto)
                assert entry.step == event.step
                assert entry.shape == array.shape
                theirs = text_plugin.text_array_to_html(array, enable_markdown=True)
                assert tokens(entry.html) == tokens(theirs), panel.tag


def test_decoded_strings_are_the_ones_written(tmp_path):
    run = read_logdir(str(fixture_logdir("tf2_text"))).run("run")
    records = run.tensors["table"]
    ((_, _, value),) = load_values(
        run.files[0], [int(records.offsets[-1])], [int(records.values[-1])]
    )
    assert decode_texts(value).tolist() == [["a", "*b*"], ["c", "1"]]


@pytest.fixture(scope="module")
def hostile_text_logdir(tmp_path_factory):
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path_factory.mktemp("hostile_text") / "runs"
    w = SummaryWriter(log_dir=str(root / "run"))
    w.add_text("notes", "first {{ x }} step", 0)
    w.add_text("notes", HOSTILE_TEXT, 1)
    w.add_text("multi", "line one\n{% raw %}\nline `two` @someone", 0)
    w.close()
    return root


def test_hostile_markdown_is_sanitised(tmp_path, hostile_text_logdir):
    result = build(_options(hostile_text_logdir, tmp_path / "out"))
    (panel,) = [p for p in _panels(result) if p.tag == "notes/text_summary"]
    html = panel.runs[0].latest.html
    assert "<strong>1</strong>" in html and "<table>" in html  # Markdown did render
    assert '<a href="https://example.org/ok"' in html
    lowered = html.lower()
    for bad in ("<script", "onerror", "javascript:", "__pwned", 'src="x"'):
        assert bad not in lowered, bad


def test_text_in_html_report_is_inert_in_chromium(tmp_path, hostile_text_logdir):
    if not sitecheck.have_chromium():
        pytest.skip("chromium is not installed")
    result = build(_options(hostile_text_logdir, tmp_path / "report"))
    report = sitecheck.open_in_chromium((tmp_path / "report" / result.main).resolve().as_uri())
    assert not report.problems, report.problems
    assert not report.pwned
    assert "{% endraw %} {{ site.title }} {% raw %}" in report.text
    # the earlier step is there, collapsed (a closed <details> is not in innerText)
    assert "first {{ x }} step" not in report.text
    assert "<p>first {{ x }} step</p>" in (tmp_path / "report" / result.main).read_text()


@pytest.mark.skipif("not sitecheck.have_jekyll()", reason="Debian's jekyll is not installed")
def test_text_in_jekyll_post_is_liquid_and_kramdown_inert(tmp_path, hostile_text_logdir):
    site = tmp_path / "site"
    result = build(_options(hostile_text_logdir, site, format="jekyll"))
    dest = tmp_path / "_site"
    built = sitecheck.jekyll_build(site, dest=dest, baseurl="/repo")
    assert built.ok, built
    slug = re.sub(r"^\d{4}-\d\d-\d\d-|\.md$", "", Path(result.main).name)
    (page,) = dest.rglob(f"{slug}.html")
    text = page.read_text()
    # Liquid printed every brace as written, and kramdown did not touch the HTML
    assert "&#123;% endraw %&#125; &#123;&#123; site.title &#125;&#125; &#123;% raw %&#125;" in text
    assert "<td><strong>1</strong></td>" in text
    assert "<script>window.__pwned" not in text
    if sitecheck.have_chromium():
        with sitecheck.serve_dir(dest, baseurl="/repo") as base:
            report = sitecheck.open_in_chromium(base + page.relative_to(dest).as_posix())
        assert not report.problems, report.problems
        assert not report.pwned
        assert "{% endraw %} {{ site.title }} {% raw %} {{ x }} {%" in report.text


def test_text_in_markdown_report_is_escaped_and_fenced(tmp_path, hostile_text_logdir):
    import cmarkgfm

    result = build(_options(hostile_text_logdir, tmp_path / "md", format="markdown"))
    md = (tmp_path / "md" / result.main).read_text()
    rendered = cmarkgfm.github_flavored_markdown_to_html(md)
    assert "<script" not in rendered and "javascript:" not in rendered.replace(
        "javascript:window", ""
    )
    # the multi-line text is a code block, shown as written (no Liquid escapes on GitHub)
    assert "<pre><code>line one\n{% raw %}\nline `two` @someone\n</code></pre>" in rendered


REMOTE_IMAGES = (
    "a plot ![loss curve](https://example.org/loss.png) and"
    ' <img src="http://example.org/x.gif" title="x"> [![badge](https://example.org/b.svg)]'
    "(https://example.org/ci) <img src=relative.png alt=gone>"
)


@pytest.mark.skipif("not sitecheck.have_chromium()", reason="chromium is not installed")
def test_images_in_text_are_links_in_the_html_report_in_chromium(tmp_path, torch_writer):
    # the report loads nothing from the network (its CSP allows data: images only): a remote
    # image in a text summary was a broken image and a CSP error in the console
    w = torch_writer("run")
    w.add_text("notes", REMOTE_IMAGES, 0)
    w.flush()
    result = build(_options(tmp_path / "logs", tmp_path / "report"))
    report = sitecheck.open_in_chromium((tmp_path / "report" / result.main).resolve().as_uri())
    assert not report.problems, report.problems
    assert not [i for i in report.images if not i.src.startswith("data:")]
    for label in ("[image: loss curve]", "[image]", "[image: badge]", "[image: gone]"):
        assert label in report.text
    page = (tmp_path / "report" / result.main).read_text()
    assert '<a href="https://example.org/loss.png" rel="noopener noreferrer nofollow">' in page
    assert (
        '<a href="https://example.org/ci" rel="noopener noreferrer nofollow">[image: badge]</a>'
        in page
    )
    # a Jekyll post is a web page like TensorBoard's: there the images stay images
    post = build(_options(tmp_path / "logs", tmp_path / "site", format="jekyll"))
    text = (tmp_path / "site" / post.main).read_text()
    assert '<img alt="loss curve" src="https://example.org/loss.png">' in text


# --- text values that cannot be shown: a named warning, never a crash or a memory bomb --------


def _text_tensor(dims: list[int], strings: list[bytes], dtype: int = 7):
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=d) for d in dims])
    return TensorProto(dtype=dtype, tensor_shape=shape, string_val=strings)


BAD_TEXT = {
    # no dtype: tensor_util.make_ndarray raised TypeError
    "bad/no-dtype": (_text_tensor([], [b"x"], dtype=0), "not a text tensor"),
    # numpy refused the shape: ValueError
    "bad/negative": (_text_tensor([-1], [b"x"]), "negative dimension"),
    # TensorBoard pads to the shape with the last string: [1_000_000_000] took 15 GB for 30
    # bytes on disk (a smaller one here, so that the test without the fix stays harmless)
    "bad/padding": (_text_tensor([20_000], [b"x"]), "declares 20,000 cells in"),
    # markdown recursed once per level of nesting: RecursionError
    "bad/nested": (_text_tensor([], [b"- " * 3000 + b"x"]), "nests too deeply"),
}


def test_text_that_cannot_be_shown_is_a_named_warning(tmp_path, torch_writer):
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata

    w = torch_writer("run")
    text = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))

    def write(tag, tensor, step):
        value = Summary.Value(tag=tag, metadata=text, tensor=tensor)
        w._get_file_writer().add_summary(Summary(value=[value]), step)

    write("bad/nested", _text_tensor([], [b"an earlier step that renders"]), 2)
    for tag, (tensor, _) in BAD_TEXT.items():
        write(tag, tensor, 3)
    w.add_text("good", "**fine**", 0)
    w.flush()
    result = build(_options(tmp_path / "logs", tmp_path / "out"))
    refused = {w.tag: w for w in result.warnings if w.kind == "text-not-shown"}
    assert sorted(refused) == sorted(BAD_TEXT)
    for tag, (_, why) in BAD_TEXT.items():
        warning = refused[tag]
        assert warning.severity == "warning" and warning.run == "run"
        assert warning.path and Path(warning.path).name.startswith("events.out.tfevents")
        assert "step 3: " in warning.message and why in warning.message
        assert f"byte {warning.offset} of '{warning.path}'" in warning.message
    panels = {p.tag: p for p in _panels(result)}
    # the run's other steps and tags are shown; a tag with nothing to show has no panel
    assert "<strong>fine</strong>" in panels["good/text_summary"].runs[0].latest.html
    (nested,) = panels["bad/nested"].runs
    assert nested.latest.step == 2 and nested.steps == 2 and nested.refused == 1
    assert not {"bad/no-dtype", "bad/negative", "bad/padding"} & set(panels)
    assert "an earlier step that renders" in (tmp_path / "out" / result.main).read_text()


def test_text_only_logdir_builds_and_lists_its_kind(tmp_path, torch_writer):
    w = torch_writer("only")
    w.add_text("readme", "just *text*", 0)
    w.close()
    logs = tmp_path / "logs"
    result = CliRunner().invoke(
        main, ["build", str(logs), "--out", str(tmp_path / "o"), "--date", DATE, "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tags"] == [{"tag": "readme/text_summary", "kind": "text", "elements": ["text"]}]
    html = (tmp_path / "o" / "index.html").read_text()
    assert "<em>text</em>" in html
    listing = json.loads(CliRunner().invoke(main, ["ls", str(logs), "--json"]).stdout)
    (other,) = listing["runs"][0]["others"]
    assert other["kind"] == "text"


def test_graph_only_logdir_builds_a_report_that_says_so(tmp_path, torch_writer):
    import torch

    w = torch_writer("model")
    w.add_graph(torch.nn.Linear(2, 1), torch.zeros(1, 2))
    w.close()
    logs = tmp_path / "logs"
    result = CliRunner().invoke(
        main, ["build", str(logs), "--out", str(tmp_path / "o"), "--date", DATE, "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {(t["tag"], t["kind"]) for t in data["tags"] if not t["elements"]} >= {
        ("graph_def", "graph_def")
    }
    notes = [w for w in data["warnings"] if w["kind"] == "not-shown"]
    assert notes and all(w["severity"] == "note" and w["run"] == "model" for w in notes)
    html = (tmp_path / "o" / "index.html").read_text()
    assert "Every file was read completely" not in html
    assert "graph_def" in html
    text = CliRunner().invoke(main, ["ls", str(logs)]).stdout
    assert "graph_def (not shown)" in text


def test_a_single_number_of_a_shown_plugin_is_a_not_shown_note(tmp_path, torch_writer):
    # the read stage counts rank-0 numeric tensors of a non-scalar plugin and keeps no record
    # of them: a text tag written as one float vanished from the report without a word
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto

    w = torch_writer("run")
    w.add_scalar("loss", 1.0, 0)
    text = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    number = Summary.Value(
        tag="t/float", metadata=text, tensor=TensorProto(dtype=1, float_val=[1.5])
    )
    w._get_file_writer().add_summary(Summary(value=[number]), 0)
    w.flush()
    result = build(_options(tmp_path / "logs", tmp_path / "o"))
    (note,) = [x for x in result.warnings if x.kind == "not-shown"]
    assert note.severity == "note" and note.run == "run" and note.tag == "t/float"
    assert "1 record of tag 't/float' not shown: single numbers" in note.message
    assert "'text' plugin" in note.message
    # --tags selects it like any other tag
    filtered = build(_options(tmp_path / "logs", tmp_path / "o2", tags="^loss$"))
    assert not [x for x in filtered.warnings if x.kind == "not-shown"]


def test_fixture_with_every_kind_accounts_for_every_tag(default_build):
    logdir = read_logdir(str(fixture_logdir("torch_kinds")))
    result = default_build("torch_kinds")
    listed = {(t["tag"]) for t in result.to_dict()["tags"]}
    for run in logdir.runs:
        for tag in [*run.scalars, *run.others]:
            assert tag in listed, (run.name, tag)
