"""Render stage: the templates (built-in, overridable with --templates) and their errors."""

from __future__ import annotations

import pytest
from conftest import build_options

from tbreport.formats.render import Renderer, TemplateError
from tbreport.pipeline import build

DATE = "2021-05-24 20:41:00 -0400"


def _options(tmp_path, **kw):
    return build_options(tmp_path / "site", **kw)


def test_user_template_can_extend_the_builtin_one(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "report.html.j2").write_text(
        '{% extends "default/report.html.j2" %}'
        '{% block extra_head %}<meta name="x-custom" content="yes">{% endblock %}'
    )
    build(_options(tmp_path, templates=str(tpl)))
    html = (tmp_path / "site" / "index.html").read_text()
    assert '<meta name="x-custom" content="yes">' in html and "tutorial/poly" in html


def test_a_renderer_makes_each_environment_once(tmp_path):
    renderer = Renderer(None)
    assert renderer.environment(True) is renderer.environment(True)
    assert renderer.environment(True) is not renderer.environment(False)
    assert renderer.environment(True).autoescape and not renderer.environment(False).autoescape


def test_template_errors_name_the_template(tmp_path):
    with pytest.raises(TemplateError, match="Templates folder .* does not exist"):
        Renderer(str(tmp_path / "missing"))
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "broken.j2").write_text("{% if %}")
    (tmp_path / "tpl" / "undefined.j2").write_text("{{ nothing_here }}")
    renderer = Renderer(str(tmp_path / "tpl"))
    with pytest.raises(TemplateError, match="broken.j2' line 1"):
        renderer.render("broken.j2", {}, autoescape=False)
    with pytest.raises(TemplateError, match="undefined.j2' uses an undefined value"):
        renderer.render("undefined.j2", {}, autoescape=False)
    with pytest.raises(TemplateError, match="'nope.j2' not found"):
        renderer.render("nope.j2", {}, autoescape=False)


def test_every_element_kind_has_its_partial_for_every_builtin_format():
    from tbreport.formats.render import builtin_templates
    from tbreport.registry import BUILTIN_KINDS

    root = builtin_templates()
    for kind in BUILTIN_KINDS:
        for fmt in ("html", "jekyll", "markdown"):
            assert (root / "kinds" / kind / f"{fmt}.j2").is_file(), (kind, fmt)


@pytest.mark.parametrize("fmt", ["html", "jekyll", "markdown"])
def test_point_counts_have_thousands_separators(torch_writer, tmp_path, fmt):
    writer = torch_writer("long_run")
    for step in range(1200):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.flush()
    out = tmp_path / "out"
    result = build(build_options(out, tmp_path / "logs", format=fmt, jobs=1))
    text = (out / result.main).read_text(encoding="utf-8")
    assert "1,200 points in all" in text  # the opening sentence
    if fmt == "html":
        # the runs and statistics tables show the count and sort by the number
        assert text.count('data-sort="1200">1,200<') == 2
        assert ">1200<" not in text and "; 1200 points" not in text
    else:  # nowhere bare: tables, captions
        assert "1200" not in text.replace("1,200", "")


def test_a_templates_path_that_is_a_file_is_named_as_not_a_folder(tmp_path):
    from tbreport.formats.render import Renderer, TemplateError

    (tmp_path / "t").write_text("x")
    with pytest.raises(TemplateError, match="'.*t' is not a folder"):
        Renderer(str(tmp_path / "t"))
    with pytest.raises(TemplateError, match="does not exist"):
        Renderer(str(tmp_path / "missing"))
