"""``python -m jitpi.cli``: the same command line as ``jitpi`` and ``python -m jitpi``."""

from jitpi.cli import main

raise SystemExit(main())
