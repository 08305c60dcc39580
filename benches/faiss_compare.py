"""The search kernel's CPU twin against FAISS flat inner-product search (faiss-cpu), at
the same dimension (128), catalogue sizes, number of queries, k (16) and thread count.

    python3 benches/faiss_compare.py [--frames 10000,100000,1000000] [--queries 256]
                                     [--threads N] [--repeats 5] [--clipmatch PATH]

Both sides get synthetic descriptors with coefficients in -31..31 (the twin as 8-bit
integers, FAISS as float32), one warm-up call, then the median of the repeats. The
twin's figures come from `clipmatch bench --device cpu --json -`. Prints comparisons
per second for each and the ratio twin / FAISS (above 1: the twin is faster). The twin
scores each pair in both orientations (plain and mirrored); FAISS scores one.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

DIM, K = 128, 16


def faiss_rate(frames, queries, threads, repeats, seed):
    import faiss

    faiss.omp_set_num_threads(threads)
    rng = np.random.default_rng(seed)
    base = rng.integers(-31, 32, size=(frames, DIM)).astype(np.float32)
    q = rng.integers(-31, 32, size=(queries, DIM)).astype(np.float32)
    index = faiss.IndexFlatIP(DIM)
    index.add(base)
    index.search(q, K)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        index.search(q, K)
        times.append(time.perf_counter() - t)
    return queries * frames / statistics.median(times)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clipmatch", default=os.path.join(here, "..", "target", "release", "clipmatch"))
    a = ap.parse_args()
    frames = [int(f) for f in a.frames.split(",")]

    out = subprocess.run(
        [a.clipmatch, "bench", "--device", "cpu", "--workers", str(a.threads), "--frames", a.frames,
         "--queries", str(a.queries), "--views", "1", "--images", "64", "--repeats", str(a.repeats),
         "--json", "-"],
        check=True, capture_output=True, text=True,
    )
    twin = {m["size"]: m["per_second"] for m in json.loads(out.stdout)["results"] if m["kernel"] == "search"}

    print(f"dim {DIM}, k {K}, {a.queries} queries, {a.threads} threads, median of {a.repeats}")
    print(f"{'frames':>10} {'twin cmp/s':>14} {'faiss cmp/s':>14} {'twin/faiss':>11}")
    worst = None
    for f in frames:
        fr = faiss_rate(f, a.queries, a.threads, a.repeats, seed=f)
        ratio = twin[f] / fr
        worst = ratio if worst is None else min(worst, ratio)
        print(f"{f:>10} {twin[f]:>14.4e} {fr:>14.4e} {ratio:>11.2f}")
    print(f"lowest ratio {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
