"""medlearn.compress: int8 by hand against its error bound, LiteRT int8 against the float model,
global pruning, and ``medlearn compress`` end to end with its bad-input lines."""
import json
import os

import numpy as np
import pytest

from medlearn import compress as C
from medlearn.cli import main


# ----------------------------------------------------------------------------- by hand (NumPy)
def test_symmetric_scale_per_tensor_and_per_channel():
    w = np.zeros((3, 3, 2, 4))
    w[..., 0], w[..., 1] = 0.5, -2.54
    assert np.isclose(C.symmetric_scale(w), 2.54 / 127)
    per = C.symmetric_scale(w, axis=-1)
    assert per.shape == (1, 1, 1, 4)
    assert np.allclose(per.ravel(), [0.5 / 127, 2.54 / 127, 1.0, 1.0])   # all-zero channels: scale 1


def test_quantize_rounds_clips_and_respects_the_bound():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (64, 32))
    q, scale, restored = C.quantize_weights(w)
    assert q.dtype == np.int8 and q.min() >= -127 and q.max() <= 127
    assert np.max(np.abs(w - restored)) <= scale / 2 + 1e-7
    assert C.quantize(np.array([2.7, -2.7, 1000.0, -1000.0]), 1.0).tolist() == [3, -3, 127, -127]
    q0, s0, r0 = C.quantize_weights(np.zeros(5))
    assert np.all(q0 == 0) and np.all(r0 == 0) and s0 == 1.0


def test_per_channel_error_is_lower_when_channel_ranges_differ():
    rng = np.random.default_rng(1)
    kernel = rng.normal(0, 1, (3, 3, 8, 16)) * np.geomspace(0.01, 1, 16)
    tensor, channel = C.quantization_error(kernel), C.quantization_error(kernel, axis=-1)
    assert channel["rms"] < tensor["rms"] / 2
    assert tensor["max_abs"] <= tensor["bound"] + 1e-12 and channel["max_abs"] <= channel["bound"] + 1e-12
    same = rng.normal(0, 1, (3, 3, 8, 16))           # equal ranges: per channel gains little
    assert C.quantization_error(same, axis=-1)["rms"] > C.quantization_error(same)["rms"] * 0.6


def test_global_threshold_prunes_the_target_share_and_rejects_bad_sparsity():
    rng = np.random.default_rng(2)
    arrays = [rng.normal(0, 1, (30, 10)), rng.normal(0, 0.01, (50,))]
    t = C.global_threshold(arrays, 0.4)
    n = sum(a.size for a in arrays)
    assert sum(int(np.sum(np.abs(a) < t)) for a in arrays) == int(0.4 * n)
    assert np.all(np.abs(arrays[1]) < t)              # the small layer goes first: one global ranking
    assert C.global_threshold(arrays, 0.0) == 0.0
    for bad in (1.0, -0.1, 1.5, "half", True):
        with pytest.raises(C.CompressError, match=r"\[0, 1\)"):
            C.check_sparsity(bad)


def test_evaluate_and_tolerance():
    y = np.array([0, 0, 1, 1])
    m = C.evaluate(y, np.array([0.1, 0.6, 0.4, 0.9]), "binary")
    assert m["acc"] == 0.5 and m["sensitivity"] == 0.5 and m["specificity"] == 0.5 and m["auc"] == 0.75
    assert C.within_tolerance(m, {**m, "auc": m["auc"] - 0.05}) == ["auc"]
    assert C.within_tolerance(m, m) == []


