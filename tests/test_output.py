"""The write stage: nothing written or deleted outside --out, edits kept, builds take turns,
and a clear error (exit code 2) with the previous output intact when the folder cannot be
written."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport import output
from tbreport.cli import main
from tbreport.options import make_options
from tbreport.output import MANIFEST, OutputError, OutputFile, write_files

DATE = "2021-05-24 20:41:00 -0400"
ROOT = Path(__file__).resolve().parents[1]


def _build(out: Path, *args: str):
    """tbreport build of the quick-start runs into ``out``, through the command line."""
    argv = ["build", str(fixture_logdir("quickstart")), "--out", str(out), "-q", "--date", DATE]
    return CliRunner().invoke(main, [*argv, *args])


def _tree(root: Path) -> dict[str, bytes]:
    """Every file below root (links as their target's name), to compare before and after."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(root))] = os.readlink(path).encode()
        elif path.is_file():
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


def _manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST).read_text())["reports"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- nothing outside --out ------------------------------------------------------------------


def test_symlinked_folder_in_out_is_refused_before_anything_is_written(tmp_path):
    out, elsewhere = tmp_path / "blog", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "assets").symlink_to(elsewhere)
    result = _build(out, "--format", "jekyll")
    assert result.exit_code == 2, result.output
    assert f"'{out / 'assets'}' is a symbolic link (to '{elsewhere}')" in result.output
    assert "Replace the link with a real folder" in result.output
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == ["assets"]  # no post, no manifest


def test_planted_manifest_temp_link_is_not_followed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / f"{MANIFEST}.tmp").symlink_to(victim)
    write_files(out, [OutputFile("index.html", b"<p>report</p>")])
    assert victim.read_text() == "precious"
    assert _manifest(out) == {"report": {"index.html": _sha(b"<p>report</p>")}}
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, f"{MANIFEST}.tmp", "index.html"]


def test_stale_entry_through_a_linked_folder_deletes_nothing_outside(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_bytes(b"secret")
    write_files(out, [OutputFile("index.html", b"one")])
    (out / "lnk").symlink_to(outside)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["reports"]["report"]["lnk/victim.txt"] = _sha(b"secret")  # planted
    (out / MANIFEST).write_text(json.dumps(manifest))
    write_files(out, [OutputFile("index.html", b"two")])
    assert victim.read_bytes() == b"secret" and (out / "lnk").is_symlink()
    assert _manifest(out) == {"report": {"index.html": _sha(b"two")}}


def test_stale_files_inside_out_are_still_removed_with_their_empty_folders(tmp_path):
    out = tmp_path / "out"
    write_files(out, [OutputFile("a/b/old.png", b"old"), OutputFile("index.html", b"1")])
    (out / "a" / "mine.txt").write_text("mine")
    write_files(out, [OutputFile("index.html", b"2")])
    assert sorted(_tree(out)) == [MANIFEST, "a/mine.txt", "index.html"]


def test_a_file_where_a_folder_is_needed_is_a_clear_error(tmp_path):
    out = tmp_path / "out"
    write_files(out, [OutputFile("index.html", b"1")])
    (out / "assets").write_text("not a folder")
    before = _tree(out)
    with pytest.raises(OutputError, match="is a file where tbreport needs a folder") as err:
        write_files(out, [OutputFile("index.html", b"2"), OutputFile("assets/x.png", b"x")])
    assert f"'{out / 'assets'}'" in str(err.value)
    assert _tree(out) == before


# --- the user's edits -----------------------------------------------------------------------


def test_edited_post_is_kept_and_force_replaces_it(tmp_path):
    out = tmp_path / "blog"
    assert _build(out, "--format", "jekyll").exit_code == 0
    (post,) = (out / "_posts").iterdir()
    post.write_text(post.read_text() + "\nMy own conclusion.\n")
    before = _tree(out)
    result = _build(out, "--format", "jekyll", "--smoothing", "0.3")
    assert result.exit_code == 2, result.output
    assert f"'{post}' was changed after tbreport wrote it; keeping your version." in result.output
    assert "Pass --force to replace it, or move your edit into a source file or template" in (
        result.output
    )
    assert _tree(out) == before  # the charts were not redrawn into place either
    forced = _build(out, "--format", "jekyll", "--smoothing", "0.3", "--force")
    assert forced.exit_code == 0, forced.output
    assert "My own conclusion." not in post.read_text()
    assert _manifest(out)[f"post:{post.stem[11:]}"][f"_posts/{post.name}"] == _sha(
        post.read_bytes()
    )


def test_force_never_replaces_a_file_tbreport_did_not_write(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("my page")
    with pytest.raises(OutputError, match="was not written by tbreport"):
        write_files(out, [OutputFile("index.html", b"report")], force=True)
    assert (out / "index.html").read_text() == "my page"


def test_force_is_a_config_setting(tmp_path):
    assert make_options({}, {"force": True}, "tbreport.toml").force is True
    assert make_options({}, {}, None).force is False


# --- builds into one folder at the same time -------------------------------------------------

_WRITER = """
import sys
from pathlib import Path
from tbreport.output import OutputFile, write_files
out, name = Path(sys.argv[1]), sys.argv[2]
for i in range(40):
    write_files(out, [OutputFile(f"{name}/page.html", f"{name} {i}".encode())], manifest_key=name)
"""


def test_concurrent_builds_keep_both_manifest_entries(tmp_path):
    out = tmp_path / "shared"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(out), name],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert _manifest(out) == {
        name: {f"{name}/page.html": _sha(f"{name} 39".encode())} for name in ("first", "second")
    }


@pytest.fixture
def locked(tmp_path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """An output folder that another build holds locked, and how to unlock it."""
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield out, lambda: fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def test_a_second_build_waits_for_the_first(locked):
    out, unlock = locked
    thread = threading.Thread(target=write_files, args=(out, [OutputFile("index.html", b"2")]))
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive() and list(out.iterdir()) == []
    unlock()
    thread.join(timeout=10)
    assert not thread.is_alive() and (out / "index.html").read_bytes() == b"2"


def test_a_build_waits_only_so_long(locked, monkeypatch):
    out, _ = locked
    monkeypatch.setattr(output, "LOCK_WAIT", 0.3)
    with pytest.raises(OutputError, match="Another tbreport build has been writing into") as err:
        write_files(out, [OutputFile("index.html", b"late")])
    assert f"'{out}'" in str(err.value) and "then build again" in str(err.value)
    assert list(out.iterdir()) == []


# --- clear errors, previous output intact ----------------------------------------------------


def test_out_that_is_a_file(tmp_path):
    out = tmp_path / "site"
    out.write_text("a file")
    result = _build(out)
    assert result.exit_code == 2, result.output
    assert f"Cannot use '{out}' as the output folder: '{out}' is not a folder." in result.output
    assert out.read_text() == "a file"


def test_out_below_a_file(tmp_path):
    blocker = tmp_path / "notes"
    blocker.write_text("a file")
    result = _build(blocker / "site")
    assert result.exit_code == 2, result.output
    assert f"'{blocker}' is not a folder. Choose another --out folder" in result.output
    assert blocker.read_text() == "a file"


def test_manifest_that_is_a_folder(tmp_path):
    out = tmp_path / "out"
    write_files(out, [OutputFile("index.html", b"1")])
    (out / MANIFEST).unlink()
    (out / MANIFEST).mkdir()
    result = _build(out)
    assert result.exit_code == 2, result.output
    assert f"'{out / MANIFEST}' is a folder, but tbreport keeps the list" in result.output
    assert (out / "index.html").read_bytes() == b"1"


def test_manifest_nested_absurdly_deep(tmp_path):
    out = tmp_path / "out"
    write_files(out, [OutputFile("index.html", b"1")])
    (out / MANIFEST).write_text("[" * 100_000 + "]" * 100_000)
    before = _tree(out)
    result = _build(out)
    assert result.exit_code == 2, result.output
    assert f"'{out / MANIFEST}' is damaged." in result.output
    assert _tree(out) == before


@pytest.fixture
def tiny_fs(tmp_path) -> Iterator[Path]:
    """A real 64 KiB tmpfs (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "fs"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_keeps_the_previous_output(tiny_fs):
    out = tiny_fs / "site"
    write_files(out, [OutputFile("index.html", b"old"), OutputFile("old.png", b"png")])
    before = _tree(out)
    with pytest.raises(OutputError, match="no space left on the disk") as err:
        write_files(out, [OutputFile("index.html", b"new"), OutputFile("big.png", b"x" * 99_000)])
    assert f"Cannot write '{out / 'big.png'}'" in str(err.value)
    assert _tree(out) == before  # no temporary file left, old.png not removed
    result = _build(out)  # the real report does not fit either
    assert result.exit_code == 2, result.output
    assert f"Cannot write '{out / 'index.html'}': no space left" in result.output
    assert _tree(out) == before


def test_read_only_file_system_keeps_the_previous_output(tiny_fs):
    out = tiny_fs / "site"
    write_files(out, [OutputFile("index.html", b"old")])
    before = _tree(out)
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    result = _build(out)
    assert result.exit_code == 2, result.output
    assert f"Cannot write '{out / 'index.html'}': the file system is read-only." in result.output
    assert _tree(out) == before
