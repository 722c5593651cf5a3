#!/usr/bin/env bash
# One prepared run on a machine with an NVIDIA GPU: CuPy-vs-NumPy parity tests and the video
# QC benchmark on both backends. Wheels the image lacks travel in .whl/ (see RESULTS.md).
set -uo pipefail
OUT=${OUT:-/tmp/device-out}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import cupy, numpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__)"
  nproc; } 2>&1 | tee "$OUT/machine.txt"
# every gpu-marked test, wherever it is (a list of files had left out test_mastering_video's)
python3 -m pytest -q -m gpu -o addopts="" -p no:cacheprovider tests 2>&1 \
  | tee "$OUT/parity.txt"
for batch in 16 64; do
  python3 benchmarks/bench_video_qc.py --frames 512 --batch $batch 2>&1 | tee -a "$OUT/bench.txt"
done
