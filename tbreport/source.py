"""Authoring, read side: a Markdown post (``--source``) in, its front matter and parts out.

The source is ordinary Markdown with optional YAML front matter. Fenced code blocks whose info
string is exactly ``tbreport`` hold YAML naming what to show (docs/authoring.md); everything
else is the author's own text and is kept as written, except the placeholder lines that
``tbreport draft`` writes (``<!-- draft: ... -->``), left out until the author replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tbreport.errors import SourceError
from tbreport.names import did_you_mean

#: block kinds that show report elements of one data kind, selected by tag (``chart`` is the
#: scalars kind); the value is a tag, a regex, a list of them, or ``true`` for every tag
ELEMENT_BLOCKS = {
    "chart": "scalars",
    "histograms": "histograms",
    "images": "images",
    "text": "text",
    "hparams": "hparams",
    "audio": "audio",
    "pr_curves": "pr_curves",
    "custom_scalars": "custom_scalars",
}
#: the other block kinds: parts of the page tbreport writes itself
PAGE_BLOCKS = ("summary", "verdict", "runs", "contents", "section", "table", "notes")
BLOCK_KINDS = (*ELEMENT_BLOCKS, *PAGE_BLOCKS)

#: per-block overrides of build options: block key -> Options field
OVERRIDES = {
    "runs": "runs",
    "exclude_runs": "exclude_runs",
    "smoothing": "smoothing",
    "x": "x_axis",
    "log_y": "log_y",
    "group": "group",
    "center": "center",
    "band": "band",
    "show_runs": "show_runs",
    "ignore_outliers": "ignore_outliers",
    "max_points": "max_points",
}
#: the keys each block kind takes besides its own
_CHART_KEYS = (*OVERRIDES, "y_range", "overlay", "caption")
KEYS: dict[str, tuple[str, ...]] = {
    "chart": _CHART_KEYS,
    "histograms": ("runs", "exclude_runs", "caption"),
    "images": ("runs", "exclude_runs", "caption"),
    "text": ("runs", "exclude_runs", "caption"),
    "hparams": ("caption",),
    "audio": ("runs", "exclude_runs", "caption"),
    "pr_curves": ("runs", "exclude_runs", "caption"),
    "custom_scalars": (*OVERRIDES, "caption"),
    "summary": (),
    "verdict": (),
    "runs": (),
    "contents": (),
    "section": (),
    "table": ("runs", "exclude_runs", "smoothing", "stats", "compare"),
    "notes": (),
}
#: what a ``table`` block can show per run and tag
STATS = ("last", "min", "max", "best")

#: a placeholder line of a draft: left out of the build until the author replaces it
PLACEHOLDER = re.compile(r"^[ ]{0,3}<!-- draft: .*-->[ \t]*$")
_FENCE = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    """One ```` ```tbreport ```` block: its kind, its keys and where each one is."""

    kind: str
    #: the block's YAML mapping, in the order written
    keys: Mapping[str, Any]
    #: the source line of the block's opening fence (1-based)
    line: int
    #: the source line of each key, and of each item of a list value (``key``, index)
    lines: Mapping[Any, int] = field(default_factory=dict)

    def line_of(self, key: str, index: int | None = None) -> int:
        if index is not None and (key, index) in self.lines:
            return self.lines[(key, index)]
        return self.lines.get(key, self.line)


@dataclass(frozen=True)
class Source:
    """A parsed ``--source``: its front matter and its parts (prose and blocks) in order."""

    #: the path as the user gave it (what error messages name)
    path: str
    front_matter: Mapping[str, Any]
    #: the author's Markdown (a str) and the blocks, in source order
    parts: tuple[str | Block, ...]
    #: the source line of each front matter key, and of each key under ``tbreport:``
    #: (``("tbreport", key)``)
    front_lines: Mapping[Any, int] = field(default_factory=dict)

    def where(self, key: str, sub: str | None = None) -> str:
        """``path:line`` of a front matter key (``path`` alone when unknown)."""
        line = self.front_lines.get(key if sub is None else (key, sub))
        return self.path if line is None else f"{self.path}:{line}"


def read_source(path: str) -> Source:
    try:
        # utf-8-sig: an editor's byte order mark is not text before the front matter
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SourceError(f"Source file '{path}' does not exist.") from None
    except IsADirectoryError:
        raise SourceError(f"Source '{path}' is a folder; give a Markdown file.") from None
    except UnicodeDecodeError as err:
        raise SourceError(
            f"{path}: not UTF-8 text (byte {err.start}); save the post as UTF-8."
        ) from None
    return parse_source(text, path)


def parse_source(text: str, path: str) -> Source:
    """Front matter, then the source split into prose and blocks."""
    # Windows (and old Mac) line ends become LF: the post tbreport writes has one kind
    # (JEKYLL.md). Lines end at LF only, as for CommonMark and editors: str.splitlines would
    # also end them at U+2028, NEL or a form feed in the prose, and every line number after
    # it would be off
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    front: Mapping[str, Any] = {}
    front_lines: dict[Any, int] = {}
    start = 0
    if lines and lines[0].rstrip("\r\n") == "---":
        end = next(
            (i for i in range(1, len(lines)) if lines[i].rstrip("\r\n") in ("---", "...")), None
        )
        if end is None:
            raise SourceError(f"{path}:1: the front matter opened here is never closed with '---'.")
        front, front_lines = _front_matter("".join(lines[1:end]), path, 2)
        start = end + 1
    parts: list[str | Block] = []
    prose: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        match = _FENCE.match(line.rstrip("\r\n"))
        if match is None:
            if not PLACEHOLDER.match(line.rstrip("\r\n")):
                prose.append(line)
            i += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        close = _closing(lines, i + 1, fence)
        if info != "tbreport":
            _swallowed(lines, i, close, fence, path)
            # another code block (```yaml showing tbreport usage): the author's, kept whole
            prose.extend(lines[i : (close if close is not None else len(lines) - 1) + 1])
            i = len(lines) if close is None else close + 1
            continue
        if close is None:
            raise SourceError(
                f"{path}:{i + 1}: the tbreport block opened here is never closed "
                f"(end it with a line of {fence})."
            )
        if prose:
            parts.append("".join(prose))
            prose = []
        parts.append(_block("".join(lines[i + 1 : close]), path, i + 1))
        i = close + 1
    if prose:
        parts.append("".join(prose))
    return Source(path=path, front_matter=front, parts=tuple(parts), front_lines=front_lines)


