#!/usr/bin/env python3
"""SciPy's linear_sum_assignment vs bench_assignment on the SAME problems, same machine.

Generates exactly the cost matrices bench/bench_assignment.cpp uses (splitmix64 -> 24-bit
uniform floats; problem b of a (batch, rows, cols) case is seeded with 1000*b + 7*rows + cols),
times SciPy solving each batch in a Python loop (what D-FINE's HungarianMatcher does), runs the
C++ benchmark binary, checks both found the same optimal totals, and prints medians side by side:
one table with SciPy, the C++ CPU solver, the CUDA kernel (automatic variant; costs already on
the device) in three figures, the CUDA end-to-end solve from host data (CudaAssignmentSolver
reused: pack, copy in, launch, copy out, one sync) and the same with the costs already in the
solver's pinned buffer ("staged": no packing copy); then the CUDA kernel's forced variants (one
warp or one block per problem, costs cached in shared memory or not) for tuning the automatic
choice.

The three CUDA kernel figures (bench_assignment.cpp's header says how each is taken):
  "CUDA kernel (graph)"   graph_us: the kernel alone, device time per launch of 20 launches
                          replayed as one CUDA graph behind a busy GPU (no host latency; only
                          the GPU's gap between dependent kernels): the kernel's cost
  "CUDA kernel (device)"  device_us: CUDA events around one launch on an idle stream: the
                          kernel PLUS the host's launch latency (the GPU waits for the launch)
  "CUDA kernel"           host wall time of launch + kernel + one stream synchronisation

SciPy gets float64 arrays prepared in advance (no per-call conversion: the comparison favours
SciPy slightly). Times are wall-clock medians over repetitions; the CPU time of the measuring
thread is printed too because a shared machine's wall clock is noisy.

Usage: python3 bench/assignment_vs_scipy.py --bench build/bench/bench_assignment [--reps 7]
           [--min-time 0.1] [--filter REGEX]
(--reps: SciPy's repetitions; the C++ benchmarks fix their own 7 repetitions. --min-time: seconds
per C++ benchmark repetition (Google Benchmark's --benchmark_min_time; default 0.5). --filter:
passed to --benchmark_filter; names end with "/repeats:7/real_time".)
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

CASES = [(4, 300, 1), (4, 300, 10), (4, 300, 50), (256, 64, 64)]
# bench_assignment's BM_AssignmentCudaKernel "variant" argument.
VARIANT_NAMES = ["CUDA kernel", "warp+cache", "warp", "block+cache", "block"]
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix_floats(seed, n):
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + GOLDEN * np.arange(1, n + 1, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def make_batch(batch, rows, cols):
    return [splitmix_floats(1000 * b + rows * 7 + cols, rows * cols).reshape(rows, cols)
            .astype(np.float64) for b in range(batch)]


def time_scipy(mats, reps):
    def once():
        for m in mats:
            linear_sum_assignment(m)
    t0 = time.perf_counter()
    once()
    single = time.perf_counter() - t0
    inner = max(1, int(0.2 / max(single, 1e-7)))
    walls, cpus = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(inner):
            once()
        walls.append((time.perf_counter() - t0) / inner)
        cpus.append((time.thread_time() - c0) / inner)
    return float(np.median(walls)) * 1e6, float(np.median(cpus)) * 1e6


def run_bench(path, reps, min_time=None, bench_filter=None):
    cmd = [path, "--benchmark_format=json", f"--benchmark_repetitions={reps}",
           "--benchmark_report_aggregates_only=true"]
    if min_time is not None:
        cmd.append(f"--benchmark_min_time={min_time}")
    if bench_filter:
        cmd.append(f"--benchmark_filter={bench_filter}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    sys.stderr.write(out.stderr)
    doc = json.loads(out.stdout)
    res = {}
    for b in doc["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        if b.get("error_occurred"):
            continue
        name = b["run_name"]  # e.g. BM_AssignmentCpu/batch:4/rows:300/cols:1/threads:1/...
        parts = dict(p.split(":") for p in name.split("/")[1:] if ":" in p)
        key = (int(parts["batch"]), int(parts["rows"]), int(parts["cols"]))
        kind = name.split("/")[0].replace("BM_Assignment", "")
        if kind == "Cpu":
            kind = "CPU 1 thread" if parts.get("threads") == "1" else "CPU auto threads"
        elif kind == "CudaKernel":
            kind = VARIANT_NAMES[int(parts.get("variant", "0"))]
        elif kind == "CudaEndToEnd":
            kind = "CUDA end-to-end"
        elif kind == "CudaStaged":
            kind = "CUDA e2e staged"
        label = b.get("label", "")
        res.setdefault(key, {})[kind] = (b["real_time"], b["cpu_time"], label)
        if "device_us" in b:  # events around one launch: kernel + host launch latency
            res[key][kind + " (device)"] = (b["device_us"], b["device_us"], "")
        if "graph_us" in b:  # the kernel alone: graph replay of back-to-back launches
            res[key][kind + " (graph)"] = (b["graph_us"], b["graph_us"], "")
    return res, doc.get("context", {})


def timing_cells(case, names, bench, wall, totals):
    """Formatted 'median (speed-up)' cells of the named kinds, and mismatch messages."""
    row, mismatches = "", []
    for k in names:
        if k not in bench.get(case, {}):
            row += f"{'n/a':>22}"
            continue
        t, _, label = bench[case][k]
        row += f"{'%.1f (%.1fx)' % (t, wall / t):>22}"
        if label.startswith("sum of optimal totals"):
            mine = float(label.split()[-1])
            if abs(mine - totals) > 1e-4 * max(1.0, totals):
                mismatches.append(f"  MISMATCH {case} {k}: total {mine} vs SciPy {totals}")
    return row, mismatches


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path to bench_assignment")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=None,
                    help="seconds per C++ benchmark repetition (default: Google Benchmark's)")
    ap.add_argument("--filter", default=None, help="--benchmark_filter for the C++ binary")
    args = ap.parse_args()

    bench, ctx = run_bench(args.bench, args.reps, args.min_time, args.filter)
    print(f"machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, "
          f"load {ctx.get('load_avg')}")
    kinds = ["CPU 1 thread", "CPU auto threads", "CUDA kernel (graph)", "CUDA kernel (device)",
             "CUDA kernel", "CUDA end-to-end", "CUDA e2e staged"]
    print("median wall time per batch in microseconds, speed-up over SciPy's wall time in "
          "brackets;\n'SciPy CPU' and 'C++ CPU' (1 thread) are the measuring thread's CPU time, "
          "the fair figure on a loaded machine;\n'CUDA kernel (graph)' = the kernel alone "
          "(graph replay, no host latency), '(device)' = events around one launch (kernel + "
          "host launch latency),\n'CUDA kernel' = host wall time of launch + kernel + sync")
    print(f"{'case':<16}{'SciPy':>12}{'SciPy CPU':>12}{'C++ CPU':>12}" +
          "".join(f"{k:>22}" for k in kinds))
    mismatches = []
    scipy = {}  # case -> (SciPy wall time, SciPy's sum of optimal totals)
    for case in CASES:
        mats = make_batch(*case)
        totals = sum(m[linear_sum_assignment(m)].sum() for m in mats)
        wall, cpu = time_scipy(mats, args.reps)
        scipy[case] = (wall, totals)
        one = bench.get(case, {}).get("CPU 1 thread")
        row = f"{'%dx%dx%d' % case:<16}{wall:>12.1f}{cpu:>12.1f}"
        row += f"{one[1]:>12.1f}" if one else f"{'n/a':>12}"
        cells, bad = timing_cells(case, kinds, bench, wall, totals)
        print(row + cells)
        mismatches += bad
    if "CUDA kernel" not in {k for v in bench.values() for k in v}:
        print("CUDA: not measured (no CUDA device, or built without CUDA)")
    else:
        headers = ["auto"] + VARIANT_NAMES[1:]
        for suffix, what in [(" (graph)", "the kernel alone (graph_us: graph replay, no host "
                                          "latency)"),
                             (" (device)", "CUDA events around one launch (device_us: kernel + "
                                           "host launch latency)")]:
            print(f"\nCUDA kernel variants, {what}; forced variants, median us, speed-up over "
                  "SciPy's wall time:")
            print(f"{'case':<16}" + "".join(f"{k:>22}" for k in headers))
            names = [k + suffix for k in VARIANT_NAMES]
            for case in CASES:
                cells, bad = timing_cells(case, names, bench, *scipy[case])
                print(f"{'%dx%dx%d' % case:<16}" + cells)
                mismatches += bad
    for m in mismatches:
        print(m)
    print("OPTIMAL TOTALS DISAGREE" if mismatches else "optimal totals agree with SciPy")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
