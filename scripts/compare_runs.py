"""Asserts that two clipmatch --out folders hold the same rows for every table (timings
aside) and prints the row counts. Used by the shard tests and scripts/slurm_test.sh.

    python3 scripts/compare_runs.py UNSHARDED_OUT SHARDED_OUT SHARDS
"""
import sys

import pyarrow.dataset as ds

TIMINGS = ["decode_ms", "match_ms"]


def rows(out, table, drop=()):
    t = ds.dataset(f"{out}/{table}", format="parquet", partitioning="hive").to_table()
    return t.drop_columns(list(drop)).to_pylist()


def main():
    full, sharded, shards = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for table, drop in [("matches", []), ("uploads", TIMINGS)]:
        a, b = rows(full, table, drop), rows(sharded, table, drop)
        if a != b:
            sys.exit(f"{table} differ:\n  unsharded {a}\n  sharded   {b}")
        print(table, len(a))
    run_id = rows(full, "manifest")[0]["run_id"]
    manifest = rows(sharded, "manifest")
    want = [f"{i}/{shards}" for i in range(shards)]
    if [r["shard"] for r in manifest] != want or {r["run_id"] for r in manifest} != {run_id}:
        sys.exit(f"manifest rows {[(r['shard'], r['run_id']) for r in manifest]}, expected {want} of run {run_id}")
    print("manifest", len(manifest))


if __name__ == "__main__":
    main()
