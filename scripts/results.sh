#!/usr/bin/env bash
# Regenerates docs/RESULTS.md from a run: builds the catalogue of
# ../shared/footage/catalogue, runs `clipmatch match` at default settings (CPU twins)
# over the dev set, the real copies and every extra set named in SETS, scores each with
# `clipmatch eval --json` and its frames with `clipmatch recall --json`, keeps the JSON
# under docs/results/sets/ and renders the tables.
#
#   bash scripts/results.sh          # WORK=DIR keeps the generated sets for a rerun
#   SETS="seed3=/tmp/s3 seed7=/tmp/s7" bash scripts/results.sh   # sets of make_queries.py
#                                                                # or scripts/make_*_queries.py
# A set folder holds queries/, ground_truth.csv and queries.csv, as make_queries.py writes.
# Without SETS, the sets below are made (each seed and size pinned, so that the figures
# can be made again): make_queries.py's seed 3, make_hidden_queries.py's seed 5 (test
# patterns) and seed 7 (footage behind the windows), make_family_queries.py's crops of
# seed 6.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
bin=target/release/clipmatch
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sets=${WORK:-$work}/sets
if [ -z "${SETS+x}" ]; then
  mkdir -p "$sets"
  make() { # NAME SCRIPT ARGS...
    [ -f "$sets/$1/ground_truth.csv" ] || python3 "${@:2}" --out "$sets/$1" >/dev/null 2>&1
  }
  make seed3 "$shared/bench/make_queries.py" --footage "$shared/footage" --seed 3
  make seed5-hidden-pattern scripts/make_hidden_queries.py --footage "$shared/footage" --seed 5 --positives 30 --negatives 10
  make seed6-crop scripts/make_family_queries.py crop --footage "$shared/footage" --seed 6 --positives 30 --negatives 10
  make seed7-hidden-footage scripts/make_hidden_queries.py --footage "$shared/footage" --behind footage --seed 7 --positives 30 --negatives 10
  SETS="seed3=$sets/seed3 seed5-hidden-pattern=$sets/seed5-hidden-pattern seed6-crop=$sets/seed6-crop seed7-hidden-footage=$sets/seed7-hidden-footage"
fi
out=docs/results/sets
rm -rf $out
mkdir -p $out/recall
$bin catalog build --device cpu --catalog "$work/cat" "$shared/footage/catalogue" 2>/dev/null >/dev/null
# name, uploads folder, truth CSV, queries CSV (or -)
score() {
  local name=$1 queries=$2 truth=$3 edits=$4
  local start end
  start=$(date +%s%N)
  $bin match --device cpu --catalog "$work/cat" --out "$work/$name" --run-date 2026-11-24 "$queries" 2>/dev/null >/dev/null || true
  end=$(date +%s%N)
  local by=()
  [ "$edits" != - ] && by=(--by-edit "$edits")
  $bin eval --json --truth "$truth" "${by[@]}" "$work/$name" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); d["wall_s"]=float(sys.argv[1]); d["uploads"]=int(sys.argv[2]); print(json.dumps(d, indent=1, sort_keys=True))' \
      "$(( (end - start) / 1000000 ))e-3" "$(find "$queries" -type f | wc -l)" > "$out/$name.json"
  $bin recall --device cpu --json --catalog "$work/cat" --truth "$truth" "${by[@]}" "$queries" 2>/dev/null |
    python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=1, sort_keys=True))' > "$out/recall/$name.json"
}
score dev "$shared/bench/dev/queries" "$shared/bench/dev/ground_truth.csv" "$shared/bench/dev/queries.csv"
score copies "$shared/footage/copies" "$shared/bench/real_copies_truth.csv" -
for s in ${SETS:-}; do
  score "${s%%=*}" "${s#*=}/queries" "${s#*=}/ground_truth.csv" "${s#*=}/queries.csv"
done
python3 - "$out" "$($bin --version)" "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" > docs/RESULTS.md <<'PY'
import json, pathlib, sys
out, version, cores, cpu = sys.argv[1:5]
sets = {p.stem: json.loads(p.read_text()) for p in sorted(pathlib.Path(out).glob("*.json"))}
order = ["dev", "copies"] + sorted(k for k in sets if k not in ("dev", "copies"))
print("# Results\n")
print(f"Written by `bash scripts/results.sh` ({version}, default settings, CPU twins, "
      f"{cores} cores of {cpu}); the JSON of each set is in `docs/results/sets/`. Catalogue: "
      "the videos of `../shared/footage/catalogue`. Scores are `clipmatch eval`'s, which "
      "equal `../shared/bench/score.py`'s (but where a reference's name has dots in its "
      "stem: `eval::Names`). Do not edit by hand: run the script.\n")
print("| set | uploads | segment µAP | pair µAP | segment precision | segment recall | false-positive uploads | wall s |")
print("|---|---|---|---|---|---|---|---|")
for k in order:
    d = sets[k]
    print(f"| {k} | {d['uploads']} | {d['segment_uap']:.3f} | {d['pair_uap']:.3f} | {d['segment_precision']:.3f} | "
          f"{d['segment_recall']:.3f} | {d['false_positive_queries']} | {d['wall_s']:.1f} |")
recall = {p.stem: json.loads(p.read_text()) for p in sorted(pathlib.Path(out, "recall").glob("*.json"))}
print("\n## Frame recall\n")
print("`clipmatch recall`: of the upload frames inside true segments, the share whose catalogue frame "
      "(the true video, within 1 s of the true time) is the nearest (@1) or among the 5 nearest (@5), "
      "by the frame's picture view alone, among the best of all the views the job searches taken together "
      "(any view), and among the best of some one of them (some view: what the views find before they "
      "crowd each other out; alignment reads the best of the picture's views together, and of the parts' "
      "each over its own background).\n")
print("| set | frames | picture @1 | picture @5 | any view @1 | any view @5 | some view @1 | some view @5 |")
print("|---|---|---|---|---|---|---|---|")
for k in order:
    if k in recall:
        a = recall[k]["all"]
        print(f"| {k} | {a['frames']} | {a['picture_at_1']:.3f} | {a['picture_at_5']:.3f} | "
              f"{a['any_view_at_1']:.3f} | {a['any_view_at_5']:.3f} | {a['some_view_at_1']:.3f} | "
              f"{a['some_view_at_5']:.3f} |")
for k in order:
    if "by_edit" not in sets[k]:
        continue
    print(f"\n## Recall per edit family: {k}\n")
    fr = recall.get(k, {}).get("by_edit", {})
    print("| edit | segments | recall | frames | frame recall any view @5 | some view @5 |")
    print("|---|---|---|---|---|---|")
    for fam, (n, r) in sorted(sets[k]["by_edit"].items(), key=lambda x: x[1][1]):
        f = fr.get(fam)
        extra = f"{f['frames']} | {f['any_view_at_5']:.3f} | {f['some_view_at_5']:.3f}" if f else "- | - | -"
        print(f"| {fam} | {n} | {r:.3f} | {extra} |")
PY
echo "wrote docs/RESULTS.md"
