"""medlearn.metrics against oracles: scikit-learn, hand counts, and MedMNIST's evaluator rules."""
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from medlearn.metrics import (
    MetricsError, TaskError, clinical_report, confusion_matrix, medmnist_acc, medmnist_auc,
    medmnist_task_name, normalize_task, threshold_for_sensitivity,
)
from medlearn.metrics import bootstrap as bs


def test_import_does_not_load_tensorflow_or_keras():
    code = "import sys, medlearn.metrics; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("spelling,canonical", [
    ("binary-class", "binary"), ("Binary", "binary"), ("multi-class", "multi-class"),
    ("multi-label, binary-class", "multi-label"), ("multilabel", "multi-label"),
    ("multi-label (binary per label)", "multi-label"), ("ordinal-regression", "ordinal"),
    ("ordinal regression", "ordinal"),
])
def test_normalize_task(spelling, canonical):
    assert normalize_task(spelling) == canonical


def test_unknown_task_names_the_argument():
    with pytest.raises(TaskError, match="task must be one of.*Received: task='regression'"):
        normalize_task("regression")
    assert medmnist_task_name("multilabel") == "multi-label, binary-class"


# -- MedMNIST evaluator rules ------------------------------------------------------------------------

def test_binary_acc_uses_last_column_and_strict_threshold():
    y = np.array([[0], [1], [1], [0]])
    two_col = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.4, 0.6]])
    # last column > 0.5: predictions 0, 1, 0 (0.5 is not > 0.5), 1 -> 2 of 4 right
    assert medmnist_acc(y, two_col, "binary-class") == 0.5
    assert medmnist_acc(y.ravel(), two_col[:, 1], "binary") == 0.5
    assert medmnist_auc(y, two_col, "binary-class") == roc_auc_score(y.ravel(), two_col[:, 1])


def test_multilabel_acc_is_mean_of_per_label_accuracies_not_exact_match():
    rng = np.random.default_rng(0)
    y = (rng.random((50, 4)) < 0.3).astype(int)
    s = rng.random((50, 4))
    per_label = np.mean([accuracy_score(y[:, j], s[:, j] > 0.5) for j in range(4)])
    exact_match = accuracy_score(y, (s > 0.5).astype(int))
    assert medmnist_acc(y, s, "multi-label, binary-class") == pytest.approx(per_label)
    assert per_label != pytest.approx(exact_match)
    assert medmnist_auc(y, s, "multi-label") == pytest.approx(
        np.mean([roc_auc_score(y[:, j], s[:, j]) for j in range(4)]))


@pytest.mark.parametrize("task", ["multi-class", "ordinal-regression"])
def test_multiclass_acc_is_argmax_and_auc_is_unweighted_mean_one_vs_rest(task):
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(40), np.ones(15), np.full(5, 2)].astype(int)  # imbalanced on purpose
    s = rng.dirichlet(np.ones(3), size=60)
    assert medmnist_acc(y[:, None], s, task) == accuracy_score(y, s.argmax(1))
    expected = np.mean([roc_auc_score(y == k, s[:, k]) for k in range(3)])
    assert medmnist_auc(y, s, task) == pytest.approx(expected)
    assert medmnist_auc(y, s, task) == pytest.approx(roc_auc_score(y, s, multi_class="ovr", average="macro"))


def test_auc_undefined_is_a_clear_error():
    with pytest.raises(MetricsError, match="needs positive and negative"):
        medmnist_auc([0, 0, 0], [[0.9, 0.1, 0.0]] * 3, "multi-class")
    with pytest.raises(MetricsError, match="same number of rows"):
        medmnist_acc([0, 1], [0.2], "binary")


# -- bootstrap machinery -------------------------------------------------------------------------------

@pytest.mark.parametrize("decimals", [1, 6])  # with and without tied scores
def test_weighted_auc_and_ap_match_sklearn_with_sample_weights(decimals):
    rng = np.random.default_rng(decimals)
    y = rng.random(300) < 0.3
    s = np.round(rng.random(300) + 0.4 * y, decimals)
    W = np.vstack([np.ones(300)] + list(bs.bootstrap_weights(300, 5, rng)))
    roc, ap = bs.weighted_auc_pair(y, s, W)
    for row, w in enumerate(W):
        assert roc[row] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
        assert ap[row] == pytest.approx(average_precision_score(y, s, sample_weight=w), abs=1e-12)


def test_bootstrap_weights_are_resamples_of_size_n():
    W = np.vstack(list(bs.bootstrap_weights(50, 7, np.random.default_rng(0), chunk=3)))
    assert W.shape == (7, 50) and np.all(W.sum(1) == 50) and np.all(W >= 0)


