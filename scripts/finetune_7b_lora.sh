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
# LoRA fine-tuning of a 7B-class video VLM (Qwen2.5-VL-7B-Instruct) on one GPU: the recipe of
# docs/training.md ("LoRA on a 7B model"). bf16, LoRA rank 16 on the language model's attention
# and MLP projections, frozen vision encoder, gradient checkpointing, 16 items per optimizer step.
# Needs about 24 GB of GPU memory with 8 frames of 448x448; a killed run resumes when the same
# command is run again.
#
#   MODEL=/models/Qwen2.5-VL-7B-Instruct DATA=episodes/train VAL=episodes/val OUT=runs/qwen7b-lora \
#     scripts/finetune_7b_lora.sh [more finetune flags, e.g. --epochs 1]
#
# MODEL  the base model folder (config.json + safetensors + processor files); nothing downloads
# DATA   training data: annotation files, EgoPlan-Bench files or folders of them (space-separated)
# VAL    validation data (optional; its accuracy is measured every 200 steps and at the end)
# OUT    the output folder: merged weights that load by path (--save-adapter for the adapter only)
# GPUS   processes (GPUs) for data parallelism (default 1); the batch per step grows with it
# VIDEO_ROOT  videos of EgoPlan-Bench files (optional)
set -euo pipefail

: "${MODEL:?set MODEL to the base model folder, e.g. /models/Qwen2.5-VL-7B-Instruct}"
: "${DATA:?set DATA to the training annotation files or folders}"
: "${OUT:?set OUT to the output folder}"
GPUS="${GPUS:-1}"

read -r -a data <<< "${DATA}"
args=(finetune --data "${data[@]}" --model "${MODEL}" --out "${OUT}")
if [[ -n "${VAL:-}" ]]; then
  read -r -a val <<< "${VAL}"
  args+=(--val "${val[@]}" --eval-every 200 --val-limit 300)
fi
if [[ -n "${VIDEO_ROOT:-}" ]]; then
  args+=(--video-root "${VIDEO_ROOT}")
fi
args+=(
  --lora --lora-rank 16 --lora-alpha 32 --lora-dropout 0.05
  --target action
  --gradient-checkpointing
  --precision bf16
  --batch-size 1 --grad-accum 16
  --lr 1e-4 --warmup 0.03 --schedule cosine --weight-decay 0.0 --max-grad-norm 1.0
  --epochs 2
  --save-every 200 --keep-checkpoints 2
  --seed 0
  # What the model sees, as the planner will show it: 8 keyframes, 448x448 pixels at most.
  -p model.max_frames:=8 -p keyframes.max_count:=8 -p model.max_pixels:=200704
  -p model.attn_implementation:=sdpa
)

if [[ "${GPUS}" -gt 1 ]]; then
  exec accelerate launch --multi_gpu --num_processes "${GPUS}" --mixed_precision bf16 \
    -m vlm_planner.cli "${args[@]}" "$@"
fi
exec python -m vlm_planner.cli "${args[@]}" "$@"
