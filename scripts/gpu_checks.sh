#!/usr/bin/env bash
# Copyright 2026 vlm_planner maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# The prepared GPU measurements of docs/performance.md, in one short run on one CUDA GPU (about
# ten minutes on an H200; random 7B-class Qwen2.5-VL weights built on the GPU, nothing
# downloaded). Each writes its Markdown tables to OUT (default gpu-results/):
#
#   scoring.md   benchmarks/bench_scoring.py --device cuda --size 7b (prefix sharing, every
#                strategy against the H200 floors)
#   latency.md   benchmarks/bench_latency.py --device cuda --size 7b --keyframes 16 (per-stage
#                decision latency with and without the keyframe and prompt caches)
#   latency_compiled.md  the same with torch.compile
#   eval_throughput.md   benchmarks/bench_eval_throughput.py --device cuda --size 7b (items per
#                second per strategy, the 3,355-question EgoPlan-Bench run projected)
#
#   scripts/gpu_checks.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-results}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY benchmarks/bench_latency.py --device cuda --size 7b --keyframes 16 --decisions 8 \
  | tee "$OUT/latency.md"
$PY benchmarks/bench_scoring.py --device cuda --size 7b | tee "$OUT/scoring.md"
$PY benchmarks/bench_latency.py --device cuda --size 7b --keyframes 16 --decisions 8 \
  --strategies 'base (letter),base (likelihood K=4)' --compile | tee "$OUT/latency_compiled.md"
$PY benchmarks/bench_eval_throughput.py --device cuda --size 7b --items 64 \
  | tee "$OUT/eval_throughput.md"
