#!/usr/bin/env bash
# The Slurm jobs on a real Slurm: installs munge, slurmctld and slurmd from Debian's
# packages if they are missing, starts them on localhost with a private configuration
# (SLURM_CONF), submits jobs/submit-nightly.sh's array job and dependent merge over the
# bundled sample, twice (SHARDS upload shards; then a grid of 2 upload x 2 catalogue
# shards), and checks the merged rows against an unsharded run of the same inputs.
#   bash scripts/slurm_test.sh [SHARDS]      (needs root, a release build, python3 with pyarrow)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
shards=${1:-3}
bin=$repo/target/release/clipmatch
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client
fi

work=$(mktemp -d /tmp/clipmatch-slurm.XXXXXX)
chmod 755 "$work" # munged runs as the munge user
pids=()
passed=false
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if $passed; then rm -rf "$work"; else echo "logs kept in $work" >&2; fi
}
trap cleanup EXIT

# munge: the daemon authenticating Slurm's messages, with its own socket under $work.
mkdir -p "$work/munge"
chown munge:munge "$work/munge"
[ -s /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || create-munge-key -f; }
runuser -u munge -- munged --socket="$work/munge/munge.socket" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" --foreground >"$work/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/munge/munge.socket" ] && break; sleep 0.2; done

host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$work/state" "$work/spool"
export SLURM_CONF=$work/slurm.conf
cat > "$SLURM_CONF" <<CONF
ClusterName=clipmatch-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=2048 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -i >"$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D >"$work/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  state=$(sinfo -h -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || { echo "slurm did not come up (node state: ${state:-none})" >&2; tail -n 20 "$work"/slurm*.log "$work"/munge/munged.log >&2; exit 1; }
echo "slurm up: $(sinfo -h -o '%P %D %t %c')"

# The sample: catalogue, one archive in the inbox, and the unsharded reference run.
bash scripts/make_sample.sh "$work/sample" >/dev/null
mkdir -p "$work/inbox"
cp "$work/sample/uploads.tar.gz" "$work/inbox/"
"$bin" catalog build --device cpu --catalog "$work/catalog" "$work/sample/catalogue" >/dev/null 2>&1
date=2026-11-25
"$bin" match --device cpu --catalog "$work/catalog" --out "$work/full" --run-date "$date" \
  "$work/inbox/uploads.tar.gz" >/dev/null 2>&1 || [ $? -eq 3 ]

cd "$work"
# One night through jobs/submit-nightly.sh into OUT: SHARDS upload shards x CATALOG_SHARDS
# catalogue shards, then the merge; its rows must equal the unsharded run's.
night() {
  local out=$1 shards=$2 cats=$3 merge state
  out=$(CATALOG=$work/catalog OUT=$work/$out INBOX=$work/inbox SHARDS=$shards CATALOG_SHARDS=$cats RUN_DATE=$date \
    CLIPMATCH=$bin "$repo/jobs/submit-nightly.sh" --gres=none --mem=1G --cpus-per-task=1)
  echo "$out"
  merge=$(awk '{print $4}' <<<"$out")
  for _ in $(seq 300); do
    state=$(scontrol show job "$merge" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case $state in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
    sleep 1
  done
  echo "merge job $merge: ${state:-unknown}"
  for f in clipmatch-*.log; do echo "== $f"; tail -5 "$f"; done
  [ "$state" = COMPLETED ] || { tail -n 20 "$work"/slurm*.log "$work"/munge/munged.log >&2; exit 1; }
  rm -f clipmatch-*.log
}
night sharded "$shards" 1
python3 "$repo/scripts/compare_runs.py" "$work/full" "$work/sharded" "$shards"
echo "slurm array of $shards shards + merge == unsharded run"
night grid 2 2
python3 "$repo/scripts/compare_runs.py" "$work/full" "$work/grid" 2
echo "slurm array of 2 upload x 2 catalogue shards + merge == unsharded run"
passed=true
