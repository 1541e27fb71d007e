import subprocess
import sys


def test_native_stderr_is_silenced_only_inside_the_block():
    code = (
        "import os, sys\n"
        "from medlearn.quiet import native_stderr_silenced\n"
        "with native_stderr_silenced():\n"
        "    os.write(2, b'C++ chatter\\n')\n"
        "os.write(2, b'after\\n')\n"
        "with native_stderr_silenced():\n"
        "    pass\n"
        "raise SystemExit('python errors still show')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "C++ chatter" not in out.stderr
    assert "after" in out.stderr and "python errors still show" in out.stderr


def test_train_and_doctor_print_no_tensorflow_start_up_lines():
    out = subprocess.run([sys.executable, "-m", "medlearn", "doctor"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    for noise in ("absl::InitializeLog", "cuda drivers", "cuInit"):
        assert noise not in out.stderr + out.stdout


def test_setup_makes_the_first_tensorflow_import_quiet_and_working():
    code = (
        "import sys, medlearn\n"
        "medlearn.setup(1)\n"
        "assert 'tensorflow' not in sys.modules\n"
        "import keras, tensorflow as tf\n"
        "print(float(tf.reduce_sum(tf.constant([1.0, 2.0]))), keras.backend.backend())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "KERAS_BACKEND": "tensorflow"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["3.0", "tensorflow"]
    for noise in ("absl::InitializeLog", "cuda drivers", "cuInit", "oneDNN"):
        assert noise not in out.stderr, out.stderr
