import subprocess
import sys

import pytest

from medlearn.diagnostics import run_doctor

GOOD = {"tensorflow": "2.18.0", "keras": "3.6.0", "tf-keras": None}


def doctor(**kw):
    return run_doctor(print_report=False, probe_frameworks=False, **kw)


def test_good_environment_is_ok():
    report = doctor(versions=GOOD, version_info=(3, 11, 7))
    assert report.ok, report.problems
    labels = [k for k, _ in report.rows]
    for needed in ("Python", "NumPy", "TensorFlow", "Keras", "Accelerators", "Data folder", "Offline", "Fast mode"):
        assert needed in labels
    assert "OK" in str(report)


def test_keras_2_is_refused_with_the_fix():
    report = doctor(versions={**GOOD, "keras": "2.15.0"}, version_info=(3, 11, 0))
    assert not report.ok
    assert any("Keras 2" in p and "pip install -U 'keras>=3'" in p for p in report.problems)


def test_old_tensorflow_is_refused_with_the_fix():
    report = doctor(versions={**GOOD, "tensorflow": "2.15.1"}, version_info=(3, 11, 0))
    assert any("2.15.1" in p and "tensorflow>=2.16" in p for p in report.problems)


def test_legacy_tf_keras_is_refused(monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    report = doctor(versions={**GOOD, "tf-keras": "2.16.0"}, version_info=(3, 11, 0))
    assert any("TF_USE_LEGACY_KERAS" in p for p in report.problems)


@pytest.mark.parametrize("vi", [(3, 9, 18), (3, 14, 0)])
def test_unsupported_python_is_refused(vi):
    report = doctor(versions=GOOD, version_info=vi)
    assert any("not supported" in p and "3.10" in p for p in report.problems)


@pytest.mark.parametrize("vi", [(3, 10, 13), (3, 13, 0)])
def test_supported_python_is_accepted(vi):
    report = doctor(versions=GOOD, version_info=vi)
    assert not any("not supported" in p for p in report.problems), report.problems


def test_missing_tensorflow_is_a_note_not_a_failure():
    report = doctor(versions={**GOOD, "tensorflow": None}, version_info=(3, 11, 0))
    assert report.ok and any("KERAS_BACKEND" in n for n in report.notes)


def test_cpu_only_is_said_plainly(monkeypatch):
    import medlearn.diagnostics as d

    monkeypatch.setattr(d, "_nvidia_smi", lambda: [])
    report = doctor(versions=GOOD, version_info=(3, 11, 0))
    assert ("Accelerators", "CPU only — lessons run, lesson 08 will be slow") in report.rows


def test_gpu_is_listed(monkeypatch):
    import medlearn.diagnostics as d

    monkeypatch.setattr(d, "_nvidia_smi", lambda: ["NVIDIA H200, 143771 MiB"])
    report = doctor(versions=GOOD, version_info=(3, 11, 0))
    assert dict(report.rows)["Accelerators"] == "NVIDIA H200, 143771 MiB"


def test_bad_flag_is_a_problem(monkeypatch):
    monkeypatch.setenv("MEDLEARN_FAST", "banana")
    report = doctor(versions=GOOD, version_info=(3, 11, 0))
    assert any("MEDLEARN_FAST" in p and "banana" in p for p in report.problems)


def _cli(*args, env_extra=None):
    import os

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "medlearn", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_cli_doctor_answers_on_this_machine():
    out = _cli("doctor", "--no-gpu-probe")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Accelerators" in out.stdout and "Data folder" in out.stdout


def test_cli_doctor_exits_non_zero_with_the_fix(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    out = _cli("doctor", "--no-gpu-probe", env_extra={"MEDLEARN_DATA": str(f)})
    assert out.returncode == 1
    assert "MEDLEARN_DATA" in out.stdout and "Traceback" not in out.stdout + out.stderr


def test_gpu_that_the_backend_cannot_use_gets_the_fix(monkeypatch):
    import medlearn.backend
    import medlearn.diagnostics as d

    monkeypatch.setattr(d, "_nvidia_smi", lambda: ["NVIDIA H200, 143771 MiB"])
    monkeypatch.setattr(medlearn.backend, "devices", lambda backend=None, **kw: [])
    report = run_doctor(print_report=False, probe_frameworks=True, versions=GOOD, version_info=(3, 11, 0))
    assert any("does not see it" in n and "tensorflow[and-cuda]" in n for n in report.notes)


def test_accelerators_a_backend_sees_without_nvidia_smi_are_listed(monkeypatch):
    import medlearn.backend
    import medlearn.diagnostics as d

    monkeypatch.setattr(d, "_nvidia_smi", lambda: [])
    dev = medlearn.backend.Device("jax", "GPU", "cuda:0", "NVIDIA H200")
    monkeypatch.setattr(medlearn.backend, "devices", lambda backend=None, **kw: [dev])
    report = run_doctor(print_report=False, probe_frameworks=True, versions=GOOD, version_info=(3, 11, 0))
    assert "NVIDIA H200" in dict(report.rows)["Accelerators"]


def test_backend_that_is_not_installed_is_a_problem_with_the_fix(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a))
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    report = doctor(versions=GOOD, version_info=(3, 11, 0))
    assert not report.ok
    (problem,) = [p for p in report.problems if "jax" in p]
    assert "KERAS_BACKEND is 'jax' but jax is not installed" in problem
    assert "pip install -U 'jax[cpu]'" in problem and "unset KERAS_BACKEND" in problem
    assert "OK: this environment" not in str(report)


def test_backend_that_is_not_a_keras_backend_is_a_problem(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "theano")
    report = doctor(versions=GOOD, version_info=(3, 11, 0))
    assert any("'theano', which is not a Keras backend" in p for p in report.problems)


def test_backend_from_keras_json(monkeypatch, tmp_path):
    from medlearn.diagnostics import configured_backend

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert configured_backend() == ("tensorflow", "default")
    (tmp_path / "keras.json").write_text('{"backend": "torch"}')
    assert configured_backend() == ("torch", str(tmp_path / "keras.json"))


def test_installed_backend_is_fine(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "numpy")   # numpy is always there
    report = doctor(versions=GOOD, version_info=(3, 11, 0))
    assert report.ok, report.problems
