"""The GitHub Actions workflows: the gate on pull requests, the nightly run published to Pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def runs(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(workflow))


def uses(workflow: dict) -> list[str]:
    found = [step["uses"] for step in steps(workflow) if "uses" in step]
    return found + [job["uses"] for job in workflow["jobs"].values() if "uses" in job]


@pytest.mark.parametrize("name", sorted(path.name for path in WORKFLOWS.glob("*.yml")))
def test_no_expression_is_interpolated_into_a_shell_script(name):
    """Values such as SHAs and branch names reach run: through env, never through ${{ }}."""
    for step in steps(load(name)):
        assert "${{" not in step.get("run", ""), f"{name}: {step.get('name')}"


def test_pull_requests_run_asv_continuous_against_the_base():
    workflow = load("benchmarks-pr.yml")
    assert "pull_request" in triggers(workflow)
    script = runs(workflow)
    continuous = re.search(r"asv continuous .*", script, re.S)
    assert continuous, script
    assert '--factor "$ASV_FACTOR"' in script and '"$BASE_SHA" "$HEAD_SHA"' in script
    assert "set -o pipefail" in script  # the tee must not hide asv's exit status
    assert "asv compare --split" in script and "$GITHUB_STEP_SUMMARY" in script
    env = {key: value for step in steps(workflow) for key, value in step.get("env", {}).items()}
    assert env["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert env["HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
    assert float(workflow["env"]["ASV_FACTOR"]) > 1
    checkout = next(step for step in steps(workflow) if step.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # asv needs the base commit


def test_nightly_runs_new_commits_and_deploys_the_site_to_pages():
    workflow = load("benchmarks-nightly.yml")
    on = triggers(workflow)
    assert "schedule" in on and on["schedule"][0]["cron"]
    script = runs(workflow)
    assert re.search(r"asv run NEW\b", script)
    assert "asv publish" in script and "tools/asv_site.py .asv/html" in script
    assert "jitpi page --asv-results .asv/results --out .asv/html/jitpi" in script  # the comparison page
    actions = uses(workflow)
    assert any(action.startswith("actions/upload-pages-artifact@") for action in actions)
    assert any(action.startswith("actions/deploy-pages@") for action in actions)
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
