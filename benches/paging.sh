#!/usr/bin/env bash
# A catalogue larger than memory: the dev job against a scale catalogue (from
# benches/scale.sh), each run from a cold page cache inside a memory cgroup of LIMITS
# megabytes (0: no limit), at each `search.batch_images` of BATCHES. Through the index
# each search batch reads every probed cluster's lists once, so with less memory than
# the catalogue a run reads them from disk once per batch. Writes
# docs/results/paging-NAME.json (NAME: the catalogue folder's name) and docs/PAGING.md,
# a table for each such file.
#
# usage: sudo bash benches/paging.sh   (root: it drops the page cache and makes a cgroup)
# env:   CATALOG=/tmp/clipmatch-scale/h100  LIMITS=0,2048,1024  BATCHES=1024,4096,16384
#        SHARED=../shared
# The 1,000 h table: CATALOG=/tmp/clipmatch-scale/h1000 LIMITS=0,4096 BATCHES=16384
set -euo pipefail
cd "$(dirname "$0")/.."
CATALOG=${CATALOG:-/tmp/clipmatch-scale/h100}
LIMITS=${LIMITS:-0,2048,1024}
BATCHES=${BATCHES:-1024,4096,16384}
SHARED=${SHARED:-../shared}
BIN=target/release/clipmatch
DEV=$SHARED/bench/dev
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -f "$CATALOG/manifest.json" ] || { echo "no catalogue at $CATALOG: run benches/scale.sh first" >&2; exit 1; }
cargo build --release --quiet

# One memory cgroup for the runs, version 2 or version 1.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  CG=/sys/fs/cgroup/clipmatch-paging LIMIT_FILE=memory.max
else
  CG=/sys/fs/cgroup/memory/clipmatch-paging LIMIT_FILE=memory.limit_in_bytes
fi
mkdir -p "$CG" || { echo "cannot make a memory cgroup at $CG" >&2; exit 1; }
trap 'rm -rf "$WORK"; rmdir "$CG" 2>/dev/null || true' EXIT

: >"$WORK/runs.jsonl"
for limit in ${LIMITS//,/ }; do
  for batch in ${BATCHES//,/ }; do
    printf '[search]\nbatch_images = %d\n' "$batch" >"$WORK/config.toml"
    rm -rf "$WORK/run"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    # The run in its own shell, moved into the cgroup before it starts the job; page
    # cache pages are charged to the cgroup that reads them.
    bash -c "
      if [ $limit != 0 ]; then echo $((limit << 20)) > $CG/$LIMIT_FILE; echo \$\$ > $CG/cgroup.procs; fi
      exec /usr/bin/time -f '%e %U %S %M %I' -o $WORK/time.txt $BIN match --device cpu --catalog $CATALOG \
        --config $WORK/config.toml --out $WORK/run --run-date 2026-11-24 $DEV/queries >/dev/null 2>&1"
    $BIN eval --json --truth "$DEV/ground_truth.csv" "$WORK/run" >"$WORK/eval.json"
    [ "$limit" = 0 ] && [ ! -d "$WORK/first" ] && cp -r "$WORK/run" "$WORK/first"
    same=null
    [ -d "$WORK/first" ] && same=$(python3 scripts/compare_runs.py "$WORK/first" "$WORK/run" 1 >/dev/null 2>&1 &&
      echo true || echo false)
    python3 - "$WORK" "$limit" "$batch" "$same" >>"$WORK/runs.jsonl" <<'PY'
import json, sys
work, limit, batch, same = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
wall, user, sys_s, rss_kb, blocks = open(f"{work}/time.txt").read().split()[-5:]
ev = json.load(open(f"{work}/eval.json"))
print(json.dumps({"limit_mb": limit or None, "batch_images": batch, "wall_s": float(wall),
                  "cpu_s": float(user) + float(sys_s), "sys_s": float(sys_s),
                  "read_gb": int(blocks) * 512 / 1e9, "peak_rss_gb": int(rss_kb) * 1024 / 1e9,
                  "segment_uap": ev["segment_uap"], "false_uploads": ev["false_positive_queries"],
                  "rows_as_first_unlimited_run": same}))
PY
  done
done
python3 - "$WORK/runs.jsonl" "$CATALOG" <<'PY'
import glob, json, os, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
cat = sys.argv[2]
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cat) for f in fs) / 1e9
lists = sum(os.path.getsize(os.path.join(cat, "index", f)) for f in os.listdir(f"{cat}/index") if "lists-" in f) / 1e9
manifest = json.load(open(f"{cat}/manifest.json"))
hours = manifest["frames"] / manifest["rate"] / 3600
os.makedirs("docs/results", exist_ok=True)
name = os.path.basename(os.path.normpath(cat))
json.dump({"catalogue": name, "hours": hours, "catalogue_gb": size, "lists_gb": lists, "runs": runs},
          open(f"docs/results/paging-{name}.json", "w"), indent=1)
fmt = lambda v, p=1: "-" if v is None else f"{v:.{p}f}"
def table(res):
    rows = "\n".join(
        f"| {r['limit_mb'] or 'none'} | {r['batch_images']} | {fmt(r['wall_s'])} | {fmt(r['cpu_s'])} | {fmt(r['sys_s'])} "
        f"| {fmt(r['read_gb'], 2)} | {fmt(r['peak_rss_gb'], 2)} | {r['segment_uap']:.4f} | {r['false_uploads']} "
        f"| {'-' if r['rows_as_first_unlimited_run'] is None else ('yes' if r['rows_as_first_unlimited_run'] else 'NO')} |"
        for r in res["runs"])
    return f"""## {res['hours']:,.0f} hours ({res['catalogue']})

{res['catalogue_gb']:.2f} GB on disk, of which the mapped descriptor lists {res['lists_gb']:.2f} GB and
the rest the Parquet parts, the centroids and the pictures where the catalogue stores them
(which no run reads).

| memory limit MB | batch images | wall s | CPU s | of which system | read GB | peak RSS GB | segment µAP | false uploads | rows |
|---|---|---|---|---|---|---|---|---|---|
{rows}
"""
results = sorted((json.load(open(f)) for f in glob.glob("docs/results/paging-*.json")), key=lambda r: r["hours"])
tables = "\n".join(table(r) for r in results)
open("docs/PAGING.md", "w").write(f"""# A catalogue larger than memory

Generated by `sudo bash benches/paging.sh` (do not edit by hand; each catalogue's table by
a run of its own, the command in the script's header). The dev job (48 uploads,
`clipmatch match --device cpu`, the CPU twins on 2 cores) against scale catalogues of
`benches/scale.sh`, searched through the index, each run from a cold page cache inside a
memory cgroup of the limit below (the job's own memory and the catalogue pages it reads
count against it). *Read* is what the run read from the file system; *rows* says whether
its matches and uploads equal the first unlimited run's.

Through the index each search batch reads every probed cluster's lists once (a batch of
uploads probes nearly every cluster), so where the lists do not fit the memory left, each
batch reads them from disk again: `search.batch_images` sets how many upload images share
one read. The descriptor lists are read at random (alignment reads a few frames'
descriptors here and there, and without that advice each page not in memory would read
the device's whole read-ahead window); the fine stage asks for each cluster's lists
one cluster ahead.

{tables}""")
print(open("docs/PAGING.md").read())
PY
