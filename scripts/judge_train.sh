#!/usr/bin/env bash
# Fits `matching.judge` (scripts/judge_fit.py) and prints its weights and, per floor of
# probability, the figures of the sets it was fitted on and of sets it never saw.
#
# Sets as scripts/fair_sets.sh makes them (negatives and inserts from footage no
# background uses), against catalogue/ + catalogue2/: fitted on the recap-shaped seeds
# TRAIN_RECAP, the hidden-family seeds TRAIN_HIDDEN and ../shared/bench/dev; checked on
# CHECK_RECAP and CHECK_HIDDEN. Each set is matched once with the judge off (every
# segment over `select.min_score` reported), at the other defaults, with the CPU twins.
#
#   bash scripts/judge_train.sh            # WORK=DIR keeps the sets and runs for a rerun
set -euo pipefail
cd "$(dirname "$0")/.."
TRAIN_RECAP=${TRAIN_RECAP:-31 32 33 34}
TRAIN_HIDDEN=${TRAIN_HIDDEN:-41}
CHECK_RECAP=${CHECK_RECAP:-35 36 37}
CHECK_HIDDEN=${CHECK_HIDDEN:-42 43 44 45}
RECAP_SEEDS="$TRAIN_RECAP $CHECK_RECAP" HIDDEN_SEEDS="$TRAIN_HIDDEN $CHECK_HIDDEN" . scripts/fair_sets.sh

[ -f "$work/cat/manifest.json" ] ||
  $bin catalog build --device cpu --catalog "$work/cat" "$footage/catalogue" "$footage/catalogue2" >/dev/null 2>&1
config=$work/judge-off.toml
printf '[matching.judge]\nmin_probability = 0.0\n' > "$config"
run() { # set name, its uploads
  local out=$work/judge/$1
  if [ ! -f "$out/.done" ]; then
    rm -rf "$out"
    $bin match --device cpu --config "$config" --catalog "$work/cat" --out "$out" --run-date 2026-12-04 "$2" \
      >/dev/null 2>&1 || true
    touch "$out/.done"
  fi
}
list() { # set names
  local items=()
  for s in "$@"; do items+=("$s=$work/judge/$s"); done
  (IFS=,; echo "${items[*]}")
}
train=() check=()
for s in $TRAIN_RECAP; do train+=("recap$s"); done
for s in $TRAIN_HIDDEN; do train+=("hidden$s"); done
for s in $CHECK_RECAP; do check+=("recap$s"); done
for s in $CHECK_HIDDEN; do check+=("hidden$s"); done
for s in "${train[@]}" "${check[@]}"; do run "$s" "$work/sets/$s/queries"; done
run dev "$shared/bench/dev/queries"
python3 scripts/judge_fit.py --shared "$shared" --truth-dir "$work/sets" \
  --train "$(list "${train[@]}"),$shared/bench/dev/ground_truth.csv=$work/judge/dev" --check "$(list "${check[@]}")"
