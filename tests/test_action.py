"""The GitHub Action (action.yml + action/run.sh), run as a workflow would run it.

The script step's `run:` text and `env:` mapping are taken from action.yml; the `${{ }}`
expressions in them are evaluated by a tiny evaluator that knows only `inputs.NAME`,
`github.action_path` and `github.workspace` and fails on anything else. The install step is
skipped (tbreport is installed in the test environment) but must exist. Also checks that the
example workflows in docs/github-actions.md are valid YAML that use the action correctly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import fixture_logdir

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
DOCS = ROOT / "docs" / "github-actions.md"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
HEADLINE = re.compile(r"^\d+ tags? better, \d+ worse, \d+ unchanged(, \d+ not judged)?$")
REGRESSION_CONFIG = (
    '[directions]\n"tutorial/poly" = "max"\n\n'
    '[gates]\n"tutorial/poly" = 0.0\n'
)  # run_2's poly ends at -99, run_1's at 9801: a certain regression against run_1


def load_action() -> dict:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def script_step(action: dict) -> dict:
    (step,) = [s for s in action["runs"]["steps"] if "action/" in s.get("run", "")]
    return step


def evaluate(text: str, inputs: dict[str, str], github: dict[str, str]) -> str:
    """Substitute the `${{ }}` expressions this test supports; fail on any other."""

    def one(match: re.Match) -> str:
        expr = match.group(1).strip()
        name = re.fullmatch(r"inputs\.([A-Za-z_][A-Za-z0-9_-]*)", expr)
        if name:
            if name[1] not in inputs:
                pytest.fail(f"expression {match.group(0)!r} names an undeclared input")
            return inputs[name[1]]
        if expr in ("github.action_path", "github.workspace"):
            return github[expr.split(".", 1)[1]]
        pytest.fail(f"expression {match.group(0)!r} is not supported by this test's evaluator")

    return EXPRESSION.sub(one, text)


def read_outputs(path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT as the runner does: NAME=VALUE lines or NAME<<DELIM heredocs."""
    lines = path.read_text(encoding="utf-8").split("\n")
    outputs: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc >= 0 and (eq < 0 or heredoc < eq):
            name, delim = line[:heredoc], line[heredoc + 2 :]
            end = lines.index(delim, i)  # ValueError: unterminated heredoc
            outputs[name] = "\n".join(lines[i:end])
            i = end + 1
        else:
            assert eq > 0, f"bad output line {line!r}"
            outputs[line[:eq]] = line[eq + 1 :]
    return outputs


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The test's environment without GitHub, runner or git settings, git config isolated."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "GIT_")) and k != "EMAIL"
    }
    # `python3` in the script must be this interpreter, where tbreport is installed
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    (tmp_path / "gitconfig").touch()
    env["GIT_CONFIG_GLOBAL"] = str(tmp_path / "gitconfig")
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CEILING_DIRECTORIES"] = str(tmp_path)
    env["MPLBACKEND"] = "Agg"
    return env


class ActionRun:
    def __init__(
        self, proc: subprocess.CompletedProcess, workspace: Path, summary: Path, out: Path
    ):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.log = proc.stdout + proc.stderr
        self.workspace = workspace
        self.summary = summary.read_text(encoding="utf-8")
        self.outputs = read_outputs(out)

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"rc={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    ws.mkdir()
    shutil.copytree(
        fixture_logdir("quickstart"), ws / "runs", ignore=shutil.ignore_patterns("*.json")
    )
    return ws


