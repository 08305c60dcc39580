"""The whole match job against the FFmpeg floor: the ffmpeg command line decoding and
sampling the same uploads at the same rate to a small size, one process per core so
that every core is busy. Prints both medians and the ratio job / floor (below 1: the
job is faster than FFmpeg alone).

    python3 benches/ffmpeg_floor.py [--uploads ../shared/bench/dev/queries] [--device auto]
                                    [--repeats 5] [--rate 2] [--catalog DIR]

The floor is the faster of two FFmpeg settings: its default threading, and one thread
per process. The job reads the same folder and does everything: decoding, descriptors,
search, alignment, Parquet. Runs alternate (floor, job, floor, job, ...) so that drift
in the machine's speed hits both. The catalogue (../shared/footage/catalogue) is built
once beforehand and not timed; --catalog matches against an existing one instead (a
scale catalogue of benches/scale.sh: the job then searches it as its settings say).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from common import CLIPMATCH, SHARED, catalogue, run, workdir


def ffmpeg_all(uploads, rate, threads):
    """Decodes every upload with one ffmpeg per core; returns the wall time."""
    base = ["ffmpeg", "-nostdin", "-v", "error"] + (["-threads", str(threads)] if threads else [])

    def one(u):
        cmd = base + ["-i", u, "-vf", f"fps={rate},scale=64:64", "-f", "null", "-"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(one, uploads))
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", default=os.path.join(SHARED, "bench", "dev", "queries"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rate", type=float, default=2.0)
    ap.add_argument("--catalog", help="an existing catalogue to match against")
    a = ap.parse_args()
    uploads = sorted(os.path.join(a.uploads, f) for f in os.listdir(a.uploads))
    work = workdir()
    try:
        cat = a.catalog or catalogue(work)
        out = os.path.join(work, "out")
        job = [CLIPMATCH, "match", "--catalog", cat, "--out", out, "--device", a.device, "--rate", str(a.rate),
               "--run-date", "2026-01-01", a.uploads]
        floor = {"ffmpeg default threads": [], "ffmpeg -threads 1": []}
        times = []
        run(job)  # warm-up: page cache, shader compilation caches
        for _ in range(a.repeats):
            floor["ffmpeg default threads"].append(ffmpeg_all(uploads, a.rate, None))
            floor["ffmpeg -threads 1"].append(ffmpeg_all(uploads, a.rate, 1))
            shutil.rmtree(out, ignore_errors=True)
            times.append(run(job)[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(uploads)} uploads from {a.uploads}, {os.cpu_count()} cores, rate {a.rate}/s, median of {a.repeats}"
          + (f", catalogue {a.catalog}" if a.catalog else ""))
    for name, t in floor.items():
        print(f"  {name:<28} {statistics.median(t):8.3f} s  (min {min(t):.3f}, max {max(t):.3f})")
    best = min(statistics.median(t) for t in floor.values())
    job_s = statistics.median(times)
    print(f"  {'clipmatch match --device ' + a.device:<28} {job_s:8.3f} s  (min {min(times):.3f}, max {max(times):.3f})")
    print(f"job / FFmpeg floor: {job_s / best:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
