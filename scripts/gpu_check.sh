#!/usr/bin/env bash
# Runs on a GPU machine lent by the device tool, from files scripts/gpu_prepare.sh made
# here: the GPU's name, driver and clocks, the kernel tests (bit-exact against the CPU
# twins), and the kernel benchmark at the job-like sizes (1M frames x 12 and 1 views,
# 4,096 queries), each into $OUT. The dev job is not run there: it needs FFmpeg and the
# footage, which that machine does not have.
set -uo pipefail
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export XDG_RUNTIME_DIR=/tmp
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,memory.total --format=csv \
    2>&1 | tee "$out/gpu.csv"
./.gpu/kernels --test-threads 1 2>&1 | tee "$out/kernel_tests.txt"
./.gpu/gpu_bench "$out/bench.json" 2>&1 | tee "$out/bench.txt"
