import re
import subprocess
import sys
from pathlib import Path

import pytest

import medlearn
from medlearn.cli import build_parser, main


# The subcommands the README and CONTRIBUTING.md promise; removing one must fail here.
PROMISED = ("doctor", "data", "train", "assign", "grade")


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(PROMISED) <= set(sub.choices), sorted(set(PROMISED) - set(sub.choices))
    for name in sub.choices:   # every registered subcommand shows up in --help with its help line
        assert re.search(rf"^\s+{name}\s+\S", out, re.M), name


def test_a_subcommand_module_that_fails_to_import_is_an_error(monkeypatch):
    import medlearn.cli as cli

    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "no_such_subcommand"))
    with pytest.raises(ModuleNotFoundError, match="no_such_subcommand"):
        cli.build_parser()


def test_the_libraries_import_no_cli_code():
    """The CLI sits on top: nothing below medlearn/cli/ imports it."""
    root = Path(medlearn.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "cli" not in p.relative_to(root).parts[:1] and p.name != "__main__.py"
                 and re.search(r"^\s*(from|import) medlearn\.cli\b", p.read_text(), re.M)]
    assert offenders == []


def test_python_dash_m_runs_a_subcommand():
    out = subprocess.run([sys.executable, "-m", "medlearn", "doctor", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "--no-gpu-probe" in out.stdout


@pytest.mark.parametrize("argv", [["frobnicate"], ["doctor", "--bogus"], []])
def test_bad_usage_exits_2_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "usage: medlearn" in capsys.readouterr().err


def test_console_script_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "medlearn", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("medlearn ")


@pytest.mark.parametrize("argv,message", [
    (["train", "--epochs", "0"], "--epochs: must be an integer >= 1. Received: '0'"),
    (["train", "--time-budget", "0"], "--time-budget: must be a number > 0. Received: '0'"),
    (["train", "--bootstrap", "-1"], "--bootstrap: must be an integer >= 0. Received: '-1'"),
    (["train", "--epochs", "ten"], "--epochs: must be an integer >= 1. Received: 'ten'"),
    (["grade", "--assignment", "a.ipynb", "--out", "o", "--timeout", "0", "s.ipynb"],
     "--timeout: must be a number > 0. Received: '0'"),
    (["grade", "--assignment", "a.ipynb", "--out", "o", "--jobs", "0", "s.ipynb"],
     "--jobs: must be an integer >= 1. Received: '0'"),
])
def test_bad_numbers_say_what_is_expected(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