# ----------------------------------------------------------------------------- Keras / LiteRT
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A reference CNN (with its augmentation layers) trained briefly on the phantoms, saved as .keras."""
    import keras

    from medlearn.datasets import load_phantoms
    from medlearn.models import build_model

    keras.utils.set_random_seed(0)
    data = load_phantoms()
    model = build_model("cnn", (28, 28, 1), 2, "binary", augment="chest-xray", filters=(16, 32))
    x = C.model_input(model, data.train.images[:800])     # /255 unless the model rescales inside
    y = data.train.labels[:800].astype("float32")
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(path)
    return model, data, path


def test_litert_int8_matches_the_float_model_and_is_smaller(trained, tmp_path):
    model, data, _ = trained
    x = C.model_input(model, data.test.images[:200])
    flat = C.to_litert(model, data.train.images[:128], path=tmp_path / "m.tflite")
    lite = C.LiteRTModel(tmp_path / "m.tflite")
    assert lite.input_dtype == np.int8                                  # integer kernels end to end
    p_int8, p_float = lite.predict(x)[:, 0], model.predict(x, verbose=0)[:, 0]
    assert np.max(np.abs(p_int8 - p_float)) < 0.08
    assert np.mean((p_int8 >= 0.5) == (p_float >= 0.5)) >= 0.95
    float_bytes = C.to_litert(model, int8=False)
    assert len(flat) < len(float_bytes) / 2                            # 4-byte weights -> 1 byte (+ graph)


def test_unconvertible_layer_is_named(trained):
    import keras

    class Tangent(keras.layers.Layer):
        def call(self, t):
            return keras.ops.tan(t)

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(Tangent(name="tangent")(inputs)))
    with pytest.raises(C.CompressError, match=r"'tangent' \(Tangent\).*Supported: Conv2D"):
        C.to_litert(keras.Model(inputs, outputs), np.zeros((4, 28, 28, 1), np.float32))


def test_images_that_do_not_fit_the_model(trained):
    model, _, _ = trained
    with pytest.raises(C.CompressError, match=r"do not fit the model's input.*\(32, 32, 1\)"):
        C.model_input(model, np.zeros((2, 32, 32), np.uint8))


def test_prune_fine_tune_keeps_zeros_and_zip_shows_the_saving(trained, tmp_path):
    model, data, _ = trained
    copy = C.plain_copy(model)
    masks = C.prune(copy, 0.6)
    assert abs(C.sparsity(copy) - 0.6) < 0.01
    x = C.model_input(copy, data.train.images[:256])
    C.fine_tune(copy, masks, x, data.train.labels[:256].astype("float32")[:, None], epochs=1,
                loss="binary_crossentropy")
    assert abs(C.sparsity(copy) - 0.6) < 0.01                          # the zeros stayed zero
    C.plain_copy(copy).save(tmp_path / "pruned.keras")
    C.plain_copy(model).save(tmp_path / "dense.keras")
    pruned, original = C.file_sizes(tmp_path / "pruned.keras"), C.file_sizes(tmp_path / "dense.keras")
    assert abs(pruned["dense"] - original["dense"]) < 0.05 * original["dense"]   # dense file: no smaller
    assert pruned["compressed"] < 0.85 * original["compressed"]                 # zipped: the zeros go


def test_keras_int8_reports_the_layers_it_quantised(trained):
    model, _, _ = trained
    quantized, names = C.keras_int8(model)
    assert "output" in names                                            # Dense is supported
    assert quantized is not model and model.get_layer("output").quantization_mode is None


# ----------------------------------------------------------------------------- the command
def test_compress_command_end_to_end(trained, tmp_path, capsys):
    _, _, path = trained
    out, js = tmp_path / "out", tmp_path / "c.json"
    rc = main(["compress", str(path), "--dataset", "phantoms", "--int8", "--prune", "0.5", "--out", str(out),
               "--json", str(js), "--fine-tune-epochs", "1"])
    text = capsys.readouterr().out
    assert rc == 0, text
    result = json.loads(js.read_text())
    assert set(result) == {"original", "int8", "pruned"}
    for row in result.values():
        for key in ("size_bytes", "latency_ms_batch1", "latency_ms_batch", "acc", "auc", "file"):
            assert key in row
        assert os.path.getsize(row["file"]) == row["size_bytes"]
        assert row["latency_ms_batch"] > 0 and 0 <= row["auc"] <= 1
    assert result["int8"]["size_bytes"] < result["original"]["size_bytes"] / 3
    assert result["pruned"]["size_bytes_zipped"] < result["original"]["size_bytes_zipped"]
    assert abs(result["pruned"]["sparsity"] - 0.5) < 0.01
    assert "within tolerance" in text or "LOSES MORE THAN THE TOLERANCE" in text
    assert "int8.tflite" in text and "pruned.keras" in text


def test_compress_reports_a_loss_beyond_tolerance(trained, tmp_path, capsys):
    _, _, path = trained
    rc = main(["compress", str(path), "--dataset", "phantoms", "--prune", "0.99", "--fine-tune-epochs", "0",
               "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert rc == 0 and "pruned: LOSES MORE THAN THE TOLERANCE on" in text, text


def test_compress_bad_inputs_one_line_each(trained, tmp_path, capsys):
    _, _, path = trained
    text_file = tmp_path / "notes.keras"
    text_file.write_text("not a model")
    assert main(["compress", str(text_file), "--dataset", "phantoms", "--int8", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MODEL is not a Keras model" in err[0]

    for bad in ("1", "1.5", "-0.2", "x"):
        with pytest.raises(SystemExit) as exc:
            main(["compress", str(path), "--dataset", "phantoms", "--prune", bad, "--out", str(tmp_path)])
        assert exc.value.code == 2
        assert "[0, 1)" in capsys.readouterr().err

    import keras
    inputs = keras.Input((32, 32, 1))
    small = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs)))
    small.save(tmp_path / "wide.keras")
    assert main(["compress", str(tmp_path / "wide.keras"), "--dataset", "phantoms", "--int8",
                 "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "do not fit the model's input" in err[0]

    assert main(["compress", str(path), "--dataset", "phantoms", "--out", str(tmp_path)]) == 1
    assert "nothing to do" in capsys.readouterr().err
