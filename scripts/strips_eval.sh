#!/usr/bin/env bash
# Regenerates docs/STRIPS.md: what the catalogue's portrait strips (`decode.catalogue_strips`)
# do, frame by frame and segment by segment.
#
# Sets come from scripts/fair_sets.sh (recap-shaped and hidden-family, negatives from
# footage no choice was made on), plus bench/dev and the real copies. Catalogues:
# catalogue/ + catalogue2/, and catalogue/ alone for dev and the copies; each built
# without strips and with the default count, the latter searched exhaustively and through
# its index. The strip count itself was chosen on the frame recall of the first recap set
# (the sweep below); the other sets only check it, and those named in `after` were made
# after it was chosen.
#
#   bash scripts/strips_eval.sh          # WORK=DIR keeps the sets and catalogues for a rerun
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/fair_sets.sh
default=$($bin config 2>/dev/null | sed -n 's/^catalogue_strips = //p')
[ -n "$default" ] || { echo "cannot read decode.catalogue_strips from clipmatch config" >&2; exit 1; }
sweep=${SWEEP:-0 3 5 7 9 11 13}
after="recap34 recap35 recap36 recap37 hidden43 hidden44 hidden45"

build() { # NAME STRIPS FOLDERS...
  [ -f "$work/$1/manifest.json" ] && return
  printf '[decode]\ncatalogue_strips = %s\n' "$2" > "$work/$1.toml"
  $bin catalog build --device cpu --config "$work/$1.toml" --catalog "$work/$1" "${@:3}" >/dev/null 2>&1
}
out=docs/results/strips
rm -rf "$out"
mkdir -p "$out"
first=${sets[0]}
for n in $sweep; do
  build "s$n" "$n" "$footage/catalogue" "$footage/catalogue2"
  $bin recall --json --catalog "$work/s$n" --truth "$work/sets/$first/ground_truth.csv" \
    --by-edit "$work/sets/$first/queries.csv" "$work/sets/$first/queries" 2>/dev/null > "$out/sweep-$first-$n.json"
done
build s0 0 "$footage/catalogue" "$footage/catalogue2"
build "s$default" "$default" "$footage/catalogue" "$footage/catalogue2"
build c0 0 "$footage/catalogue"
build "c$default" "$default" "$footage/catalogue"
# Trained again, so that a catalogue kept in WORK from an older build assigns its strips.
$bin catalog index --device cpu --catalog "$work/s$default" >/dev/null 2>&1
printf '[search]\nmode = "index"\n' > "$work/index.toml"
# What the strips add to the index's files (read by benches/cost_model.py too).
python3 - "$work/s$default" > "$out/index-bytes.json" <<'PY'
import json, pathlib, sys
d = pathlib.Path(sys.argv[1])
m = json.loads((d / "manifest.json").read_text())
size = lambda pattern: sum(f.stat().st_size for f in (d / "index").glob(pattern))
print(json.dumps({"frames": m["frames"], "views": m["views"], "strips": m["strips"],
                  "bands": m.get("bands", 0), "halves": m.get("halves", 0),
                  "view_lists": size("lists-*.bin"), "view_assignments": size("assign-*.bin"),
                  "strip_lists": size("strips-lists-*.bin"), "strip_assignments": size("strips-assign-*.bin")}))
PY

run() { # CATALOG NAME QUERIES TRUTH [QUERIES_CSV]; SEARCH=index searches through the index
  local label=$1 config=()
  if [ "${SEARCH:-}" = index ]; then label=$1-index config=(--config "$work/index.toml"); fi
  rm -rf "$work/run"
  $bin match --device cpu "${config[@]}" --catalog "$work/$1" --out "$work/run" --run-date 2026-11-24 "$3" \
    >/dev/null 2>&1 || true
  $bin eval --json --truth "$4" "$work/run" > "$out/$2-$label.json"
  if [ -n "${5:-}" ]; then
    $bin recall --json "${config[@]}" --catalog "$work/$1" --truth "$4" --by-edit "$5" "$3" 2>/dev/null \
      > "$out/$2-$label-frames.json"
  fi
}
for s in "${sets[@]}"; do
  args=("$work/sets/$s/queries" "$work/sets/$s/ground_truth.csv" "$work/sets/$s/queries.csv")
  for c in s0 "s$default"; do
    run "$c" "$s" "${args[@]}"
  done
  SEARCH=index run "s$default" "$s" "${args[@]}"
done
for c in s0 "s$default" c0 "c$default"; do
  run "$c" dev "$shared/bench/dev/queries" "$shared/bench/dev/ground_truth.csv"
  run "$c" copies "$shared/footage/copies" "$shared/bench/real_copies_truth.csv"
done
SEARCH=index run "s$default" dev "$shared/bench/dev/queries" "$shared/bench/dev/ground_truth.csv"

