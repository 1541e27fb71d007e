"""The reference CNN and ``medlearn train`` run unchanged on a non-TensorFlow Keras backend.

Keras fixes its backend at import time, so each check runs in a fresh Python
with ``KERAS_BACKEND=jax``. TensorFlow is *hidden* in those processes (an
import hook makes ``import tensorflow`` fail as if it were not installed): a
GPU box with JAX or PyTorch but no TensorFlow GPU build must still run the
CNN part of the course. JAX is asked for two CPU devices
(``--xla_force_host_platform_device_count=2``) so data-parallel training
(keras.distribution.DataParallel) really splits batches here too.
"""
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="JAX is not installed (requirements-dev.txt installs its CPU build)")

HIDE_TF = textwrap.dedent("""
    import importlib.abc, sys

    class _NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
            return None

    sys.meta_path.insert(0, _NoTensorFlow())
""")


def run_python(code, *, backend="jax", hide_tf=True, timeout=600, extra_env=None):
    env = dict(os.environ, KERAS_BACKEND=backend, MEDLEARN_FAST="1", MEDLEARN_OFFLINE="1", MPLBACKEND="Agg",
               TF_CPP_MIN_LOG_LEVEL="3", **(extra_env or {}))
    script = (HIDE_TF if hide_tf else "") + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nSTDOUT:\n{proc.stdout[-3000:]}\nSTDERR:\n{proc.stderr[-3000:]}"
    return proc


def last_json(stdout):
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def test_reference_cnn_trains_on_jax_without_tensorflow():
    proc = run_python("""
        import json, math, sys
        import keras
        import numpy as np
        from medlearn import backend as mb
        from medlearn.datasets import load_phantoms, to_arrays
        from medlearn.models import encode_labels, small_cnn

        x, y = to_arrays(load_phantoms("train"))
        x, y = x[:64], encode_labels(y[:64], "binary-class", 2)
        model = small_cnn((28, 28, 1), 2, "binary-class", filters=(8, 16))
        hist = model.fit(x, y, batch_size=32, epochs=2, verbose=0)

        plan = mb.distribution("data_parallel")           # two forced host devices
        with plan:
            twin = small_cnn((28, 28, 1), 2, "binary-class", filters=(8, 16))
            dp_hist = twin.fit(x, y, batch_size=32, epochs=1, verbose=0)
        prob = model.predict(x[:8], verbose=0)
        print(json.dumps({"backend": keras.config.backend(), "loss": hist.history["loss"],
                          "dp_loss": dp_hist.history["loss"][-1], "replicas": plan.replicas,
                          "plan": plan.name, "prob_min": float(prob.min()), "prob_max": float(prob.max()),
                          "tensorflow_loaded": "tensorflow" in sys.modules}))
    """, extra_env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    out = last_json(proc.stdout)
    assert out["backend"] == "jax"
    assert not out["tensorflow_loaded"]
    assert all(math.isfinite(v) for v in out["loss"]) and math.isfinite(out["dp_loss"])
    assert out["plan"] == "data_parallel" and out["replicas"] == 2
    assert 0.0 <= out["prob_min"] <= out["prob_max"] <= 1.0


def test_bench_pipeline_without_tensorflow_runs_on_jax(tmp_path):
    """The benchmark's tf.data-free pipeline (a PyDataset) feeds a JAX fit."""
    proc = run_python(f"""
        import sys
        sys.argv = ["bench_throughput.py", "--batch-sizes", "16", "--steps", "2", "--warmup", "1",
                    "--images", "64", "--precision", "float32", "--out", {str(tmp_path / "p.png")!r}]
        sys.path.insert(0, "benchmarks")
        import bench_throughput
        bench_throughput.main()
    """)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    measured = [r for r in rows if r.get("bench") == "throughput"]
    assert {r["feed"] for r in measured} == {"memory", "pipeline"}
    assert all(r["backend"] == "jax" and r["status"] == "ok" and r["images_per_s"] > 0 for r in measured)
    assert [r["pipeline"] for r in measured if r["feed"] == "pipeline"] == ["pydataset"]
    assert rows[-1]["bench"] == "throughput_summary" and (tmp_path / "p.png").is_file()


def test_mirrored_strategy_on_two_logical_cpus():
    """TensorFlow's MirroredStrategy really runs when two (logical) devices exist."""
    proc = run_python("""
        import json
        import numpy as np
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from medlearn import backend as mb
        from medlearn.models import small_cnn

        plan = mb.distribution("mirrored", device_names=["/cpu:0", "/cpu:1"])
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(64, 28, 28, 1)).astype("float32")
        y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")[:, None]
        with plan:
            model = small_cnn((28, 28, 1), 2, "binary-class", filters=(8, 16))
        hist = model.fit(x, y, batch_size=plan.global_batch(16), epochs=1, verbose=0)
        print(json.dumps({"plan": plan.name, "replicas": plan.replicas, "loss": hist.history["loss"][-1]}))
    """, backend="tensorflow", hide_tf=False)
    out = last_json(proc.stdout)
    assert out["plan"] == "mirrored" and out["replicas"] == 2 and math.isfinite(out["loss"])


def test_medlearn_train_one_epoch_on_jax(tmp_path):
    result = tmp_path / "result.json"
    proc = run_python(f"""
        import sys
        import keras
        assert keras.config.backend() == "jax", keras.config.backend()
        from medlearn.cli import main
        code = main(["train", "--epochs", "1", "--time-budget", "10", "--bootstrap", "0", "--quiet",
                     "--out", {str(tmp_path / "run")!r}, "--json", {str(result)!r}])
        print("TENSORFLOW_LOADED", "tensorflow" in sys.modules)
        sys.exit(code)
    """)
    summary = json.loads(result.read_text())
    assert summary["epochs"] == 1
    assert 0.0 <= summary["acc"] <= 1.0 and 0.0 <= summary["auc"] <= 1.0
    assert "TENSORFLOW_LOADED False" in proc.stdout
