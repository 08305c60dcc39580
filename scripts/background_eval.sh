#!/usr/bin/env bash
# Regenerates docs/BACKGROUND.md: what `catalog background` does to false matches, on
# sets whose negatives come from footage the background never saw.
#
# The unrelated footage of ../shared is split in two (scripts/fair_sets.sh): A is the
# background, B makes the negatives and inserts of the sets. The catalogue is
# catalogue/ + catalogue2/. Each set is matched without a background and with the chance
# scores measured on A, at default settings (CPU twins).
#
#   bash scripts/background_eval.sh        # WORK=DIR keeps the sets and catalogues for a rerun
#   RECAP_SEEDS="31 32 33 34" HIDDEN_SEEDS="41 42 43" bash scripts/background_eval.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/fair_sets.sh

if [ ! -f "$work/cat/manifest.json" ]; then
  rm -rf "$work/cat" "$work/catbg"
  $bin catalog build --device cpu --catalog "$work/cat" "$footage/catalogue" "$footage/catalogue2" >/dev/null 2>&1
fi
rm -rf "$work/catbg"
cp -r "$work/cat" "$work/catbg"
$bin catalog background --device cpu --catalog "$work/catbg" "$work/A" 2>/dev/null > "$work/background.txt"

out=docs/results/background
rm -rf "$out"
mkdir -p "$out"
for s in "${sets[@]}"; do
  for c in cat catbg; do
    rm -rf "$work/run-$c-$s"
    $bin match --device cpu --catalog "$work/$c" --out "$work/run-$c-$s" --run-date 2026-11-24 \
      "$work/sets/$s/queries" >/dev/null 2>&1 || true
    $bin eval --json --truth "$work/sets/$s/ground_truth.csv" "$work/run-$c-$s" > "$out/$s-$c.json"
  done
done

python3 - "$out" "$work/background.txt" "$($bin --version)" "${sets[@]}" > docs/BACKGROUND.md <<'PY'
import json, pathlib, sys
out, measured, version, sets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
print("# Chance scores from a background\n")
print(f"Written by `bash scripts/background_eval.sh` ({version}, default settings, CPU twins). "
      "Do not edit by hand: run the script.\n")
print("Catalogue: `catalogue/` + `catalogue2/`. The unrelated footage (`distractors/` and "
      "`distractors2/`, by name) is split in two: every other entry is the background "
      "that `catalog background` measures; the rest makes the negatives and inserts of the "
      "sets below, so no set shows the background's footage. Each set is matched without "
      "chance scores, then with them.\n")
print("| set | true segments | reported | segment µAP | pair µAP | segment precision | segment recall | false-positive uploads |")
print("|---|---|---|---|---|---|---|---|")
for s in sets:
    for c, label in [("cat", "no background"), ("catbg", "with background")]:
        d = json.loads(pathlib.Path(out, f"{s}-{c}.json").read_text())
        print(f"| {s}, {label} | {d['true_segments']} | {d['predictions']} | "
              f"{d['segment_uap']:.3f} | {d['pair_uap']:.3f} | {d['segment_precision']:.3f} | "
              f"{d['segment_recall']:.3f} | {d['false_positive_queries']} |")
print("\nWhat `catalog background` measured:\n")
print("```text")
print(pathlib.Path(measured).read_text().rstrip())
print("```")
PY
echo "docs/BACKGROUND.md written"
