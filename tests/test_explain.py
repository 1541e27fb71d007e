"""medlearn.explain: Grad-CAM against a finite-difference oracle (TensorFlow here, JAX in a subprocess),
occlusion and Grad-CAM pointing at a planted bright spot, the pointing game, the randomisation test and
the bad-input messages."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from medlearn.explain import ExplainError, pointing_game, rank_correlation
from medlearn.explain._common import normalize_maps, upsample

# A self-contained oracle, run in this process (TensorFlow) and in a JAX subprocess: the class
# logit as a NumPy function of the feature maps, differentiated by central differences.
ORACLE = r'''
import numpy as np
import keras
from medlearn.explain import grad_cam, feature_maps_and_gradients
from medlearn.explain._common import normalize_maps, upsample

def tiny_model(units, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 1))
    a = keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="relu", name="feat")(inp)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="tanh")(a)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(units, activation="sigmoid" if units == 1 else "softmax", name="output")(h)
    return keras.Model(inp, out)

def fd_cam(model, x, cls, eps=1e-2):
    """Grad-CAM with the gradient taken by central differences of the class logit."""
    feat = keras.Model(model.input, model.get_layer("feat").output)
    head = keras.Model(model.get_layer("feat").output, model.layers[-1].input)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in (model.layers[-1].kernel, model.layers[-1].bias))
    def logit(a):
        z = keras.ops.convert_to_numpy(head(a.astype("float32"), training=False)).astype(np.float64) @ kernel + bias
        return z[:, 0] * (1 if cls == 1 else -1) if z.shape[1] == 1 else z[:, cls]
    maps = []
    for img in x:
        a = keras.ops.convert_to_numpy(feat(img[None], training=False)).astype(np.float64)
        idx = np.ndindex(a.shape[1:])
        plus, minus = [], []
        for i in np.ndindex(a.shape[1:]):
            p = a.copy(); p[(0,) + i] += eps; plus.append(p[0])
            m = a.copy(); m[(0,) + i] -= eps; minus.append(m[0])
        g = ((logit(np.stack(plus)) - logit(np.stack(minus))) / (2 * eps)).reshape(a.shape[1:])
        alpha = g.mean(axis=(0, 1))
        maps.append(np.maximum((a[0] * alpha).sum(-1), 0))
    return normalize_maps(upsample(np.stack(maps), x.shape[1:3])), g

def oracle_errors():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (3, 12, 12, 1)).astype("float32")
    errors = {}
    for units, classes in ((3, (0, 1, 2)), (1, (0, 1))):
        model = tiny_model(units)
        for c in classes:
            got = grad_cam(model, x, class_index=c, layer="feat")
            want, _ = fd_cam(model, x, c)
            errors[f"{units}-{c}"] = float(np.abs(got - want).max())
            errors[f"{units}-{c}-mass"] = float(want.sum())
    _, grads, _ = feature_maps_and_gradients(model, x, class_index=1, layer="feat")
    errors["grad_norm"] = float(np.abs(grads).max())
    return errors
'''


def _oracle_namespace():
    ns = {}
    exec(ORACLE, ns)  # noqa: S102 - test-owned code shared with the subprocess
    return ns


def _assert_oracle(errors):
    assert errors["grad_norm"] > 1e-4, errors           # the gradients are not trivially zero
    keys = [k for k in errors if k.count("-") == 1]
    assert len(keys) == 5
    assert sum(errors[k + "-mass"] > 0.5 for k in keys) >= 3, errors   # most maps are not empty
    for key in keys:
        assert errors[key] < 2e-3, (key, errors[key])


def test_grad_cam_matches_finite_differences_tensorflow():
    pytest.importorskip("tensorflow")
    import keras

    if keras.config.backend() != "tensorflow":
        pytest.skip("the main test process runs another Keras backend")
    _assert_oracle(_oracle_namespace()["oracle_errors"]())


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_grad_cam_matches_finite_differences_jax():
    from tests.test_backends import last_json, run_python

    proc = run_python(ORACLE + "\nimport json\nprint(json.dumps({'backend': keras.config.backend(), **oracle_errors()}))\n")
    out = last_json(proc.stdout)
    assert out.pop("backend") == "jax"
    _assert_oracle(out)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
def test_grad_cam_matches_finite_differences_torch():
    from tests.test_backends import last_json, run_python

    proc = run_python(ORACLE + "\nimport json\nprint(json.dumps({'backend': keras.config.backend(), **oracle_errors()}))\n",
                      backend="torch")
    out = last_json(proc.stdout)
    assert out.pop("backend") == "torch"
    _assert_oracle(out)


# ---------------------------------------------------------------- a model that looks at one bright spot
def _spot_model():
    """Bright 3x3 blob detector: a fixed ones-kernel convolution, global max pooling, one sigmoid unit."""
    import keras

    inp = keras.Input((16, 16, 1))
    a = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="blob")(inp)
    h = keras.layers.GlobalMaxPooling2D()(a)
    out = keras.layers.Dense(1, activation="sigmoid", name="output")(h)
    model = keras.Model(inp, out)
    model.get_layer("blob").set_weights([np.ones((3, 3, 1, 1), "float32") / 9, np.full(1, -0.3, "float32")])
    model.get_layer("output").set_weights([np.full((1, 1), 8.0, "float32"), np.full(1, -2.0, "float32")])
    return model


def _spot_images(n=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.2, (n, 16, 16, 1)).astype("float32")
    masks = np.zeros((n, 16, 16), np.uint8)
    for i in range(n):
        r, c = rng.integers(2, 14, 2)
        x[i, r - 1:r + 2, c - 1:c + 2] = 1.0
        masks[i, r - 1:r + 2, c - 1:c + 2] = 1
    return x, masks


def test_grad_cam_and_occlusion_point_at_the_planted_spot():
    from medlearn.explain import grad_cam, last_conv_layer, occlusion

    model = _spot_model()
    x, masks = _spot_images()
    assert last_conv_layer(model) == "blob"
    cam = grad_cam(model, x, class_index=1)
    occ = occlusion(model, x, patch=3, stride=1, fill=0.0, class_index=1)
    for maps in (cam, occ):
        assert maps.shape == (6, 16, 16) and maps.dtype == np.float32
        assert maps.min() >= 0 and np.allclose(maps.reshape(6, -1).max(1), 1)
        result = pointing_game(maps, masks)
        assert result.hit_rate == 1.0 and result.chance == pytest.approx(9 / 256)
    assert grad_cam(model, x[:, :, :, 0], class_index=1).shape == (6, 16, 16)   # (N, H, W) for a grey model


def test_randomization_test_cascade():
    from medlearn.explain import grad_cam, randomization_test

    model = _spot_model()
    before = [w.copy() for w in model.get_weights()]
    x, _ = _spot_images()
    result = randomization_test(model, x, class_index=1, seed=1)
    assert result.layers == ["output", "blob"]
    assert result.correlation.shape == (2,) and result.per_image.shape == (2, 6)
    assert result.maps.shape == (3, 6, 16, 16)
    np.testing.assert_allclose(result.maps[0], grad_cam(model, x, class_index=1))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))   # the model is untouched
    assert result.correlation[-1] < 0.9      # random conv weights: the map no longer follows the spot
    assert "randomisation test" in str(result)


def test_rank_correlation():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 5, 5))
    assert np.allclose(rank_correlation(a, a), 1)
    assert np.allclose(rank_correlation(a, np.exp(a)), 1)          # ranks, not values
    assert np.allclose(rank_correlation(a, -a), -1)
    assert rank_correlation(a, np.zeros_like(a)).tolist() == [0, 0, 0]   # a constant map has no ranking


# ---------------------------------------------------------------- pointing game
def test_pointing_game_rates_chance_and_interval():
    rng = np.random.default_rng(0)
    masks = np.zeros((200, 10, 10), np.uint8)
    masks[:, 2:4, 2:4] = 1                                   # area 4 %
    good = rng.uniform(0, 0.5, (200, 10, 10))
    good[:, 3, 3] = 1.0
    res = pointing_game(good, masks, seed=1)
    assert res.hit_rate == 1.0 and res.chance == pytest.approx(0.04) and res.n == 200
    rand = pointing_game(rng.uniform(size=(200, 10, 10)), masks)
    assert rand.low <= rand.hit_rate <= rand.high and rand.hit_rate < 0.15
    half = good.copy()
    half[:100, 3, 3] = 0.0
    half[:100, 8, 8] = 1.0                                    # half of them point elsewhere
    res = pointing_game(half, masks)
    assert res.hit_rate == 0.5 and res.low < 0.5 < res.high
    assert pointing_game(half, masks, tolerance=8).hit_rate == 1.0   # (8, 8) is 7.07 px from (3, 3)
    empty = masks.copy()
    empty[:50] = 0
    assert pointing_game(good, empty).n == 150                 # no lesion, nothing to point at


def test_pointing_game_bad_input():
    with pytest.raises(ExplainError, match=r"masks\.shape=\(2, 5, 5\)"):
        pointing_game(np.zeros((2, 4, 4)), np.zeros((2, 5, 5)))
    with pytest.raises(ExplainError, match="no lesion"):
        pointing_game(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(ExplainError, match="tolerance"):
        pointing_game(np.zeros((1, 4, 4)), np.ones((1, 4, 4)), tolerance=-1)


# ---------------------------------------------------------------- bad input
def test_grad_cam_bad_input_messages():
    import keras

    from medlearn.explain import grad_cam, occlusion

    model = _spot_model()
    x, _ = _spot_images(2)
    with pytest.raises(ExplainError, match=r"class_index must be in \[0, 1\].*Received: class_index=2"):
        grad_cam(model, x, class_index=2)
    with pytest.raises(ExplainError, match=r"Received: images\.shape=\(16, 16, 1\)"):
        grad_cam(model, x[0])
    with pytest.raises(ExplainError, match="integers up to 255"):
        grad_cam(model, (x * 255).astype(np.uint8))
    with pytest.raises(ExplainError, match="numeric"):
        grad_cam(model, x > 0.5)
    with pytest.raises(ExplainError, match="layer must name"):
        grad_cam(model, x, layer="nope")
    inp = keras.Input((16, 16, 1))
    mlp = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inp)), name="mlp")
    with pytest.raises(ExplainError, match="no convolutional layer|has none.*occlusion"):
        grad_cam(mlp, x)
    assert occlusion(mlp, x).shape == (2, 16, 16)              # the suggested way out works
    rescaled = keras.Model(inp, model(keras.layers.Rescaling(1 / 255)(inp)))
    with pytest.raises(ExplainError, match="uint8 pixels"):
        occlusion(rescaled, x)
    with pytest.raises(ExplainError, match="patch"):
        occlusion(model, x, patch=40)
    seg = keras.Model(inp, keras.layers.Conv2D(1, 1, activation="sigmoid")(inp))
    with pytest.raises(ExplainError, match="output shape"):
        grad_cam(seg, x)


def test_upsample_and_normalize():
    maps = np.arange(6, dtype=float).reshape(1, 2, 3)
    big = upsample(maps, (4, 6))
    assert big.shape == (1, 4, 6)
    assert np.allclose(upsample(np.full((1, 3, 3), 2.5), (28, 28)), 2.5)
    assert big.min() >= maps.min() and big.max() <= maps.max()
    out = normalize_maps(np.stack([np.zeros((2, 2)), np.array([[0, 2], [1, -1.0]])]))
    assert out.dtype == np.float32 and out[0].max() == 0 and out[1].max() == 1 and out[1].min() == 0


def test_logit_is_used_behind_a_separate_sigmoid_activation():
    """Dense(1) + Activation("sigmoid") and Dense(1, sigmoid) give the same maps, even where p saturates."""
    import keras

    from medlearn.explain import grad_cam

    spot = _spot_model()
    inp = keras.Input((16, 16, 1))
    a = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="blob")(inp)
    z = keras.layers.Dense(1, name="logit")(keras.layers.GlobalMaxPooling2D()(a))
    split = keras.Model(inp, keras.layers.Activation("sigmoid")(z))
    split.get_layer("blob").set_weights(spot.get_layer("blob").get_weights())
    kernel, bias = spot.get_layer("output").get_weights()
    split.get_layer("logit").set_weights([kernel * 10, bias * 10])     # p = 1.0 in float32: only the logit has a gradient
    x, _ = _spot_images(3)
    np.testing.assert_allclose(grad_cam(split, x, class_index=1), grad_cam(spot, x, class_index=1), atol=1e-5)
