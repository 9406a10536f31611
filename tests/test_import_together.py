"""Every framework in one process, in registry order and reversed: exact counts and no crash (two
of them bundle LLVM, and an unlucky order aborts the process; the registry orders the imports)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import jitpi

SCRIPT = textwrap.dedent(
    """
    import json, sys, jitpi
    from jitpi.philox import shared_hits_reference
    order = json.loads(sys.argv[1])
    counts = {}
    for name in order:
        if jitpi.availability(name, "cpu", "shared")[0]:
            counts[name] = jitpi.count_hits(10_001, backend=name, variant="shared", seed=2**64 - 1)
    print(json.dumps({"counts": counts, "reference": shared_hits_reference(10_001, 2**64 - 1)}))
    """
)


@pytest.mark.parametrize("order", ["registry", "reversed"])
def test_every_backend_imports_beside_the_others(order):
    names = list(jitpi.BACKENDS) if order == "registry" else list(reversed(jitpi.BACKENDS))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(names)], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["counts"]) >= 2, result
    assert set(result["counts"].values()) == {result["reference"]}, result


def test_a_framework_imported_in_the_wrong_order_is_refused_not_an_abort():
    """tensorflow imported by the user first: backends that would import Triton after it say why, and
    tensorflow's own backend counts (it must not load Triton then: that order aborts)."""
    script = textwrap.dedent(
        """
        import importlib.util, json, sys
        if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("triton") is None:
            print(json.dumps(None)); sys.exit(0)
        import tensorflow
        import jitpi
        answers = {name: jitpi.availability(name) for name in ("triton", "torch")}
        answers["tensorflow"] = jitpi.count_hits(10**5, backend="tensorflow", variant="shared")
        print(json.dumps(answers))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    if answers is None:
        pytest.skip("needs tensorflow and triton installed")
    from jitpi.philox import REFERENCE_HITS

    assert answers.pop("tensorflow") == REFERENCE_HITS[10**5, 0]
    for name, (ok, reason) in answers.items():
        assert not ok and "cannot be imported after tensorflow" in reason, (name, reason)
