"""benchmarks/bench_throughput.py --mode train: medlearn train's own feeds against memory."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_throughput as bt  # noqa: E402


def row(feed, ips, repeat=0, size=28, batch=128, **extra):
    return {"status": "ok", "feed": feed, "images_per_s": ips, "repeat": repeat, "size": size,
            "batch_size": batch, "precision": "float32", "xla": False, **extra}


def test_train_mode_defaults_and_feed_names():
    args = bt.parse_args(["--mode", "train"])
    assert args.feed == ["memory", "array", "batches"] and args.repeats == 3
    old = bt.parse_args([])
    assert old.mode == "tf-dataset" and old.feed == ["memory", "pipeline"] and old.repeats == 1
    with pytest.raises(SystemExit):
        bt.parse_args(["--mode", "train", "--feed", "pipeline"])
    with pytest.raises(SystemExit):
        bt.parse_args(["--mode", "train", "--repeats", "0"])


def test_summarize_train_keeps_the_best_repeat_and_divides_by_memory():
    results = [row("memory", 1000.0, 0), row("array", 900.0, 0), row("batches", 700.0, 0, input_ms_per_batch=0.5),
               row("memory", 800.0, 1), row("array", 950.0, 1), row("batches", 920.0, 1, input_ms_per_batch=0.4),
               row("memory", 300.0, 0, size=64), row("batches", 240.0, 0, size=64),
               {"status": "skipped", "feed": "memory", "size": 28, "batch_size": 128, "precision": "mixed",
                "xla": False}]
    s = bt.summarize_train(results)
    c28, c64 = s["configs"]
    assert c28["images_per_s"] == {"memory": 1000.0, "array": 950.0, "batches": 920.0}
    assert (c28["pipeline_over_memory"], c28["array_over_memory"]) == (0.92, 0.95)
    assert c28["input_ms_per_batch"] == 0.4 and c28["input_share_of_step"] == round(0.4 / 128.0, 4)
    assert c64["pipeline_over_memory"] == 0.8 and c64["array_over_memory"] is None
    assert s["pipeline_over_memory_min"] == 0.8 and not s["meets_target"]
    assert bt.summarize_train(results[:6])["meets_target"]
    assert "cpu_pipeline_over_memory" not in c28          # no CPU times in these rows
    json.dumps(s)


def test_summarize_train_cpu_ratios():
    results = [row("memory", 500.0, 0, images_per_cpu_s=400.0), row("batches", 600.0, 0, images_per_cpu_s=380.0),
               row("array", 450.0, 0, images_per_cpu_s=300.0), row("batches", 550.0, 1, images_per_cpu_s=390.0)]
    c = bt.summarize_train(results)["configs"][0]
    assert c["images_per_cpu_s"] == {"memory": 400.0, "batches": 390.0, "array": 300.0}
    assert (c["cpu_pipeline_over_memory"], c["cpu_array_over_memory"]) == (0.975, 0.75)
    assert c["median_images_per_cpu_s"]["batches"] == 385.0 and c["median_cpu_pipeline_over_memory"] == 0.963


def test_the_target_is_judged_on_the_median_not_a_lucky_repeat():
    walls = {"memory": [1000.0, 400.0, 900.0], "batches": [1200.0, 700.0, 600.0]}  # medians 900 / 700
    results = [row(feed, v, i) for feed, vs in walls.items() for i, v in enumerate(vs)]
    s = bt.summarize_train(results)
    assert s["pipeline_over_memory_min"] == 1.2                    # best-of: a lucky batches repeat
    assert s["median_pipeline_over_memory_min"] == round(700 / 900, 3) and not s["meets_target"]


def test_train_inputs_cover_the_steps_with_balanced_weights():
    from medlearn.datasets import make_phantoms

    data = make_phantoms(40, size=28, seed=0)
    images, y, w = bt.train_inputs(data, batch=16, steps=5)
    assert images.dtype == np.uint8 and images.shape == (80, 28, 28)
    assert y.shape == (80, 1) and y.dtype == np.float32
    labels = y[:, 0].astype(int)
    assert np.isclose(w[labels == 0].sum(), w[labels == 1].sum())   # each class weighs the same in total


def test_train_mode_runs_every_feed_on_a_tiny_model(capsys):
    assert bt.main(["--mode", "train", "--model", "cnn", "--sizes", "28", "--batch-sizes", "8", "--steps", "2",
                    "--warmup", "1", "--images", "32", "--precision", "float32", "--repeats", "1"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    measured, summary = lines[:-1], lines[-1]
    assert [r["feed"] for r in measured] == ["memory", "array", "batches"]
    assert all(r["status"] == "ok" and r["images_per_s"] > 0 and r["images_per_cpu_s"] > 0 and r["mode"] == "train"
               for r in measured)
    assert measured[2]["input_ms_per_batch"] > 0
    assert summary["bench"] == "throughput_train_summary" and summary["configs"][0]["pipeline_over_memory"] > 0
