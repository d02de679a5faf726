#!/usr/bin/env bash
# `make demo`: the main job on built-in demo data. Writes demo assets, builds the CPU resnet50
# image on the locally made Debian base (no registry here), runs resnet50 Offline in `test` mode
# in a container and leaves an MLPerf submission tree in demo/submission.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# This site: no registry (use the local base), TLS through an intercepting proxy (extra CAs).
export MLPERFCTL_BASE_IMAGE="${MLPERFCTL_BASE_IMAGE:-cpu=mlperfctl/debian:bookworm}"
if [ -z "${MLPERFCTL_CA_CERT:-}" ] && compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  MLPERFCTL_CA_CERT="$(ls /usr/local/share/ca-certificates/*.crt | paste -sd:)"
  export MLPERFCTL_CA_CERT
fi
[ -f demo/models/resnet50_v1.onnx ] || $BIN/mlperfctl demo-data demo
rm -rf demo/submission
$BIN/mlperfctl run --model resnet50 --scenario Offline --execution-mode test \
  --dataset-dir demo/datasets/imagenet --model-path demo/models --submission-dir demo/submission
echo "next: .venv/bin/mlperfctl submission check demo/submission  (test mode: expect the min-duration and dataset-size findings)"
