"""requirements*.txt, environment.yml and pyproject.toml tell one story."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
                   "nbformat", "nbclient", "nbval", "pytest", "ipykernel", "jupyterlab"):
        assert needed in req, needed
    assert ">=2.16" in req["tensorflow"] and ">=3" in req["keras"]


def test_pyproject_declares_cli_and_python_range():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["scripts"]["medlearn"] == "medlearn.cli:main"
    assert meta["requires-python"] == ">=3.10,<3.13"


def test_readme_quickstart_has_exactly_two_commands_and_ci_runs_the_second():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^#+[^\n]*quick\s*start[^\n]*\n(.*?)^```[^\n]*\n(.*?)^```", text, re.I | re.M | re.S)
    assert m, "README needs a Quickstart section with a fenced block"
    cmds = [l.strip() for l in m.group(2).splitlines() if l.strip() and not l.strip().startswith("#")]
    assert len(cmds) == 2
    assert "train" in cmds[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert cmds[1] in ci.splitlines()
