"""Peak memory of the match job against the number of uploads: archives of 50 and 500
uploads (the dev uploads repeated under new names), the job's peak RSS on each from the
kernel's accounting, and their ratio (the target is at most 1.2).

    python3 benches/memory_flat.py [--small 50] [--large 500] [--device auto]
"""
import argparse
import os
import shutil
import sys
import tarfile

from common import CLIPMATCH, SHARED, catalogue, run, workdir


def archive(path, n, sources):
    with tarfile.open(path, "w") as t:
        for i in range(n):
            src = sources[i % len(sources)]
            t.add(src, arcname=f"user{i:05d}/{os.path.basename(src)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", default=os.path.join(SHARED, "bench", "dev", "queries"))
    ap.add_argument("--small", type=int, default=50)
    ap.add_argument("--large", type=int, default=500)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    sources = sorted(os.path.join(a.uploads, f) for f in os.listdir(a.uploads))
    work = workdir()
    try:
        cat = catalogue(work)
        peaks = {}
        for n in (a.small, a.large):
            tar = os.path.join(work, f"uploads-{n}.tar")
            archive(tar, n, sources)
            out = os.path.join(work, f"out-{n}")
            wall, peak = run([CLIPMATCH, "match", "--catalog", cat, "--out", out, "--device", a.device,
                              "--run-date", "2026-01-01", tar])
            peaks[n] = peak
            print(f"{n:>5} uploads ({os.path.getsize(tar) / 2**20:.0f} MiB tar): peak RSS {peak:7.1f} MiB, {wall:6.1f} s")
            os.remove(tar)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"peak RSS {a.large} / {a.small} uploads: {peaks[a.large] / peaks[a.small]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
