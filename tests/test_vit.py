"""The tiny ViT: shapes, the patch-size error, save/load, attention rollout, and `medlearn train --model vit`
on TensorFlow and (in a fresh process, TensorFlow hidden) on JAX."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from medlearn.models import MODELS, ModelError, build_model

ROOT = Path(__file__).resolve().parents[1]


def test_vit_is_registered_and_shapes_are_right():
    assert "vit" in MODELS
    model = build_model("vit", (28, 28), 2, "binary", compile=False, patch_size=7, dim=32, heads=2)
    assert model.get_layer("tokens").output.shape == (None, 17, 32)        # 16 patches + class token
    assert model.output_shape == (None, 1)
    avg = build_model("vit", (28, 28, 3), 5, "multi-class", compile=False, pool="avg", depth=1)
    assert avg.get_layer("tokens").output.shape == (None, 49, 64) and avg.output_shape == (None, 5)


@pytest.mark.parametrize("patch", [5, 0, 2.5, 3])
def test_patch_size_that_does_not_divide_the_image(patch):
    with pytest.raises(ModelError, match=r"patch_size must divide the image height and width \(28x28\); "
                                         r"choose one of 2, 4, 7, 14\. Received: patch_size="):
        build_model("vit", (28, 28, 1), 2, "binary", patch_size=patch)


def test_heads_must_divide_dim():
    with pytest.raises(ModelError, match="heads must divide dim"):
        build_model("vit", (28, 28, 1), 2, "binary", dim=30, heads=4)


def test_save_load_and_attention_rollout(tmp_path):
    import keras

    from medlearn.models.vit import attention_maps, attention_rollout

    model = build_model("vit", (28, 28, 1), 2, "binary", dim=32, heads=2, depth=2)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    model.save(tmp_path / "vit.keras")
    again = keras.saving.load_model(tmp_path / "vit.keras")
    assert np.allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    maps = attention_maps(model, x)
    assert len(maps) == 2 and maps[0].shape == (3, 2, 50, 50)
    assert np.allclose(maps[0].sum(axis=-1), 1, atol=1e-5)                  # rows are distributions
    roll = attention_rollout(model, x)
    assert roll.shape == (3, 28, 28) and np.isclose(roll.max(), 1) and roll.min() >= 0
    assert np.all(roll[:, :4, :4] == roll[:, :1, :1])                       # constant over each 4x4 patch


def test_rollout_of_identity_attention_is_uniform():
    """With every head attending uniformly, the rollout is flat (no patch is preferred)."""
    from medlearn.models.vit import attention_rollout

    model = build_model("vit", (8, 8, 1), 2, "binary", patch_size=4, dim=8, heads=1, depth=1, compile=False)
    layer = model.get_layer("attention_0")
    weights = [np.zeros_like(w) for w in layer.get_weights()]                 # all scores 0 -> uniform softmax
    layer.set_weights(weights)
    roll = attention_rollout(model, np.random.default_rng(1).random((2, 8, 8, 1)).astype("float32"))
    assert np.allclose(roll, 1.0)


def _train(backend, tmp_path, hide_tf):
    hide = textwrap.dedent("""
        import importlib.abc, sys
        class _NoTensorFlow(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "tensorflow" or name.startswith("tensorflow."):
                    raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        sys.meta_path.insert(0, _NoTensorFlow())
    """) if hide_tf else ""
    code = hide + textwrap.dedent(f"""
        import sys
        from medlearn.cli import main
        rc = main(["train", "phantoms", "--model", "vit", "--epochs", "1", "--quiet", "--bootstrap", "20",
                   "--out", {str(tmp_path / backend)!r}, "--json", {str(tmp_path / (backend + '.json'))!r}])
        import keras
        print("BACKEND", keras.backend.backend())
        sys.exit(rc)
    """)
    env = dict(os.environ, KERAS_BACKEND=backend, MEDLEARN_FAST="1", MEDLEARN_OFFLINE="1", MPLBACKEND="Agg",
               TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"BACKEND {backend}" in proc.stdout
    summary = json.loads((tmp_path / f"{backend}.json").read_text())
    assert summary["model"] == "vit" and 0 <= summary["auc"] <= 1 and summary["params"] > 10_000
    assert (tmp_path / backend / "model.keras").is_file()


def test_train_cli_trains_vit_on_tensorflow(tmp_path):
    _train("tensorflow", tmp_path, hide_tf=False)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_train_cli_trains_vit_on_jax_without_tensorflow(tmp_path):
    _train("jax", tmp_path, hide_tf=True)
