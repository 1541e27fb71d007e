"""requirements*.txt, environment.yml and pyproject.toml tell one story."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUPPORTED = (10, 11, 12, 13)  # Python 3.x minor versions the course supports and tests


def _name(spec: str) -> str:
    return re.split(r"[\s<>=!~\[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            out.update(_requirements(path.parent / line[3:].strip()))
        elif not line.startswith("-"):
            out[_name(line)] = line.replace(" ", "")
    return out


def _environment() -> dict:
    out = {}
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    for line in text.splitlines():
        m = re.match(r"^\s+-\s+([^#]+?)\s*(#.*)?$", line)
        if not m or m.group(1).endswith(":") or m.group(1).startswith("-e"):
            continue
        spec = m.group(1)
        if _name(spec) in ("python", "pip"):
            continue
        out[_name(spec)] = spec.replace(" ", "")
    return out


def test_environment_yml_matches_requirements():
    req, env = _requirements(ROOT / "requirements-dev.txt"), _environment()
    assert set(req) == set(env), f"only in requirements: {set(req) - set(env)}; only in environment.yml: {set(env) - set(req)}"
    for name in req:
        strip = lambda s: re.sub(r"\[.*?\]", "", s)
        assert strip(req[name]) == strip(env[name]), f"{name}: {req[name]} vs {env[name]}"


def test_core_dependencies_are_declared():
    req = _requirements(ROOT / "requirements-dev.txt")
    for needed in ("tensorflow", "keras", "numpy", "pandas", "matplotlib", "scikit-learn", "pooch", "pydicom",
                   "platformdirs", "packaging", "nbformat", "nbval", "pytest", "ipykernel", "jupyterlab"):
        assert needed in req, needed
    assert "nbclient" not in _requirements(ROOT / "requirements.txt")   # only tests/test_lesson_copies.py runs notebooks with it
    assert ">=2.16" in req["tensorflow"] and ">=3" in req["keras"]


def test_pyproject_declares_cli_and_python_range():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["scripts"]["medlearn"] == "medlearn.cli:main"
    assert meta["requires-python"] == f">=3.{SUPPORTED[0]},<3.{SUPPORTED[-1] + 1}"
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert not any(c.startswith("License ::") for c in meta["classifiers"]), "SPDX license: no licence classifiers"


def test_readme_quickstart_has_exactly_two_commands_and_ci_runs_the_second():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^#+[^\n]*quick\s*start[^\n]*\n(.*?)^```[^\n]*\n(.*?)^```", text, re.I | re.M | re.S)
    assert m, "README needs a Quickstart section with a fenced block"
    cmds = [l.strip() for l in m.group(2).splitlines() if l.strip() and not l.strip().startswith("#")]
    assert len(cmds) == 2
    assert "train" in cmds[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert cmds[1] in ci.splitlines()


def _pyproject() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_supported_pythons_agree_everywhere():
    """requires-python, classifiers, dev.py, environment.yml, the doctor and the README name one range."""
    lo, hi = f"3.{SUPPORTED[0]}", f"3.{SUPPORTED[-1]}"
    meta = _pyproject()["project"]
    minors = sorted(int(c.rsplit(".", 1)[1]) for c in meta["classifiers"]
                    if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert tuple(minors) == SUPPORTED, minors
    dev = (ROOT / "dev.py").read_text()
    assert f"PYTHONS = ((3, {SUPPORTED[0]}), (3, {SUPPORTED[-1]}))" in dev
    assert f"Python {lo}-{hi}" in dev
    env = (ROOT / "environment.yml").read_text()
    assert f"- python>={lo},<3.{SUPPORTED[-1] + 1}" in env
    from medlearn import diagnostics

    assert (diagnostics.PYTHON_MIN, diagnostics.PYTHON_MAX) == ((3, SUPPORTED[0]), (3, SUPPORTED[-1]))
    readme = (ROOT / "README.md").read_text()
    assert f"Python {lo}–{hi}" in readme, f"README must say Python {lo}–{hi}"
    for stale in range(SUPPORTED[0], SUPPORTED[-1]):
        assert f"{lo}–3.{stale} " not in readme and f"{lo}-3.{stale} " not in readme, f"stale range {lo}–3.{stale}"


def test_dependency_upper_bounds_are_present():
    """Every requirement has an upper bound (tested releases only)."""
    for name, spec in _requirements(ROOT / "requirements-dev.txt").items():
        assert "<" in spec, f"{name} has no upper bound: {spec}"


def test_build_backend_supports_spdx_license():
    requires = _pyproject()["build-system"]["requires"]
    (setuptools,) = [r for r in requires if r.startswith("setuptools")]
    assert ">=77" in setuptools, "SPDX `license = \"MIT\"` needs setuptools >= 77"
