"""medlearn.backend: device listing, and every fallback says one line instead of crashing."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from medlearn import backend
from medlearn.backend import Device
from medlearn.config import ConfigError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def fake_devices(monkeypatch, found):
    monkeypatch.setattr(backend, "devices", lambda *a, **k: list(found))


def test_import_is_light():
    code = "import sys, medlearn.backend; bad = [m for m in ('keras', 'tensorflow', 'jax', 'torch') " \
           "if m in sys.modules]; assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_devices_on_this_machine_lists_cpu_last():
    found = backend.devices("tensorflow", include_cpu=True)
    assert found[-1].kind == "CPU"
    assert all(d.kind in ("GPU", "TPU") for d in found[:-1])


def test_devices_rejects_unknown_backend():
    with pytest.raises(ConfigError, match="Received: backend='mxnet'"):
        backend.devices("mxnet")


def test_broken_probe_says_one_line_and_returns_no_accelerator(monkeypatch, capsys):
    def broken():
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setitem(backend._PROBES, "tensorflow", broken)
    assert backend.devices("tensorflow") == []
    out = _lines(capsys.readouterr().out)
    assert len(out) == 1 and "CUDA driver" in out[0]


def test_mixed_precision_on_cpu_falls_back_with_one_line(monkeypatch, capsys):
    fake_devices(monkeypatch, [])
    assert backend.use_mixed_precision() == "float32"
    assert keras.config.dtype_policy().name == "float32"
    out = _lines(capsys.readouterr().out)
    assert len(out) == 1 and "float32" in out[0] and "CPU" in out[0]


def test_mixed_precision_on_a_modern_gpu(monkeypatch, capsys):
    fake_devices(monkeypatch, [Device("tensorflow", "GPU", "gpu:0", "A100", (8, 0))])
    assert backend.use_mixed_precision() == "mixed_float16"
    assert keras.config.dtype_policy().name == "mixed_float16"
    assert backend.use_mixed_precision(policy="mixed_bfloat16") == "mixed_bfloat16"
    assert capsys.readouterr().out == ""
    assert backend.use_mixed_precision(False) == "float32"
    assert keras.config.dtype_policy().name == "float32"


def test_mixed_precision_on_an_old_gpu_keeps_float32(monkeypatch, capsys):
    fake_devices(monkeypatch, [Device("tensorflow", "GPU", "gpu:0", "Tesla P100", (6, 0))])
    assert backend.use_mixed_precision() == "float32"
    out = _lines(capsys.readouterr().out)
    assert len(out) == 1 and "tensor cores" in out[0] and "6.0" in out[0]


def test_bfloat16_before_ampere_falls_back_to_float16(monkeypatch, capsys):
    fake_devices(monkeypatch, [Device("jax", "GPU", "gpu:0", "T4", (7, 5))])
    assert backend.use_mixed_precision(policy="mixed_bfloat16") == "mixed_float16"
    out = _lines(capsys.readouterr().out)
    assert len(out) == 1 and "8.0" in out[0]


def test_tpu_gets_bfloat16_and_force_works_on_cpu(monkeypatch):
    fake_devices(monkeypatch, [Device("jax", "TPU", "tpu:0")])
    assert backend.use_mixed_precision() == "mixed_bfloat16"
    fake_devices(monkeypatch, [])
    assert backend.use_mixed_precision(force=True, verbose=False) == "mixed_bfloat16"


def test_mixed_precision_rejects_unknown_policy():
    with pytest.raises(ConfigError, match="Received: policy='float16'"):
        backend.use_mixed_precision(policy="float16")


def test_distribution_with_one_device_is_a_noop(monkeypatch, capsys):
    fake_devices(monkeypatch, [])
    plan = backend.distribution()
    assert plan.name == "none" and plan.replicas == 1 and plan.global_batch(32) == 32
    with plan as entered:
        assert entered is plan
    out = _lines(capsys.readouterr().out)
    assert len(out) == 1 and "one device" in out[0]


@pytest.mark.parametrize("strategy, names, needle", [
    ("mirrored", ["/cpu:0"], "2 or more devices"),
    ("data_parallel", None, "JAX backend only"),
])
def test_impossible_distribution_falls_back_with_one_line(capsys, strategy, names, needle):
    plan = backend.distribution(strategy, device_names=names)
    assert plan.name == "none" and plan.replicas == 1
    out = _lines(capsys.readouterr().out)
    assert len(out) == 1 and needle in out[0]


def test_several_gpus_on_torch_fall_back(monkeypatch, capsys):
    fake_devices(monkeypatch, [Device("torch", "GPU", f"cuda:{i}") for i in range(2)])
    monkeypatch.setattr(backend, "backend_name", lambda: "torch")
    assert backend.distribution().name == "none"
    assert "torchrun" in capsys.readouterr().out


def test_distribution_rejects_unknown_strategy():
    with pytest.raises(ConfigError, match="Received: strategy='horovod'"):
        backend.distribution("horovod")


def test_compile_options(monkeypatch, capsys):
    # Another test in this process may have turned TF op determinism on (set_seed); that case has its own test.
    monkeypatch.setattr(backend, "_tf_determinism_on", lambda: False)
    assert backend.compile_options(True) == {"jit_compile": True}
    assert backend.compile_options(False) == {"jit_compile": False}
    assert backend.compile_options() == {"jit_compile": "auto"}
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(backend, "backend_name", lambda: "torch")
    assert backend.compile_options(True) == {"jit_compile": False}
    assert len(_lines(capsys.readouterr().out)) == 1
    for bad in ("yes", 1, None):
        with pytest.raises(ConfigError, match="Received: xla="):
            backend.compile_options(bad)


def test_xla_request_turns_tf_op_determinism_off_with_one_line(monkeypatch, capsys):
    pytest.importorskip("tensorflow")
    from tensorflow.python.framework import config as tf_config

    monkeypatch.setattr(backend, "backend_name", lambda: "tensorflow")
    was_on = tf_config.is_op_determinism_enabled()
    tf_config.enable_op_determinism()
    try:
        assert backend.compile_options(True) == {"jit_compile": True}
        assert not tf_config.is_op_determinism_enabled()  # otherwise Keras would drop jit_compile
        out = _lines(capsys.readouterr().out)
        assert len(out) == 1 and "determinism" in out[0]
        assert backend.compile_options(True) == {"jit_compile": True}
        assert capsys.readouterr().out == ""              # said once, not at every compile
    finally:
        (tf_config.enable_op_determinism if was_on else tf_config.disable_op_determinism)()


def test_measure_input_counts_images_and_needs_enough_batches():
    batches = [(np.zeros((4, 2)), np.zeros(4))] * 6
    out = backend.measure_input(batches, batches=5)
    assert out["images"] == 20 and out["batches"] == 5 and out["ms_per_batch"] >= 0
    with pytest.raises(ConfigError, match="ran out after 6 batches"):
        backend.measure_input(batches, batches=6)
    with pytest.raises(ConfigError, match="Received: batches=0"):
        backend.measure_input(batches, batches=0)


def _endless(batch, rng):
    while True:
        x = rng.normal(size=(batch, 8)).astype("float32")
        yield x, (x.sum(axis=1) > 0).astype("float32")


def test_measure_throughput_on_a_tiny_model():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    out = backend.measure_throughput(model, _endless(16, np.random.default_rng(0)), batch_size=16,
                                     steps=4, warmup=1)
    assert out["images_per_s"] > 0 and math.isfinite(out["final_loss"])
    assert out["ms_per_step"] == pytest.approx(1000 * 16 / out["images_per_s"])
    with pytest.raises(ConfigError, match="Received: steps=0"):
        backend.measure_throughput(model, [], batch_size=16, steps=0)


@pytest.mark.parametrize("name", ["cnn", "resnet"])
def test_reference_models_keep_a_float32_output_under_mixed_precision(name):
    from medlearn.models import build_model

    keras.mixed_precision.set_dtype_policy("mixed_float16")
    model = build_model(name, (28, 28, 1), 2, "binary-class", filters=(8, 16), compile=False,
                        **({"blocks": (1, 1)} if name == "resnet" else {}))
    assert model.layers[1].compute_dtype == "float16"     # the body does run in float16
    assert model.get_layer("output").compute_dtype == "float32"
    assert model.output.dtype == "float32"
