import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medlearn import config
from medlearn.config import ConfigError


def test_data_home_argument_beats_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDLEARN_DATA", str(tmp_path / "env"))
    assert config.data_home(tmp_path / "arg") == (tmp_path / "arg").absolute()


def test_data_home_environment_beats_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDLEARN_DATA", str(tmp_path / "env"))
    assert config.data_home() == (tmp_path / "env").absolute()


def test_data_home_default_is_a_per_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDLEARN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert config.data_home() == tmp_path / "xdg" / "medlearn"
    assert "medlearn" in str(config.data_home())


def test_data_home_is_not_created_on_lookup(tmp_path):
    path = config.data_home(tmp_path / "missing")
    assert not path.exists()
    assert config.data_home(tmp_path / "missing", create=True).is_dir()


def test_data_home_pointing_at_a_file_names_the_variable(tmp_path, monkeypatch):
    f = tmp_path / "afile"
    f.write_text("x")
    monkeypatch.setenv("MEDLEARN_DATA", str(f))
    with pytest.raises(ConfigError) as err:
        config.data_home()
    msg = str(err.value)
    assert "MEDLEARN_DATA" in msg and str(f) in msg and "folder" in msg


def test_data_home_that_cannot_be_created_says_what_to_do(tmp_path, monkeypatch):
    f = tmp_path / "afile"
    f.write_text("x")
    monkeypatch.setenv("MEDLEARN_DATA", str(f / "sub"))
    with pytest.raises(ConfigError) as err:
        config.data_home(create=True)
    assert "MEDLEARN_DATA" in str(err.value) and "Fix" in str(err.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_data_home(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setenv("MEDLEARN_DATA", str(ro))
    with pytest.raises(ConfigError, match="not writable"):
        config.data_home(create=True)


@pytest.mark.parametrize("var,reader", [("MEDLEARN_FAST", config.is_fast), ("MEDLEARN_OFFLINE", config.is_offline)])
def test_flags(monkeypatch, var, reader):
    for value, expected in [("1", True), ("true", True), ("ON", True), ("0", False), ("", False), ("no", False)]:
        monkeypatch.setenv(var, value)
        assert reader() is expected
    monkeypatch.delenv(var)
    assert reader() is False


def test_bad_flag_value_names_variable_value_and_expectation(monkeypatch):
    monkeypatch.setenv("MEDLEARN_FAST", "banana")
    with pytest.raises(ConfigError) as err:
        config.is_fast()
    msg = str(err.value)
    assert "MEDLEARN_FAST" in msg and "'banana'" in msg and "1 or 0" in msg


def test_fast_switch(monkeypatch):
    monkeypatch.setenv("MEDLEARN_FAST", "1")
    assert config.fast(100, 3) == 3
    monkeypatch.setenv("MEDLEARN_FAST", "0")
    assert config.fast(100, 3) == 100


def test_set_seed_makes_python_and_numpy_repeatable():
    config.set_seed(7)
    a = (random.random(), np.random.rand(3))
    config.set_seed(7)
    b = (random.random(), np.random.rand(3))
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ConfigError, match="seed"):
        config.set_seed(bad)


def test_set_seed_seeds_keras_and_turns_on_tf_determinism():
    pytest.importorskip("tensorflow")
    code = (
        "import medlearn; medlearn.setup(3)\n"
        "import tensorflow as tf, keras\n"
        "medlearn.set_seed(3); a = keras.random.uniform((4,)).numpy()\n"
        "medlearn.set_seed(3); b = keras.random.uniform((4,)).numpy()\n"
        "assert (a == b).all(), (a, b)\n"
        "from tensorflow.python.framework import config as tfc\n"
        "assert tfc.is_op_determinism_enabled()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_import_writes_nothing(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("MEDLEARN_DATA", None)
    subprocess.run([sys.executable, "-c", "import medlearn, medlearn.config; medlearn.config.data_home()"],
                   check=True, env=env, timeout=60)
    assert list(Path(tmp_path).iterdir()) == []


def test_unwritable_data_home_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(config.os, "access", lambda path, mode: False)
    monkeypatch.setenv("MEDLEARN_DATA", str(tmp_path))
    with pytest.raises(ConfigError) as err:
        config.data_home(create=True)
    assert "not writable" in str(err.value) and "MEDLEARN_DATA" in str(err.value) and str(tmp_path) in str(err.value)
