#!/usr/bin/env bash
# One prepared check for a GPU machine without Docker or network (README "Checking on a GPU machine"):
# the harness run natively (python -m mlperf_harness run's code) on demo data it writes itself, for resnet50,
# bert-99 and the llama2-70b demo model on the pytorch backend, Offline and Server, each against a raw loop of the
# same framework calls without LoadGen, then ONE table (Offline: harness/raw throughput on the same batches; Server:
# achieved/target QPS and p99 latency; TTFT/TPOT, peak GPU memory, the error of any path that failed; what each side
# measures: scripts/gpu_check.py's docstring). Exit 0 when every path ran, 1 when one failed, 2 on bad input.
#
#   bash scripts/gpu-check.sh [--device cuda|cpu] [--work DIR] [--count N] [--queries N] [--models M,...]
#   bash scripts/gpu-check.sh --fetch-wheels     # here, with PyPI: the cp312 wheels the GPU machine may lack
#
# The machine's own Python (python3.12 preferred; PYTHON=... to choose) with its torch, transformers and numpy is
# used as it is: a venv with --system-site-packages in WORK gets only what that Python cannot import, from
# scripts/gpu-wheels/ (--no-index, nothing downloaded). mlcommons-loadgen's cp312 wheel is committed there (0.5 MB);
# --fetch-wheels adds opencv-python-headless (resnet50's image decoding) and pandas (the llama2 dataset pickle),
# ~60 MiB: the device machine receives the working tree (untracked files too) within 64 MiB.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
wheels="$here/gpu-wheels"
device=cuda work="" pass=()
LOADGEN="6.0.17"  # matrix.yaml runtime.loadgen
FETCH=("mlcommons-loadgen==$LOADGEN" "opencv-python-headless==4.10.0.84" "pandas==3.1.1" "python-dateutil==4.0.0"
       "tzdata==2026.6")

die() { printf 'gpu-check: %s\n' "$*" >&2; exit 2; }

if [ "${1:-}" = "--fetch-wheels" ]; then
  py="${PYTHON:-python3}"
  mkdir -p "$wheels"
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      -d "$wheels" "${FETCH[@]}"
  total=$(du -cb "$wheels"/*.whl | tail -1 | cut -f1)
  printf 'gpu-check: %s wheels in %s, %d MiB\n' "$(ls "$wheels"/*.whl | wc -l)" "$wheels" $((total / 1048576))
  [ "$total" -lt $((60 * 1048576)) ] || die "the wheels exceed 60 MiB: the device machine takes 64 MiB in all"
  exit 0
fi

while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="${2:?}"; shift 2 ;;
    --work) work="${2:?}"; shift 2 ;;
    --count|--queries|--models|--timeout|--raw-seconds) pass+=("$1" "${2:?}"); shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case "$device" in cuda|cpu) ;; *) die "--device $device: choose cuda or cpu" ;; esac
work="${work:-$(mktemp -d /tmp/gpu-check.XXXXXX)}"
mkdir -p "$work"

py="${PYTHON:-$(command -v python3.12 || command -v python3)}"
missing() {  # the import names this Python lacks, as the wheel projects that provide them
  "$1" - <<'EOF'
import importlib.util
need = {"mlperf_loadgen": "mlcommons-loadgen", "torch": "torch", "transformers": "transformers",
        "numpy": "numpy", "cv2": "opencv-python-headless", "pandas": "pandas"}
print(" ".join(p for m, p in need.items() if importlib.util.find_spec(m) is None))
EOF
}
lack="$(missing "$py")" system_py="$py"
if [ -n "$lack" ]; then
  venv="$work/venv"
  [ -x "$venv/bin/python" ] || "$py" -m venv --system-site-packages "$venv"
  py="$venv/bin/python"
  for project in $lack; do
    case "$project" in torch|transformers|numpy) die "$project is not importable by $system_py: this check uses the machine's own (PYTHON=... picks another Python)" ;; esac
    ls "$wheels"/"${project//-/_}"-*.whl >/dev/null 2>&1 \
      || die "$project is missing and no wheel for it is in $wheels: run 'bash scripts/gpu-check.sh --fetch-wheels' where PyPI is reachable"
  done
  "$py" -m pip install --quiet --no-index --find-links "$wheels" $lack
fi
if [ "$device" = cuda ]; then
  "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' \
    || die "--device cuda: torch $("$py" -c 'import torch; print(torch.__version__)') sees no CUDA GPU (use --device cpu)"
fi
printf 'gpu-check: %s (%s), work %s\n' "$py" "$("$py" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)')" "$work"
cd "$root"
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$py" "$here/gpu_check.py" --device "$device" --work "$work" "${pass[@]}"
