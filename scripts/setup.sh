#!/usr/bin/env bash
# Installs what clipmatch needs on Debian 12 (run as root): FFmpeg's libraries and CLI,
# clang for the FFmpeg bindings, the Vulkan loader with Mesa's software driver
# (lavapipe) for the WGSL kernels without a GPU, pyarrow, pandas, DuckDB and polars for
# the tests, for the cluster checks a single-node Slurm (munge, slurmctld, slurmd) and
# kubernetes-validate, and Debian's Chromium, in which a test renders the review page.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  clang libclang-dev pkg-config \
  libavcodec-dev libavformat-dev libavutil-dev libavfilter-dev libavdevice-dev \
  libswscale-dev libswresample-dev ffmpeg \
  libvulkan1 mesa-vulkan-drivers \
  python3 python3-pip \
  munge slurmctld slurmd slurm-client chromium >/dev/null
if ! python3 -c "import pyarrow, pandas, duckdb, polars, kubernetes_validate" 2>/dev/null; then
  pip=(python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore pyarrow pandas duckdb polars kubernetes-validate)
  # Debian's own Python refuses pip installs outside a virtual environment (PEP 668).
  "${pip[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages
fi
python3 -c "import pyarrow, pandas, duckdb, polars, kubernetes_validate"
echo "setup done"
