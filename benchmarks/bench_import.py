"""How long does `import medlearn` take, next to `import numpy` and `import tensorflow`?

Each import runs in a fresh interpreter, several times; the median is reported, with the
ratio to NumPy measured in the same run (the machine is shared and noisy).

    .venv/bin/python benchmarks/bench_import.py [--repeat 7]

Prints one JSON object.
"""
import argparse
import json
import statistics
import subprocess
import sys


def _time_import(statement: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""})
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-tensorflow", action="store_true", help="skip the (slow) TensorFlow reference")
    args = parser.parse_args()
    result = {"python": sys.version.split()[0], "repeat": args.repeat}
    result["numpy_s"] = _time_import("import numpy", args.repeat)
    result["medlearn_s"] = _time_import("import medlearn", args.repeat)
    result["medlearn_cli_s"] = _time_import("import medlearn.cli; medlearn.cli.build_parser()", args.repeat)
    if not args.no_tensorflow:
        result["tensorflow_s"] = _time_import("import tensorflow", max(1, args.repeat // 3))
        result["tensorflow_over_medlearn"] = round(result["tensorflow_s"] / result["medlearn_s"], 1)
    result["medlearn_over_numpy"] = round(result["medlearn_s"] / result["numpy_s"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
