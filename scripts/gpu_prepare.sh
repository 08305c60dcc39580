#!/usr/bin/env bash
# Prepares, on this machine, what scripts/gpu_check.sh runs on a GPU machine lent by
# the device tool: .gpu/ holds the kernel tests and examples/gpu_bench, stripped (neither
# links FFmpeg, which such a machine lacks), .gl/ the Vulkan loader (as the device
# README says); git ignores both. Then, in one call:
#   run(command="bash scripts/gpu_check.sh", carry=[".gpu", ".gl"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .git/info
for d in /.gpu/ /.gl/; do grep -qxF "$d" .git/info/exclude 2>/dev/null || echo "$d" >>.git/info/exclude; done
cargo build --release --example gpu_bench
tests=$(cargo test --release --no-run --test kernels --message-format=json | python3 -c '
import json, sys
found = [m["executable"] for m in map(json.loads, sys.stdin)
         if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "kernels"]
print(found[-1])')
rm -rf .gpu && mkdir .gpu
strip -o .gpu/kernels "$tests"
strip -o .gpu/gpu_bench target/release/examples/gpu_bench
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    # shellcheck disable=SC2086
    apt-get $o update -qq
    # shellcheck disable=SC2086
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .gpu .gl
