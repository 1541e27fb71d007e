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
