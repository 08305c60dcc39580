# Sourced by the evaluation scripts, from the repository root: builds clipmatch ($bin),
# takes ../shared (or SHARED) as $shared and WORK (else a folder removed at exit) as
# $work, and makes, under $work, sets whose footage the choices were not made on. The unrelated footage of $shared (distractors/ and distractors2/, by
# name) is split in two: every other entry is A (kept for backgrounds), the rest B, which
# makes the negatives and inserts of recap-shaped (scripts/make_recap_queries.py, seeds
# RECAP_SEEDS) and hidden-family (scripts/make_hidden_queries.py, seeds HIDDEN_SEEDS) sets
# with clips of catalogue/ + catalogue2/. Sets already made are kept. Leaves their names
# in `sets`.
shared=$(cd "${SHARED:-../shared}" && pwd)
bin=$PWD/target/release/clipmatch
cargo build --release --quiet
work=${WORK:-$(mktemp -d)}
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
footage=$shared/footage
if [ ! -d "$work/B" ]; then
  mkdir -p "$work/A" "$work/B"
  i=0
  while read -r entry; do
    if [ $((i % 2)) = 0 ]; then cp -rL "$entry" "$work/A/"; else cp -rL "$entry" "$work/B/"; fi
    i=$((i + 1))
  done < <(for f in "$footage"/distractors/* "$footage"/distractors2/*; do echo "$(basename "$f") $f"; done | sort | cut -d' ' -f2-)
fi
mkdir -p "$work/footage"
ln -sfn "$footage/catalogue" "$work/footage/catalogue"
ln -sfn "$footage/catalogue2" "$work/footage/catalogue2"
ln -sfn "$work/B" "$work/footage/distractors"

sets=()
for s in ${RECAP_SEEDS:-31 32 33 34 35 36 37}; do
  [ -f "$work/sets/recap$s/ground_truth.csv" ] ||
    python3 scripts/make_recap_queries.py --footage "$work/footage" --distractors distractors \
      --out "$work/sets/recap$s" --seed "$s" 2>/dev/null
  sets+=("recap$s")
done
for s in ${HIDDEN_SEEDS:-41 42 43 44 45}; do
  [ -f "$work/sets/hidden$s/ground_truth.csv" ] ||
    python3 scripts/make_hidden_queries.py --footage "$work/footage" --out "$work/sets/hidden$s" --seed "$s" 2>/dev/null
  sets+=("hidden$s")
done