def run_action(
    tmp_path: Path, workspace: Path, inputs: dict[str, str], env: dict | None = None
) -> ActionRun:
    action = load_action()
    declared = action.get("inputs") or {}
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs not declared in action.yml: {unknown}"
    github = {"action_path": str(ROOT), "workspace": str(workspace)}
    values = {
        name: str(
            inputs[name] if name in inputs else evaluate(str(spec.get("default", "")), {}, github)
        )
        for name, spec in declared.items()
    }
    step = script_step(action)
    run = evaluate(step["run"], values, github)
    step_env = {}
    for key, value in (step.get("env") or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        step_env[key] = evaluate(str(value), values, github)

    summary = tmp_path / "step_summary.md"
    output = tmp_path / "github_output.txt"
    summary.write_text("", encoding="utf-8")
    output.write_text("", encoding="utf-8")
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir(exist_ok=True)
    full_env = {
        **clean_env(tmp_path),
        **(env or {}),
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "RUNNER_TEMP": str(runner_temp),
        **step_env,
    }
    assert step["shell"] == "bash"
    proc = subprocess.run(
        ["bash", "-c", run],
        cwd=workspace,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert list(runner_temp.iterdir()) == [], "the script left temporary files behind"
    return ActionRun(proc, workspace, summary, output)


def git(cwd: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


# --- action.yml -------------------------------------------------------------------------


def test_action_yml_is_a_composite_action_without_inputs_in_scripts():
    action = load_action()
    assert action["name"] == "tbreport"
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for step in steps:
        assert step.get("shell") == "bash", step
        # script injection: no expression at all in script text; values come through env
        assert "${{" not in step["run"], step["run"]
    install = [s for s in steps if "pip install" in s["run"]]
    assert len(install) == 1 and steps.index(install[0]) < steps.index(script_step(action))
    assert install[0]["env"]["TBREPORT_ACTION_PATH"] == "${{ github.action_path }}"
    assert '"$TBREPORT_ACTION_PATH"' in install[0]["run"]

    inputs = action["inputs"]
    assert set(inputs) == {
        "runs", "format", "out", "title", "baseline", "fail-on-regression", "job-summary",
        "marker-id", "publish", "publish-prefix", "publish-branch", "args",
    }  # fmt: skip
    defaults = {name: spec.get("default") for name, spec in inputs.items()}
    assert defaults["runs"] == "runs" and defaults["format"] == "html"
    assert defaults["out"] == "tbreport-site" and defaults["marker-id"] == "tbreport"
    assert defaults["fail-on-regression"] == "false" and defaults["job-summary"] == "true"
    assert defaults["publish"] == "false" and defaults["publish-branch"] == "gh-pages"
    step = script_step(action)
    passed = {m.strip() for v in step["env"].values() for m in EXPRESSION.findall(str(v))}
    assert passed >= {f"inputs.{name}" for name in inputs}, "every input reaches the script"

    assert set(action["outputs"]) == {"report-path", "summary-path", "pages-url", "verdict"}
    for name, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.{step['id']}.outputs.{name} }}}}"


def test_evaluator_refuses_unknown_expressions():
    with pytest.raises(pytest.fail.Exception):
        evaluate("${{ secrets.TOKEN }}", {}, {})
    with pytest.raises(pytest.fail.Exception):
        evaluate("${{ inputs.nope }}", {"runs": "r"}, {})
    assert evaluate("a ${{inputs.runs}} b", {"runs": "r"}, {}) == "a r b"


# --- running the script -----------------------------------------------------------------


def test_html_report_job_summary_and_verdict(tmp_path, workspace):
    hostile = 'Runs $(touch pwned) `touch pwned2` "quoted" \\ ${HOME}'
    result = run_action(
        tmp_path,
        workspace,
        {
            "baseline": "run_1",
            "title": hostile,
            "marker-id": "ci-report",
            # quoted words survive as one argument; nothing is expanded
            "args": "--exclude-tags 'no such $(touch pwned3) tag' --smoothing 0.5",
        },
    )
    assert result.returncode == 0, result
    out = result.outputs
    assert set(out) == {"report-path", "summary-path", "pages-url", "verdict"}
    assert out["report-path"] == str(workspace / "tbreport-site" / "index.html")
    assert Path(out["report-path"]).is_file()
    assert "tutorial/poly" in Path(out["report-path"]).read_text(encoding="utf-8")

    summary_file = Path(out["summary-path"])
    assert summary_file == workspace / "tbreport-site" / "summary" / "report.md"
    assert result.summary.startswith("<!-- tbreport: ci-report -->\n"), result.summary[:200]
    assert result.summary == summary_file.read_text(encoding="utf-8")
    assert "tutorial/line" in result.summary and "tutorial/poly" in result.summary
    assert "![Chart" not in result.summary  # not published: no image URL
    assert "Runs \\$(touch pwned)" in result.summary  # the title, literally

    assert HEADLINE.match(out["verdict"]), out["verdict"]
    assert f"**{out['verdict']}** against the baseline" in result.summary
    assert out["pages-url"] == ""
    assert not list(workspace.glob("pwned*")) and not list(tmp_path.glob("pwned*"))


