"""Throwaway git repositories of the project, and asv run in them, for the end-to-end asv tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_IDENTITY = [
    "-c",
    "user.name=jitpi tests",
    "-c",
    "user.email=tests@jitpi.invalid",
    "-c",
    "commit.gpgsign=false",
]


@contextlib.contextmanager
def suite_importable():
    """The repository root on sys.path while the asv suite (benchmarks/) is imported."""
    sys.path.insert(0, str(ROOT))
    try:
        yield
    finally:
        sys.path.remove(str(ROOT))


def have_tools() -> str | None:
    """Why the end-to-end asv tests cannot run here, or None."""
    if shutil.which("git") is None:
        return "git is not installed"
    if shutil.which("python3.11") is None:
        return "asv's environments need python3.11 on PATH"
    try:
        import asv  # noqa: F401
        import json5  # noqa: F401
    except ImportError as error:
        return f"{error.name} is not installed (pip install -e '.[dev]')"
    return None


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def copy_working_tree(destination: Path) -> None:
    """The project's files as they stand (tracked and untracked, not ignored), without .git."""
    listing = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listing):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def light_config(**overrides) -> dict:
    """The project's asv.conf.json with a lighter matrix: numpy alone, at the project's pin."""
    import json5

    conf = json5.loads((ROOT / "asv.conf.json").read_text(encoding="utf-8"))
    conf["matrix"] = {"req": {"numpy": conf["matrix"]["req"]["numpy"]}}
    conf.update(overrides)
    return conf


def make_repo(path: Path, conf: dict) -> Path:
    """A fresh git repository (branch main) holding the working tree and ``conf`` as asv.conf.json."""
    path.mkdir(parents=True)
    copy_working_tree(path)
    (path / "asv.conf.json").write_text(json.dumps(conf, indent=4) + "\n", encoding="utf-8")
    git(path, "init", "-q", "-b", "main")
    commit_all(path, "the project as it stands")
    return path


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def asv_environ(home: Path) -> dict[str, str]:
    """asv's environment for a test: its own HOME (machine file), pip's real download cache."""
    environ = dict(os.environ)
    cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True
    ).stdout.strip()
    if cache:
        environ["PIP_CACHE_DIR"] = cache
    home.mkdir(parents=True, exist_ok=True)
    environ["HOME"] = str(home)
    environ.pop("PYTHONPATH", None)
    return environ


def asv(repo: Path, environ: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asv", *args],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def register_machine(repo: Path, environ: dict[str, str], name: str) -> None:
    done = asv(repo, environ, "machine", "--yes", "--machine", name, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
