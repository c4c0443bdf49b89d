#!/usr/bin/env bash
# The CUDA check (docs/gpu.md): builds the model and training layer (networks,
# losses, torch.distributed with NCCL, dataset, trainer) and the training
# commands (train-sync, train, export) against a PyTorch wheel's LibTorch, then runs
# bench_train_step on the GPU for each configuration: the GPU must give the
# CPU's inference output, loss terms and gradients, and the step times are
# printed. Needs python3 with a CUDA torch, nvcc, cmake, ninja, zlib,
# nlohmann-json and CLI11 (EXTRA_PREFIX=DIR holding include/ and share/cmake/
# for those not installed). scripts/gpu_train_check.sh then runs the training
# commands on a real dataset.
#
#   scripts/gpu_check.sh [BUILD_DIR]       (env: CONFIGS="lite paper", STEPS=10,
#                                           DATA=DATASET_DIR WORK=DIR for the training commands)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu}
PY=${PYTHON:-python3}
TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')
# The wheel's CUDA libraries (cuDNN, cuBLAS, NCCL) live in site-packages/nvidia/*/lib:
# the linker looks there for what libtorch_cuda.so needs.
NVIDIA=$(dirname "$(dirname "$TORCH_PREFIX")")/../nvidia
for d in "$NVIDIA"/*/lib; do [ -d "$d" ] && LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; done
export LD_LIBRARY_PATH
export CUDACXX=${CUDACXX:-$(command -v nvcc)}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)'
# zlib: a GPU image often has the library (libz.so.1) but not its -dev link.
ZLIB_ARGS=()
if ! ldconfig -p | grep -q 'libz\.so '; then
  ZLIB_ARGS=(-DZLIB_LIBRARY="$(ldconfig -p | awk '/libz\.so\.1 /{print $NF; exit}')")
fi
cmake -S . -B "$BUILD" -G Ninja -DSTF_MODEL_ONLY=ON "${ZLIB_ARGS[@]}" \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX${EXTRA_PREFIX:+;$EXTRA_PREFIX}"
cmake --build "$BUILD"
grep -q STF_WITH_NCCL "$BUILD/compile_commands.json" && echo "built with NCCL" || echo "built without NCCL"
status=0
for config in ${CONFIGS:-lite paper}; do
  "$BUILD/bench_train_step" --config "$config" --device cuda --steps "${STEPS:-10}" || status=1
done
# With DATA=DATASET_DIR (made by preprocess elsewhere): the training commands too.
if [ -n "${DATA:-}" ]; then
  scripts/gpu_train_check.sh "$BUILD" "$DATA" "${WORK:-$BUILD/train-check}" || status=1
fi
exit $status
