#!/usr/bin/env bash
# The GPU check on a lent device machine (the `device` tool of this workplace), in two steps:
#
#   bash benchmarks/gpu_device.sh prepare   # here: the wheels the device image lacks (Python 3.12), into .whl/
#   bash benchmarks/gpu_device.sh run       # there (carry .whl): install them, run gpu_check.py, JSON to $OUT
#   bash benchmarks/gpu_device.sh campaign [HOURS]  # there (carry .whl): the campaign's next seed groups, each as
#                                           # one seed-batched run, records to $OUT/campaign/ (copy them into
#                                           # results/campaign/ here and commit; HOURS default 0.15)
#
# The device image has torch, numpy and h5py but not MuJoCo, Gymnasium or Minari, and reaches no index.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  prepare)
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl \
      minari==0.5.4 gymnasium==1.4.0 mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 \
      farama-notifications==0.0.6 glfw pyopengl websockets
    du -sh .whl ;;
  run)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    # the check renders nothing, and the device image has no libEGL: MuJoCo must not load a GL backend
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 MUJOCO_GL=disable
    # the box has 16 cores: 8 worker processes step the evaluation envs (the split changes no score)
    export STITCHKIT_EVAL_WORKERS=8
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
    python3 benchmarks/gpu_check.py --seconds 2 --out "${OUT:-.}/gpu_check.json" ;;
  campaign)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 MUJOCO_GL=disable
    export STITCHKIT_DATA=/tmp/stitchkit-data MINARI_DATASETS_PATH=/tmp/stitchkit-data/minari
    export STITCHKIT_EVAL_WORKERS=8
    mkdir -p "${OUT:-.}/campaign" && cp -r results/campaign/. "${OUT:-.}/campaign/" 2>/dev/null || true
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
    python3 -m stitchkit campaign run campaign --group-seeds --workers 1 --hours "${2:-0.15}" \
      --folder "${OUT:-.}/campaign" ;;
  *) echo "usage: $0 prepare|run|campaign [hours]" >&2; exit 2 ;;
esac
