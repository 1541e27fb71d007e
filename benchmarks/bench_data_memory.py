"""Memory of loading the largest 28x28 MedMNIST dataset's shape (TissueMNIST, 236,386 images).

Goal: ``fetch_medmnist`` peaks under 2x the images' uint8 size; ``to_arrays``
allocates only its float32 output (no float64 or other temporaries).

The file is synthetic (same shapes, dtypes and npz layout as
``tissuemnist.npz``; no download), written to a temporary folder and
registered through ``override_file``. Each measurement runs in a fresh
process and reports both tracemalloc's peak (NumPy reports its buffers to it)
and the growth of the process's peak RSS (Linux: VmHWM, reset just before).

Usage:
    python benchmarks/bench_data_memory.py [--scale 1.0]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SPLITS = {"train": 165466, "val": 23640, "test": 47280}   # TissueMNIST (registry n_samples)
MiB = 2**20

_CHILD = r"""
import json, sys, time, tracemalloc
import numpy as np
from medlearn.datasets import fetch_medmnist, override_file, to_arrays
folder, md5, what = sys.argv[1], sys.argv[2], sys.argv[3]


def status(key):  # kB -> bytes, from /proc (Linux); None elsewhere
    try:
        with open("/proc/self/status") as fh:
            return int(next(l for l in fh if l.startswith(key)).split()[1]) * 1024
    except (OSError, StopIteration):
        return None


def reset_peak_rss():  # Linux >= 4.0: "5" resets VmHWM to the current RSS
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


with override_file("tissuemnist", md5=md5):
    if what == "to_arrays":
        part = fetch_medmnist("tissuemnist", split="train", data_home=folder, download=False)
    reset_peak_rss()
    rss0 = status("VmRSS:")
    tracemalloc.start()
    t0 = time.perf_counter()
    if what == "load":
        data = fetch_medmnist("tissuemnist", data_home=folder, download=False)
        kept = sum(data[s].images.nbytes + data[s].labels.nbytes for s in ("train", "val", "test"))
    else:
        x, y = to_arrays(part)
        kept = x.nbytes + y.nbytes
    seconds = time.perf_counter() - t0
    current, peak = tracemalloc.get_traced_memory()
    hwm = status("VmHWM:")
growth = hwm - rss0 if hwm is not None and rss0 is not None else None
print(json.dumps({"seconds": seconds, "tracemalloc_peak": peak, "result_bytes": kept, "rss_growth": growth}))
"""


def write_file(folder: Path, scale: float) -> tuple[Path, str, int]:
    from medlearn.datasets._verify import md5sum

    arrays, image_bytes = {}, 0
    pattern = (np.arange(28)[:, None] * 3 + np.arange(28)[None, :] * 5).astype(np.uint8)
    for split, n in SPLITS.items():
        n = max(1, int(n * scale))
        images = np.empty((n, 28, 28), np.uint8)
        images[:] = pattern
        images += (np.arange(n) % 251).astype(np.uint8)[:, None, None]  # vary per image, compress quickly
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = (np.arange(n) % 8).astype(np.uint8)[:, None]
        image_bytes += images.nbytes
    path = folder / "tissuemnist.npz"
    np.savez_compressed(path, **arrays)
    return path, md5sum(path), image_bytes


def measure(folder: Path, md5: str, what: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder), md5, what],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of TissueMNIST's size (default 1.0)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="medlearn-bench-") as tmp:
        folder = Path(tmp)
        path, md5, image_bytes = write_file(folder, args.scale)
        first = measure(folder, md5, "load")     # hashes the file (first use)
        second = measure(folder, md5, "load")    # trusted from the verified-file cache
        conv = measure(folder, md5, "to_arrays")
        train_uint8 = int(SPLITS["train"] * args.scale) * 28 * 28
        report = {
            "dataset_shape": "tissuemnist 28x28 (synthetic content)",
            "images": {s: int(n * args.scale) for s, n in SPLITS.items()},
            "file_mib": round(path.stat().st_size / MiB, 1),
            "images_uint8_mib": round(image_bytes / MiB, 1),
            "load_first_use": {
                "seconds": round(first["seconds"], 2),
                "tracemalloc_peak_mib": round(first["tracemalloc_peak"] / MiB, 1),
                "peak_rss_growth_mib": None if first["rss_growth"] is None else round(first["rss_growth"] / MiB, 1),
                "peak_over_uint8": round(first["tracemalloc_peak"] / image_bytes, 3),
            },
            "load_cached": {
                "seconds": round(second["seconds"], 2),
                "tracemalloc_peak_mib": round(second["tracemalloc_peak"] / MiB, 1),
                "peak_over_uint8": round(second["tracemalloc_peak"] / image_bytes, 3),
            },
            "to_arrays_train": {
                "seconds": round(conv["seconds"], 2),
                "float32_output_mib": round(conv["result_bytes"] / MiB, 1),
                "tracemalloc_peak_mib": round(conv["tracemalloc_peak"] / MiB, 1),
                "peak_over_output": round(conv["tracemalloc_peak"] / conv["result_bytes"], 3),
                "peak_rss_growth_mib": None if conv["rss_growth"] is None else round(conv["rss_growth"] / MiB, 1),
                "train_uint8_mib": round(train_uint8 / MiB, 1),
            },
        }
        report["goal_load_peak_under_2x_uint8"] = report["load_first_use"]["peak_over_uint8"] < 2.0
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    raise SystemExit(main())