python3 - "$out" "$($bin --version)" "$default" "$first" "$sweep" "$after" "${sets[@]}" > docs/STRIPS.md <<'PY'
import json, pathlib, sys
out, version, n, first, sweep, after, sets = sys.argv[1:5] + [sys.argv[5].split(), sys.argv[6].split(), sys.argv[7:]]
load = lambda name: json.loads(pathlib.Path(out, name).read_text())
print("# Portrait strips\n")
print(f"Written by `bash scripts/strips_eval.sh` ({version}, default settings but the strip count, CPU twins). "
      "Do not edit by hand: run the script.\n")
print("A portrait upload that fills its canvas with a landscape picture shows a third of its width, "
      "which no whole-picture view of the catalogue resembles. Each catalogue frame also stores "
      "`decode.catalogue_strips` 9:16 crops spread from its left edge to its right one; a portrait "
      "upload picture searches them as a part of the frame. Sets: scripts/fair_sets.sh "
      "(negatives and inserts from footage no choice was made on), bench/dev, the real copies.\n")
print(f"## The count: frame recall@5 (any of the job's views) on {first}, the set that chose it\n")
fams = sorted(load(f"sweep-{first}-0.json")["by_edit"])
print("| strips | bytes per frame | all | " + " | ".join(fams) + " |")
print("|---|---|---|" + "---|" * len(fams))
for k in sweep:
    d = load(f"sweep-{first}-{k}.json")
    print(f"| {k} | {128 * int(k)} | {d['all']['any_view_at_5']:.3f} | "
          + " | ".join(f"{d['by_edit'][f]['any_view_at_5']:.3f}" for f in fams) + " |")
print(f"\nDefault: {n}. Sets made after it was chosen, which only check it: {', '.join(after)}.\n")
print("## Segments and frames, without strips and with them\n")
print("Frame recall@5: the right frame among the 5 best of all the job's views together / "
      "of some one view (`clipmatch recall`'s any@5 / some@5). Catalogue `catalogue/` + `catalogue2/`, "
      "and `catalogue/` alone where said. *index*: searched through the catalogue's index "
      "(`search.mode = \"index\"`, default probes), the strips through their own lists.\n")
print("| set | strips | segment µAP | pair µAP | segment precision | segment recall | false-positive uploads | frame recall@5 |")
print("|---|---|---|---|---|---|---|---|")
rows = [(s, c) for s in sets for c in ("s0", f"s{n}", f"s{n}-index")]
rows += [(s, c) for s in ("dev", "copies") for c in ("s0", f"s{n}", "c0", f"c{n}")] + [("dev", f"s{n}-index")]
both = lambda r: f"{r['any_view_at_5']:.3f} / {r['some_view_at_5']:.3f}"
for s, c in rows:
    d = load(f"{s}-{c}.json")
    frames = pathlib.Path(out, f"{s}-{c}-frames.json")
    recall = both(json.loads(frames.read_text())['all']) if frames.exists() else ""
    where = " (`catalogue/`)" if c.startswith("c") else ""
    print(f"| {s}{where} | {c[1:].replace('-index', ', index')} | {d['segment_uap']:.3f} | {d['pair_uap']:.3f} | {d['segment_precision']:.3f} | "
          f"{d['segment_recall']:.3f} | {d['false_positive_queries']} | {recall} |")
b = load("index-bytes.json")
per = lambda k: b[k] / b["frames"]
print("\n## What the strips add to the index\n")
print(f"Catalogue `catalogue/` + `catalogue2/`, {b['frames']:,} frames, {b['views']} views and {b['strips']} strips "
      f"each (and {b['bands']} band and {b['halves']} half, listed with the strips: docs/BANDS.md); bytes per frame "
      "of the files in `index/`:\n")
print("| | lists | assignments |")
print("|---|---|---|")
print(f"| views | {per('view_lists'):,.0f} | {per('view_assignments'):,.0f} |")
print(f"| strips | {per('strip_lists'):,.0f} | {per('strip_assignments'):,.0f} |")
print("\nOnly portrait upload pictures and the top and bottom halves of upload frames that are not square "
      "read the strips' lists; the views' lists are as without strips.")
print("\n## Frame recall@5 by family, without strips and with them\n")
print("Any@5 / some@5, as above.\n")
print("| set | family | frames | without | with |")
print("|---|---|---|---|---|")
for s in sets:
    a, b = load(f"{s}-s0-frames.json"), load(f"{s}-s{n}-frames.json")
    for f in sorted(a["by_edit"]):
        print(f"| {s} | {f} | {a['by_edit'][f]['frames']} | {both(a['by_edit'][f])} | {both(b['by_edit'][f])} |")
PY
echo "docs/STRIPS.md written"
