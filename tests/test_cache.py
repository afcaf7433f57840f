"""The decode cache and the chart cache: builds through a cache give the same bytes as builds
without one (cold, warm, after appending, with damaged entries), a warm build reads and draws
nothing, and a cache folder that cannot be used is a warning, not a failure."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATE, build_options, event_files, fixture_logdir

from tbreport.cli import main
from tbreport.pipeline import Caches, build, render
from tbreport.read import read_logdir
from tbreport.read.cache import MemoryCache, open_disk_cache


def write_steps(writer, lo: int, hi: int) -> None:
    """Records of every kind tbreport decodes or draws, for steps lo..hi-1."""
    for step in range(lo, hi):
        rng = np.random.RandomState(step)
        writer.add_scalar("loss", 1.0 / (step + 1) + 0.01 * rng.rand(), step)
        writer.add_scalar("acc", 0.1 * step, step)
        writer.add_histogram("weights", rng.randn(64), step)
        if step % 4 == 0:
            writer.add_text("notes", f"step **{step}**", step)
            writer.add_image("sample", rng.rand(3, 6, 6), step)
            writer.add_pr_curve("pr", rng.randint(0, 2, 20), rng.rand(20), step)
    writer.flush()


@pytest.fixture
def logdir(torch_writer, tmp_path):
    """Two runs written by torch, one with hparams; ``logdir.append(lo, hi)`` writes more."""
    a = torch_writer("run_a")
    b = torch_writer("run_b")
    a.add_hparams({"lr": 0.1, "opt": "adam"}, {"hp/final": 1.0}, run_name=".")
    write_steps(a, 0, 12)
    write_steps(b, 0, 9)

    class Logs:
        path = tmp_path / "logs"

        def append(self, lo: int, hi: int) -> None:
            write_steps(a, lo, hi)
            write_steps(b, lo, hi)

        def close(self) -> None:
            a.close()
            b.close()

    return Logs()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path, with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def same_tree(a: Path, b: Path) -> None:
    ta, tb = tree(a), tree(b)
    assert sorted(ta) == sorted(tb)
    for name in ta:
        assert ta[name] == tb[name], name


def build_into(tmp_path: Path, name: str, logs: Path, fmt: str, **kw):
    out = tmp_path / name
    return out, build(build_options(out, logs, format=fmt, jobs=1, **kw))


def same_value(a, b, where: str = "logdir") -> None:
    """Deep equality of read results: dataclasses field by field, arrays by dtype and bytes."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            same_value(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            same_value(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_value(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def build_in_new_process(args: list[str]) -> multiprocessing.process.BaseProcess:
    """``tbreport ARGS`` started in a process of its own: forked from this one (its imports
    done; nothing it holds in memory is used, as each build opens its caches itself), or a
    fresh interpreter when a thread runs here, as forking then can deadlock the child.
    test_cli.py runs ``python -m tbreport`` itself."""
    method = "fork" if threading.active_count() == 1 else "spawn"
    proc = multiprocessing.get_context(method).Process(target=_cli, args=(args,))
    proc.start()
    return proc


def _cli(args: list[str]) -> None:
    main(args)  # exits with the command's code


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "decode").glob("*.tbc")) + sorted((cache / "charts").glob("*.img"))


@pytest.mark.parametrize("fmt", ["html", "jekyll"])
def test_cached_builds_are_byte_identical_to_cold_ones(logdir, tmp_path, fmt):
    cache = tmp_path / "cache"
    ref, cold = build_into(tmp_path, "ref", logdir.path, fmt, no_cache=True)
    first, one = build_into(tmp_path, "first", logdir.path, fmt, cache=str(cache))
    same_tree(ref, first)
    assert set(one.read_outcomes.values()) == {"new"} and one.drawn == cold.drawn > 0
    assert entries(cache)

    warm, two = build_into(tmp_path, "warm", logdir.path, fmt, cache=str(cache))
    same_tree(ref, warm)
    assert set(two.read_outcomes.values()) == {"unchanged"}
    assert two.drawn == 0 and two.reused == one.drawn  # no chart drawn again

    logdir.append(12, 20)
    ref2, _ = build_into(tmp_path, "ref2", logdir.path, fmt, no_cache=True)
    assert tree(ref2) != tree(ref)  # the appended records are in the report
    grown, three = build_into(tmp_path, "grown", logdir.path, fmt, cache=str(cache))
    same_tree(ref2, grown)
    assert "appended" in three.read_outcomes.values() and three.drawn > 0


