"""benchmarks/bench_accuracy.py's aggregation and report on fake rows (no training)."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_accuracy as ba  # noqa: E402

PUBLISHED = [  # a made-up table in published_benchmarks' shape
    {"source": "S1", "model": "small (28)", "size": 28, "acc": 0.80, "auc": 0.90, "citation": "c1"},
    {"source": "S1", "model": "big (224)", "size": 224, "acc": 0.95, "auc": 0.99, "citation": "c1"},
    {"source": "S2", "model": "best run", "size": 28, "acc": 0.85, "auc": 0.88, "citation": "c2"},
]


def rows_for(name, accs, aucs, secs, budget=120.0):
    return [ba.make_row(name, "recipe-x", "cnn", 42 + i, {"acc": a, "auc": u}, s, budget, epochs=3)
            for i, (a, u, s) in enumerate(zip(accs, aucs, secs))]


def test_spread_is_mean_sample_std_min_max():
    s = ba.spread([0.8, 0.9, 1.0])
    assert s == {"mean": 0.9, "std": 0.1, "min": 0.8, "max": 1.0, "n": 3}
    assert ba.spread([0.5]) == {"mean": 0.5, "std": 0.0, "min": 0.5, "max": 0.5, "n": 1}
    assert ba.spread([0.6, float("nan"), None])["n"] == 1     # a NaN AUC is left out, not averaged
    assert ba.spread([])["mean"] is None


def test_summary_compares_with_the_best_28_entry_per_metric_only():
    rows = rows_for("fake", [0.84, 0.86, 0.88], [0.89, 0.90, 0.91], [100.0, 119.5, 110.0])
    s = ba.summarize(rows, 120.0, published_for=lambda name: PUBLISHED)["fake"]
    assert s["seeds"] == [42, 43, 44] and s["recipe"] == "recipe-x"
    assert s["acc"]["mean"] == 0.86 and s["auc"]["mean"] == 0.9
    assert s["train_seconds"] == {"mean": 109.8, "max": 119.5} and s["all_within_budget"]
    # ACC: best 28x28 is S2's 0.85 (the 224 row's 0.95 does not count); AUC: S1's 0.90
    acc, auc = s["best_28"]["acc"], s["best_28"]["auc"]
    assert (acc["source"], acc["value"], acc["ratio"], acc["at_or_above"]) == ("S2", 0.85, round(0.86 / 0.85, 4), True)
    assert (auc["source"], auc["value"], auc["ratio"], auc["at_or_above"]) == ("S1", 0.90, 1.0, True)
    assert s["at_or_above_best_28"]
    assert [p["at_28"] for p in s["published"]] == [True, False, True]
    assert all("citation" not in p for p in s["published"])


def test_below_the_bar_and_over_budget_are_reported():
    rows = rows_for("fake", [0.84, 0.86], [0.85, 0.87], [121.0, 90.0])
    s = ba.summarize(rows, 120.0, published_for=lambda name: PUBLISHED)["fake"]
    assert not s["all_within_budget"] and [r["within_budget"] for r in rows] == [False, True]
    assert s["best_28"]["acc"]["at_or_above"] and not s["best_28"]["auc"]["at_or_above"]
    assert s["best_28"]["auc"]["ratio"] == round(0.86 / 0.90, 4)
    assert not s["at_or_above_best_28"]


def test_no_published_entries_and_several_datasets_keep_their_order():
    rows = rows_for("b", [0.5], [0.6], [1.0]) + rows_for("a", [0.7, 0.9], [0.8, 0.8], [1.0, 2.0])
    out = ba.summarize(rows, None, published_for=lambda name: PUBLISHED if name == "a" else [])
    assert list(out) == ["b", "a"]
    assert out["b"]["best_28"] == {"acc": None, "auc": None} and not out["b"]["at_or_above_best_28"]
    assert out["a"]["acc"]["mean"] == 0.8 and math.isclose(out["a"]["acc"]["std"], 0.1414, abs_tol=1e-4)
    assert out["a"]["all_within_budget"]                       # budget None: no clock
    json.dumps(out)                                            # the summary is plain JSON


def test_table_shows_every_published_entry_and_the_ratio():
    rows = rows_for("fake", [0.84, 0.86, 0.88], [0.85, 0.86, 0.87], [10.0, 11.0, 12.0])
    summaries = ba.summarize(rows, 120.0, published_for=lambda name: PUBLISHED)
    text = ba.format_table(rows, summaries)
    for p in PUBLISHED:
        assert f"{p['source']} / {p['model']}" in text
    assert "ACC 0.8600 ± 0.0200 (0.8400-0.8800)" in text
    assert "ACC: ours / best 28x28 (S2 best run, 0.8500) = 1.0118  AT/ABOVE" in text
    assert "AUC: ours / best 28x28 (S1 small (28), 0.9000) = 0.9556  below" in text
    assert "every run within" in text and text.count("\nfake ") == 3


def test_real_registry_figures_feed_the_summary():
    rows = rows_for("breastmnist", [0.87, 0.87], [0.92, 0.93], [100.0, 100.0])
    s = ba.summarize(rows, 120.0)["breastmnist"]
    assert len(s["published"]) == 8 and sum(p["at_28"] for p in s["published"]) == 6
    assert (s["best_28"]["acc"]["source"], s["best_28"]["acc"]["value"]) == ("MedMNIST+", 0.865)
    assert (s["best_28"]["auc"]["model"], s["best_28"]["auc"]["value"]) == ("Google AutoML Vision", 0.919)
    assert s["at_or_above_best_28"]


def test_parse_args_defaults_are_the_issue_16_protocol():
    args = ba.parse_args([])
    assert args.seeds == [42, 43, 44, 45, 46, 47] and args.budget == 120.0 and args.model is None
    with pytest.raises(SystemExit):
        ba.parse_args(["--model", "nope"])
