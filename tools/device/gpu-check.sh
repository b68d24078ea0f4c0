#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GPU check of the native core on an NVIDIA machine (no Node.js needed): configures and builds the C++
# tests and benchmarks with the CUDA backend, runs every C++ test (CPU ops, CUDA ops vs CPU, golden
# fixtures), then the CUDA benchmarks (ViT-B encoder batch 1 / 8 in fp32 / bf16; decoder train step
# batch 1, 10 points + box, with and without CUDA graphs). Logs go to $OUT (default ./gpu-check-out).
#
#   tools/device/gpu-check.sh FIXTURES_DIR [BUILD_DIR]
#
# FIXTURES_DIR holds sam-tiny/ (golden.safetensors, sam_tiny.safetensors, manifest.json), e.g. a copy
# of shared/fixtures inside the repository. Environment: CUDA_ARCH (default 90), JOBS (default 16),
# SA_BENCH=0 to skip the benchmarks.
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 FIXTURES_DIR [BUILD_DIR]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
FIX="$(cd "$1" && pwd)" || { echo "gpu-check: fixtures dir $1 not found" >&2; exit 2; }
BUILD="${2:-$ROOT/build-gpu}"
OUT="${OUT:-$ROOT/gpu-check-out}"
ARCH="${CUDA_ARCH:-90}"
JOBS="${JOBS:-16}"
mkdir -p "$OUT"
export PATH="/usr/local/cuda/bin:$PATH"
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1
  nvcc --version 2>&1 | tail -2
  cmake --version 2>&1 | head -1
  g++ --version 2>&1 | head -1
} > "$OUT/env.log"
stamp "environment: $(head -2 "$OUT/env.log" | tail -1)"

stamp "configure ($BUILD)"
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
if ! cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DSA_CUDA=ON -DSA_BUILD_TESTS=ON \
     -DSA_BUILD_BENCH=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DSA_FIXTURES="$FIX" > "$OUT/configure.log" 2>&1; then
  tail -30 "$OUT/configure.log"
  echo "SUMMARY: configure FAILED (see configure.log)"
  exit 1
fi

stamp "build (-j$JOBS)"
if ! cmake --build "$BUILD" -j "$JOBS" > "$OUT/build.log" 2>&1; then
  grep -E "error|Error" "$OUT/build.log" | head -40
  echo "SUMMARY: build FAILED (see build.log)"
  exit 1
fi
grep -iE "warning" "$OUT/build.log" | sort -u | head -20 > "$OUT/build-warnings.log"

stamp "tests"
ctest --test-dir "$BUILD/native" --output-on-failure --timeout 120 -j 4 -E '^test-ops-cuda$' > "$OUT/ctest.log" 2>&1
TEST_RC=$?
# The CUDA op test on its own, with every comparison line kept for the record.
stamp "test-ops-cuda"
(cd "$BUILD" && SA_FIXTURES="$FIX" timeout 120 ./native/tests/test-ops-cuda) > "$OUT/test-ops-cuda.log" 2>&1 || TEST_RC=1

BENCH_RC=0
if [ "${SA_BENCH:-1}" != "0" ]; then
  stamp "bench: ViT-B encoder"
  timeout 100 "$BUILD/native/bench/bench-cuda-encoder" --model vit_b --batch 1,8 --math fp32,bf16 --iters 3 --profile \
    > "$OUT/bench-encoder.log" 2>&1 || BENCH_RC=1
  stamp "bench: decoder train step"
  timeout 60 "$BUILD/native/bench/bench-cuda-decoder" --steps 200 > "$OUT/bench-decoder.log" 2>&1 || BENCH_RC=1
fi

echo
echo "==================== SUMMARY ===================="
head -2 "$OUT/env.log" | tail -1
grep -E "tests passed|tests failed|Failed|\*\*\*|Passed|Not Run|No tests" "$OUT/ctest.log" | sed 's/^ *//' | head -30
if [ -f "$OUT/test-ops-cuda.log" ]; then
  echo "-- test-ops-cuda: $(grep -E '^[0-9]+ passed' "$OUT/test-ops-cuda.log")"
  grep -E "FAIL|skipped" "$OUT/test-ops-cuda.log" | head -20
  grep -E "attention_vit bf16|pinned_staging" "$OUT/test-ops-cuda.log" | sed 's/^ *//' | head -12
fi
if [ "${SA_BENCH:-1}" != "0" ]; then
  echo "-- encoder (bench-cuda-encoder):"
  grep -E "^(math|fp32|tf32|bf16)|vs fp32|rror|^  profile|^    " "$OUT/bench-encoder.log"
  echo "-- decoder train step (bench-cuda-decoder):"
  grep -E "^(mode|trainer|eager|graph)|rror" "$OUT/bench-decoder.log"
fi
stamp "done (tests rc=$TEST_RC, bench rc=$BENCH_RC)"
[ $TEST_RC -eq 0 ] && [ $BENCH_RC -eq 0 ]
