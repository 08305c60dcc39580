"""Catalogue compaction: repeated frames stored once (`decode.catalogue_repeat_similarity`)
and fewer views per frame (`decode.catalogue_views`). For each setting, builds the
catalogue of ../shared/footage/catalogue (and catalogue/ + catalogue2/), then runs the
dev set and the real copies against it. Per setting: frames stored, catalogue bytes per
hour (frames and index), match time per upload, segment and pair µAP, false uploads.
Writes docs/results/compaction.json and docs/COMPACTION.md.

    python3 benches/compaction.py            (a release build first; SHARED=../shared)
env: SETTINGS="off,repeat=0.995,repeat=0.99,repeat=0.98,repeat=0.95,views=10,views=9,views=6"
     WORK=/tmp/clipmatch-compaction   (keeps the catalogues it builds: clear it when the
                                       defaults change, or they are reused as they were)
"""
import json
import os
import subprocess
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CLIPMATCH, REPO, SHARED, run  # noqa: E402

WORK = os.environ.get("WORK", "/tmp/clipmatch-compaction")
SETTINGS = os.environ.get(
    "SETTINGS", "off,repeat=0.995,repeat=0.99,repeat=0.98,repeat=0.95,views=10,views=9,views=6").split(",")
KNOBS = {"repeat": "catalogue_repeat_similarity", "views": "catalogue_views"}
FOOTAGE = os.path.join(SHARED, "footage")
DEV = os.path.join(SHARED, "bench", "dev")
SETS = [  # (name, catalogue, uploads, truth)
    ("dev", "small", os.path.join(DEV, "queries"), os.path.join(DEV, "ground_truth.csv")),
    ("copies", "small", os.path.join(FOOTAGE, "copies"), os.path.join(SHARED, "bench", "real_copies_truth.csv")),
    ("dev, larger catalogue", "large", os.path.join(DEV, "queries"), os.path.join(DEV, "ground_truth.csv")),
]
CATALOGUES = {"small": ["catalogue"], "large": ["catalogue", "catalogue2"]}


def bytes_under(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def build(setting, which):
    cat = os.path.join(WORK, f"{which}-{setting}")
    if not os.path.exists(os.path.join(cat, "manifest.json")):
        config = os.path.join(WORK, f"{setting}.toml")
        with open(config, "w") as f:
            # `off` stores every frame (a similarity no frame reaches); the other
            # settings change one knob from the defaults.
            knob, value = setting.split("=") if setting != "off" else ("repeat", "2.0")
            f.write(f"[decode]\n{KNOBS[knob]} = {value}\n")
        inputs = [os.path.join(FOOTAGE, d) for d in CATALOGUES[which]]
        subprocess.run([CLIPMATCH, "catalog", "build", "--device", "cpu", "--config", config, "--catalog", cat,
                        *inputs], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = json.load(open(os.path.join(cat, "manifest.json")))
    videos = pq.read_table(os.path.join(cat, "videos.parquet")).to_pydict()
    hours = sum(videos["duration_s"]) / 3600
    return cat, {
        "sampled": sum(videos["frames"]),
        "stored": manifest["frames"],
        "frames_bytes_per_hour": bytes_under(os.path.join(cat, "frames")) / hours,
        "index_bytes_per_hour": bytes_under(os.path.join(cat, "index")) / hours,
    }


def measure(cat, uploads, truth):
    out = os.path.join(WORK, "run")
    subprocess.run(["rm", "-rf", out], check=True)
    wall, rss = run([CLIPMATCH, "match", "--device", "cpu", "--catalog", cat, "--out", out,
                     "--run-date", "2026-11-24", uploads])
    ev = json.loads(subprocess.run([CLIPMATCH, "eval", "--json", "--truth", truth, out], check=True,
                                   capture_output=True, text=True).stdout)
    up = ds.dataset(f"{out}/uploads", format="parquet", partitioning="hive").to_table().to_pydict()
    ok = [i for i, s in enumerate(up["status"]) if s == "ok"]
    return {
        "segment_uap": ev["segment_uap"], "pair_uap": ev["pair_uap"],
        "false_uploads": ev["false_positive_queries"],
        "match_ms_per_upload": sum(up["match_ms"][i] for i in ok) / max(len(ok), 1),
        "wall_s": wall, "peak_rss_mib": rss,
    }


def main():
    os.makedirs(WORK, exist_ok=True)
    rows = []
    for s in SETTINGS:
        cats = {w: build(s, w) for w in CATALOGUES}
        for name, which, uploads, truth in SETS:
            cat, facts = cats[which]
            row = {"setting": s, "set": name, **facts, **measure(cat, uploads, truth)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    results = os.path.join(REPO, "docs", "results")
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "compaction.json"), "w") as f:
        json.dump(rows, f, indent=1)
    lines = [
        "# Catalogue compaction",
        "",
        "Written by `python3 benches/compaction.py` (do not edit): each setting (`off`: every",
        "frame stored; `repeat`: `decode.catalogue_repeat_similarity`, 0.99 the default; `views`:",
        "`decode.catalogue_views`, at the default compaction) builds `footage/catalogue/` (and",
        "`catalogue/` + `catalogue2/`) with the other settings at their defaults,",
        "then the dev set and the real copies run against it on the CPU twins (2 cores).",
        "*Stored* is the share of sampled frames stored; bytes are per catalogue hour on disk;",
        "match time is per upload (search and alignment).",
        "",
        "| setting | set | stored | frames MB/h | index MB/h | match ms/upload | segment µAP | pair µAP | false uploads |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting'].replace('=', ' ')} | {r['set']} | {r['stored'] / r['sampled']:.2f} "
            f"| {r['frames_bytes_per_hour'] / 1e6:.1f} | {r['index_bytes_per_hour'] / 1e6:.1f} "
            f"| {r['match_ms_per_upload']:.0f} | {r['segment_uap']:.4f} | {r['pair_uap']:.4f} | {r['false_uploads']} |"
        )
    with open(os.path.join(REPO, "docs", "COMPACTION.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
