#!/usr/bin/env python3
"""Time every lesson under nbval in fast mode, the way `python3 dev.py test` runs them.

    python benchmarks/bench_lessons.py                  # every lessons/NN_*.ipynb, one pytest each
    python benchmarks/bench_lessons.py --lessons 09 13  # only lessons whose file name starts so
    python benchmarks/bench_lessons.py --cells          # also the slowest cells (nbclient, no pytest)

Each lesson runs in its own `python -m pytest -n 0 -p no:cacheprovider lessons/NN_*.ipynb` process
with the test command's environment (MEDLEARN_FAST=1, MEDLEARN_OFFLINE=1, MPLBACKEND=Agg,
TF_CPP_MIN_LOG_LEVEL=3, PYTHONHASHSEED=0; pyproject's addopts add --nbval-lax). Printed per lesson:
wall seconds, CPU seconds of the pytest process and its kernel (children's rusage), and pass/fail;
then the total, the load average at start and end, the projected wall time on 2 workers (the suite's
`-n 2 --dist loadscope` puts each notebook on one worker: a greedy longest-first split of the
measured times) and one JSON line.

The budget (issue 16): all lessons together <= 5 minutes on 2 cores. On a shared machine the wall
times measure the others' load too: read the CPU seconds and the load average next to them.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
BUDGET_S = 300.0


def _env() -> dict:
    env = dict(os.environ)
    for key, value in (("MEDLEARN_FAST", "1"), ("MEDLEARN_OFFLINE", "1"), ("MPLBACKEND", "Agg"),
                       ("TF_CPP_MIN_LOG_LEVEL", "3"), ("PYTHONHASHSEED", "0")):
        env.setdefault(key, value)
    return env


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_lesson(path: Path, env: dict) -> dict:
    """One pytest process for one lesson; wall and CPU (pytest + its kernels) seconds."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider",
                           str(path.relative_to(ROOT))], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else [""]
    return {"lesson": path.stem, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "passed": proc.returncode == 0, "summary": tail[0][-120:]}


def cell_times(path: Path, env: dict, top: int) -> list[dict]:
    """Run the notebook with nbclient in this process's environment; the `top` slowest code cells."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.update({k: v for k, v in env.items() if k.startswith(("MEDLEARN_", "MPL", "TF_", "PYTHONHASH"))})
    nb = nbformat.read(path, as_version=4)
    times: list[dict] = []
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})

    original = client.async_execute_cell

    async def timed(cell, cell_index, *args, **kwargs):
        t0 = time.perf_counter()
        result = await original(cell, cell_index, *args, **kwargs)
        if cell.cell_type == "code":
            times.append({"cell": cell.get("id", str(cell_index)), "s": round(time.perf_counter() - t0, 2)})
        return result

    client.async_execute_cell = timed
    client.execute()
    return sorted(times, key=lambda t: -t["s"])[:top]


def two_worker_wall(walls: list[float], workers: int = 2) -> float:
    """Greedy longest-first split of per-notebook times over `workers` (loadscope: one notebook, one worker)."""
    loads = [0.0] * workers
    for w in sorted(walls, reverse=True):
        loads[loads.index(min(loads))] += w
    return max(loads) if loads else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lessons", nargs="*", default=None, help="file-name prefixes, e.g. 09 13 (default: all)")
    ap.add_argument("--cells", action="store_true", help="also print each lesson's slowest cells (nbclient)")
    ap.add_argument("--top", type=int, default=5, help="how many slow cells to print with --cells")
    args = ap.parse_args(argv)

    paths = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
    if args.lessons:
        paths = [p for p in paths if p.name.startswith(tuple(args.lessons))]
    if not paths:
        print("bench_lessons: no lesson matched", file=sys.stderr)
        return 2
    env = _env()
    load_start = os.getloadavg()
    print(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}; "
          f"{len(paths)} lessons, one pytest process each", flush=True)
    rows = []
    for path in paths:
        row = run_lesson(path, env)
        rows.append(row)
        print(f"{row['lesson']:<40} wall {row['wall_s']:6.1f} s  cpu {row['cpu_s']:6.1f} s  "
              f"{'pass' if row['passed'] else 'FAIL'}", flush=True)
    load_end = os.getloadavg()
    if args.cells:  # after all the pytest runs, so no nbclient kernel's CPU counts against a lesson
        for path in paths:
            print(f"{path.stem}: slowest cells (wall s)", flush=True)
            for c in cell_times(path, env, args.top):
                print(f"    {c['cell']:<36} {c['s']:6.2f} s", flush=True)
    total_wall = round(sum(r["wall_s"] for r in rows), 1)
    total_cpu = round(sum(r["cpu_s"] for r in rows), 1)
    two = round(two_worker_wall([r["wall_s"] for r in rows]), 1)
    print(f"total: wall {total_wall} s, cpu {total_cpu} s; on 2 workers (loadscope, longest first) "
          f"about {two} s (budget {BUDGET_S:.0f} s of wall on 2 cores for all lessons together)")
    print(f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    print(json.dumps({"lessons": rows, "total_wall_s": total_wall, "total_cpu_s": total_cpu,
                      "two_worker_wall_s": two, "budget_s": BUDGET_S,
                      "within_budget": total_wall <= BUDGET_S, "all_passed": all(r["passed"] for r in rows),
                      "load_average_start": [round(x, 2) for x in load_start],
                      "load_average_end": [round(x, 2) for x in load_end],
                      "python": sys.version.split()[0]}))
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
