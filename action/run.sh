#!/usr/bin/env bash
# The script part of the tbreport composite action (see ../action.yml).
#
# Inputs arrive only as INPUT_* environment variables (never pasted into script text), outputs
# go to $GITHUB_OUTPUT. Order: main report -> Markdown job summary -> publish -> exit. A failed
# --fail-on-regression gate is remembered and turned into the exit status only at the end, so
# the summary and the published report exist even when the step fails. Every output comes from
# the JSON that `build --json` and `publish --json` print (docs/json.md), never from their
# human-readable notes, which change and can be switched off with --quiet.
set -euo pipefail

TBREPORT=(python3 -m tbreport) # the interpreter the action's pip install used
BOT_NAME='github-actions[bot]'
BOT_EMAIL='41898282+github-actions[bot]@users.noreply.github.com'

# A workflow-command-safe message: %, CR and LF escaped as the runner expects.
escape_data() {
	local s=${1//'%'/'%25'}
	s=${s//$'\r'/'%0D'}
	printf '%s' "${s//$'\n'/'%0A'}"
}

die() { # die EXIT_CODE MESSAGE
	printf '::error title=tbreport::%s\n' "$(escape_data "$2")"
	exit "$1"
}

random_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# show_log FILE: print tbreport's output with workflow commands disabled, so that a run or tag
# name shaped like '::command::' in it is shown, not obeyed.
show_log() {
	local token
	token="tbreport-$(random_hex)"
	printf '::stop-commands::%s\n' "$token"
	cat "$1" || true
	printf '::%s::\n' "$token"
}

# set_output NAME VALUE: one 'name=value' line, or the heredoc form for multi-line values.
set_output() {
	local name=$1 value=$2 delim
	if [[ -z ${GITHUB_OUTPUT:-} ]]; then
		printf 'output %s=%s\n' "$name" "$value" # not in GitHub Actions: just show it
		return 0
	fi
	if [[ $value == *$'\n'* || $value == *$'\r'* ]]; then
		delim="ghadelimiter_$(random_hex)"
		while [[ $value == *"$delim"* ]]; do delim="ghadelimiter_$(random_hex)"; done
		printf '%s<<%s\n%s\n%s\n' "$name" "$delim" "$value" "$delim" >>"$GITHUB_OUTPUT"
	else
		printf '%s=%s\n' "$name" "$value" >>"$GITHUB_OUTPUT"
	fi
}

# flag INPUT_NAME VALUE: sets the variable named like the input (dashes as underscores) to
# true or false; anything else is an error.
flag() {
	local value
	case "${2,,}" in
	true | yes | on | 1) value=true ;;
	false | no | off | 0 | '') value=false ;;
	*) die 2 "Input '$1' must be 'true' or 'false', not '$2'." ;;
	esac
	printf -v "${1//-/_}" '%s' "$value"
}

