"""Publish stage with real git: a user checkout with pending changes and a local bare remote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tbreport.errors import StrictModeError
from tbreport.options import _base_url
from tbreport.publish import (
    DEFAULT_MESSAGE,
    ForeignFilesError,
    NoRemoteError,
    NotAGitRepositoryError,
    NothingToPublishError,
    PublishError,
    PublishResult,
    PublishStrictError,
    PushRejectedError,
    describe,
    git_refuses,
    normalise_cname,
    normalise_prefix,
    pages_url,
    publish,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))  # not a valid image; bytes must survive exactly


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config, no GIT_* variables, no repository above tmp_path."""
    for name in list(os.environ):
        if name.startswith("GIT_") or name == "EMAIL":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def make_user_repo(tmp_path: Path, *, identity: bool = True, remote: bool = True) -> Path:
    """A checkout on main with one commit, an unstaged change and a staged change."""
    user = tmp_path / "user"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", str(user))
    who = ["-c", "user.name=Setup", "-c", "user.email=setup@example.com"]
    if identity:
        git(user, "config", "user.name", "Ada Lovelace")
        git(user, "config", "user.email", "ada@example.com")
    (user / "README.md").write_text("# runs\n")
    (user / "train.py").write_text("print('train')\n")
    git(user, "add", ".")
    git(user, *who, "commit", "-q", "-m", "start")
    (user / "README.md").write_text("# runs\n\nwork in progress\n")  # unstaged
    (user / "train.py").write_text("print('train harder')\n")
    (user / "notes.txt").write_text("staged\n")
    git(user, "add", "train.py", "notes.txt")  # staged
    if remote:
        bare = tmp_path / "remote.git"
        git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(bare))
        git(user, "remote", "add", "origin", str(bare))
    return user


def write_files(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
    return root


def html_site(root: Path, extra: dict[str, bytes | str] | None = None) -> Path:
    """What tbreport build --format html leaves: index.html, assets, the manifest."""
    files: dict[str, bytes | str] = {
        "index.html": "<!doctype html><title>report</title>",
        "assets/x.png": PNG,
        ".tbreport-manifest.json": '{"tool": "tbreport", "files": {}}\n',
    }
    return write_files(root, {**files, **(extra or {})})


def jekyll_site(root: Path) -> Path:
    return write_files(
        root,
        {
            "_config.yml": 'title: "Reports"\n',
            "_posts/2021-05-24-runs.md": '---\nlayout: "post"\n---\nHello.\n',
            "assets/images/runs/loss.png": PNG,
            "_site/index.html": "built by jekyll",
            ".jekyll-cache/Jekyll/cache": "cache",
            ".tbreport-manifest.json": "{}\n",
        },
    )


def tree(repo: Path, ref: str = "gh-pages") -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", ref).splitlines()


def blob(repo: Path, ref: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "blob", f"{ref}:{path}"], cwd=repo, check=True, capture_output=True
    ).stdout


