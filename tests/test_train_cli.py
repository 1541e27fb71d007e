"""`medlearn train`: argument errors exit non-zero without a traceback; a short run writes its files."""
import json
import os
import subprocess
import sys

import pytest

from medlearn.cli import main


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("args,message", [
    (["train", "nosuchmnist"], "name must be a registered dataset"),
    (["train", "breast_cancer"], "needs an image dataset"),
    (["train", "phantoms", "--size", "64"], "phantoms exist at 28x28 only"),
])
def test_bad_dataset_is_one_clear_message(args, message, capsys, tmp_path):
    code, out, err = _run(args + ["--out", str(tmp_path / "o")], capsys)
    assert code == 1
    assert message in err and "Traceback" not in err


def test_missing_dataset_offline_says_where_to_put_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
    code, out, err = _run(["train", "breastmnist", "--data-dir", str(tmp_path / "data"),
                           "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "breastmnist" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--epochs", "-3"], ["--model", "vgg"],
                                  ["--time-budget", "0"]])
def test_bad_options_exit_two_with_usage(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


@pytest.mark.skipif(os.name == "nt" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="root can write anywhere; permissions cannot be tested")
def test_unwritable_out_folder(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    code, out, err = _run(["train", "--out", str(locked / "run")], capsys)
    assert code == 1 and "--out cannot be created" in err


def test_out_path_that_is_a_file(capsys, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code, out, err = _run(["train", "--out", str(blocker / "run")], capsys)
    assert code == 1 and "--out cannot be created" in err and "Traceback" not in err


def test_short_run_prints_report_and_saves_everything(tmp_path):
    out_dir, summary = tmp_path / "run", tmp_path / "summary.json"
    env = {**os.environ, "MEDLEARN_FAST": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "medlearn", "train", "--model", "logreg", "--epochs", "1",
         "--bootstrap", "50", "--out", str(out_dir), "--json", str(summary), "--quiet"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Clinical report" in proc.stdout and "sensitivity" in proc.stdout
    for name in ("curves.png", "roc.png", "confusion.png", "model.keras", "metrics.json"):
        assert (out_dir / name).stat().st_size > 0, name
    data = json.loads(summary.read_text())
    assert data["dataset"] == "phantoms" and data["model"] == "logreg"
    assert {"acc", "auc", "train_seconds", "params"} <= set(data)
    assert 0 <= data["acc"] <= 1 and data["params"] == 28 * 28 + 1
    full = json.loads((out_dir / "metrics.json").read_text())
    assert full["report"]["summary"]["sensitivity"]["low"] is not None
    # model.keras takes the raw uint8 test images and reproduces the reported accuracy
    proc = subprocess.run([sys.executable, "-c", (
        "import sys, numpy as np, keras\n"
        "from medlearn.datasets import load_phantoms\n"
        "test = load_phantoms('test')\n"
        f"model = keras.saving.load_model({str(out_dir / 'model.keras')!r})\n"
        "p = np.asarray(model.predict(test.images[..., None], verbose=0))[:, 0]\n"
        "print(float(np.mean((p >= 0.5) == (test.labels == 1))))\n")],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float(proc.stdout.split()[-1]) == pytest.approx(data["acc"], abs=1e-6)


def test_undefined_figures_are_written_as_json_null(tmp_path):
    """An undefined AUC or a NaN loss must not become a bare NaN, which is not JSON."""
    import numpy as np

    from medlearn.cli._args import write_json

    path = tmp_path / "m.json"
    write_json(path, {"auc": float("nan"), "loss": np.array([0.5, np.nan, np.inf]), "n": np.int64(3),
                      "nested": {"low": np.float32("nan")}})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data == {"auc": None, "loss": [0.5, None, None], "n": 3, "nested": {"low": None}}


def test_help_lists_each_datasets_recipe_and_the_cli_applies_it(capsys, monkeypatch):
    """``medlearn train DATASET`` with no options runs the dataset's recipe, and --help says which."""
    from medlearn.cli._args import CliError
    from medlearn.cli.train import DEFAULT_MODEL, resolve_recipe
    from medlearn.train import recipes

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for name, recipe in recipes.RECIPES.items():
        assert f"{name}" in out and recipe.name in out
    assert f"(others)        {recipes.DEFAULT_RECIPE.name}" in out and DEFAULT_MODEL == recipes.DEFAULT_RECIPE.model
    toy = recipes.Recipe("cnn-ordinal-x3", {"model": "cnn", "head": "ordinal", "ensemble": 3}, "measured")
    monkeypatch.setitem(recipes.RECIPES, "toymnist", toy)
    assert resolve_recipe("ToyMNIST") == ("cnn-ordinal-x3", {"model": "cnn", "head": "ordinal", "ensemble": 3})
    assert resolve_recipe("toymnist", ensemble=1) == ("cnn-ordinal-x3 (ensemble 1)",
                                                      {"model": "cnn", "head": "ordinal", "ensemble": 1})
    # another model: the recipe's builder options (the ordinal head) stay with its own model
    assert resolve_recipe("toymnist", model="mlp") == ("mlp (cnn-ordinal-x3 options)", {"model": "mlp", "ensemble": 3})
    assert toy.kwargs(model="resnet") == {"model": "resnet", "ensemble": 3}
    assert resolve_recipe("phantoms") == (recipes.DEFAULT_RECIPE.name, {"model": DEFAULT_MODEL})
    assert resolve_recipe("retinamnist", head="ordinal")[1]["head"] == "ordinal"
    with pytest.raises(CliError, match="--head ordinal needs --model logreg, mlp, cnn or resnet"):
        resolve_recipe("retinamnist", model="vit", head="ordinal")