absolute() { # a path made absolute against the current folder (no symlink resolution)
	if [[ -z $1 || $1 == /* ]]; then printf '%s' "$1"; else printf '%s' "$PWD/$1"; fi
}

# split_args: EXTRA=(INPUT_ARGS split like a POSIX shell would, quotes honoured, nothing run
# or expanded). Python's shlex does the splitting; words travel NUL-separated.
split_args() {
	EXTRA=()
	if [[ -z ${INPUT_ARGS//[[:space:]]/} ]]; then return 0; fi
	python3 - "$INPUT_ARGS" >"$WORK/args" <<'PY' || die 2 "Input 'args' cannot be split: unbalanced quotes or a trailing backslash."
import shlex, sys
try:
    words = shlex.split(sys.argv[1])
except ValueError as err:
    sys.exit(f"args: {err}")
sys.stdout.write("".join(word + "\0" for word in words))
PY
	mapfile -d '' -t EXTRA <"$WORK/args"
}

# json_value FILE KEY: one value from the JSON tbreport printed into FILE (docs/json.md), ''
# for null. KEY: main (build: the main file), verdict (build: the comparison's headline), url
# (publish: the Pages URL) or regressed (build: 'true' when a gate failed; 'false' also when
# FILE holds no JSON, as after a crash, which must not pass for a regression).
json_value() {
	python3 - "$1" "$2" <<'PY'
import json, sys
path, key = sys.argv[1:]
try:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
except (OSError, ValueError) as err:
    if key == "regressed":
        print("false", end="")
        sys.exit()
    sys.exit(f"Error: tbreport printed no JSON ({err}).")
if key == "main" or key == "url":
    value = data[key]
else:
    comparison = data["comparison"] or {"headline": None, "regressions": []}
    if key == "verdict":
        value = comparison["headline"]
    else:
        value = "true" if comparison["regressions"] else "false"
print(value or "", end="")
PY
}

# run_tbreport NAME ARGS...: runs tbreport, its JSON (stdout) saved to $WORK/NAME.json, its
# stderr to $WORK/NAME.log and shown. Returns 0 on success and tbreport's exit code when only
# a regression gate failed; any other failure ends the script with tbreport's exit code.
# (Called in '||' context, so it checks every status.)
run_tbreport() {
	local name=$1 rc=0
	shift
	"${TBREPORT[@]}" "$@" >"$WORK/$name.json" 2>"$WORK/$name.log" || rc=$?
	show_log "$WORK/$name.log"
	if ((rc == 0)); then
		return 0
	fi
	# a gated regression exits 1 after printing the JSON of the report it wrote
	if ((rc == 1)) && [[ $(json_value "$WORK/$name.json" regressed) == true ]]; then
		return "$rc"
	fi
	exit "$rc"
}

# Author and committer for the gh-pages commit: whatever git is configured with, else the bot.
set_git_identity() {
	if ! git config --get user.name >/dev/null 2>&1; then
		export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-$BOT_NAME}"
		export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-$BOT_NAME}"
	fi
	if ! git config --get user.email >/dev/null 2>&1 && [[ -z ${EMAIL:-} ]]; then
		export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-$BOT_EMAIL}"
		export GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-$BOT_EMAIL}"
	fi
}

# The Pages URL of origin (+ prefix), computed before publishing so the summary's chart images
# can point at it. Empty when origin is not a GitHub remote. A bad prefix fails here, early.
expected_pages_url() { # expected_pages_url PREFIX
	local remote_url
	remote_url=$(git remote get-url origin 2>/dev/null) || remote_url=""
	python3 - "$remote_url" "$1" <<'PY'
import sys
from tbreport.errors import TbreportError
from tbreport.publish import normalise_prefix, pages_url
remote, prefix = sys.argv[1], sys.argv[2]
try:
    prefix = normalise_prefix(prefix) if prefix.strip() else None
except TbreportError as err:
    sys.exit(f"Error: {err.message}")
print(pages_url(remote or None, prefix=prefix) or "", end="")
PY
}

# describe_publish FILE: what `tbreport publish` says without --json, for the log, made from
# the JSON in FILE (whose keys are PublishResult's fields).
describe_publish() {
	python3 - "$1" <<'PY'
import dataclasses, json, sys
from tbreport.publish import PublishResult, describe
with open(sys.argv[1], encoding="utf-8") as f:
    data = json.load(f)
simple = {f.name for f in dataclasses.fields(PublishResult)} - {"skipped", "warnings"}
print(describe(PublishResult(**{name: data[name] for name in simple})))
PY
}

main() {
	local runs=${INPUT_RUNS:-runs}
	local format=${INPUT_FORMAT:-html}
	local out=${INPUT_OUT:-tbreport-site}
	local title=${INPUT_TITLE:-}
	local baseline=${INPUT_BASELINE:-}
	local marker_id=${INPUT_MARKER_ID:-tbreport}
	local prefix=${INPUT_PUBLISH_PREFIX:-}
	local branch=${INPUT_PUBLISH_BRANCH:-gh-pages}
	local fail_on_regression job_summary publish
	flag fail-on-regression "${INPUT_FAIL_ON_REGRESSION:-false}"
	flag job-summary "${INPUT_JOB_SUMMARY:-true}"
	flag publish "${INPUT_PUBLISH:-false}"

	case $format in
	html | jekyll | markdown) ;;
	*) die 2 "Input 'format' must be html, jekyll or markdown, not '$format'." ;;
	esac
	if [[ $out != / ]]; then out=${out%/}; fi

	WORK=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tbreport-action.XXXXXX")
	trap 'rm -rf -- "$WORK"' EXIT
	split_args

	# Extra args first: the action's own options come later and win over them.
	local common=("${EXTRA[@]}")
	if [[ -n $title ]]; then common+=(--title "$title"); fi
	if [[ -n $baseline ]]; then common+=(--baseline "$baseline"); fi

	local pages_base=""
	if [[ $publish == true ]]; then
		pages_base=$(expected_pages_url "$prefix") || exit 2
	fi

	# 1. The main report.
	local regression_rc=0 rc
	local build=(build "${common[@]}" --format "$format" --out "$out" --json)
	if [[ $format == markdown ]]; then build+=(--marker-id "$marker_id"); fi
	if [[ $fail_on_regression == true ]]; then build+=(--fail-on-regression); fi
	run_tbreport main "${build[@]}" -- "$runs" || regression_rc=$?

	local report_path verdict
	report_path=$(json_value "$WORK/main.json" main) || exit 2
	set_output report-path "$(absolute "$report_path")"
	# there is a comparison with --baseline, and also with a baseline from the config
	verdict=$(json_value "$WORK/main.json" verdict) || exit 2

	# 2. The Markdown job summary (tbreport appends it to $GITHUB_STEP_SUMMARY itself).
	local summary_path=""
	if [[ $job_summary == true ]]; then
		local summary=(build "${common[@]}" --format markdown --job-summary --quiet
			--marker-id "$marker_id" --out "$out/summary" --json)
		if [[ -n $pages_base ]]; then summary+=(--image-base-url "${pages_base}summary/"); fi
		rc=0
		run_tbreport summary "${summary[@]}" -- "$runs" || rc=$?
		if ((regression_rc == 0)); then regression_rc=$rc; fi
		summary_path=$(json_value "$WORK/summary.json" main) || exit 2
		summary_path=$(absolute "$summary_path")
	fi
	set_output summary-path "$summary_path"
	set_output verdict "$verdict"

	# 3. Publish the output folder (with the summary's images) to the Pages branch.
	local url=""
	if [[ $publish == true ]]; then
		set_git_identity
		local pub=(publish --remote origin --branch "$branch" --json)
		if [[ -n ${prefix//[[:space:]]/} ]]; then pub+=(--prefix "$prefix"); fi
		if [[ -n ${GITHUB_SHA:-} ]]; then
			pub+=(--message "Publish report with tbreport (${GITHUB_SHA:0:12})")
		fi
		local attempt
		for attempt in 1 2 3; do
			rc=0
			"${TBREPORT[@]}" "${pub[@]}" -- "$out" \
				>"$WORK/publish.json" 2>"$WORK/publish.log" || rc=$?
			if ((rc == 0)); then
				describe_publish "$WORK/publish.json" >>"$WORK/publish.log" || exit 2
			fi
			show_log "$WORK/publish.log"
			if ((rc == 0)); then break; fi
			# another job pushed to the branch meanwhile: publish again on top of it (errors are
			# not JSON, so this reads the message of tbreport's PushRejectedError)
			if ((attempt < 3)) && grep -qF 'was rejected' "$WORK/publish.log"; then
				sleep $((attempt * 5))
				continue
			fi
			exit "$rc"
		done
		url=$(json_value "$WORK/publish.json" url) || exit 2
	fi
	set_output pages-url "$url"

	if ((regression_rc != 0)); then
		die "$regression_rc" "A gate tag got worse than the baseline (details above). The report and summary were still written."
	fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi
