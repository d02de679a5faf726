#!/usr/bin/env bash
# `make demo`: the main job on built-in demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/mlperfctl matrix validate
$BIN/mlperfctl matrix list --device cpu --model resnet50
$BIN/mlperfctl generate --device cpu --model resnet50 --base-image cpu=mlperfctl/debian:bookworm --output out/images
echo "demo: rendered the CPU resnet50 Dockerfiles into out/images"