def test_regression_fails_only_after_the_summary_was_written(tmp_path, workspace):
    (workspace / "tbreport.toml").write_text(REGRESSION_CONFIG, encoding="utf-8")
    result = run_action(tmp_path, workspace, {"baseline": "run_1", "fail-on-regression": "true"})
    assert result.returncode == 1, result
    # tbreport's output is shown with workflow commands off; the action's own error after it
    shown = re.search(r"^::stop-commands::(\S+)$(.*?)^::\1::$", result.stdout, re.M | re.S)
    assert shown and "gate(s) got worse than the baseline" in shown[2], result
    assert "\n::error title=tbreport::" in result.stdout
    # the report, the job summary and every output are there all the same
    assert Path(result.outputs["report-path"]).is_file()
    assert result.summary.startswith("<!-- tbreport: tbreport -->\n")
    assert "tutorial/poly (gate)" in result.summary
    assert re.search(r"\b1 worse\b", result.outputs["verdict"]), result.outputs
    assert Path(result.outputs["summary-path"]).is_file()


def checkout_with_remote(tmp_path: Path, workspace: Path) -> tuple[Path, dict[str, str]]:
    """The workspace as a git checkout whose origin is a local bare repository; returns the
    bare repository and an environment with an identity, for setting things up."""
    setup_env = {
        **clean_env(tmp_path),
        "GIT_AUTHOR_NAME": "Setup",
        "GIT_AUTHOR_EMAIL": "setup@example.com",
        "GIT_COMMITTER_NAME": "Setup",
        "GIT_COMMITTER_EMAIL": "setup@example.com",
    }
    bare = tmp_path / "remote.git"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(bare), env=setup_env)
    git(workspace, "-c", "init.defaultBranch=main", "init", "-q", env=setup_env)
    (workspace / ".gitignore").write_text("tbreport-site/\n")
    git(workspace, "add", ".", env=setup_env)
    git(workspace, "commit", "-q", "-m", "runs", env=setup_env)
    git(workspace, "remote", "add", "origin", str(bare), env=setup_env)
    return bare, setup_env


def test_publish_to_a_local_bare_remote(tmp_path, workspace):
    bare, setup_env = checkout_with_remote(tmp_path, workspace)
    head = git(workspace, "rev-parse", "HEAD", env=setup_env)

    # no identity configured or in the environment: the action commits as the bot
    result = run_action(tmp_path, workspace, {"publish": "true", "publish-prefix": "pr/7/"})
    assert result.returncode == 0, result
    files = git(bare, "ls-tree", "-r", "--name-only", "gh-pages", env=setup_env).splitlines()
    assert "pr/7/index.html" in files and "pr/7/summary/report.md" in files, files
    assert ".nojekyll" in files
    author = git(bare, "log", "-1", "--format=%an <%ae>|%cn", "gh-pages", env=setup_env)
    assert author == (
        "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
        "|github-actions[bot]"
    )
    published = git(bare, "show", "gh-pages:pr/7/summary/report.md", env=setup_env)
    assert published.startswith("<!-- tbreport: tbreport -->")
    # the remote is not on GitHub: tbreport cannot know the Pages URL, so the output is empty
    assert "The report URL is unknown" in result.stdout
    assert result.outputs["pages-url"] == ""
    assert result.outputs["verdict"] == ""  # no baseline
    # the user's checkout is untouched
    assert git(workspace, "rev-parse", "HEAD", env=setup_env) == head
    assert git(workspace, "status", "--porcelain", env=setup_env) == ""


def main_files(site: Path, fmt: str) -> list[Path]:
    """The main file of a build, found by looking at what is in the output folder."""
    if fmt == "jekyll":
        return sorted((site / "_posts").iterdir())
    return [site / {"html": "index.html", "markdown": "report.md"}[fmt]]


@pytest.mark.parametrize("fmt", ["html", "jekyll", "markdown"])
def test_quiet_in_args_still_gives_the_report_path(tmp_path, workspace, fmt):
    result = run_action(tmp_path, workspace, {"format": fmt, "args": "--quiet"})
    assert result.returncode == 0, result
    assert "Built " not in result.log  # tbreport's notes really were off
    (main,) = main_files(workspace / "tbreport-site", fmt)
    assert main.is_file()
    assert result.outputs["report-path"] == str(main)
    assert result.outputs["summary-path"] == str(workspace / "tbreport-site/summary/report.md")


