#!/usr/bin/env bash
# Static checks of jobs/: the Kubernetes manifests against the Kubernetes schemas
# (kubernetes-validate, from PyPI, strict: unknown fields fail), the shard count agreeing
# everywhere it is written, the Slurm scripts' shell syntax, and the container image's
# runtime packages existing in Debian 12 and covering the libraries the binary links.
set -euo pipefail
cd "$(dirname "$0")/.."
k8s_version=${K8S_VERSION:-1.34.0}
python3 -c "import kubernetes_validate" 2>/dev/null || bash scripts/setup.sh
validate() { python3 -m kubernetes_validate --strict --quiet -k "$k8s_version" "$@"; }

manifests=(jobs/k8s/nightly-cronjob.yaml jobs/k8s/shard-job.yaml)
validate "${manifests[@]}"
# The validator must be able to fail: a misspelled field is refused.
bad=$(mktemp --suffix=.yaml)
trap 'rm -f "$bad"' EXIT
sed 's/completionMode:/completionMdoe:/' jobs/k8s/shard-job.yaml > "$bad"
if validate "$bad" >/dev/null 2>&1; then
  echo "kubernetes-validate accepted a misspelled field" >&2
  exit 1
fi
python3 - <<'PY'
import re, yaml
job = yaml.safe_load(open("jobs/k8s/shard-job.yaml"))
docs = list(yaml.safe_load_all(open("jobs/k8s/nightly-cronjob.yaml")))
kust = yaml.safe_load(open("jobs/k8s/kustomization.yaml"))
spec = job["spec"]
task = " ".join(spec["template"]["spec"]["containers"][0]["args"])
n, m = int(re.search(r"--shards (\d+)", task)[1]), int(re.search(r"--catalog-shards (\d+)", task)[1])
tasks = {spec["completions"], spec["parallelism"]}
assert tasks == {n * m}, f"completions and parallelism {tasks} are not {n} upload x {m} catalogue shards"
cron = next(d for d in docs if d["kind"] == "CronJob")
pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
merge = " ".join(pod["containers"][0]["args"])
shards = {n} | {int(k) for k in re.findall(r"--shards (\d+)", merge)}
assert len(shards) == 1, f"shard counts disagree: {shards}"
assert "--catalog /catalog" in merge and any(v["mountPath"] == "/catalog" for v in pod["containers"][0]["volumeMounts"])
assert spec["completionMode"] == "Indexed"
name = job["metadata"]["name"].replace("yyyy-mm-dd", "2026-11-25")
assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63, name
init = " ".join(pod["initContainers"][0]["args"])
assert "clipmatch-shards-$d" in init and "yyyy-mm-dd" in init, "driver and template disagree on the Job name"
generated = {g["name"] for g in kust["configMapGenerator"]}
assert {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v} <= generated
print(f"kubernetes manifests: valid, {n} upload x {m} catalogue shards everywhere")
PY
for s in jobs/*.slurm jobs/submit-nightly.sh; do bash -n "$s"; done
echo "slurm scripts: syntax ok"

# Runtime packages of the image: they exist, and own every FFmpeg/Vulkan library the
# binary links (looked up on this Debian 12 machine).
runtime=$(sed -n '/^FROM debian/,$p' jobs/Containerfile | tr -d '\\' | grep -oE '\b(lib[a-z0-9-]+|mesa-vulkan-drivers)\b' | sort -u)
for p in $runtime; do
  apt-cache show "$p" >/dev/null 2>&1 || { echo "jobs/Containerfile: no Debian package $p" >&2; exit 1; }
done
bin=target/release/clipmatch
if [ -x "$bin" ]; then
  for lib in $(ldd "$bin" | awk '/lib(av|sw|vulkan)[a-z]*\.so/ {print $3}'); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | cut -d: -f1 | head -1)
    grep -qx "$pkg" <<<"$runtime" || { echo "jobs/Containerfile: $lib (package ${pkg:-?}) is not installed" >&2; exit 1; }
  done
  echo "container runtime packages: present in Debian 12, cover the linked FFmpeg and Vulkan libraries"
fi
