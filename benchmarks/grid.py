"""The suite's grid: ``jitpi/suite/grid.py`` of this working tree, loaded from its file.

Never through ``import jitpi``: asv installs each commit's jitpi in its environment, and a grid read
from that install would move from commit to commit (``jitpi/suite/grid.py`` says why that files
numbers under the wrong names). This folder and that file are the working tree's, so every commit is
run over one grid.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "jitpi" / "suite" / "grid.py"
_SPEC = importlib.util.spec_from_file_location("_jitpi_suite_grid", _PATH)
assert _SPEC is not None and _SPEC.loader is not None, f"the suite's grid is missing: {_PATH}"
_GRID = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_GRID)

__all__ = list(_GRID.__all__)
globals().update({name: getattr(_GRID, name) for name in __all__})
