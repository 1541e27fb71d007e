"""Grading throughput and per-submission overhead of ``medlearn grade``; prints JSON.

    python benchmarks/bench_grading.py                     # lesson 01, 50 submissions, 2 workers
    python benchmarks/bench_grading.py --lesson lessons/02_gradient_descent.ipynb --n 20 --jobs 2

Figures:

* ``throughput_per_min`` - submissions graded per minute for ``--n`` submissions of one
  lesson (half instructor copies, half untouched student copies, each file distinct) on
  ``--jobs`` workers, sandbox included;
* ``lesson_plain_s`` / ``lesson_graded_s`` - medians over ``--pairs`` alternating runs, one at a
  time: the lesson's code as plain Python in a subprocess (the floor any grader pays) and
  the full grading of one instructor copy (parse, sandbox, judge, files); their difference
  and ratio are the overhead per submission on that lesson;
* ``breakdown_s`` - one graded lesson run split by the sandbox's own timings: ``sandbox_start``
  (interpreter start, namespaces, covers, Landlock, seccomp), ``imports`` (exercise modules),
  ``cells_and_checks`` and ``grader_side`` (parsing, cases, judging, files);
* ``cpu_per_submission_s`` - CPU seconds per submission of the throughput run (grader and reaped
  sandboxes, ``getrusage``), split in ``cpu_split_s`` into the sandboxes' (``RunResult.cpu_s``, the
  supervisor's figure: a lower bound without a cgroup) and the rest (the grader's), and ``cpu_bound_per_min`` - the throughput that cost allows on ``--jobs``
  otherwise idle cores (on a shared, loaded machine the wall figure measures the others' load;
  ``load_average_1min`` says how much there was);
* ``setup_statements`` - what the grader's pruning (:mod:`medlearn.grading.prune`) did per
  submission of the throughput run: source statements ``kept`` and ``dropped`` (medians), whether it
  was ``active`` (or why not) and the grader's ``analysis_s`` for it (median);
* ``trivial_per_submission_s`` - wall per submission for a two-function notebook, one
  worker (the fixed cost: Python + NumPy start-up, namespaces, Landlock, case files,
  judging); ``python_numpy_startup_s`` - a bare ``python -I -c "import numpy"`` for scale.

Run with MEDLEARN_FAST=1 as CI does; the machine's other load shows in the numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def _copies(source: Path, student: Path, folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        nb = nbformat.read(source if i % 2 == 0 else student, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell(f"Submitted by student {i:03d}."))
        nbformat.write(nb, folder / f"student{i:03d}.ipynb")


def _plain_run(source: Path, work: Path) -> float:
    cells = [c.source for c in nbformat.read(source, as_version=4).cells if c.cell_type == "code"]
    script = work / "plain.py"
    script.write_text("\n\n".join(cells).replace("### HIDDEN CHECKS", "# hidden checks"))
    start = time.perf_counter()
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    subprocess.run([sys.executable, "-I", str(script)], cwd=work, check=True, capture_output=True,
                   env={**os.environ, "MPLBACKEND": "Agg", **threads})  # same threads as a grading child
    return time.perf_counter() - start


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of every child it has reaped (the sandboxes)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", type=Path, default=ROOT / "lessons" / "01_neurons_and_losses.ipynb")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--trivial-n", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args(argv)

    from attacks import catalog, demo_exercises  # noqa: F401  (the trivial notebook's exercises)

    from medlearn.grading import Limits, assign, grade

    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        (student,) = assign([args.lesson], work / "release")
        _copies(args.lesson, student, work / "subs", args.n)
        limits = Limits(timeout=600, memory_mb=8192)
        from medlearn.grading import grader as grader_module

        runs = []  # the sandbox's own figures of each graded run (timings on the grader's clock, CPU)
        original_run_job = grader_module.run_job

        def timed_run_job(*a, **k):
            result = original_run_job(*a, **k)
            runs.append(result)
            return result

        grader_module.run_job = timed_run_job  # the batch's worker threads call it too
        prunes = []  # (seconds, report) of each pruning, where this tree's grader prunes
        original_prune = getattr(grader_module, "prune_steps", None)

        def timed_prune(*a, **k):
            t0 = time.perf_counter()
            out = original_prune(*a, **k)
            prunes.append((time.perf_counter() - t0, out[1]))
            return out

        if original_prune is not None:
            grader_module.prune_steps = timed_prune
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        cpu_before = _cpu_s()
        start = time.perf_counter()
        frame = grade(args.lesson, work / "subs", work / "out", jobs=args.jobs, limits=limits, progress=False)
        wall = time.perf_counter() - start
        total_cpu = (_cpu_s() - cpu_before) / args.n
        child_cpu = min(total_cpu, sum(r.cpu_s for r in runs) / args.n)
        runs.clear()
        setup_statements = {"pruning": "not in this tree"}
        if prunes:
            setup_statements = {
                "active": sorted({r.active for _, r in prunes}), "reasons": sorted({r.reason for _, r in prunes if r.reason}),
                "kept": statistics.median(r.kept for _, r in prunes),
                "dropped": statistics.median(len(r.dropped) for _, r in prunes),
                "analysis_s": round(statistics.median(t for t, _ in prunes), 4)}
        if original_prune is not None:
            grader_module.prune_steps = original_prune
        results = [work / "out" / "results" / f"{name}.json" for name in frame["student"]]
        sandbox = sorted({json.loads(p.read_text())["extra_data"]["medlearn"]["result"]["sandbox"] for p in results})
        plain, graded = [], []
        _plain_run(args.lesson, work)  # warm the file cache for both sides
        for _ in range(args.pairs):  # side by side, alternating, so machine load hits both alike
            plain.append(_plain_run(args.lesson, work))
            start = time.perf_counter()
            grade(args.lesson, [work / "subs" / "student000.ipynb"], None, jobs=1, limits=limits, progress=False)
            graded.append(time.perf_counter() - start)
        grader_module.run_job = original_run_job
        plain, graded = statistics.median(plain), statistics.median(graded)
        timing = {key: statistics.median(r.timings.get(key, float("nan")) for r in runs)
                  for key in ("start", "ready", "done")} if runs else {}
        child_wall = statistics.median(r.wall for r in runs) if runs else float("nan")

        (work / "trivial").mkdir()
        src = work / "trivial" / "source.ipynb"
        nbformat.write(catalog.source_notebook(), src)
        _copies(src, src, work / "trivial_subs", args.trivial_n)
        start = time.perf_counter()
        grade(src, work / "trivial_subs", None, jobs=1, limits=Limits(timeout=60), progress=False)
        trivial = (time.perf_counter() - start) / args.trivial_n
        start = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", "import numpy"], check=True)
        startup = time.perf_counter() - start
        result = {
            "lesson": args.lesson.name,
            "submissions": args.n,
            "jobs": args.jobs,
            "cpu_count": os.cpu_count(),
            "statuses": frame["status"].value_counts().to_dict(),
            "wall_s": round(wall, 2),
            "throughput_per_min": round(60 * args.n / wall, 2),
            # what the batch cost in CPU, grader and sandboxes together, and the throughput that cost
            # allows on --jobs otherwise idle cores: the figure the shared machine's load does not move
            "cpu_per_submission_s": round(total_cpu, 3),
            "cpu_split_s": {"sandbox": round(child_cpu, 3), "grader": round(total_cpu - child_cpu, 3)},
            "cpu_bound_per_min": round(60 * min(args.jobs, os.cpu_count() or 1) / total_cpu, 2),
            "load_average_1min": round(load_before, 2),
            "lesson_plain_s": round(plain, 3),
            "lesson_graded_s": round(graded, 3),
            "overhead_per_submission_s": round(graded - plain, 3),
            "graded_over_plain": round(graded / plain, 3),
            "setup_statements": setup_statements,
            "trivial_per_submission_s": round(trivial, 3),
            "python_numpy_startup_s": round(startup, 3),
            # one graded lesson run split up (medians): interpreter start + sandbox set-up, then the
            # exercise modules' imports, then the cells and checks; the rest of lesson_graded_s is the
            # grader's own work (parse, cases, judging, files)
            "breakdown_s": {
                "sandbox_start": round(timing.get("start", float("nan")), 3),
                "imports": round(timing.get("ready", float("nan")) - timing.get("start", float("nan")), 3),
                "cells_and_checks": round(timing.get("done", float("nan")) - timing.get("ready", float("nan")), 3),
                "grader_side": round(graded - child_wall, 3),
            },
            "sandbox": sandbox,
            "fast_mode": os.environ.get("MEDLEARN_FAST", ""),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