def _swallowed(lines: Sequence[str], opened: int, close: int | None, fence: str, path: str) -> None:
    """A ```` ```tbreport ```` line inside another code block is shown as code. That is meant
    when the block is an example fenced longer (```` ````markdown ````); it is a mistake when
    the code block is never closed (it runs to the end of the post, CommonMark) or when the
    inner fence is as long as the outer one (the example's closing line closes the outer
    block: a code block left unclosed above a tbreport block)."""
    for j in range(opened + 1, len(lines) if close is None else close):
        match = _FENCE.match(lines[j].rstrip("\r\n"))
        if match is None or match["info"].strip() != "tbreport":
            continue
        inner = match["fence"]
        if close is None or (inner[0] == fence[0] and len(inner) >= len(fence)):
            ended = "is never closed" if close is None else f"ends at line {close + 1}"
            raise SourceError(
                f"{path}:{opened + 1}: the code block opened here {ended}, so the tbreport "
                f"block at line {j + 1} would be shown as code; close the code block before "
                f"it with a line of {fence} (to show a block as an example, fence the example "
                f"with more {'backticks' if fence[0] == '`' else 'tildes'} than the block)."
            )


def _closing(lines: Sequence[str], start: int, fence: str) -> int | None:
    """The index of the line closing a fence opened with ``fence`` (CommonMark's rule)."""
    for j in range(start, len(lines)):
        stripped = lines[j].rstrip("\r\n")
        body = stripped.lstrip(" ")
        if len(stripped) - len(body) > 3:
            continue
        run = len(body) - len(body.lstrip(fence[0]))
        if run >= len(fence) and not body[run:].strip():
            return j
    return None


