#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GPU check of the native core on an NVIDIA machine (no Node.js needed): configures and builds the C++
# tests and benchmarks with the CUDA backend, runs every C++ test (CPU ops, CUDA ops vs CPU, golden
# fixtures), then the CUDA benchmarks (ViT-B encoder batch 1 / 8 in fp32 / bf16; decoder train step
# batch 1, 10 points + box, with and without CUDA graphs), then the host CPU's own benchmarks (the
# machine's CPU level, e.g. amx on a Xeon with AMX tiles: the CPU encoders in fp32 and bf16 and the
# decoder train step with fp32 and bf16 products, at 2 threads and at all cores; bf16 also at level
# avx512bf16 where the CPU has AMX, for the tiles' own gain). Logs go to $OUT (default ./gpu-check-out).
#
#   tools/device/gpu-check.sh FIXTURES_DIR [BUILD_DIR]
#
# FIXTURES_DIR holds sam-tiny/ (golden.safetensors, sam_tiny.safetensors, manifest.json), e.g. a copy
# of shared/fixtures inside the repository. Environment: CUDA_ARCH (default 90), JOBS (default 16),
# SA_BENCH=0 to skip the benchmarks, SA_CPU_BENCH=0 to skip only the host CPU's.
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

# The host CPU: its level (the C++ tests above ran at it), then the CPU benchmarks. Each line of the log
# names the level and thread count it ran at.
CPU_BENCH=0
# cpu_bench PATTERN CMD...: runs CMD, keeps the lines matching PATTERN (and errors), notes a failure.
cpu_bench() {
  local pattern=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -E "$pattern|rror"
  [ $rc -eq 0 ] || { echo "FAILED (exit $rc): ${*##*/}"; BENCH_RC=1; }
}
if [ "${SA_BENCH:-1}" != "0" ] && [ "${SA_CPU_BENCH:-1}" != "0" ]; then
  CPU_BENCH=1
  stamp "bench: host CPU"
  B="$BUILD/native/bench"
  levels=("")
  grep -qw amx_bf16 /proc/cpuinfo && levels+=(avx512bf16)
  {
    echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
    echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx512f|avx512_bf16|amx_tile|amx_bf16)$' | tr '\n' ' ')"
    threads=(2)
    [ "$(nproc)" -gt 2 ] && threads+=("$(nproc)")
    for t in "${threads[@]}"; do
      cpu_bench "^cpu level" timeout 60 "$B/bench-tinyvit" "$t" 4 --precision fp32
      cpu_bench "^(cpu level|best)" timeout 60 "$B/bench-encoder" "$t" 2 --precision fp32
      cpu_bench "level|train step" timeout 60 "$B/bench-train-step" --threads "$t" --steps 20 --products fp32
      for lv in "${levels[@]}"; do
        cpu_bench "^cpu level" env ${lv:+SA_ISA=$lv} timeout 60 "$B/bench-tinyvit" "$t" 4 --precision bf16
        cpu_bench "^(cpu level|best)" env ${lv:+SA_ISA=$lv} timeout 60 "$B/bench-encoder" "$t" 2 --precision bf16
        cpu_bench "level|train step" env ${lv:+SA_ISA=$lv} timeout 60 "$B/bench-train-step" --threads "$t" --steps 20 \
          --products bf16
      done
    done
  } > "$OUT/bench-cpu.log"
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
if [ "$CPU_BENCH" = "1" ]; then
  echo "-- host CPU (bench-tinyvit, bench-encoder, bench-train-step):"
  cat "$OUT/bench-cpu.log"
fi
stamp "done (tests rc=$TEST_RC, bench rc=$BENCH_RC)"
[ $TEST_RC -eq 0 ] && [ $BENCH_RC -eq 0 ]
