#!/usr/bin/env bash
# Regenerates docs/BANDS.md: what the catalogue's landscape bands and portrait halves
# (`decode.catalogue_bands`, `decode.catalogue_halves`) do, frame by frame and segment by
# segment.
#
# Sets come from scripts/fair_sets.sh, plus bench/dev and the real copies. Catalogues:
# catalogue/ + catalogue2/ with each BANDS:HALVES of the sweep, and catalogue/ alone
# without either and with the defaults for dev and the copies. The counts were chosen on
# the sets in `train`, and a count that added a false upload on the others (which only
# check) was not taken.
#
#   bash scripts/bands_eval.sh          # WORK=DIR keeps the sets and catalogues for a rerun
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/fair_sets.sh
setting() { $bin config 2>/dev/null | sed -n "s/^$1 = //p"; }
bands=$(setting catalogue_bands) halves=$(setting catalogue_halves)
[ -n "$bands" ] && [ -n "$halves" ] ||
  { echo "cannot read decode.catalogue_bands and _halves from clipmatch config" >&2; exit 1; }
default=$bands:$halves
sweep=${SWEEP:-0:0 1:0 1:1 3:1}
case " $sweep " in *" 0:0 "*" $default "* | *" $default "*" 0:0 "*) ;;
  *) echo "SWEEP must hold 0:0 and the default $default" >&2; exit 1 ;;
esac
train="recap31 recap32 recap33 recap34 hidden41 dev"

tag() { echo "b${1%:*}h${1#*:}"; } # BANDS:HALVES -> a name for its catalogue and files
build() { # NAME BANDS:HALVES FOLDERS...: the catalogue bands-NAME in WORK, kept where it has those counts
  local m="$work/bands-$1/manifest.json"
  if [ -f "$m" ]; then
    [ "$(python3 -c "import json; m = json.load(open('$m')); print(m.get('bands', 0), m.get('halves', 0))")" \
      = "${2%:*} ${2#*:}" ] && return
    rm -rf "$work/bands-$1"
  fi
  printf '[decode]\ncatalogue_bands = %s\ncatalogue_halves = %s\n' "${2%:*}" "${2#*:}" > "$work/bands-$1.toml"
  $bin catalog build --device cpu --config "$work/bands-$1.toml" --catalog "$work/bands-$1" "${@:3}" >/dev/null 2>&1
}
out=docs/results/bands
rm -rf "$out"
mkdir -p "$out"
for n in $sweep; do
  build "$(tag "$n")" "$n" "$footage/catalogue" "$footage/catalogue2"
done
build c0 0:0 "$footage/catalogue"
build "c$(tag "$default")" "$default" "$footage/catalogue"

run() { # CATALOG NAME QUERIES TRUTH [QUERIES_CSV]
  rm -rf "$work/run"
  $bin match --device cpu --catalog "$work/bands-$1" --out "$work/run" --run-date 2026-12-04 "$3" >/dev/null 2>&1 || true
  $bin eval --json --truth "$4" "$work/run" > "$out/$2-$1.json"
  if [ -n "${5:-}" ]; then
    $bin recall --json --catalog "$work/bands-$1" --truth "$4" --by-edit "$5" "$3" 2>/dev/null > "$out/$2-$1-frames.json"
  fi
}
for s in "${sets[@]}"; do
  for n in $sweep; do
    frames=()
    if [ "$n" = 0:0 ] || [ "$n" = "$default" ]; then frames=("$work/sets/$s/queries.csv"); fi
    run "$(tag "$n")" "$s" "$work/sets/$s/queries" "$work/sets/$s/ground_truth.csv" ${frames[@]+"${frames[@]}"}
  done
done
for n in $sweep; do
  run "$(tag "$n")" dev "$shared/bench/dev/queries" "$shared/bench/dev/ground_truth.csv"
done
for c in c0 "c$(tag "$default")"; do
  run "$c" dev "$shared/bench/dev/queries" "$shared/bench/dev/ground_truth.csv"
  run "$c" copies "$shared/footage/copies" "$shared/bench/real_copies_truth.csv"
done