def user_state(user: Path) -> dict[str, object]:
    """Everything publish must leave alone (the index file is compared separately)."""
    worktree = {
        str(p.relative_to(user)): p.read_bytes()
        for p in sorted(user.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(user).parts
    }
    return {
        "head": git(user, "rev-parse", "HEAD"),
        "branch": git(user, "symbolic-ref", "HEAD"),
        "main": git(user, "rev-parse", "refs/heads/main"),
        "status": git(user, "status", "--porcelain", "--untracked-files=all"),
        "cached": git(user, "diff", "--cached"),
        "diff": git(user, "diff"),
        "worktree": worktree,
    }


def test_html_site_is_published_to_the_remote_and_the_checkout_is_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user_repo(tmp_path)
    html_site(user / "site")
    monkeypatch.chdir(user)
    before = user_state(user)
    index_before = (user / ".git" / "index").read_bytes()

    result = publish("site/")

    assert (user / ".git" / "index").read_bytes() == index_before
    assert user_state(user) == before
    bare = tmp_path / "remote.git"
    assert tree(bare) == [".nojekyll", "assets/x.png", "index.html"]
    assert blob(bare, "gh-pages", "assets/x.png") == PNG
    assert blob(bare, "gh-pages", ".nojekyll") == b""
    assert git(bare, "rev-parse", "gh-pages") == git(user, "rev-parse", "gh-pages")
    assert result == PublishResult(
        commit=git(bare, "rev-parse", "gh-pages"),
        branch="gh-pages",
        url=None,
        files=2,
        pushed=True,
        remote="origin",
        changed=True,
    )
    log = git(bare, "log", "--format=%an <%ae>|%cn|%P|%s", "gh-pages")
    assert log == f"Ada Lovelace <ada@example.com>|Ada Lovelace||{DEFAULT_MESSAGE}"
    assert "not a GitHub remote" in describe(result)


def test_jekyll_source_is_published_as_is_and_replaces_an_html_site(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    first = publish(html_site(tmp_path / "html"), repo=user, message="html")
    assert ".nojekyll" in tree(user)

    second = publish(jekyll_site(tmp_path / "jekyll"), repo=user, message="jekyll")

    assert tree(tmp_path / "remote.git") == [
        "_config.yml",
        "_posts/2021-05-24-runs.md",
        "assets/images/runs/loss.png",
    ]
    assert second.files == 3
    assert git(user, "rev-parse", "gh-pages^") == first.commit


def test_second_publish_replaces_the_first(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    site = html_site(tmp_path / "site", {"old/page.html": "old"})
    first = publish(site, repo=user)
    assert "old/page.html" in tree(user)

    (site / "old" / "page.html").unlink()
    (site / "index.html").write_text("v2")
    second = publish(site, repo=user)

    bare = tmp_path / "remote.git"
    assert tree(bare) == [".nojekyll", "assets/x.png", "index.html"]
    assert blob(bare, "gh-pages", "index.html") == b"v2"
    assert git(bare, "rev-parse", "gh-pages^") == first.commit

    third = publish(site, repo=user)  # same content: no new commit
    assert (third.commit, third.changed) == (second.commit, False)
    assert git(bare, "rev-parse", "gh-pages") == second.commit
    assert describe(third).startswith("Nothing changed")


def test_prefix_replaces_only_its_folder(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    bare = tmp_path / "remote.git"
    publish(html_site(tmp_path / "root"), repo=user)
    publish(
        write_files(tmp_path / "a", {"index.html": "a", "a.png": PNG}), repo=user, prefix="pr/1"
    )
    publish(
        write_files(tmp_path / "b", {"index.html": "b", "b/c.txt": "c"}), repo=user, prefix="pr/2/"
    )
    pr2 = git(bare, "rev-parse", "gh-pages:pr/2")

    result = publish(write_files(tmp_path / "c", {"other.html": "c"}), repo=user, prefix="pr/1")

    assert tree(bare) == [
        ".nojekyll",
        "assets/x.png",
        "index.html",
        "pr/1/other.html",
        "pr/2/b/c.txt",
        "pr/2/index.html",
    ]
    assert git(bare, "rev-parse", "gh-pages:pr/2") == pr2
    assert blob(bare, "gh-pages", "index.html") == b"<!doctype html><title>report</title>"
    assert git(bare, "rev-list", "--count", "gh-pages") == "4"
    assert result.files == 1


def test_prefix_builds_on_the_remote_branch_when_the_local_one_is_missing_or_behind(
    tmp_path: Path,
) -> None:
    user = make_user_repo(tmp_path)
    bare = tmp_path / "remote.git"
    first = publish(html_site(tmp_path / "root"), repo=user)
    git(user, "branch", "-D", "gh-pages")

    publish(write_files(tmp_path / "a", {"index.html": "a"}), repo=user, prefix="pr/1")
    assert tree(bare) == [".nojekyll", "assets/x.png", "index.html", "pr/1/index.html"]
    assert git(bare, "rev-parse", "gh-pages^") == first.commit

    # someone else publishes on top; the local branch is now behind
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "--branch", "gh-pages", str(bare), str(other))
    (other / "extra.html").write_text("extra")
    git(other, "add", "extra.html")
    git(other, "-c", "user.name=Bob", "-c", "user.email=bob@example.com", "commit", "-qm", "x")
    git(other, "push", "-q", "origin", "gh-pages")

    result = publish(write_files(tmp_path / "b", {"index.html": "b"}), repo=user, prefix="pr/2")
    assert result.pushed
    assert "extra.html" in tree(bare)
    assert "pr/1/index.html" in tree(bare)
    assert git(bare, "rev-parse", "gh-pages^") == git(other, "rev-parse", "HEAD")


def push_by_hand(tmp_path: Path, files: dict[str, str], *, orphan: bool = False) -> str:
    """Someone else's commit on the remote gh-pages (no tbreport): its commit."""
    other = tmp_path / "other"
    bare = tmp_path / "remote.git"
    if not other.exists():
        git(tmp_path, "clone", "-q", str(bare), str(other))
    if orphan:
        git(other, "checkout", "-q", "--orphan", "gh-pages")
        git(other, "rm", "-rqf", "--ignore-unmatch", ".")
    else:
        git(other, "fetch", "-q", "origin")
        git(other, "checkout", "-q", "-B", "gh-pages", "origin/gh-pages")
    write_files(other, files)
    git(other, "add", ".")
    git(other, "-c", "user.name=Bob", "-c", "user.email=bob@example.com", "commit", "-qm", "bob")
    git(other, "push", "-q", "origin", "gh-pages")
    return git(other, "rev-parse", "HEAD")


def test_files_tbreport_did_not_publish_are_kept_and_never_overwritten(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    bare = tmp_path / "remote.git"
    # an unrelated gh-pages: the project's own pages
    push_by_hand(tmp_path, {"index.html": "docs", "guide/a.html": "a"}, orphan=True)
    # far down the history (past the first batch that publish reads), under empty commits
    other = tmp_path / "other"
    for n in range(70):
        git(other, "-c", "user.name=Bob", "-c", "user.email=b@example.com", "commit", "-q",
            "--allow-empty", "-m", f"empty {n}\n\nPublished-by: tbreport")  # fmt: skip
    git(other, "push", "-q", "origin", "gh-pages")
    theirs = git(other, "rev-parse", "HEAD")
    site = html_site(tmp_path / "site")
    with pytest.raises(ForeignFilesError) as err:
        publish(site, repo=user)
    assert str(err.value.message) == (
        "Branch 'gh-pages' holds 1 file(s) that tbreport did not publish and this site would "
        "replace: 'index.html'. tbreport never overwrites them: publish into a folder of the "
        "branch (--prefix NAME) or to another branch (--branch NAME), or remove them from the "
        "branch first."
    )
    assert git(bare, "rev-parse", "gh-pages") == theirs
    assert git(user, "branch", "--list", "gh-pages") == ""

    publish(site, repo=user, prefix="reports")
    assert blob(bare, "gh-pages", "index.html") == b"docs"
    # a file pushed by hand into tbreport's folder (the remote branch moved): kept, while
    # tbreport's own file that the new site lacks goes
    push_by_hand(tmp_path, {"reports/notes.html": "mine"})
    (site / "assets" / "x.png").unlink()
    (site / "new.html").write_text("new")
    publish(site, repo=user, prefix="reports")
    assert tree(bare) == [
        ".nojekyll", "guide/a.html", "index.html",
        "reports/index.html", "reports/new.html", "reports/notes.html",
    ]  # fmt: skip
    assert blob(bare, "gh-pages", "reports/notes.html") == b"mine"
    # ...and one that the site would overwrite, or a file where the site has a folder
    cases = [("reports/new.html", "new.html"), ("reports/sub", "sub/x.html")]
    cases.append(("reports/e\x1b[2J.html", "e\x1b[2J.html"))  # shown escaped, not obeyed
    for hand, built in cases:
        push_by_hand(tmp_path, {hand: "by hand"})
        write_files(site, {built: "built"})
        before = git(bare, "rev-parse", "gh-pages")
        with pytest.raises(ForeignFilesError) as err:
            publish(site, repo=user, prefix="reports")
        assert repr(hand) in err.value.message and "\x1b" not in err.value.message
        assert git(bare, "rev-parse", "gh-pages") == before
    # tbreport's commits say so in a trailer (the subject stays the message)
    log = git(
        bare, "log", "-1", "--format=%s|%(trailers:key=Published-by,valueonly)", user_tip(user)
    )
    assert log == f"{DEFAULT_MESSAGE}|tbreport"


@pytest.mark.parametrize("message", ["", " \n "])
def test_an_empty_message_is_refused(tmp_path: Path, message: str) -> None:
    # the trailer would become the subject, and the commit no longer tbreport's
    user = make_user_repo(tmp_path)
    with pytest.raises(PublishError, match=r"^Empty --message: a commit needs one"):
        publish(html_site(tmp_path / "site"), repo=user, message=message)
    assert git(user, "branch", "--list", "gh-pages") == ""


def user_tip(user: Path) -> str:
    return git(user, "rev-parse", "gh-pages")


def test_cname_sets_the_url_and_survives_later_publishes(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    bare = tmp_path / "remote.git"
    site = html_site(tmp_path / "site")

    result = publish(site, repo=user, cname="Reports.Example.com")
    assert result.url == "https://reports.example.com/"
    assert blob(bare, "gh-pages", "CNAME") == b"reports.example.com\n"

    result = publish(write_files(tmp_path / "a", {"index.html": "a"}), repo=user, prefix="pr/7")
    assert result.url == "https://reports.example.com/pr/7/"

    (site / "index.html").write_text("v2")
    result = publish(site, repo=user)  # a full replace keeps the custom domain
    assert "CNAME" in tree(bare)
    assert result.url == "https://reports.example.com/"

    write_files(site, {"CNAME": "docs.example.org\n"})  # a CNAME in the site wins
    result = publish(site, repo=user)
    assert result.url == "https://docs.example.org/"


def test_url_comes_from_a_github_remote(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path, remote=False)
    git(user, "remote", "add", "github", "git@github.com:Ada/tb-runs.git")
    site = html_site(tmp_path / "site")

    result = publish(site, repo=user, remote="github", prefix="pr/3", push=False)

    assert result.url == "https://ada.github.io/tb-runs/pr/3/"
    assert not result.pushed
    text = describe(result)
    assert "git push github gh-pages" in text
    assert "https://ada.github.io/tb-runs/pr/3/" in text


@pytest.mark.parametrize(
    ("remote_url", "expected"),
    [
        ("git@github.com:OWNER/REPO.git", "https://owner.github.io/REPO/"),
        ("git@github.com:owner/repo", "https://owner.github.io/repo/"),
        ("https://github.com/owner/repo.git", "https://owner.github.io/repo/"),
        ("https://github.com/owner/repo", "https://owner.github.io/repo/"),
        ("https://github.com/owner/repo/", "https://owner.github.io/repo/"),
        ("https://x-access-token:abc@github.com/owner/repo.git", "https://owner.github.io/repo/"),
        ("ssh://git@github.com/owner/repo", "https://owner.github.io/repo/"),
        ("ssh://git@github.com:22/owner/repo.git", "https://owner.github.io/repo/"),
        ("git@github.com:Owner/owner.github.io.git", "https://owner.github.io/"),
        ("https://github.com/owner/Owner.GitHub.io", "https://owner.github.io/"),
        ("/srv/git/remote.git", None),
        ("https://gitlab.com/owner/repo.git", None),
        ("https://github.com/owner/repo/tree/main", None),
        ("https://github.com.evil.example/owner/repo", None),
    ],
)
def test_pages_url_from_remote_urls(remote_url: str, expected: str | None) -> None:
    assert pages_url(remote_url) == expected


def test_pages_url_with_prefix_and_cname() -> None:
    assert pages_url("git@github.com:o/r.git", prefix="pr/1") == "https://o.github.io/r/pr/1/"
    assert pages_url(None, cname="a.example.com") == "https://a.example.com/"
    assert pages_url("/srv/x.git", cname="a.example.com", prefix="p") == "https://a.example.com/p/"
    assert pages_url(None) is None
    # a folder name that is not URL-safe is percent-encoded: the URL still names the folder,
    # and is one that --image-base-url takes (the action points the summary's images there)
    url = pages_url("git@github.com:o/r.git", prefix="pr/#1 ü?%")
    assert url == "https://o.github.io/r/pr/%231%20%C3%BC%3F%25/"
    assert _base_url(f"{url}summary/", "--image-base-url") == f"{url}summary/"


@pytest.mark.parametrize(("given", "clean"), [("pr/123", "pr/123"), ("pr/1/", "pr/1"), ("x", "x")])
def test_normalise_prefix_accepts_relative_folders(given: str, clean: str) -> None:
    assert normalise_prefix(given) == clean


@pytest.mark.parametrize(
    "bad",
    [
        *("", "/", "/pr/1", "../pr", "pr/../x", "pr//1", "./pr", ".", "a\\b", ".git/x"),
        *(".GIT", "pr/git~1", "pr/.git./x", "GIT~1 "),  # git would drop these paths
    ],
)
def test_normalise_prefix_rejects_unsafe_paths(bad: str) -> None:
    with pytest.raises(PublishError) as excinfo:
        normalise_prefix(bad)
    assert excinfo.value.message == (
        f"Bad --prefix '{bad}': give a relative folder like pr/123 "
        "(no leading '/', no empty, '.', '..' or '.git' parts)."
    )


def test_normalise_cname() -> None:
    assert normalise_cname(" Reports.Example.COM ") == "reports.example.com"
    with pytest.raises(PublishError, match="Bad --cname 'https://x.example.com/'"):
        normalise_cname("https://x.example.com/")


def test_error_not_a_git_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    html_site(plain / "site")
    with pytest.raises(NotAGitRepositoryError) as excinfo:
        publish(plain / "site", repo=str(plain))
    assert excinfo.value.message == (
        f"'{plain}' is not inside a git repository. Run tbreport publish from your project's "
        "checkout, or give --repo."
    )
    assert excinfo.value.exit_code == 2

    monkeypatch.chdir(plain)
    with pytest.raises(NotAGitRepositoryError, match="^'" + str(plain).replace("\\", "\\\\")):
        publish("site")


def test_error_no_such_remote(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path, remote=False)
    site = html_site(tmp_path / "site")
    with pytest.raises(NoRemoteError) as excinfo:
        publish(site, repo=user, remote="pages")
    assert excinfo.value.message == (
        "No git remote 'pages'. Add one with: git remote add pages URL, "
        "or pass --remote / --no-push."
    )
    assert git(user, "branch", "--list", "gh-pages") == ""
    assert publish(site, repo=user, remote="pages", push=False).pushed is False


@pytest.mark.parametrize("state", ["missing", "empty", "only-skipped"])
def test_error_nothing_to_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    user = make_user_repo(tmp_path)
    monkeypatch.chdir(user)
    if state != "missing":
        (user / "site").mkdir()
    if state == "only-skipped":
        write_files(user / "site", {".tbreport-manifest.json": "{}", "_site/index.html": "x"})
    with pytest.raises(NothingToPublishError) as excinfo:
        publish("site/")
    assert excinfo.value.message == (
        "Nothing to publish: 'site/' does not exist (or is empty). "
        "Build first: tbreport build runs/ --out site/"
    )
    assert git(user, "branch", "--list", "gh-pages") == ""


def test_rejected_push_is_an_error_and_restores_the_local_branch(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    bare = tmp_path / "remote.git"
    site = html_site(tmp_path / "site")
    first = publish(site, repo=user)

    # another clone replaces the remote gh-pages with an unrelated history
    other = tmp_path / "other"
    git(tmp_path, "-c", "init.defaultBranch=main", "clone", "-q", str(bare), str(other))
    git(other, "checkout", "-q", "--orphan", "unrelated")
    git(other, "rm", "-rqf", "--ignore-unmatch", ".")
    (other / "index.html").write_text("someone else")
    git(other, "add", "index.html")
    git(other, "-c", "user.name=Bob", "-c", "user.email=bob@example.com", "commit", "-qm", "x")
    git(other, "push", "-q", "--force", "origin", "unrelated:gh-pages")
    theirs = git(bare, "rev-parse", "gh-pages")
    before = user_state(user)

    (site / "index.html").write_text("v2")
    with pytest.raises(PushRejectedError) as excinfo:
        publish(site, repo=user)

    message = excinfo.value.message
    assert message.startswith(
        "git push of 'gh-pages' to 'origin' was rejected: "
        "! [rejected] gh-pages -> gh-pages (non-fast-forward). The local 'gh-pages' branch"
    )
    assert f"The local 'gh-pages' branch was left as it was (at {first.commit[:10]})" in message
    assert "git branch -f gh-pages origin/gh-pages" in message
    assert git(user, "rev-parse", "refs/heads/gh-pages") == first.commit
    assert git(bare, "rev-parse", "gh-pages") == theirs
    assert user_state(user) == before


def test_rejected_push_of_a_new_branch_removes_it_again(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    bare = tmp_path / "remote.git"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pages are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)

    with pytest.raises(PushRejectedError) as excinfo:
        publish(html_site(tmp_path / "site"), repo=user)
    assert "[remote rejected] gh-pages -> gh-pages (pre-receive hook declined)" in str(
        excinfo.value
    )
    assert "The local 'gh-pages' branch was left as it was (absent)" in str(excinfo.value)
    assert "If someone else published meanwhile, publish again." in str(excinfo.value)
    assert git(user, "branch", "--list", "gh-pages") == ""


def test_identity_falls_back_when_git_has_none(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path, identity=False)
    publish(html_site(tmp_path / "site"), repo=user)
    who = git(tmp_path / "remote.git", "log", "-1", "--format=%an <%ae>|%cn <%ce>", "gh-pages")
    fallback = "tbreport <tbreport@users.noreply.github.com>"
    assert who == f"{fallback}|{fallback}"


def test_a_checked_out_branch_is_never_moved(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    git(user, "worktree", "add", "-q", "-b", "gh-pages", str(tmp_path / "wt"))
    with pytest.raises(PublishError, match="^Branch 'gh-pages' is checked out in '"):
        publish(html_site(tmp_path / "site"), repo=user)
    with pytest.raises(PublishError, match="^Branch 'main' is checked out in '"):
        publish(html_site(tmp_path / "site"), repo=user, branch="main")


def test_nojekyll_only_for_html_and_never_over_a_jekyll_root(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    publish(jekyll_site(tmp_path / "jekyll"), repo=user, prefix="blog")
    assert ".nojekyll" not in tree(user)

    publish(jekyll_site(tmp_path / "jekyll"), repo=user)
    publish(html_site(tmp_path / "html"), repo=user, prefix="pr/1")
    # the root is a Jekyll site: a root .nojekyll would stop GitHub Pages building it
    assert tree(tmp_path / "remote.git") == [
        "_config.yml",
        "_posts/2021-05-24-runs.md",
        "assets/images/runs/loss.png",
        "pr/1/assets/x.png",
        "pr/1/index.html",
    ]


def test_manifests_are_never_published_at_any_depth(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    site = html_site(
        tmp_path / "site",
        {"summary/report.md": "# s\n", "summary/.tbreport-manifest.json": "{}\n"},
    )
    publish(site, repo=user, push=False)
    files = tree(user)
    assert "summary/report.md" in files
    assert not [f for f in files if f.endswith(".tbreport-manifest.json")]


def test_publish_command_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tbreport build, then tbreport publish --prefix from the checkout, as a user would."""
    from click.testing import CliRunner

    from tbreport.cli import main

    user = make_user_repo(tmp_path)
    monkeypatch.chdir(user)
    runs = Path(__file__).parent / "fixtures" / "logdirs" / "quickstart"
    built = CliRunner().invoke(main, ["build", str(runs), "--out", "site", "-q"])
    assert built.exit_code == 0, built.output
    before = user_state(user)
    result = CliRunner().invoke(main, ["publish", "site", "--prefix", "pr/5", "-m", "pr 5"])
    assert result.exit_code == 0, result.output
    assert "gh-pages" in result.output
    files = tree(tmp_path / "remote.git")
    assert files == [".nojekyll", "pr/5/index.html"]
    assert git(tmp_path / "remote.git", "log", "-1", "--format=%s", "gh-pages") == "pr 5"
    assert user_state(user) == before
    missing = CliRunner().invoke(main, ["publish", "nothing-here"])
    assert missing.exit_code == 2 and "Nothing to publish" in missing.output


# --- what the site folder may put on the branch --------------------------------------------

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- not for the web"


def all_objects(repo: Path) -> bytes:
    """The content of every object in a repository, reachable or not."""
    return subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=repo,
        check=True,
        capture_output=True,
    ).stdout


def hostile_site(tmp_path: Path) -> Path:
    """A site whose symlinks reach outside it, into its .git, to folders and to nothing."""
    outside = write_files(tmp_path / "outside", {"id_rsa": SECRET, "keys/id_ed25519": SECRET})
    site = html_site(tmp_path / "site", {".git/config": SECRET, "docs/page.html": "page"})
    links = {
        "passwd": "/etc/passwd",
        "key": str(outside / "id_rsa"),
        "keys": str(outside / "keys"),
        "docs/up": "../..",  # the folder holding the site
        "docs/sneaky.txt": "../.git/config",  # inside the site, but git never holds .git
        "latest.html": "index.html",
        "docs/logo.png": "../assets/x.png",
        "chain.html": "latest.html",
        "assets-too": "assets",
        "dangling": "nowhere",
        "loop": "loop",
    }
    for name, target in links.items():
        os.symlink(target, site / name)
    os.mkfifo(site / "docs" / "pipe")  # reading it would hang publish
    return site


def test_symlinks_are_published_only_as_files_inside_the_site(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    bare = tmp_path / "remote.git"

    result = publish(hostile_site(tmp_path), repo=user)

    assert tree(bare) == [
        ".nojekyll",
        "assets/x.png",
        "chain.html",
        "docs/logo.png",
        "docs/page.html",
        "index.html",
        "latest.html",
    ]
    for name in ("latest.html", "chain.html"):
        assert blob(bare, "gh-pages", name) == b"<!doctype html><title>report</title>"
    assert blob(bare, "gh-pages", "docs/logo.png") == PNG
    # published as files with the target's content, never as git symlinks (mode 120000)
    modes = {line.split()[0] for line in git(bare, "ls-tree", "-r", "gh-pages").splitlines()}
    assert modes == {"100644"}
    assert SECRET not in all_objects(bare) and SECRET not in all_objects(user)
    assert b"root:" not in all_objects(bare)  # nothing of /etc/passwd
    assert result.files == 6
    assert [(s.path, s.reason) for s in result.skipped] == [
        (".git", "git-refuses-name"),
        ("assets-too", "symlink-to-folder"),
        ("dangling", "broken-symlink"),
        ("docs/pipe", "not-a-file"),
        ("docs/sneaky.txt", "symlink-to-unpublished"),
        ("docs/up", "symlink-outside-site"),
        ("key", "symlink-outside-site"),
        ("keys", "symlink-outside-site"),
        ("loop", "broken-symlink"),
        ("passwd", "symlink-outside-site"),
    ]
    site = tmp_path / "site"
    assert [(w.kind, w.severity, w.path) for w in result.warnings] == [
        (s.reason, "warning" if s.reason == "symlink-outside-site" else "note", f"{site}/{s.path}")
        for s in result.skipped
    ]
    passwd = next(w for w in result.warnings if w.path == f"{site}/passwd")
    assert passwd.message == (
        f"Skipped '{site}/passwd': a symlink to '/etc/passwd', outside the site folder; only "
        "files inside it are published. Copy the file into the site if it belongs there."
    )


def test_strict_refuses_a_symlink_out_of_the_site_and_writes_nothing(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    site = html_site(tmp_path / "site")
    os.symlink("/etc/passwd", site / "passwd")
    os.symlink("index.html", site / "home.html")  # inside: fine even with --strict
    objects = all_objects(user)

    with pytest.raises(PublishStrictError) as excinfo:
        publish(site, repo=user, strict=True)

    assert isinstance(excinfo.value, StrictModeError) and excinfo.value.exit_code == 2
    assert excinfo.value.message == (
        "--strict: the site folder gave 1 warning(s); nothing was published.\n"
        f"  - Skipped '{site}/passwd': a symlink to '/etc/passwd', outside the site folder; "
        "only files inside it are published. Copy the file into the site if it belongs there."
    )
    assert git(user, "branch", "--list", "gh-pages") == ""
    assert git(tmp_path / "remote.git", "branch", "--list") == ""
    assert all_objects(user) == objects  # not even a blob was written

    (site / "passwd").unlink()
    result = publish(site, repo=user, strict=True)
    assert blob(tmp_path / "remote.git", "gh-pages", "home.html") == blob(
        tmp_path / "remote.git", "gh-pages", "index.html"
    )
    assert (result.files, result.skipped, result.warnings) == (3, (), ())


GIT_REFUSES = [
    *(".git", ".GIT", ".Git", "git~1", "GIT~1", ".git.", ".git ", ".git. .", "git~1.."),
    *(".git:stream", "git~1::$INDEX_ALLOCATION", "a\\.git", "a\\GIT~1 ", ".git\\x"),
    *(".g\u200cit", ".git\ufeff", "\u200d.GIT"),  # HFS+ ignores these code points
]
GIT_HOLDS = [
    *(".gitignore", ".gitx", ".git..x", "git~2", "git~10", " .git", "x.git", "a\\b", "a:b"),
    *(".gitmodules", "g\u200cit~1", ".g\u0131t", "\u212agit~1", "git", "~1", "..."),
]


@pytest.mark.parametrize("name", GIT_REFUSES + GIT_HOLDS)
def test_git_refuses_agrees_with_git_itself(tmp_path: Path, name: str) -> None:
    """Ask real git (NTFS and HFS+ protection on, as GitHub checks pushes) to hold the name."""
    repo = tmp_path / "r"
    git(tmp_path, "init", "-q", str(repo))
    oid = git(repo, "hash-object", "-w", "--stdin")
    env = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "index")}
    entries = "".join(f"100644 {oid}\t{path}\0" for path in (name, f"sub/{name}", "keep"))
    subprocess.run(
        ["git", "-c", "core.protectNTFS=true", "-c", "core.protectHFS=true"]
        + ["update-index", "-z", "--index-info"],
        cwd=repo,
        env=env,
        input=entries.encode(),
        check=True,
        capture_output=True,
    )
    held = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repo, env=env, check=True, capture_output=True
    ).stdout.decode()
    git_holds = sorted(held.split("\0")[:-1])
    assert git_holds == (["keep"] if name in GIT_REFUSES else sorted([name, f"sub/{name}", "keep"]))
    assert git_refuses(name) == (name in GIT_REFUSES)


def test_names_git_refuses_are_skipped_and_not_counted(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    refused = [".GIT", "git~1", ".git.", "GIT~1 ", ".g\u200cit", "a\\.git"]
    held = [".gitignore", ".gitx", "git~2", ".git..x"]
    site = html_site(
        tmp_path / "site",
        {
            **{name: f"file {name}" for name in refused + held},
            "sub/.git/config": SECRET,
            "sub/Git~1/HEAD": SECRET,
            "sub/page.html": "page",
        },
    )

    result = publish(site, repo=user)

    bare = tmp_path / "remote.git"
    assert tree(bare) == sorted([".nojekyll", "assets/x.png", "index.html", "sub/page.html", *held])
    assert blob(bare, "gh-pages", "git~2") == b"file git~2"
    assert SECRET not in all_objects(bare)
    assert result.files == 3 + len(held)
    assert sorted((s.path, s.reason) for s in result.skipped) == sorted(
        (path, "git-refuses-name") for path in [*refused, "sub/.git", "sub/Git~1"]
    )
    assert {w.severity for w in result.warnings} == {"note"}
    assert f"Skipped '{site}/sub/.git': git cannot hold a file or folder by this name." in [
        w.message for w in result.warnings
    ]


def test_site_that_only_holds_skipped_links_says_why(tmp_path: Path) -> None:
    user = make_user_repo(tmp_path)
    site = tmp_path / "site"
    site.mkdir()
    os.symlink("/etc/passwd", site / "passwd")
    with pytest.raises(NothingToPublishError) as excinfo:
        publish(site, repo=user)
    assert excinfo.value.message.endswith(
        f"--out {site}/\n  - Skipped '{site}/passwd': a symlink to '/etc/passwd', outside the "
        "site folder; only files inside it are published. Copy the file into the site if it "
        "belongs there."
    )


def test_publish_command_warns_on_stderr_and_strict_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tbreport.cli import main

    user = make_user_repo(tmp_path)
    site = html_site(user / "site")
    os.symlink("/etc/passwd", site / "passwd")
    os.symlink(".git", site / "git~1")
    monkeypatch.chdir(user)
    warning = (
        "warning: Skipped 'site/passwd': a symlink to '/etc/passwd', outside the site folder; "
        "only files inside it are published. Copy the file into the site if it belongs there."
    )

    strict = CliRunner().invoke(main, ["publish", "site", "--strict"])
    assert strict.exit_code == 2
    assert strict.stdout == ""
    assert strict.stderr == (
        "Error: --strict: the site folder gave 1 warning(s); nothing was published.\n"
        f"  - {warning.removeprefix('warning: ')}\n"
    )
    assert git(user, "branch", "--list", "gh-pages") == ""

    result = CliRunner().invoke(main, ["publish", "site"])
    assert result.exit_code == 0, result.output
    commit = git(tmp_path / "remote.git", "rev-parse", "gh-pages")
    assert result.stderr == (
        "note: Skipped 'site/git~1': git cannot hold a file or folder by this name.\n"
        + warning
        + "\n"
    )
    assert result.stdout.splitlines()[0] == (
        f"Published 2 file(s) to 'gh-pages' on 'origin' (commit {commit[:10]})."
    )

    # -q/--quiet: the warning (a file left out) only; no note, no summary
    for flag in ("-q", "--quiet"):
        (site / f"more{flag}.html").write_text("<p>more</p>")
        quiet = CliRunner().invoke(main, ["publish", "site", flag, "-m", f"quiet {flag}"])
        assert quiet.exit_code == 0, quiet.output
        assert (quiet.stdout, quiet.stderr) == ("", warning + "\n")
        assert git(tmp_path / "remote.git", "log", "-1", "--format=%s", "gh-pages") == (
            f"quiet {flag}"
        )
    as_json = CliRunner().invoke(main, ["publish", "site", "-q", "--json"])
    assert as_json.exit_code == 0 and as_json.stdout.startswith("{"), as_json.output


def test_publish_json_describes_the_published_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from tbreport.cli import main

    user = make_user_repo(tmp_path)
    bare = tmp_path / "remote.git"
    site = html_site(user / "site", {"docs/page.html": "page"})
    os.symlink("/etc/passwd", site / "passwd")
    os.symlink("../index.html", site / "docs" / "home.html")
    (site / ".GIT").write_text("x")
    monkeypatch.chdir(user)
    args = ["publish", "site", "--json", "--prefix", "pr/2", "--cname", "reports.example.com"]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout holds the one object and nothing else
    published = git(bare, "ls-tree", "-r", "--name-only", "gh-pages", "pr/2/").splitlines()
    assert published == [
        "pr/2/assets/x.png",
        "pr/2/docs/home.html",
        "pr/2/docs/page.html",
        "pr/2/index.html",
    ]
    assert data == {
        "branch": "gh-pages",
        "remote": "origin",
        "prefix": "pr/2",
        "commit": git(bare, "rev-parse", "gh-pages"),
        "changed": True,
        "pushed": True,
        "url": "https://reports.example.com/pr/2/",
        "files": len(published),
        "skipped": [
            {"path": ".GIT", "reason": "git-refuses-name"},
            {"path": "passwd", "reason": "symlink-outside-site"},
        ],
        "warnings": [
            {
                "kind": "git-refuses-name",
                "severity": "note",
                "message": "Skipped 'site/.GIT': git cannot hold a file or folder by this name.",
                "path": "site/.GIT",
                "offset": None,
                "run": None,
                "tag": None,
            },
            {
                "kind": "symlink-outside-site",
                "severity": "warning",
                "message": "Skipped 'site/passwd': a symlink to '/etc/passwd', outside the site "
                "folder; only files inside it are published. Copy the file into the site if it "
                "belongs there.",
                "path": "site/passwd",
                "offset": None,
                "run": None,
                "tag": None,
            },
        ],
    }
    assert git(bare, "show", "gh-pages:CNAME") == "reports.example.com"
    assert git(bare, "show", "gh-pages:pr/2/docs/home.html") == git(
        bare, "show", "gh-pages:pr/2/index.html"
    )
    assert result.stderr.count("\n") == 2  # the warnings are on stderr too, for people

    again = json.loads(CliRunner().invoke(main, args).stdout)
    assert (again["changed"], again["commit"]) == (False, data["commit"])

    git(user, "remote", "add", "github", "git@github.com:Ada/tb-runs.git")
    local = CliRunner().invoke(
        main, ["publish", "site", "--json", "--remote", "github", "--no-push", "--branch", "web"]
    )
    data = json.loads(local.stdout)
    assert (data["pushed"], data["url"], data["prefix"], data["branch"]) == (
        False,
        "https://ada.github.io/tb-runs/",
        None,
        "web",
    )
    assert data["commit"] == git(user, "rev-parse", "refs/heads/web")
    assert data["files"] == len(tree(user, "web")) - 1  # all but the .nojekyll publish adds


def test_a_folder_that_cannot_be_read_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """Folders nested past PATH_MAX cannot be listed, even by root: one warning, no traceback."""
    user = make_user_repo(tmp_path)
    site = html_site(tmp_path / "site")
    names = ["d" * 250] * 20  # 5,000 characters, deeper than PATH_MAX (4096)
    fd = os.open(site, os.O_RDONLY)
    try:
        for name in names:
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)

    result = publish(site, repo=user)

    assert tree(tmp_path / "remote.git") == [".nojekyll", "assets/x.png", "index.html"]
    [skipped] = result.skipped
    assert skipped.reason == "unreadable" and "/".join(names).startswith(skipped.path)
    [warning] = result.warnings
    assert warning.severity == "warning"
    assert warning.message.endswith("': cannot read it (File name too long).")
    with pytest.raises(PublishStrictError):
        publish(site, repo=user, strict=True)
