#!/usr/bin/env bash
# The job over ../shared/bench/dev (packed into one .tar.gz) and ../shared/footage/copies
# against a catalogue of ../shared/footage/catalogue, on the GPU path (any wgpu adapter,
# lavapipe here) and on the CPU twins; checks both give the same matches and prints the
# eval figures, the frame-level recall and wall times.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
bin=target/release/clipmatch
[ -x $bin ] || cargo build --release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$shared/bench/dev" -czf "$work/dev.tar.gz" queries
$bin catalog build --catalog "$work/cat" "$shared/footage/catalogue" 2>/dev/null
for device in gpu cpu; do
  start=$(date +%s%N)
  $bin match --catalog "$work/cat" --out "$work/dev-$device" --device $device --run-date 2026-11-24 "$work/dev.tar.gz" 2>/dev/null
  end=$(date +%s%N)
  echo "dev run on $device: $(( (end - start) / 1000000 )) ms wall"
done
python3 - "$work" <<'PY'
import sys, pyarrow.dataset as ds
w = sys.argv[1]
rows = lambda d: sorted(ds.dataset(f"{w}/{d}/matches", format="parquet", partitioning="hive").to_table().drop(["run_id"]).to_pylist(), key=str)
a, b = rows("dev-gpu"), rows("dev-cpu")
assert a == b, "GPU and CPU runs differ"
print(f"gpu and cpu runs: the same {len(a)} matches")
PY
echo "== dev set (../shared/bench/dev)"
$bin eval --truth "$shared/bench/dev/ground_truth.csv" --by-edit "$shared/bench/dev/queries.csv" "$work/dev-gpu"
echo "== dev set, frame by frame (clipmatch recall)"
$bin recall --device cpu --catalog "$work/cat" --truth "$shared/bench/dev/ground_truth.csv" "$work/dev.tar.gz" 2>/dev/null
echo "== real copies (../shared/footage/copies)"
$bin match --catalog "$work/cat" --out "$work/copies" --run-date 2026-11-24 "$shared/footage/copies" 2>/dev/null
$bin eval --truth "$shared/bench/real_copies_truth.csv" "$work/copies"
python3 - "$work" <<'PY'
import sys, duckdb
print(duckdb.sql(f"select query_id, ref_id, round(query_start_s,1) qs, round(query_end_s,1) qe, round(ref_start_s,1) rs, round(ref_end_s,1) re, round(score,2) score from read_parquet('{sys.argv[1]}/copies/matches/*/*.parquet') order by query_id, score desc"))
PY
