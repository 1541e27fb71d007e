import subprocess
import sys

import pytest

from medlearn.cli import build_parser, main


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    present = [name for name in ("doctor", "data", "train", "assign", "grade") if name in out]
    assert "doctor" in present
    # every registered subcommand shows up in --help
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) <= set(present) | {c for c in sub.choices if c in out}


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