def _load(text: str, path: str, first_line: int) -> tuple[Any, yaml.Node | None]:
    """The YAML value of ``text`` and its node (for the lines of keys), errors located in the
    source (``first_line`` is the source line of the text's first line)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        value = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "cannot read it"
        ended = "end of stream" in problem or "<stream end>" in problem
        if ended and err.context and err.context_mark is not None:
            # a quote or bracket never closed: where it opened, not the end of the block
            mark = err.context_mark
            if "quoted scalar" in err.context:
                problem = f"a quoted value is never closed ({problem})"
            else:
                problem = f"{problem}, {err.context} that starts here"
        line = first_line + (mark.line if mark is not None else 0)
        raise SourceError(f"{path}:{line}: bad YAML: {problem}.{_quote_hint(text, mark)}") from None
    except yaml.YAMLError as err:
        raise SourceError(f"{path}:{first_line}: bad YAML: {err}.") from None
    return value, node


_KEY_LINE = re.compile(r"^\s*(?:- )?(?P<key>[A-Za-z_][\w-]*):[ \t]+(?P<value>\S.*)$")


def _quote_hint(text: str, mark: Any) -> str:
    """For an error on a ``key: value`` line whose value is unquoted text (a caption starting
    with a backtick, holding ``: `` or ``{{ }}``), how to write it as text."""
    lines = text.split("\n")
    if mark is None or not 0 <= mark.line < len(lines):
        return ""
    match = _KEY_LINE.match(lines[mark.line])
    if match is None or match["value"][0] in "\"'":
        return ""
    key = match["key"]
    return (
        f' If `{key}` is text, quote it (`{key}: "..."`, a `"` inside as `\\"`) or write '
        f"`{key}: >` and the text indented on the lines below."
    )


def _front_matter(
    text: str, path: str, first_line: int
) -> tuple[Mapping[str, Any], dict[Any, int]]:
    """The front matter's keys and values, and the line of each key (those under
    ``tbreport:`` as ``("tbreport", key)``)."""
    value, node = _load(text, path, first_line)
    if value is None:
        return {}, {}
    if not isinstance(value, dict):
        raise SourceError(
            f"{path}:{first_line}: the front matter must be YAML keys and values "
            "(`title: My post`)."
        )
    lines: dict[Any, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            lines[key_node.value] = first_line + key_node.start_mark.line
            if key_node.value == "tbreport" and isinstance(value_node, yaml.MappingNode):
                for sub, _ in value_node.value:
                    lines[("tbreport", sub.value)] = first_line + sub.start_mark.line
    return value, lines


def _block(text: str, path: str, fence_line: int) -> Block:
    first = fence_line + 1
    value, node = _load(text, path, first)
    example = "`chart: train/loss`"
    if not isinstance(value, dict) or not value:
        raise SourceError(
            f"{path}:{fence_line}: a tbreport block holds YAML keys naming what to show, "
            f"such as {example}; kinds: {', '.join(BLOCK_KINDS)}."
        )
    lines: dict[Any, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            if key in lines:  # YAML would keep the last one without a word
                raise SourceError(
                    f"{path}:{first + key_node.start_mark.line}: '{key}' is given twice in "
                    f"this block (first at line {lines[key]}); one block shows one thing: "
                    "name several tags as a list, `chart: [a, b]`."
                )
            lines[key] = first + key_node.start_mark.line
            if isinstance(value_node, yaml.SequenceNode):
                for index, item in enumerate(value_node.value):
                    lines[(key, index)] = first + item.start_mark.line
    kinds = [key for key in value if key in BLOCK_KINDS]
    if not kinds:
        keys = ", ".join(repr(str(k)) for k in value)
        raise SourceError(
            f"{path}:{fence_line}: the block names no kind ({keys}); start it with one of "
            f"{', '.join(BLOCK_KINDS)}, e.g. {example}."
        )
    # the first kind key is the block's kind: `chart: x` with `runs: y` is a chart of some runs
    kind = str(kinds[0])
    allowed = {kind, *KEYS[kind]}
    for key in value:
        if key not in allowed:
            hint = did_you_mean(key, sorted(allowed))
            raise SourceError(
                f"{path}:{lines.get(key, fence_line)}: unknown key '{key}' in a {kind} "
                f"block{hint}; it takes {', '.join(sorted(allowed))}."
            )
    for key, given in value.items():
        at = f"{path}:{lines.get(key, fence_line)}"
        if key == kind:
            continue
        if given is None:
            raise SourceError(f"{at}: `{key}:` has no value; give one or leave the key out.")
        if key in ("overlay", "compare") and not isinstance(given, bool):
            raise SourceError(f"{at}: {key} is true or false, not {given!r}.")
        if key == "caption" and isinstance(given, bool | list | dict):
            raise SourceError(f"{at}: a caption is text (quote it), not {given!r}.")
        if key == "stats" and given == []:
            raise SourceError(f"{at}: stats names what to show: `stats: [last, min, best]`.")
    own = value[kind]
    where = f"{path}:{lines.get(kind, fence_line)}"
    if kind == "section" and (own is None or isinstance(own, bool | list | dict)):
        raise SourceError(f"{where}: a section block names its heading: `section: Results`.")
    if kind in ("summary", "verdict", "contents", "notes") and own not in (True, None):
        raise SourceError(f"{where}: `{kind}: true` shows the {kind}; it takes no other value.")
    return Block(kind=kind, keys=value, line=fence_line, lines=lines)


# --- the other way: a page written back as a source (`tbreport draft`) --------------------


def yaml_value(value: Any) -> str:
    """``value`` as one line of YAML (a tag or run name is quoted when it needs to be)."""
    for style in (None, '"'):  # double quotes when plain YAML would span lines
        text: str = yaml.safe_dump(
            value, default_flow_style=True, default_style=style, allow_unicode=True, width=2**30
        ).strip()
        text = text[: -len("...")].strip() if text.endswith("...") else text
        if not any(c in text for c in "\n\r\x85\u2028\u2029"):
            break
    return text


def block_text(kind: str, value: Any, **keys: Any) -> str:
    """A ```` ```tbreport ```` block holding ``kind: value`` and ``keys``."""
    body = [f"{kind}: {yaml_value(value)}"]
    body += [f"{key}: {yaml_value(v)}" for key, v in keys.items()]
    return "```tbreport\n" + "\n".join(body) + "\n```\n"


def placeholder(text: str) -> str:
    return f"<!-- draft: {text.replace('--', '- -')} -->\n"


def front_matter_text(values: Mapping[str, Any]) -> str:
    body = "".join(f"{key}: {yaml_value(value)}\n" for key, value in values.items())
    return f"---\n{body}---\n"
