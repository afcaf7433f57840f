"""Rebuilding an output from unchanged runs (tbreport.rebuild): the report and artifacts of the
last build are taken when the stamp of every input matches, the output is byte-identical to a
cold build, and any change of an input (records, a touched file, a new run, an option, the
source post, a baseline folder) or a damaged entry builds again from the other caches."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import build_options
from test_cache import build_into, same_tree, write_steps

from tbreport.pipeline import build

OTHER_DATE = "2022-01-02 03:04:05 +0000"


@pytest.fixture
def logs(torch_writer, tmp_path):
    a = torch_writer("run_a")
    b = torch_writer("run_b")
    write_steps(a, 0, 10)
    write_steps(b, 0, 7)

    class Logs:
        path = tmp_path / "logs"
        writers = (a, b)

        def append(self, lo: int, hi: int) -> None:
            for w in self.writers:
                write_steps(w, lo, hi)

    return Logs()


def rebuild(out: Path, logs: Path, cache: Path, fmt: str = "html", **kw):
    return build(build_options(out, logs, format=fmt, jobs=1, cache=str(cache), **kw))


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "builds").glob("*.tbb"))


@pytest.mark.parametrize("fmt", ["html", "jekyll", "markdown"])
def test_an_unchanged_rebuild_reads_and_draws_nothing_and_gives_the_same_bytes(logs, tmp_path, fmt):
    ref, cold = build_into(tmp_path, "ref", logs.path, fmt, no_cache=True)
    cache, out = tmp_path / "cache", tmp_path / "out"
    first = rebuild(out, logs.path, cache, fmt)
    same_tree(ref, out)
    assert len(entries(cache)) == 1 and first.drawn == cold.drawn
    # without the decode and chart caches, only the build entry can make this build
    shutil.rmtree(cache / "decode")
    shutil.rmtree(cache / "charts")
    second = rebuild(out, logs.path, cache, fmt)
    same_tree(ref, out)
    assert second.drawn == 0 and second.reused == first.drawn
    assert set(second.read_outcomes.values()) == {"unchanged"}
    assert sorted(second.read_outcomes) == sorted(first.read_outcomes)
    assert not list((cache / "decode").iterdir())  # nothing was decoded
    # what `build --json` says (a jekyll site's _config.yml is written by the first build only)
    assert {**second.to_dict(), "written": None} == {**first.to_dict(), "written": None}


def test_a_rebuild_with_another_date_renders_that_date(logs, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    rebuild(out, logs.path, cache)
    again = rebuild(out, logs.path, cache, date=OTHER_DATE)
    assert again.drawn == 0 and again.reused > 0
    ref, _ = build_into(tmp_path, "ref", logs.path, "html", no_cache=True, date=OTHER_DATE)
    same_tree(ref, out)
    assert b"2022-01-02" in (out / "index.html").read_bytes()


def changes(logs, tmp_path: Path):
    """Each change of an input, as (name, options, action)."""
    source = tmp_path / "post.md"
    source.write_text("# Post\n\n```tbreport\nchart: loss\n```\n", encoding="utf-8")
    base = tmp_path / "base"
    shutil.copytree(logs.path / "run_a", base / "run_a")
    run_a = next((logs.path / "run_a").glob("*tfevents*"))
    base_file = next((base / "run_a").glob("*tfevents*"))

    def touch(path: Path) -> None:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    def new_run() -> None:
        shutil.copytree(logs.path / "run_b", logs.path / "run_c")

    return [
        ("records appended", {}, lambda: logs.append(10, 12)),
        ("file touched", {}, lambda: touch(run_a)),
        ("new run", {}, new_run),
        ("option", {"smoothing": 0.3}, None),
        ("source edited", {"source": str(source)},
         lambda: source.write_text("# Post\n\n```tbreport\nchart: acc\n```\n", "utf-8")),
        ("baseline folder", {"baseline": str(base)}, lambda: touch(base_file)),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(6))
def test_any_changed_input_builds_again_and_matches_a_cold_build(logs, tmp_path, index):
    name, options, action = changes(logs, tmp_path)[index]
    cache, out = tmp_path / "cache", tmp_path / "out"
    base_options = {} if name == "option" else options
    rebuild(out, logs.path, cache, **base_options)
    same = rebuild(out, logs.path, cache, **base_options)
    assert same.drawn == 0, name  # the entry is taken while nothing changed
    if action is not None:
        action()
    shutil.rmtree(cache / "charts")  # a build that does not take the entry draws every chart
    changed = rebuild(out, logs.path, cache, **options)
    assert changed.drawn > 0, name
    ref, _ = build_into(tmp_path, "ref", logs.path, "html", no_cache=True, **options)
    same_tree(ref, out)
    # the entry now holds the changed build
    assert rebuild(out, logs.path, cache, **options).drawn == 0, name


def test_a_touched_file_is_read_again(logs, tmp_path):
    """A new modification time (same bytes) is not the stamp the entry holds: the read stage
    runs (and finds the bytes unchanged in its own cache only by its own rules)."""
    cache, out = tmp_path / "cache", tmp_path / "out"
    rebuild(out, logs.path, cache)
    run_a = next((logs.path / "run_a").glob("*tfevents*"))
    st = run_a.stat()
    os.utime(run_a, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000))
    again = rebuild(out, logs.path, cache)
    assert again.read_outcomes[str(run_a)] == "rewritten"


def test_damaged_or_foreign_entries_are_misses_and_are_rewritten(logs, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    ref, _ = build_into(tmp_path, "ref", logs.path, "html", no_cache=True)
    rebuild(out, logs.path, cache)
    (entry,) = entries(cache)
    good = entry.read_bytes()

    raw = bytearray(good)
    raw[len(raw) // 2] ^= 0x01  # a flipped bit in the pickle
    entry.write_bytes(bytes(raw))
    shutil.rmtree(cache / "charts")  # a miss then draws: visible in `drawn`
    damaged = rebuild(out, logs.path, cache)
    assert damaged.drawn > 0
    same_tree(ref, out)
    assert entry.read_bytes() == good  # rewritten whole

    # another output's entry under this one's name (the stamp inside differs)
    other = tmp_path / "other"
    rebuild(other, logs.path, cache, smoothing=0.1)
    (foreign,) = [e for e in entries(cache) if e != entry]
    shutil.copyfile(foreign, entry)
    shutil.rmtree(cache / "charts")
    taken = rebuild(out, logs.path, cache)
    assert taken.drawn > 0
    same_tree(ref, out)

    entry.write_bytes(b"TBRBLD1\n" + b"\0" * 40)  # garbage after the magic
    assert rebuild(out, logs.path, cache).drawn == 0  # the chart cache still has the images
    same_tree(ref, out)


def test_no_cache_keeps_no_build_entry(logs, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    build(build_options(out, logs.path, jobs=1, cache=str(cache), no_cache=True))
    assert not (cache / "builds").exists()
