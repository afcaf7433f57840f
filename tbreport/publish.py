"""Publish stage: a built site folder in, a commit on the gh-pages branch (pushed) out.

Uses git plumbing with a temporary index, so the user's working tree, index and HEAD are never
touched. Returns a PublishResult naming the commit and the URL where the report will appear.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tbreport.errors import StrictModeError, TbreportError
from tbreport.model import NOTE, WARNING, DataWarning
from tbreport.output import MANIFEST

DEFAULT_MESSAGE = "Publish report with tbreport"
#: the trailer of tbreport's commits: the files such a commit wrote are tbreport's to replace
TRAILER_KEY, TRAILER_VALUE = "Published-by", "tbreport"
FALLBACK_NAME = "tbreport"
FALLBACK_EMAIL = "tbreport@users.noreply.github.com"

# Jekyll's build output and caches never go on the branch (nor, at any depth, the manifest)
_SKIP_AT_ROOT = frozenset({"_site", ".jekyll-cache"})
# HFS+ ignores these code points in names, so ".g\u200cit" is ".git" on a Mac (git's utf8.c)
_HFS_IGNORED = dict.fromkeys(
    [*range(0x200C, 0x2010), *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF]
)
# NTFS: ".git" or its short name "git~1", then only dots and spaces, or an ":alternate stream"
_NTFS_DOTGIT = re.compile(r"(?:\.git|git~1)[. ]*(?::.*)?", re.IGNORECASE | re.ASCII | re.DOTALL)
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_GITHUB = re.compile(
    r"""^(?:
        (?:https?|git|ssh|git\+ssh)://(?:[^@/]+@)?(?:www\.)?github\.com(?::\d+)?/
      | (?:[^@/]+@)?github\.com:
    )
    (?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/(?P<repo>[A-Za-z0-9._-]+?)
    (?:\.git)?/?$""",
    re.VERBOSE | re.IGNORECASE,
)


class PublishError(TbreportError):
    """The site cannot be published as asked."""


class NotAGitRepositoryError(PublishError):
    """Publishing needs a git repository and the folder is not in one."""


class NoRemoteError(PublishError):
    """The remote to push to is not configured."""


class NothingToPublishError(PublishError):
    """The site folder is missing or holds no files."""


class ForeignFilesError(PublishError):
    """The branch holds files tbreport did not publish that publishing would replace."""


class PushRejectedError(PublishError):
    """git push failed; the local branch was restored."""


class PublishStrictError(PublishError, StrictModeError):
    """--strict was given and the site folder held something that was skipped with a warning."""


class GitCommandError(subprocess.CalledProcessError):
    """A git command failed for a reason that is not the user's to fix: shows git's stderr."""

    def __str__(self) -> str:
        stderr = self.stderr.decode(errors="replace").strip() if self.stderr else ""
        return f"{super().__str__()}\n{stderr}" if stderr else super().__str__()


@dataclass(frozen=True)
class Skipped:
    """A file or folder of the site that was not published; a folder stands for all below it."""

    path: str  # relative to the site folder, '/'-separated
    reason: str  # a stable code, listed in docs/json.md


@dataclass(frozen=True)
class SiteFiles:
    """What a site folder holds for the branch: (branch path, file to read) pairs, and the rest."""

    files: tuple[tuple[str, Path], ...]
    skipped: tuple[Skipped, ...]
    warnings: tuple[DataWarning, ...]


@dataclass(frozen=True)
class PublishResult:
    """What publish did: the branch commit, where the report will appear (None if unknown)."""

    commit: str
    branch: str
    url: str | None
    files: int  # files taken from the site folder
    pushed: bool
    remote: str
    changed: bool  # False when the branch already held exactly this content
    prefix: str | None = None
    skipped: tuple[Skipped, ...] = ()
    warnings: tuple[DataWarning, ...] = ()


@dataclass(frozen=True)
class _Git:
    """Runs git in one repository with a fixed environment."""

    cwd: Path
    env: Mapping[str, str]

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {**self.env, **(env or {})}
        proc = subprocess.run(
            ["git", *args], cwd=self.cwd, env=full_env, input=input, capture_output=True
        )
        if check and proc.returncode != 0:
            raise GitCommandError(proc.returncode, ["git", *args], proc.stdout, proc.stderr)
        return proc

    def out(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        return self.run(*args, input=input, env=env).stdout.decode(errors="surrogateescape").strip()

    def rev(self, name: str) -> str | None:
        """The commit a name points to, or None when it does not exist."""
        proc = self.run("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def is_ancestor(self, older: str, newer: str) -> bool:
        proc = self.run("merge-base", "--is-ancestor", older, newer, check=False)
        if proc.returncode not in (0, 1):
            raise GitCommandError(proc.returncode, proc.args, proc.stdout, proc.stderr)
        return proc.returncode == 0


def git_refuses(name: str) -> bool:
    """True when git will not hold a file or folder by this name (one path component).

    git's own rule (verify_path in read-cache.c, is_ntfs_dotgit and is_hfs_dotgit in path.c),
    with both core.protectNTFS and core.protectHFS on, as GitHub's fsck checks pushes.
    """
    if name in ("", ".", ".."):
        return True
    hfs = name.translate(_HFS_IGNORED)
    if hfs.isascii() and hfs.lower() == ".git":
        return True
    # NTFS splits at backslashes: every piece is checked
    return any(_NTFS_DOTGIT.fullmatch(piece) for piece in name.split("\\"))


def normalise_prefix(prefix: str) -> str:
    """A --prefix as a clean relative POSIX folder ('pr/123/' -> 'pr/123'), or PublishError."""
    cleaned = prefix.strip().rstrip("/")
    parts = cleaned.split("/")
    if (
        not cleaned
        or prefix.strip().startswith("/")
        or "\\" in cleaned
        or any(git_refuses(part) for part in parts)
        or any(ord(ch) < 32 for ch in cleaned)
    ):
        raise PublishError(
            f"Bad --prefix '{prefix}': give a relative folder like pr/123 "
            "(no leading '/', no empty, '.', '..' or '.git' parts)."
        )
    return cleaned


def normalise_cname(cname: str) -> str:
    """A --cname as a lower-case domain name, or PublishError."""
    domain = cname.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise PublishError(
            f"Bad --cname '{cname}': give a domain name like reports.example.com "
            "(no https://, no path)."
        )
    return domain


def pages_url(
    remote_url: str | None, *, cname: str | None = None, prefix: str | None = None
) -> str | None:
    """The GitHub Pages URL for a remote URL (or a custom domain), None when it is unknown."""
    if cname:
        base = f"https://{cname}/"
    else:
        match = _GITHUB.match(remote_url.strip()) if remote_url else None
        if match is None:
            return None
        owner, repo = match["owner"].lower(), match["repo"]
        if repo.lower() == f"{owner}.github.io":
            base = f"https://{owner}.github.io/"
        else:
            base = f"https://{owner}.github.io/{repo}/"
    # the folder as a URL path: "pr/#1" is /pr/%231/, not a fragment; spaces, "?", "%" too
    return f"{base}{quote(prefix, safe='/')}/" if prefix else base


def describe(result: PublishResult) -> str:
    """The lines the CLI prints after publishing."""
    short = result.commit[:10]
    if not result.changed:
        head = (
            f"Nothing changed: branch '{result.branch}' already holds this site (commit {short})."
        )
    elif result.pushed:
        head = (
            f"Published {result.files} file(s) to '{result.branch}' on '{result.remote}' "
            f"(commit {short})."
        )
    else:
        head = f"Committed {result.files} file(s) to local branch '{result.branch}' ({short})."
    lines = [head]
    if not result.pushed:
        lines.append(f"Not pushed. Push it with: git push {result.remote} {result.branch}")
    if result.url:
        lines.append(
            f"The report will appear at {result.url} (GitHub Pages takes a minute or two)."
        )
    else:
        lines.append(
            f"The report URL is unknown: '{result.remote}' is not a GitHub remote. "
            f"Branch '{result.branch}', commit {result.commit}."
        )
    return "\n".join(lines)


def to_json(result: PublishResult) -> str:
    """What publish --json prints: one object, described in docs/json.md."""
    data = {
        "branch": result.branch,
        "remote": result.remote,
        "prefix": result.prefix,
        "commit": result.commit,
        "changed": result.changed,
        "pushed": result.pushed,
        "url": result.url,
        "files": result.files,
        "skipped": [dataclasses.asdict(s) for s in result.skipped],
        "warnings": [dataclasses.asdict(w) for w in result.warnings],
    }
    return json.dumps(data, indent=2, sort_keys=True)


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    # a hook may have set these for the user's own index; ours is set per call
    env.pop("GIT_INDEX_FILE", None)
    return env


def _open_repo(repo: str | os.PathLike[str] | None) -> _Git:
    where = Path(repo) if repo is not None else Path.cwd()
    shown = str(repo) if repo is not None else str(Path.cwd())
    error = NotAGitRepositoryError(
        f"'{shown}' is not inside a git repository. Run tbreport publish from your project's "
        "checkout, or give --repo."
    )
    if not where.is_dir():
        raise error
    git = _Git(where, _git_env())
    try:
        proc = git.run("rev-parse", "--absolute-git-dir", check=False)
    except FileNotFoundError:
        raise PublishError(
            "git is not installed (or not on PATH); tbreport publish needs it."
        ) from None
    if proc.returncode != 0:
        raise error
    return git


def _check_branch(git: _Git, branch: str) -> None:
    proc = git.run("check-ref-format", "--branch", branch, check=False)
    if proc.returncode != 0 or branch.startswith("-"):
        raise PublishError(f"Bad --branch '{branch}': not a valid git branch name.")
    # moving a checked-out branch would make its working tree look changed
    checked_out = tree = None
    for line in git.out("worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            tree = line[len("worktree ") :]
        elif line == f"branch refs/heads/{branch}":
            checked_out = tree
    if checked_out is not None:
        raise PublishError(
            f"Branch '{branch}' is checked out in '{checked_out}'; tbreport publish never moves "
            "a checked-out branch. Switch that checkout to another branch, or pass --branch."
        )


def _skip(
    site: str, rel: str, reason: str, message: str, severity: str = NOTE
) -> tuple[Skipped, DataWarning]:
    shown = os.path.join(site, rel)
    text = f"Skipped '{shown}': {message}"
    return Skipped(rel, reason), DataWarning(reason, text, path=shown, severity=severity)


def site_files(site_dir: str | os.PathLike[str]) -> SiteFiles:
    """Every file of the site folder that goes on the branch, sorted, and what was left out.

    Only regular files and folders really inside the site are read; a symlink counts as its
    target's content only when that target is a regular file published from the site itself
    (never a folder: no loops, no copies of what is published anyway).
    """
    site = os.fspath(site_dir)
    root = os.path.realpath(site)
    files: dict[str, Path] = {}
    links: list[str] = []
    left_out: list[tuple[Skipped, DataWarning]] = []
    folders = [""]
    while folders:  # a stack, not recursion: folders can nest deeper than Python's stack
        folder = folders.pop()
        try:
            with os.scandir(os.path.join(site, folder)) as it:
                entries = list(it)
        except OSError as err:
            left_out.append(
                _skip(site, folder, "unreadable", f"cannot read it ({err.strerror}).", WARNING)
            )
            continue
        for entry in entries:
            rel = f"{folder}/{entry.name}" if folder else entry.name
            if entry.name == MANIFEST or (not folder and entry.name in _SKIP_AT_ROOT):
                continue  # tbreport's bookkeeping and Jekyll's output, not the user's content
            if git_refuses(entry.name):
                left_out.append(
                    _skip(
                        site,
                        rel,
                        "git-refuses-name",
                        "git cannot hold a file or folder by this name.",
                    )
                )
            elif entry.is_symlink():
                links.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                folders.append(rel)
            elif entry.is_file(follow_symlinks=False):
                if "\n" in entry.name:
                    raise PublishError(
                        f"Cannot publish '{entry.path}': its name contains a line break."
                    )
                files[rel] = Path(entry.path)
            else:
                left_out.append(
                    _skip(site, rel, "not-a-file", "not a regular file (a socket, fifo or device).")
                )
    published = {os.path.join(root, rel) for rel in files}
    for rel in links:
        try:
            target = os.path.realpath(os.path.join(site, rel), strict=True)
        except OSError:
            left_out.append(
                _skip(site, rel, "broken-symlink", "a symlink to nothing (or a symlink loop).")
            )
            continue
        if os.path.commonpath([root, target]) != root:
            left_out.append(
                _skip(
                    site,
                    rel,
                    "symlink-outside-site",
                    f"a symlink to '{target}', outside the site folder; only files inside it "
                    "are published. Copy the file into the site if it belongs there.",
                    WARNING,
                )
            )
        elif target in published:
            files[rel] = Path(target)
        elif os.path.isdir(target):
            left_out.append(
                _skip(
                    site,
                    rel,
                    "symlink-to-folder",
                    "a symlink to a folder; folders are published only where they really are.",
                )
            )
        else:
            left_out.append(
                _skip(
                    site,
                    rel,
                    "symlink-to-unpublished",
                    f"a symlink to '{target}', which is not published itself.",
                )
            )
    left_out.sort(key=lambda pair: pair[0].path)
    return SiteFiles(
        files=tuple(sorted(files.items())),
        skipped=tuple(skipped for skipped, _ in left_out),
        warnings=tuple(warning for _, warning in left_out),
    )


def _remotes(git: _Git) -> set[str]:
    return set(git.out("remote").splitlines())


def _first_error_line(stderr: bytes) -> str:
    """The most telling line of git's stderr (push prints 'To URL' first, the reason after)."""
    text = stderr.decode(errors="replace")
    lines = [" ".join(ln.split()) for ln in text.splitlines() if ln.strip()]
    for marker in ("[rejected]", "[remote rejected]", "error:", "fatal:"):
        for line in lines:
            if marker in line:
                return line
    return lines[0] if lines else "(git gave no reason)"


def _remote_tip(git: _Git, remote: str, branch: str) -> str | None:
    """The remote's branch tip, fetched into refs/remotes/REMOTE/BRANCH; None if it has none."""
    ref = f"refs/heads/{branch}"
    proc = git.run("ls-remote", "--exit-code", remote, ref, check=False)
    if proc.returncode == 2:
        return None
    if proc.returncode != 0:
        raise PublishError(
            f"Could not read remote '{remote}': {_first_error_line(proc.stderr).rstrip('.')}. "
            "Check the remote's URL and your access, or pass --no-push."
        )
    tips = [
        line.split("\t")[0]
        for line in proc.stdout.decode().splitlines()
        if line.split("\t")[-1] == ref
    ]
    if not tips:
        return None
    if git.rev(tips[0]) is None:
        git.run("fetch", "--no-tags", "--quiet", remote, f"+{ref}:refs/remotes/{remote}/{branch}")
        return git.rev(f"refs/remotes/{remote}/{branch}")
    return tips[0]


def _choose_base(git: _Git, local: str | None, remote: str | None) -> str | None:
    """The commit to build on: the newer of the local and remote tips."""
    if local is None or remote is None or local == remote:
        return local or remote
    if git.is_ancestor(local, remote):
        return remote
    # local is ahead, or the two diverged: build on local, and a diverged push is rejected
    return local


def _old_entries(git: _Git, base: str | None) -> list[tuple[str, str, str]]:
    """(mode, object, path) of every entry in the base commit's tree."""
    if base is None:
        return []
    raw = git.run("ls-tree", "-r", "-z", "--full-tree", base).stdout
    entries = []
    for record in raw.split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            mode, _type, oid = meta.decode().split(" ")
            entries.append((mode, oid, path.decode(errors="surrogateescape")))
    return entries


def _keep_foreign(
    git: _Git,
    branch: str,
    base: str | None,
    old: Mapping[str, tuple[str, str]],
    entries: dict[str, tuple[str, str]],
) -> None:
    """Put back into ``entries`` the files of the base tree that tbreport did not publish (a
    hand-made page, a file pushed on top): a publish replaces only what tbreport wrote. One
    that the site would overwrite (or that is a folder's name in it, or the other way round)
    is a ForeignFilesError. CNAME (--cname) and .nojekyll are tbreport's to set either way."""
    touched = [p for p, e in old.items() if entries.get(p) != e and p not in ("CNAME", ".nojekyll")]
    foreign = _foreign(git, base, touched)
    if not foreign:
        return
    folders = {p[:i] for p in entries for i in _slashes(p)}
    clashes = sorted(
        p
        for p in foreign
        if p in entries or p in folders or any(p[:i] in entries for i in _slashes(p))
    )
    if clashes:
        shown = ", ".join(repr(p) for p in clashes[:5])  # a tab or ESC in a name shown escaped
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        raise ForeignFilesError(
            f"Branch '{branch}' holds {len(clashes)} file(s) that tbreport did not publish and "
            f"this site would replace: {shown}{more}. tbreport never overwrites them: publish "
            "into a folder of the branch (--prefix NAME) or to another branch (--branch NAME), "
            "or remove them from the branch first."
        )
    entries.update((p, old[p]) for p in foreign)


def _slashes(path: str) -> list[int]:
    """Where the folders of ``path`` end: ``path[:i]`` is each of them."""
    return [i for i, c in enumerate(path) if c == "/"]


def _foreign(git: _Git, base: str | None, paths: Sequence[str]) -> set[str]:
    """Those of ``paths`` (files of the base tree) that a commit other than tbreport's wrote
    last: on the base's first-parent history, the newest commit that changed each one has no
    ``Published-by: tbreport`` trailer (nor, from before the trailer, tbreport's message)."""
    if base is None or not paths:
        return set()
    left, foreign = set(paths), set()
    fmt = f"%x01%s%x00%(trailers:key={TRAILER_KEY},valueonly,separator=%x2C)%x02"
    done, batch = 0, 64
    while left:  # newest first, in growing batches: the last publish usually settles them all
        raw = git.run(
            "log", "--first-parent", "--diff-merges=first-parent", "--no-renames",
            "--name-only", "-z", f"--format={fmt}", f"--skip={done}", f"--max-count={batch}",
            base,
        ).stdout  # fmt: skip
        records = raw.split(b"\x01")[1:]
        for record in records:
            head, _, names = record.partition(b"\x02")
            subject, _, trailer = head.partition(b"\0")
            ours = trailer.strip() == TRAILER_VALUE.encode() or subject.startswith(
                DEFAULT_MESSAGE.encode()
            )
            for name in names.removeprefix(b"\0\n").split(b"\0"):
                path = name.decode(errors="surrogateescape")
                if path in left:
                    left.discard(path)
                    if not ours:
                        foreign.add(path)
        if len(records) < batch:
            break
        done, batch = done + batch, batch * 4
    return foreign


def _outside(path: str, prefix: str) -> bool:
    """True when a branch path is not replaced by publishing into prefix."""
    return not (path == prefix or path.startswith(prefix + "/") or prefix.startswith(path + "/"))


def _identity_env(git: _Git) -> dict[str, str]:
    """GIT_AUTHOR/COMMITTER variables for whatever identity git has no setting for."""
    proc = git.run(
        "config", "--get-regexp", r"^(user|author|committer)\.(name|email)$", check=False
    )
    configured = {line.split(" ", 1)[0].lower() for line in proc.stdout.decode().splitlines()}
    env: dict[str, str] = {}
    for role in ("author", "committer"):
        for field, fallback in (("name", FALLBACK_NAME), ("email", FALLBACK_EMAIL)):
            variable = f"GIT_{role.upper()}_{field.upper()}"
            if (
                os.environ.get(variable)
                or (field == "email" and os.environ.get("EMAIL"))
                or f"{role}.{field}" in configured
                or f"user.{field}" in configured
            ):
                continue
            env[variable] = fallback
    return env


def _hash_files(git: _Git, paths: Sequence[Path]) -> list[str]:
    """Write the files as blobs, byte for byte (no attributes, LFS or line-end filters)."""
    names = "\n".join(os.fsdecode(p.resolve()) for p in paths) + "\n"
    out = git.run(
        "hash-object",
        "-w",
        "--no-filters",
        "--stdin-paths",
        input=names.encode(errors="surrogateescape"),
    ).stdout.decode()
    return out.split()


def _hash_bytes(git: _Git, data: bytes) -> str:
    return git.out("hash-object", "-w", "--stdin", input=data)


def publish(
    site_dir: str | os.PathLike[str],
    *,
    repo: str | os.PathLike[str] | None = None,
    remote: str = "origin",
    branch: str = "gh-pages",
    message: str = DEFAULT_MESSAGE,
    cname: str | None = None,
    prefix: str | None = None,
    push: bool = True,
    strict: bool = False,
) -> PublishResult:
    """Commit the site folder to BRANCH (whole branch, or only PREFIX/) and push it to REMOTE.

    With strict, anything skipped with a WARNING (a symlink out of the site) is an error and
    nothing is written to the repository.
    """
    prefix = normalise_prefix(prefix) if prefix is not None else None
    cname = normalise_cname(cname) if cname is not None else None
    if not message.strip():  # git refuses an empty message too; and the trailer needs a subject
        raise PublishError("Empty --message: a commit needs one (the default is tbreport's).")
    git = _open_repo(repo)
    _check_branch(git, branch)
    known_remote = remote in _remotes(git)
    if push and not known_remote:
        raise NoRemoteError(
            f"No git remote '{remote}'. Add one with: git remote add {remote} URL, "
            "or pass --remote / --no-push."
        )

    scan = site_files(site_dir) if os.path.isdir(site_dir) else SiteFiles((), (), ())
    problems = [w for w in scan.warnings if w.severity == WARNING]
    if strict and problems:
        listing = "\n".join(f"  - {w.message}" for w in problems)
        raise PublishStrictError(
            f"--strict: the site folder gave {len(problems)} warning(s); nothing was published."
            f"\n{listing}"
        )
    files = scan.files
    if not files:
        shown = str(site_dir) if str(site_dir).endswith("/") else f"{site_dir}/"
        listing = "".join(f"\n  - {w.message}" for w in scan.warnings)
        raise NothingToPublishError(
            f"Nothing to publish: '{shown}' does not exist (or is empty). "
            f"Build first: tbreport build runs/ --out {shown}" + listing
        )
    jekyll_source = any(rel == "_config.yml" for rel, _ in files)

    ref = f"refs/heads/{branch}"
    local = git.rev(ref)
    if push:
        remote_tip = _remote_tip(git, remote, branch)
    else:
        # --no-push stays offline: build on what this clone already knows
        remote_tip = git.rev(f"refs/remotes/{remote}/{branch}") if known_remote else None
    base = _choose_base(git, local, remote_tip)

    # path -> (mode, object); later assignments win
    entries: dict[str, tuple[str, str]] = {}
    old = {path: (mode, oid) for mode, oid, path in _old_entries(git, base)}
    for path, (mode, oid) in old.items():
        if prefix is not None:
            if _outside(path, prefix):
                entries[path] = (mode, oid)
        elif path == "CNAME" or (path == ".nojekyll" and not jekyll_source):
            # the custom domain and an existing .nojekyll survive a full replace
            entries[path] = (mode, oid)
    oids = _hash_files(git, [file for _, file in files])
    for (rel, file), oid in zip(files, oids, strict=True):
        mode = "100755" if file.stat().st_mode & 0o100 else "100644"
        entries[f"{prefix}/{rel}" if prefix else rel] = (mode, oid)
    if not jekyll_source and "_config.yml" not in entries and ".nojekyll" not in entries:
        # pre-built HTML: stop GitHub Pages running Jekyll, unless a Jekyll site owns the root
        entries[".nojekyll"] = ("100644", _hash_bytes(git, b""))
    if cname is not None:
        entries["CNAME"] = ("100644", _hash_bytes(git, f"{cname}\n".encode()))
    _keep_foreign(git, branch, base, old, entries)

    with tempfile.TemporaryDirectory(prefix="tbreport-publish-") as tmp:
        index_env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        index_info = b"".join(
            f"{mode} {oid}\t".encode() + path.encode(errors="surrogateescape") + b"\0"
            for path, (mode, oid) in sorted(entries.items())
        )
        git.run("update-index", "-z", "--index-info", input=index_info, env=index_env)
        tree = git.out("write-tree", env=index_env)

    changed = base is None or git.out("rev-parse", f"{base}^{{tree}}") != tree
    if changed:
        parents = ["-p", base] if base else []
        commit = git.out(
            "commit-tree",
            tree,
            *parents,
            "-F",
            "-",
            input=f"{message.rstrip()}\n\n{TRAILER_KEY}: {TRAILER_VALUE}\n".encode(),
            env=_identity_env(git),
        )
    else:
        assert base is not None
        commit = base

    if commit != local:
        git.run("update-ref", "-m", f"tbreport publish: {message}", ref, commit, local or "")

    if push:
        proc = git.run("push", "--quiet", remote, f"{ref}:{ref}", check=False)
        if proc.returncode != 0:
            if commit != local:
                if local is None:
                    git.run("update-ref", "-d", ref, commit)
                else:
                    git.run("update-ref", "-m", "tbreport publish: push failed", ref, local, commit)
            was = f"at {local[:10]}" if local else "absent"
            if remote_tip is not None and not git.is_ancestor(remote_tip, commit):
                hint = (
                    f"The remote branch has commits the local one lacks; to publish on top of "
                    f"them: git branch -f {branch} {remote}/{branch}, then publish again."
                )
            else:
                hint = "If someone else published meanwhile, publish again."
            raise PushRejectedError(
                f"git push of '{branch}' to '{remote}' was rejected: "
                f"{_first_error_line(proc.stderr).rstrip('.')}. "
                f"The local '{branch}' branch was left as it was ({was}); nothing was published. "
                + hint
            )

    domain = cname
    if domain is None and "CNAME" in entries:
        text = git.run("cat-file", "blob", entries["CNAME"][1]).stdout.decode(errors="replace")
        candidate = text.strip().splitlines()[0].strip() if text.strip() else ""
        domain = candidate or None
    remote_url = git.out("remote", "get-url", remote) if known_remote else None
    return PublishResult(
        commit=commit,
        branch=branch,
        url=pages_url(remote_url, cname=domain, prefix=prefix),
        files=len(files),
        pushed=push,
        remote=remote,
        changed=changed,
        prefix=prefix,
        skipped=scan.skipped,
        warnings=scan.warnings,
    )