def test_verdict_with_quiet_in_args_and_no_job_summary(tmp_path, workspace):
    (workspace / "tbreport.toml").write_text(REGRESSION_CONFIG, encoding="utf-8")
    inputs = {"format": "markdown", "baseline": "run_1", "args": "--quiet", "job-summary": "no"}
    result = run_action(tmp_path, workspace, inputs)
    assert result.returncode == 0, result  # gates fail the step only with fail-on-regression
    assert result.outputs["summary-path"] == "" and result.summary == ""
    report = Path(result.outputs["report-path"]).read_text(encoding="utf-8")
    shown = re.search(r"^\*\*(.*)\*\* against the baseline", report, re.M)
    assert shown, report[:500]
    assert result.outputs["verdict"] == shown[1]
    assert HEADLINE.match(shown[1]) and re.search(r"\b1 worse\b", shown[1]), shown[1]


def test_regression_with_quiet_in_args_fails_at_the_end_with_the_outputs_set(tmp_path, workspace):
    (workspace / "tbreport.toml").write_text(REGRESSION_CONFIG, encoding="utf-8")
    inputs = {
        "format": "jekyll",
        "baseline": "run_1",
        "fail-on-regression": "true",
        "job-summary": "false",
        "args": "--quiet",
    }
    result = run_action(tmp_path, workspace, inputs)
    assert result.returncode == 1, result
    assert "gate(s) got worse than the baseline" in result.stdout
    assert result.stdout.rstrip("\n").splitlines()[-1].startswith("::error title=tbreport::")
    (post,) = main_files(workspace / "tbreport-site", "jekyll")
    assert result.outputs["report-path"] == str(post)
    assert re.search(r"\b1 worse\b", result.outputs["verdict"]), result.outputs
    assert result.outputs["summary-path"] == "" and result.outputs["pages-url"] == ""


def test_pages_url_comes_from_publish_json_not_from_the_log(tmp_path, workspace):
    bare, setup_env = checkout_with_remote(tmp_path, workspace)
    # a file name in the site that publish mentions in a note, shaped like its URL line
    site = workspace / "tbreport-site"
    site.mkdir()
    (site / "x\nThe report will appear at forged.example (sic)").symlink_to("nowhere")
    inputs = {"publish": "true", "publish-prefix": "pr/7"}

    result = run_action(tmp_path, workspace, inputs)
    assert result.returncode == 0, result
    assert "The report will appear at forged.example" in result.stdout  # shown, not believed
    assert "The report URL is unknown" in result.stdout  # origin is not on GitHub, no CNAME
    assert result.outputs["pages-url"] == ""

    # a custom domain on the branch: publish knows the URL now
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "gh-pages", str(bare), str(clone), env=setup_env)
    (clone / "CNAME").write_text("reports.example.com\n")
    git(clone, "add", "CNAME", env=setup_env)
    git(clone, "commit", "-q", "-m", "custom domain", env=setup_env)
    git(clone, "push", "-q", "origin", "gh-pages", env=setup_env)
    result = run_action(tmp_path, workspace, inputs)
    assert result.returncode == 0, result
    assert result.outputs["pages-url"] == "https://reports.example.com/pr/7/"
    assert "The report will appear at https://reports.example.com/pr/7/ " in result.stdout


# --- pieces of run.sh, sourced ----------------------------------------------------------


