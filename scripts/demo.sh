#!/usr/bin/env bash
# Sets up the machine, builds clipmatch, generates the sample (a synthetic catalogue and
# an archive of edited uploads), runs the nightly job on it, shows the matches and writes
# the review page.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash scripts/setup.sh; else sudo bash scripts/setup.sh; fi
cargo build --release
bin=target/release/clipmatch
rm -rf sample
bash scripts/make_sample.sh sample
$bin catalog build --catalog sample/catalog --metadata sample/metadata.csv sample/catalogue
$bin match --catalog sample/catalog --out sample/out --run-date 2026-11-24 sample/uploads.tar.gz || [ $? = 3 ]  # 3: finished, some uploads failed (broken.mp4 is)
python3 - <<'PY'
import duckdb
print(duckdb.sql("""
  select query_id, round(query_start_s, 1) as q_start, round(query_end_s, 1) as q_end, ref_id,
         round(ref_start_s, 1) as ref_start, round(ref_end_s, 1) as ref_end, round(score, 2) as score,
         round(speed, 2) as speed, flipped, series, episode, title, licensor
  from read_parquet('sample/out/matches/*/*.parquet', hive_partitioning = true) order by query_id"""))
print(duckdb.sql("""
  select query_id, status, error_kind, error
  from read_parquet('sample/out/uploads/*/*.parquet', hive_partitioning = true) order by query_id"""))
PY
$bin eval --truth sample/ground_truth.csv sample/out
# The evidence for people: each match's upload frames beside its episode's frames.
$bin review --catalog sample/catalog --out sample/out --run-date 2026-11-24 --report sample/review
echo "open $(pwd)/sample/review/index.html"
