"""asv.conf.json: every key one asv knows (asv never checks), and the frameworks at pyproject's pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

json5 = pytest.importorskip("json5")
asv_config = pytest.importorskip("asv.config")
from packaging.requirements import Requirement  # noqa: E402 - after the skips above

from jitpi.registry import REGISTRY  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONF_PATH = ROOT / "asv.conf.json"
BACKEND_EXTRAS = tuple(dict.fromkeys(info.extra for info in REGISTRY.values() if info.extra))


@pytest.fixture(scope="module")
def conf() -> dict:
    return json5.loads(CONF_PATH.read_text(encoding="utf-8"))


def known_keys() -> set[str]:
    """The keys asv 0.6.6 reads, from its own source rather than from a hand-written list.

    ``Config.__init__`` sets a default for every key it reads as an attribute; ``version`` is read
    by ``util.load_json`` (the config's api_version); a few keys are only read with
    ``getattr(conf, "key", default)`` elsewhere in asv, so those calls are collected from the
    package's source too.
    """
    keys = set(vars(asv_config.Config()))
    keys.add("version")
    package = Path(asv_config.__file__).parent
    getattr_key = re.compile(r"getattr\(\s*(?:self\.)?_?conf(?:ig)?\s*,\s*['\"](\w+)['\"]")
    for source in package.rglob("*.py"):
        keys.update(getattr_key.findall(source.read_text(encoding="utf-8")))
    return keys


def test_known_keys_come_from_asv():
    keys = known_keys()
    # A sanity check of the derivation itself, not the list it checks against.
    assert {"repo", "matrix", "launch_method", "regressions_thresholds", "build_cache_size"} <= keys


def test_every_key_is_one_asv_knows(conf):
    unknown = sorted(set(conf) - known_keys())
    assert not unknown, f"asv 0.6.6 ignores these keys of asv.conf.json (typos?): {unknown}"


def test_asv_itself_loads_it():
    loaded = asv_config.Config.load(str(CONF_PATH))
    assert loaded.project == "jitpi"


def test_the_settings_the_suite_relies_on(conf):
    assert conf["version"] == 1
    assert conf["repo"] == "."
    assert conf["dvcs"] == "git"
    assert conf["branches"] == ["main"]
    assert conf["environment_type"] == "virtualenv"
    assert conf["pythons"] == ["3.11"]
    assert conf["launch_method"] == "forkserver"  # safe while the suite imports no framework
    assert conf["benchmark_dir"] == "benchmarks"
    for key in ("env_dir", "results_dir", "html_dir"):
        assert conf[key].startswith(".asv/"), key
    # The slowest setup (a cold torch.compile) plus a ~30 s call and its warm-up must fit.
    assert conf["default_benchmark_timeout"] >= 180


def test_regressions_thresholds_are_valid(conf):
    thresholds = conf["regressions_thresholds"]
    assert thresholds
    for pattern, fraction in thresholds.items():
        re.compile(pattern)
        assert isinstance(fraction, float) and 0 < fraction < 1, (pattern, fraction)
    suite = ROOT / conf["benchmark_dir"]
    modules = {path.stem for path in suite.glob("bench_*.py")}
    for pattern in thresholds:
        assert any(re.match(pattern, f"{module}.X.y") for module in modules), (
            f"regressions_thresholds pattern {pattern!r} matches no benchmark module"
        )


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    for extra in BACKEND_EXTRAS:
        requirements += [Requirement(text) for text in project["optional-dependencies"][extra]]
    return requirements


def test_matrix_installs_the_backends_at_pyprojects_pins(conf):
    # A key may carry extras (mlx[cpu]): pip installs "key==version" as it stands.
    from jitpi.suite.asv_results import pins

    matrix = {}
    for key, versions in conf["matrix"]["req"].items():
        ((name, version),) = pins({key: versions[0]}).items()
        matrix[Requirement(name).name] = [version] if key.startswith("pip+") else versions
    for requirement in _pyproject_requirements():
        assert requirement.name in matrix, f"asv's matrix does not install {requirement}"
        versions = matrix[requirement.name]
        assert len(versions) == 1 and versions[0], f"pin {requirement.name} to one version in the matrix"
        pins = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if pins:
            assert versions == pins, f"{requirement.name}: asv has {versions}, pyproject pins {pins}"
        else:
            assert requirement.specifier.contains(versions[0]), (
                f"{requirement.name}: asv's {versions[0]} is outside pyproject's {requirement.specifier}"
            )
    declared = {requirement.name for requirement in _pyproject_requirements()}
    extra = set(matrix) - declared
    assert not extra, f"the matrix installs what pyproject does not ask for: {extra}"


def test_asv_installs_every_pin_whole(conf):
    """asv 0.6.6 turns a pin "name": "version" into pip's name==version through a parser that cuts
    a .postN off (apache-tvm 0.27.0.post1 became 0.27.0, apache-tvm-ffi 0.1.15.post2 the yanked
    0.1.15); such a pin must be written as "pip+name==version" (jitpi.suite.asv_results.asv_pin),
    which asv hands to pip whole. The release sweep's configuration is held to the same."""
    from asv.util import ParsedPipDeclaration

    from jitpi.suite import releases
    from jitpi.suite.asv_results import asv_pin

    def installed(key: str, value: str) -> str:
        declaration = ParsedPipDeclaration(f"{key.removeprefix('pip+')} {value}")
        return f"{declaration.pkgname}{declaration.specification}"

    for key, versions in conf["matrix"]["req"].items():
        if key.startswith("pip+"):
            assert versions == [""] and installed(key, "") == key.removeprefix("pip+"), key
        else:
            assert installed(key, versions[0]) == f"{key}=={versions[0]}", key
    for backend, listed in releases.RELEASES.items():
        for release in listed:
            for name, version in releases.requirements(backend, release).items():
                assert installed(*asv_pin(name, version)) == f"{name}=={version}", (backend, name, version)