# -- clinical report -----------------------------------------------------------------------------------

def test_binary_report_matches_hand_counts():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    s = np.array([.9, .8, .7, .2, .6, .3, .2, .1, .1, .05])
    r = clinical_report(y, s, "binary", n_bootstrap=0)
    # threshold 0.5: TP=3, FN=1, FP=1, TN=5
    assert r.confusion.tolist() == [[5, 1], [1, 3]]
    m = {k: e.value for k, e in r.summary.items()}
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["ppv"] == pytest.approx(3 / 4)
    assert m["npv"] == pytest.approx(5 / 6)
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, s))
    assert np.isnan(r.summary["f1"].low)  # no bootstrap asked for


def test_confidence_intervals_contain_the_estimate_and_shrink_with_more_data():
    rng = np.random.default_rng(3)

    def width(n):
        y = (rng.random(n) < 0.4).astype(int)
        s = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
        r = clinical_report(y, s, "binary", n_bootstrap=300, seed=1)
        for e in r.summary.values():
            assert e.low <= e.value + 1e-9 and e.value <= e.high + 1e-9
        return r.summary["roc_auc"].high - r.summary["roc_auc"].low

    assert width(2000) < width(100)


def test_report_is_reproducible_with_a_seed():
    rng = np.random.default_rng(4)
    y, s = rng.integers(0, 2, 80), rng.random(80)
    a = clinical_report(y, s, n_bootstrap=100, seed=7).summary["sensitivity"]
    b = clinical_report(y, s, n_bootstrap=100, seed=7).summary["sensitivity"]
    assert a == b


def test_multiclass_report_macro_average_and_confusion():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 300)
    s = rng.dirichlet(np.ones(3), size=300)
    s[np.arange(300), y] += 0.5
    s /= s.sum(1, keepdims=True)
    r = clinical_report(y, s, "multi-class", label_names=["a", "b", "c"], n_bootstrap=50)
    pred = s.argmax(1)
    assert r.threshold is None
    assert np.array_equal(r.confusion, confusion_matrix(y, pred, 3))
    recalls = [np.mean(pred[y == k] == k) for k in range(3)]
    assert r.per_class["b"]["sensitivity"].value == pytest.approx(recalls[1])
    assert r.summary["sensitivity"].value == pytest.approx(np.mean(recalls))
    assert r.summary["roc_auc"].value == pytest.approx(medmnist_auc(y, s, "multi-class"))
    assert r.summary["accuracy"].value == pytest.approx(np.mean(pred == y))
    text = str(r)
    assert "per class" in text and "MedMNIST evaluator" in text


def test_multilabel_report_per_label_auc():
    rng = np.random.default_rng(6)
    y = (rng.random((200, 3)) < 0.3).astype(int)
    s = np.clip(0.3 * y + 0.7 * rng.random((200, 3)), 0, 1)
    r = clinical_report(y, s, "multi-label, binary-class", n_bootstrap=20)
    for j in range(3):
        assert r.per_class[str(j)]["roc_auc"].value == pytest.approx(roc_auc_score(y[:, j], s[:, j]))
    assert r.confusion.shape == (3, 2, 2)
    assert r.medmnist["acc"] == pytest.approx(medmnist_acc(y, s, "multi-label"))
    d = r.to_dict()
    assert set(d["summary"]["roc_auc"]) == {"value", "low", "high"}


def test_threshold_for_sensitivity_reaches_target_with_best_specificity():
    rng = np.random.default_rng(8)
    y = (rng.random(500) < 0.3).astype(int)
    s = np.clip(0.3 * y + 0.7 * rng.random(500), 0, 1)
    for target in (0.8, 0.9, 0.99):
        t = threshold_for_sensitivity(y, s, target)
        sens = np.mean(s[y == 1] >= t)
        assert sens >= target
        # any higher candidate threshold misses the target
        higher = np.unique(s[s > t])
        assert not higher.size or np.mean(s[y == 1] >= higher[0]) < target


def test_threshold_for_sensitivity_rejects_bad_target():
    with pytest.raises(MetricsError, match="target must be"):
        threshold_for_sensitivity([0, 1], [0.2, 0.8], target=1.5)
    with pytest.raises(MetricsError, match="at least one positive"):
        threshold_for_sensitivity([0, 0], [0.2, 0.8], target=0.9)


def test_bad_arguments_are_named():
    with pytest.raises(MetricsError, match="n_bootstrap"):
        clinical_report([0, 1], [0.1, 0.9], n_bootstrap=-1)
    with pytest.raises(MetricsError, match="label_names"):
        clinical_report([0, 1], [0.1, 0.9], label_names=["only one"], n_bootstrap=0)
