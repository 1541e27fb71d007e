"""medlearn.models: output layers and losses per task, shapes, augmentation policies, backend independence."""
import os
import subprocess
import sys

import numpy as np
import pytest

from medlearn.models import (
    MODELS, POLICIES, ModelError, TaskError, build_model, encode_labels, output_spec, policy_for,
)


def test_import_does_not_load_keras():
    code = "import sys, medlearn.models, medlearn.train; print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("task,n,units,activation,loss", [
    ("binary-class", 2, 1, "sigmoid", "binary_crossentropy"),
    ("multi-class", 9, 9, "softmax", "categorical_crossentropy"),
    ("ordinal-regression", 5, 5, "softmax", "categorical_crossentropy"),
    ("multi-label, binary-class", 14, 14, "sigmoid", "binary_crossentropy"),
])
def test_output_spec_per_task(task, n, units, activation, loss):
    spec = output_spec(task, n)
    assert (spec.units, spec.activation, spec.loss) == (units, activation, loss)


def test_output_spec_rejects_impossible_class_counts():
    with pytest.raises(ModelError, match="binary task has 2 classes"):
        output_spec("binary", 3)
    with pytest.raises(ModelError, match="n_classes must be a positive int"):
        output_spec("multi-class", 0)
    with pytest.raises(TaskError):
        output_spec("segmentation-ish", 2)


def test_encode_labels():
    assert encode_labels([0, 1, 1], "binary", 2).tolist() == [[0.0], [1.0], [1.0]]
    assert encode_labels(np.array([[2], [0]]), "multi-class", 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    multi = np.array([[0, 1, 1], [1, 0, 0]])
    assert encode_labels(multi, "multi-label", 3).dtype == np.float32
    with pytest.raises(ModelError, match=r"labels must lie in 0\.\.2"):
        encode_labels([0, 3], "multi-class", 3)


def test_policies_respect_anatomy():
    assert not policy_for("chestmnist").horizontal_flip          # heart on the left
    assert not policy_for("pneumoniamnist").horizontal_flip
    assert not policy_for("organamnist").horizontal_flip          # kidney-left / kidney-right labels
    assert policy_for("pathmnist").rotation == 0.5                # free rotation
    assert policy_for("bloodmnist").vertical_flip and policy_for("dermamnist").vertical_flip
    assert not policy_for("breastmnist").vertical_flip            # ultrasound depth axis
    assert policy_for(modality="Synthetic chest X-ray").name == "chest-xray"
    assert policy_for(modality="Colon Pathology").name == "microscopy"
    assert policy_for(modality="Abdominal CT (axial)").name == "abdominal-ct"
    assert policy_for(modality="something new").name == "generic"
    assert set(POLICIES) >= {"none", "chest-xray", "microscopy"}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("task,n,channels", [("binary", 2, 1), ("multi-class", 4, 3), ("multi-label", 5, 1)])
def test_builders_give_probabilities_of_the_right_shape(name, task, n, channels):
    model = build_model(name, (28, 28, channels), n, task, augment="generic", seed=0)
    x = np.random.default_rng(0).random((3, 28, 28, channels)).astype("float32")
    p = np.asarray(model.predict_on_batch(x))
    assert p.shape == (3, output_spec(task, n).units)
    assert np.all((p >= 0) & (p <= 1))
    if task == "multi-class":
        np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    assert model.loss == output_spec(task, n).loss


def test_grey_input_shape_gets_a_channel_axis_and_large_inputs_are_downsampled():
    model = build_model("cnn", (28, 28), 2, "binary")
    assert model.input_shape == (None, 28, 28, 1)
    big = build_model("cnn", (64, 64, 3), 3, "multi-class", compile=False)
    assert big.output_shape == (None, 3)


def test_unknown_model_and_bad_shape_are_named():
    with pytest.raises(ModelError, match="name must be one of logreg, mlp, cnn, resnet.*Received: name='vgg'"):
        build_model("vgg", (28, 28), 2, "binary")
    with pytest.raises(ModelError, match="input_shape"):
        build_model("cnn", (28,), 2, "binary")


@pytest.mark.parametrize("name", ["logreg", "mlp", "cnn", "resnet"])
def test_reference_models_take_raw_uint8_images(name):
    """Rescaling(1/255) is inside: a saved model needs no preprocessing; rescale=False takes [0, 1]."""
    model = build_model(name, (28, 28, 1), 3, "multi-class", seed=0)
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)
    plain = build_model(name, (28, 28, 1), 3, "multi-class", seed=0, rescale=False)
    plain.set_weights(model.get_weights())
    x = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype(np.uint8)
    np.testing.assert_allclose(np.asarray(model.predict_on_batch(x.astype("float32"))),
                               np.asarray(plain.predict_on_batch(x.astype("float32") / 255)), rtol=1e-4, atol=1e-6)


def test_augmentation_changes_training_batches_only():
    model = build_model("logreg", (28, 28, 1), 2, "binary", augment="microscopy", seed=1)
    x = np.random.default_rng(2).random((4, 28, 28, 1)).astype("float32")
    aug = model.get_layer("augment")
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    moved = np.asarray(aug(x, training=True))
    assert not np.allclose(moved, x)
    # nearest-neighbour sampling only copies pixels: no smoothing that test images would not have
    assert np.isin(moved, x).all()


def test_builders_run_with_the_jax_backend(tmp_path):
    code = (
        "import numpy as np, keras\n"
        "from medlearn.models import build_model\n"
        "assert keras.backend.backend() == 'jax'\n"
        "for name in ('cnn', 'resnet'):\n"
        "    m = build_model(name, (28, 28, 1), 3, 'multi-class', augment='microscopy', seed=0)\n"
        "    x = np.random.rand(8, 28, 28, 1).astype('float32')\n"
        "    y = np.eye(3, dtype='float32')[np.arange(8) % 3]\n"
        "    m.fit(x, y, epochs=1, verbose=0)\n"
        "    assert m.predict_on_batch(x).shape == (8, 3)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


@pytest.mark.parametrize("bad", ["auto", "rotate-a-lot"])
def test_augmentation_layers_names_its_own_argument(bad):
    from medlearn.models import augmentation_layers
    from medlearn.models.augment import AugmentError

    with pytest.raises(AugmentError, match=f"policy must be a policy .*Received: policy='{bad}'") as info:
        augmentation_layers(bad)
    assert "must be 'auto'" not in str(info.value)   # it offered a value it then rejected
