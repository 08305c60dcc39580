"""Helpers shared by the whole-job benchmark scripts: run a command, time it and read
its peak memory from the kernel's own accounting (wait4), and prepare a catalogue."""
import os
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("SHARED", os.path.join(REPO, "..", "shared"))
CLIPMATCH = os.path.join(REPO, "target", "release", "clipmatch")


def run(cmd):
    """Runs `cmd` (output discarded); returns (wall seconds, peak RSS in MiB). Raises
    if the command fails with a status other than 0 or 3 (a finished clipmatch run with
    failed uploads)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} exited with {code}")
    return wall, usage.ru_maxrss / 1024


def catalogue(work):
    """A catalogue of ../shared/footage/catalogue under `work` (built once, not timed)."""
    cat = os.path.join(work, "catalog")
    if not os.path.exists(cat):
        subprocess.run(
            [CLIPMATCH, "catalog", "build", "--catalog", cat, os.path.join(SHARED, "footage", "catalogue")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    return cat


def workdir():
    return tempfile.mkdtemp(prefix="clipmatch-bench-")