python3 - "$out" "$($bin --version)" "$default" "$sweep" "$train" "${sets[@]}" > docs/BANDS.md <<'PY'
import json, pathlib, sys
out, version, n = sys.argv[1:4]
sweep, train, sets = sys.argv[4].split(), sys.argv[5].split(), sys.argv[6:]
load = lambda name: json.loads(pathlib.Path(out, name).read_text())
tag = lambda k: "b{}h{}".format(*k.split(":"))
print("# Landscape bands and portrait halves\n")
print(f"Written by `bash scripts/bands_eval.sh` ({version}, default settings but the band and half counts, "
      "CPU twins). Do not edit by hand: run the script.\n")
print("An upload that stacks a clip with other footage, one above the other, shows in one half of the "
      "canvas a crop of the clip that no whole-picture view of the catalogue resembles: on a 16:9 canvas "
      "a full-width band (its middle half of rows), on a 9:16 canvas the full height of the middle of "
      "its width (9:8). Each catalogue frame also stores `decode.catalogue_bands` 32:9 crops spread from "
      "its top to its bottom and `decode.catalogue_halves` 9:8 crops spread from its left to its right, "
      "listed with the portrait strips; the top and bottom halves of an upload frame that is not square "
      "search them (and the strips) as parts, and no view. Where the catalogue stores no such crop (a count "
      "of 0 below, and catalogues of older builds), a portrait frame's halves search the views and a "
      "landscape frame's are not searched, as before. Sets: scripts/fair_sets.sh (negatives and "
      "inserts from footage no choice was made on), bench/dev, the real copies.\n")
print(f"Default bands:halves {n}. The counts were chosen on {', '.join(train)} (segment µAP, no false upload); "
      "the other sets only check them, and a count that added a false upload there was not taken.\n")
print("## Segments by bands:halves\n")
print("Segment µAP / pair µAP / false-positive uploads. Catalogue `catalogue/` + `catalogue2/`, "
      "and `catalogue/` alone where said.\n")
print("| set | role | " + " | ".join(sweep) + " |")
print("|---|---|" + "---|" * len(sweep))
cell = lambda d: f"{d['segment_uap']:.3f} / {d['pair_uap']:.3f} / {d['false_positive_queries']}"
role = lambda s: "chose" if s in train else "check"
totals = {k: [0.0, 0.0, 0] for k in sweep}
for s in sets + ["dev"]:
    row = []
    for k in sweep:
        d = load(f"{s}-{tag(k)}.json")
        t = totals[k]
        t[0], t[1], t[2] = t[0] + d["segment_uap"], t[1] + d["pair_uap"], t[2] + d["false_positive_queries"]
        row.append(cell(d))
    print(f"| {s} | {role(s)} | " + " | ".join(row) + " |")
print("| sum | | " + " | ".join(f"{t[0]:.3f} / {t[1]:.3f} / {t[2]}" for t in totals.values()) + " |")
for s in ("dev", "copies"):
    print(f"| {s} (`catalogue/`) | {'chose' if s in train else 'check'} | "
          + " | ".join(cell(load(f"{s}-c{'0' if k == '0:0' else tag(k)}.json")) if k in ("0:0", n) else ""
                       for k in sweep) + " |")
print("\n## Frame recall@5 by family, without bands and halves and with the defaults\n")
print("The right catalogue frame among the 5 best of all the job's views together (`clipmatch recall`'s "
      "any@5), pooled over the sets' frames.\n")
pooled = {}
for s in sets:
    a, b = load(f"{s}-b0h0-frames.json"), load(f"{s}-{tag(n)}-frames.json")
    for f, r, r2 in [("(all)", a["all"], b["all"])] + [(f, r, b["by_edit"][f]) for f, r in a["by_edit"].items()]:
        p = pooled.setdefault((s.rstrip("0123456789"), f), [0, 0.0, 0.0])
        k = r["frames"]
        p[0] += k
        p[1] += k * r["any_view_at_5"]
        p[2] += k * r2["any_view_at_5"]
print("| sets | family | frames | without | with |")
print("|---|---|---|---|---|")
for (kind, f), (k, x, y) in sorted(pooled.items()):
    if k:
        print(f"| {kind} | {f} | {k} | {x / k:.3f} | {y / k:.3f} |")
PY
echo "docs/BANDS.md written"
