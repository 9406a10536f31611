"""``pip install`` for ``make setup``: PyTorch's CPU wheels where their index can be reached.

PyPI's Linux ``torch`` wheel is the CUDA build (several GB with its NVIDIA libraries); PyTorch's own
CPU index serves the same release as a CPU-only wheel of about 200 MB. This adds that index as an
extra index when it answers within a few seconds, and installs from PyPI alone otherwise (a machine
that reaches only PyPI then gets the CUDA build, which also runs on the CPU). It says which it did.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import urllib.error
import urllib.request


def reachable(url: str, *, timeout_s: float = 5.0) -> bool:
    """Whether ``url`` answers at all within ``timeout_s`` (any HTTP status counts as an answer)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch-index", default="", help="PyTorch index to add if it answers ('' for none)")
    parser.usage = "pip_install.py [--torch-index URL] PIP_INSTALL_ARGUMENTS..."
    args, requirements = parser.parse_known_args(argv)
    if not requirements:
        parser.error("say what to install, e.g. -e '.[all,dev]'")
    command = [sys.executable, "-m", "pip", "install"]
    if args.torch_index and reachable(args.torch_index):
        print(f"pip_install: torch from {args.torch_index} (CPU build), the rest from PyPI", flush=True)
        command += ["--extra-index-url", args.torch_index]
    elif args.torch_index:
        print(
            f"pip_install: {args.torch_index} does not answer; installing from the configured indexes "
            "alone (PyPI's Linux torch is the CUDA build, several GB)",
            flush=True,
        )
    return subprocess.call([*command, *requirements])


if __name__ == "__main__":
    sys.exit(main())