def source_and_run(
    tmp_path: Path, code: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "bash",
            "-c",
            f'source "$1"; shift; {code}',
            "bash",
            str(ROOT / "action" / "run.sh"),
            *args,
        ],
        cwd=cwd or tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_multiline_outputs_use_a_heredoc_delimiter(tmp_path):
    out = tmp_path / "out.txt"
    value = "first line\nname=not an output\nghadelimiter_x\n"
    proc = source_and_run(
        tmp_path,
        'GITHUB_OUTPUT="$1"; set_output one "$2"; set_output two "$3"; set_output three ""',
        str(out),
        value,
        "a=b <<c",
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "one<<ghadelimiter_" in text
    assert read_outputs(out) == {"one": value, "two": "a=b <<c", "three": ""}


def test_pages_url_for_the_summary_images(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", env=clean_env(tmp_path))
    git(repo, "remote", "add", "origin", "git@github.com:Octo/Proj.git", env=clean_env(tmp_path))
    proc = source_and_run(tmp_path, 'expected_pages_url "pr/12/"', cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "https://octo.github.io/Proj/pr/12/"
    proc = source_and_run(tmp_path, 'expected_pages_url "../x"', cwd=repo)
    assert proc.returncode != 0 and "Bad --prefix" in proc.stderr
    # the URL in `tbreport publish --json` is what the pages-url output holds, and the log
    # shows what publish says without --json
    from tbreport.publish import PublishResult, describe, to_json

    printed = tmp_path / "publish.json"
    for url in ("https://octo.github.io/Proj/pr/12/", None):
        result = PublishResult("c" * 40, "gh-pages", url, 3, True, "origin", True, "pr/12")
        printed.write_text(to_json(result))
        proc = source_and_run(tmp_path, 'json_value "$1" url', str(printed))
        assert (proc.returncode, proc.stdout) == (0, url or ""), proc.stderr
        proc = source_and_run(tmp_path, 'describe_publish "$1"', str(printed))
        assert proc.stdout == describe(result) + "\n", proc.stderr


def test_only_a_regression_in_the_json_counts_as_one(tmp_path):
    """An exit 1 is a regression only when tbreport's JSON lists one: a crash that prints no
    JSON (whatever its stderr says) ends the script at once with its exit code."""
    work = tmp_path / "work"
    work.mkdir()
    crash = (
        "TBREPORT=(python3 -c \"import sys; sys.exit('1 gate(s) got worse than the baseline')\")"
    )
    code = f'{crash}; WORK="$1"; run_tbreport main build || echo "returned $?"'
    proc = source_and_run(tmp_path, code, str(work))
    assert proc.returncode == 1 and "returned" not in proc.stdout, proc.stdout
    assert "got worse" in proc.stdout  # its stderr was shown all the same
    empty = work / "empty.json"
    empty.touch()
    proc = source_and_run(tmp_path, 'json_value "$1" regressed', str(empty))
    assert (proc.returncode, proc.stdout) == (0, "false")
    proc = source_and_run(tmp_path, 'json_value "$1" main', str(empty))
    assert proc.returncode != 0 and "tbreport printed no JSON" in proc.stderr


def test_git_identity_defaults_to_the_bot_only_when_unset(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", env=clean_env(tmp_path))
    show = 'set_git_identity; echo "${GIT_AUTHOR_NAME:-}|${GIT_COMMITTER_EMAIL:-}"'
    proc = source_and_run(tmp_path, show, cwd=repo)
    assert proc.stdout.strip() == (
        "github-actions[bot]|41898282+github-actions[bot]@users.noreply.github.com"
    ), proc.stderr
    git(repo, "config", "user.name", "Ada", env=clean_env(tmp_path))
    git(repo, "config", "user.email", "ada@example.com", env=clean_env(tmp_path))
    proc = source_and_run(tmp_path, show, cwd=repo)
    assert proc.stdout.strip() == "|", proc.stderr  # git's own settings are left to apply


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"publish": "maybe"}, "Input 'publish' must be 'true' or 'false'"),
        ({"format": "pdf"}, "Input 'format' must be html, jekyll or markdown"),
        ({"args": "--title 'unbalanced"}, "Input 'args' cannot be split"),
    ],
)
def test_bad_inputs_fail_before_building(tmp_path, workspace, inputs, message):
    result = run_action(tmp_path, workspace, inputs)
    assert result.returncode == 2, result
    assert message in result.log
    assert not (workspace / "tbreport-site").exists()
    assert result.summary == ""


# --- docs/github-actions.md -------------------------------------------------------------


def yaml_blocks() -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", DOCS.read_text(encoding="utf-8"), re.M | re.S)


def test_example_workflows_are_valid_and_use_the_action_correctly():
    action = load_action()
    blocks = yaml_blocks()
    assert len(blocks) >= 3
    used_inputs: set[str] = set()
    for block in blocks:
        workflow = yaml.safe_load(block)
        assert isinstance(workflow, dict) and "jobs" in workflow
        assert "on" in workflow or True in workflow  # YAML 1.1 reads `on` as true
        for job in workflow["jobs"].values():
            assert "runs-on" in job and job["steps"]
            ids = {s["id"]: s for s in job["steps"] if "id" in s}
            for step in job["steps"]:
                assert ("uses" in step) != ("run" in step), step
                if "run" in step:
                    # nothing interpolated into scripts: values come through env
                    assert "${{" not in step["run"], step["run"]
                    continue
                if not re.fullmatch(r"(\./|[\w.-]+/tbreport@\S+)", step["uses"]):
                    continue
                with_ = step.get("with") or {}
                assert set(with_) <= set(action["inputs"]), set(with_) - set(action["inputs"])
                assert all(isinstance(v, str) for v in with_.values()), with_
                used_inputs |= set(with_)
            text = yaml.safe_dump(job)
            for step_id, name in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
                assert "tbreport@" in ids[step_id]["uses"], step_id
                assert name in action["outputs"], name
    assert {"baseline", "publish", "publish-prefix", "marker-id"} <= used_inputs