def test_damaged_and_foreign_entries_are_ignored_and_rewritten(logdir, tmp_path):
    cache = tmp_path / "cache"
    ref, _ = build_into(tmp_path, "ref", logdir.path, "html", no_cache=True)
    build_into(tmp_path, "first", logdir.path, "html", cache=str(cache))
    decode = sorted((cache / "decode").glob("*.tbc"))
    charts = sorted(p for p in (cache / "charts").glob("*.img") if not p.name.startswith("note-"))
    assert len(decode) >= 3 and len(charts) >= 3
    # a flipped byte in the arrays, one cut short, one of another file under this one's name,
    # and a chart image with a flipped byte and one that is garbage
    raw = bytearray(decode[0].read_bytes())
    raw[-5] ^= 0xFF
    decode[0].write_bytes(bytes(raw))
    decode[1].write_bytes(decode[1].read_bytes()[:100])
    shutil.copyfile(decode[3 if len(decode) > 3 else 0], decode[2])
    image = bytearray(charts[0].read_bytes())
    image[len(image) // 2] ^= 0x01
    charts[0].write_bytes(bytes(image))
    charts[1].write_bytes(b"not an image entry")

    damaged, result = build_into(tmp_path, "damaged", logdir.path, "html", cache=str(cache))
    same_tree(ref, damaged)
    assert list(result.read_outcomes.values()).count("bad-entry") == 3
    assert result.drawn == 2  # the two damaged images were drawn again
    # and written again: the next build takes every entry
    again, result = build_into(tmp_path, "again", logdir.path, "html", cache=str(cache))
    same_tree(ref, again)
    assert set(result.read_outcomes.values()) == {"unchanged"} and result.drawn == 0


def test_a_grown_file_decodes_only_its_new_bytes(logdir):
    store = MemoryCache()
    read_logdir(logdir.path, cache=store)
    assert set(store.take_outcomes().values()) == {"new"}
    logdir.append(12, 30)
    warm = read_logdir(logdir.path, cache=store)
    outcomes = store.take_outcomes()
    assert sorted(set(outcomes.values())) == ["appended", "unchanged"]  # hparams file: unchanged
    same_value(read_logdir(logdir.path), warm)
    assert len(warm.runs[0].scalars["loss"]) == 30


def _partial_record(run: Path) -> tuple[Path, bytes]:
    """The longest event file of ``run`` and its last record, to cut and append again."""
    path = max(event_files(run), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    at = 0
    while True:  # walk the records to the start of the last one
        length = int.from_bytes(data[at : at + 8], "little")
        if at + 16 + length >= len(data):
            return path, data[at:]
        at += 16 + length


def test_a_truncated_tail_is_not_consumed_and_read_when_complete(logdir, tmp_path):
    path, last = _partial_record(logdir.path / "run_a")
    whole = path.read_bytes()
    with open(path, "r+b") as fh:
        fh.truncate(len(whole) - len(last))
    store = open_disk_cache(tmp_path / "cache")
    read_logdir(logdir.path, cache=store)
    with open(path, "ab") as fh:
        fh.write(last[:7])  # a writer mid-record: part of the length field
    cut = read_logdir(logdir.path, cache=store)
    assert store.take_outcomes()[str(path)] == "appended"
    assert "truncated" in [w.kind for w in cut.warnings]
    same_value(read_logdir(logdir.path), cut)
    with open(path, "ab") as fh:
        fh.write(last[7:])  # the writer finished the record
    done = read_logdir(logdir.path, cache=store)
    assert store.take_outcomes()[str(path)] == "appended"
    assert "truncated" not in [w.kind for w in done.warnings]
    same_value(read_logdir(logdir.path), done)
    assert path.read_bytes() == whole


def test_damage_in_appended_bytes_reads_as_from_the_start(logdir, tmp_path):
    path, last = _partial_record(logdir.path / "run_b")
    store = open_disk_cache(tmp_path / "cache")
    read_logdir(logdir.path, cache=store)
    bad = bytearray(last)
    bad[20] ^= 0xFF  # a data checksum mismatch: that record is skipped, the rest read
    with open(path, "ab") as fh:
        fh.write(bytes(bad) + last)
    once = read_logdir(logdir.path, cache=store)
    assert "skipped-record" in [w.kind for w in once.warnings]
    same_value(read_logdir(logdir.path), once)
    with open(path, "ab") as fh:
        fh.write(b"\xff" * 12 + last)  # a length checksum mismatch: the rest of the file is lost
    twice = read_logdir(logdir.path, cache=store)
    assert "corrupt-record" in [w.kind for w in twice.warnings]
    same_value(read_logdir(logdir.path), twice)
    with open(path, "ab") as fh:
        fh.write(last)  # after damage nothing is resumed: the file is read whole
    read_logdir(logdir.path, cache=store)
    assert store.take_outcomes()[str(path)] == "damaged"


def test_a_shrunk_or_replaced_file_is_read_again_from_the_start(logdir, tmp_path):
    store = MemoryCache()
    read_logdir(logdir.path, cache=store)
    path = max(event_files(logdir.path / "run_a"), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # cut in place
    shrunk = read_logdir(logdir.path, cache=store)
    assert store.take_outcomes()[str(path)] == "shrank"
    same_value(read_logdir(logdir.path), shrunk)
    other = max(event_files(logdir.path / "run_b"), key=lambda p: p.stat().st_size)
    path.unlink()
    shutil.copyfile(other, path)  # another file under the same name (a new inode)
    replaced = read_logdir(logdir.path, cache=store)
    assert store.take_outcomes()[str(path)] == "replaced"
    same_value(read_logdir(logdir.path), replaced)
    # the same inode rewritten with other bytes, then grown: the consumed prefix differs
    store2 = MemoryCache()
    read_logdir(logdir.path, cache=store2)
    with open(path, "r+b") as fh:
        fh.seek(30)
        fh.write(b"\x00")
        fh.seek(0, 2)
        fh.write(b"\x00")
    rewritten = read_logdir(logdir.path, cache=store2)
    assert store2.take_outcomes()[str(path)] == "replaced"
    same_value(read_logdir(logdir.path), rewritten)


def test_a_file_changed_in_place_is_read_again(logdir):
    store = MemoryCache()
    read_logdir(logdir.path, cache=store)
    path = max(event_files(logdir.path / "run_a"), key=lambda p: p.stat().st_size)
    size = path.stat().st_size
    with open(path, "r+b") as fh:  # one byte in the middle, far from both checked blocks
        fh.seek(size // 2)
        byte = fh.read(1)
        fh.seek(size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    changed = read_logdir(logdir.path, cache=store)
    assert store.take_outcomes()[str(path)] == "rewritten"
    assert {"skipped-record", "corrupt-record"} & {w.kind for w in changed.warnings}
    same_value(read_logdir(logdir.path), changed)


def test_memory_caches_for_repeated_renders(logdir, tmp_path):
    caches = Caches.memory()
    options = build_options(tmp_path / "out", logdir.path, jobs=1)
    first = render(options, caches=caches)
    second = render(options, caches=caches)
    assert set(second.read_outcomes.values()) == {"unchanged"}
    assert second.drawn == 0 and second.reused == first.drawn > 0
    assert [f.data for f in second.rendered.files] == [f.data for f in first.rendered.files]
    logdir.append(12, 14)
    third = render(options, caches=caches)
    assert "appended" in third.read_outcomes.values() and third.drawn > 0
    cold = render(options, caches=Caches())
    assert [f.data for f in third.rendered.files] == [f.data for f in cold.rendered.files]
    assert not (tmp_path / "out").exists()  # rendering writes nothing, not even a cache


def test_chart_options_are_part_of_the_key(logdir, tmp_path):
    cache = str(tmp_path / "cache")
    _, one = build_into(tmp_path, "a", logdir.path, "html", cache=cache)
    _, smoother = build_into(tmp_path, "b", logdir.path, "html", cache=cache, smoothing=0.9)
    # every scalar chart is drawn again; histograms and PR curves are as they were
    assert 0 < smoother.drawn < one.drawn
    _, svg = build_into(tmp_path, "c", logdir.path, "html", cache=cache, image_format="svg")
    assert svg.drawn == one.drawn
    _, back = build_into(tmp_path, "d", logdir.path, "html", cache=cache)
    assert back.drawn == 0


def test_unchanged_output_files_are_not_rewritten(logdir, tmp_path):
    cache = str(tmp_path / "cache")
    out, _ = build_into(tmp_path, "out", logdir.path, "jekyll", cache=cache)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    build_into(tmp_path, "out", logdir.path, "jekyll", cache=cache)
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    assert before == after


def test_cache_folder_made_private_and_only_there(logdir, tmp_path, monkeypatch):
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    before = set(tmp_path.iterdir())
    build_into(tmp_path, "out", logdir.path, "html")
    assert set(tmp_path.iterdir()) - before == {home, tmp_path / "out"}
    for folder in (home / "tbreport", home / "tbreport" / "decode", home / "tbreport" / "charts"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    mine = home / "tbreport"
    assert all(p.parent.parent == mine for p in mine.rglob("*") if p.is_file())
    # beside it, at most matplotlib's own font cache (it lives in $XDG_CACHE_HOME too)
    assert {p.name for p in home.iterdir()} <= {"tbreport", "matplotlib"}
    assert not list(home.rglob(".tmp-*"))  # no temporary file left behind
    (home / "other").mkdir()
    build_into(tmp_path, "out2", logdir.path, "html", no_cache=True)
    assert {p.name for p in home.iterdir()} - {"matplotlib"} == {"other", "tbreport"}


def test_leftovers_of_a_killed_build_are_removed(logdir, tmp_path):
    cache = tmp_path / "cache"
    build_into(tmp_path, "a", logdir.path, "html", cache=str(cache))
    old = cache / "decode" / ".tmp-killed.part"
    young = cache / "charts" / ".tmp-writing.part"
    for path in (old, young):
        path.write_bytes(b"half an entry")
    os.utime(old, (1e9, 1e9))
    build_into(tmp_path, "b", logdir.path, "html", cache=str(cache))
    assert not old.exists() and young.exists()


def test_unusable_cache_folder_is_a_warning(logdir, tmp_path):
    ref, _ = build_into(tmp_path, "ref", logdir.path, "html", no_cache=True)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for cache in (blocker, blocker / "below"):
        out, result = build_into(
            tmp_path, f"out-{cache.name}", logdir.path, "html", cache=str(cache)
        )
        same_tree(ref, out)
        (warning,) = [w for w in result.warnings if w.kind == "cache-unusable"]
        assert str(cache) in warning.message and "--no-cache" in warning.message
        assert "cache-unusable" not in [w.kind for w in result.report.warnings]
    assert blocker.read_text() == "not a folder"
    done = CliRunner().invoke(
        main,
        ["build", str(logdir.path), "--out", str(tmp_path / "cli"), "--cache", str(blocker),
         "--date", "2021-05-24 20:41:00 -0400", "--jobs", "1"],
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert f"warning: Cannot use the cache folder '{blocker}'" in done.stderr


def test_concurrent_builds_share_a_cache(logdir, tmp_path):
    ref, _ = build_into(tmp_path, "ref", logdir.path, "html", no_cache=True)
    cache = tmp_path / "cache"
    logdir.close()  # no writer thread left when the builds fork
    flags = ["--cache", str(cache), "--quiet", "--jobs", "1", "--date", DATE]
    procs = [
        build_in_new_process(
            ["build", str(logdir.path), "--out", str(tmp_path / f"out{i}"), *flags]
        )
        for i in range(3)
    ]
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0  # its traceback is in this test's captured stderr
    for i in range(3):
        same_tree(ref, tmp_path / f"out{i}")
    out, result = build_into(tmp_path, "after", logdir.path, "html", cache=str(cache))
    same_tree(ref, out)
    assert set(result.read_outcomes.values()) == {"unchanged"} and result.drawn == 0
    assert not list(cache.rglob(".tmp-*"))


def test_ls_and_export_read_through_the_cache(logdir, tmp_path):
    cache = tmp_path / "cache"
    runner = CliRunner()
    plain = runner.invoke(main, ["ls", str(logdir.path), "--json", "--no-cache"])
    assert plain.exit_code == 0 and not cache.exists()
    first = runner.invoke(main, ["ls", str(logdir.path), "--json", "--cache", str(cache)])
    assert first.output == plain.output and list((cache / "decode").glob("*.tbc"))
    again = runner.invoke(main, ["ls", str(logdir.path), "--json", "--cache", str(cache)])
    assert again.output == plain.output
    csv = runner.invoke(main, ["export", str(logdir.path), "--no-cache"])
    cached = runner.invoke(main, ["export", str(logdir.path), "--cache", str(cache)])
    assert cached.exit_code == 0 and cached.output == csv.output


def test_compiled_templates_are_kept_and_damaged_ones_compiled_again(tmp_path):
    """A new process takes Jinja's compiled templates from the cache folder (they are not
    written again); a damaged or foreign one is never loaded: compiled anew and rewritten,
    the output the same bytes."""
    cache = tmp_path / "cache"

    def build_in_process(name: str) -> Path:
        out = tmp_path / name
        proc = build_in_new_process(
            ["build", str(fixture_logdir("quickstart")), "--out", str(out), "--cache", str(cache),
             "--date", "2021-05-24 20:41:00 -0400", "--quiet"]
        )  # fmt: skip
        proc.join(timeout=300)
        assert proc.exitcode == 0  # its traceback is in this test's captured stderr
        return out

    first = build_in_process("first")
    compiled = sorted((cache / "templates").glob("*.jinja"))
    assert len(compiled) >= 3  # the report and the templates it includes
    stamps = {p: p.stat().st_mtime_ns for p in compiled}
    same_tree(first, build_in_process("warm"))
    assert {p: p.stat().st_mtime_ns for p in compiled} == stamps  # loaded, not compiled again

    good = compiled[0].read_bytes()
    flipped = bytearray(good)
    flipped[-3] ^= 0xFF  # the payload no longer matches its digest
    compiled[0].write_bytes(bytes(flipped))
    compiled[1].write_bytes(b"TBRJINJA1\n" + b"\0" * 32 + b"not marshalled code")
    same_tree(first, build_in_process("damaged"))
    assert compiled[0].read_bytes() == good  # compiled again and rewritten whole
    assert (
        compiled[1].read_bytes().startswith(b"TBRJINJA1\n") and len(compiled[1].read_bytes()) > 100
    )


def test_tiny_files_are_not_kept_in_the_disk_cache(logdir, tmp_path, monkeypatch, torch_writer):
    """At the default size floor, a sweep's tiny event files are decoded each time (faster than
    their entries load) and larger ones are kept; the report is the same either way."""
    monkeypatch.delenv("TBREPORT_CACHE_MIN_SIZE")
    from tbreport.read.cache import MIN_SIZE

    big = torch_writer("run_big")
    for step in range(2000):  # ~60 kB of scalar records
        big.add_scalar("loss", 1.0 / (step + 1), step)
    big.flush()
    sizes = {p: p.stat().st_size for p in logdir.path.rglob("events.out.tfevents.*")}
    assert any(s < MIN_SIZE for s in sizes.values()) and any(s >= MIN_SIZE for s in sizes.values())

    cache = tmp_path / "cache"
    ref, _ = build_into(tmp_path, "ref", logdir.path, "html", no_cache=True)
    first, one = build_into(tmp_path, "first", logdir.path, "html", cache=str(cache))
    warm, two = build_into(tmp_path, "warm", logdir.path, "html", cache=str(cache))
    same_tree(ref, first)
    same_tree(ref, warm)
    for path, size in sizes.items():
        assert one.read_outcomes[str(path)] == ("small" if size < MIN_SIZE else "new")
        assert two.read_outcomes[str(path)] == ("small" if size < MIN_SIZE else "unchanged")
    assert len(list((cache / "decode").glob("*.tbc"))) == sum(s >= MIN_SIZE for s in sizes.values())
