#!/usr/bin/env bash
# The scale benchmark: catalogues of HOURS hours, each the real catalogue (footage/
# catalogue) plus filler that follows footage no dev upload shows (catalogue2 and
# distractors2), searched exhaustively and through the index (`clipmatch bench
# --catalog-hours`), then the dev job run against each size in each search mode: wall,
# peak RSS, search + alignment per upload, segment µAP. Writes docs/results/scale.json,
# docs/SCALE.md and docs/scale.svg.
#
# usage: bash benches/scale.sh
# env:   HOURS=1,10,100  PROBES=8,32,128  EXACT_MAX_HOURS=100  WORK=/tmp/clipmatch-scale  SHARED=../shared
set -euo pipefail
cd "$(dirname "$0")/.."
HOURS=${HOURS:-1,10,100}
PROBES=${PROBES:-8,32,128}
EXACT_MAX_HOURS=${EXACT_MAX_HOURS:-100}
WORK=${WORK:-/tmp/clipmatch-scale}
SHARED=${SHARED:-../shared}
BIN=target/release/clipmatch
DEV=$SHARED/bench/dev
cargo build --release --quiet
mkdir -p "$WORK" docs/results
[ -f "$WORK/real/manifest.json" ] ||
  $BIN catalog build --device cpu --catalog "$WORK/real" "$SHARED/footage/catalogue" >/dev/null
[ -f "$WORK/donor/manifest.json" ] ||
  $BIN catalog build --device cpu --catalog "$WORK/donor" "$SHARED/footage/catalogue2" "$SHARED/footage/distractors2" >/dev/null
$BIN bench --device cpu --catalog-hours "$HOURS" --probes "$PROBES" --real "$WORK/real" \
  --donor "$WORK/donor" --work "$WORK" --exact-max-hours "$EXACT_MAX_HOURS" --json "$WORK/bench.json" "$DEV/queries"

: >"$WORK/runs.jsonl"
for h in ${HOURS//,/ }; do
  modes=""
  if python3 -c "import sys; sys.exit(0 if float('$h') <= float('$EXACT_MAX_HOURS') else 1)"; then modes="exact:0"; fi
  for p in ${PROBES//,/ }; do modes="$modes index:$p"; done
  for m in $modes; do
    mode=${m%%:*} probes=${m##*:}
    [ "$probes" = 0 ] && probes=8
    rm -rf "$WORK/run"
    /usr/bin/time -f '%M %e' -o "$WORK/time.txt" $BIN match --device cpu --catalog "$WORK/h$h" \
      --out "$WORK/run" --run-date 2026-11-24 --search "$mode" --probes "$probes" "$DEV/queries" >/dev/null 2>&1
    $BIN eval --json --truth "$DEV/ground_truth.csv" "$WORK/run" >"$WORK/eval.json"
    python3 - "$WORK" "$h" "$mode" "$probes" >>"$WORK/runs.jsonl" <<'PY'
import json, sys, pyarrow.dataset as ds
work, hours, mode, probes = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rss_kb, wall = open(f"{work}/time.txt").read().split()[-2:]
ev = json.load(open(f"{work}/eval.json"))
up = ds.dataset(f"{work}/run/uploads", format="parquet", partitioning="hive").to_table().to_pydict()
ok = [i for i, s in enumerate(up["status"]) if s == "ok"]
mean = lambda k: sum(up[k][i] for i in ok) / max(len(ok), 1)
print(json.dumps({"hours": hours, "search": mode, "probes": probes if mode == "index" else None,
                  "wall_s": float(wall), "peak_rss_bytes": int(rss_kb) * 1024,
                  "match_ms_per_upload": mean("match_ms"), "decode_ms_per_upload": mean("decode_ms"),
                  "upload_s_per_upload": mean("duration_s"),
                  "segment_uap": ev["segment_uap"], "pair_uap": ev["pair_uap"],
                  "false_uploads": ev["false_positive_queries"]}))
PY
  done
done
python3 benches/scale_report.py "$WORK/bench.json" "$WORK/runs.jsonl"
