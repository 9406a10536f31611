"""``python -m jitpi``: the same command line as the ``jitpi`` console script."""

from jitpi.cli import main

raise SystemExit(main())
