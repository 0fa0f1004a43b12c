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

"""Several processes (torchrun, gloo on the CPU) train as one process with their items together."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file
import torch

from vlm_planner.cli import main
from vlm_planner.models.tiny import ensure_tiny_model


@pytest.mark.slow
def test_two_processes_train_as_one_with_both_batches(colour_data, tmp_path):
    ensure_tiny_model()  # built once here, not by both processes
    common = ['--data', str(colour_data['train']), '--val', str(colour_data['val']),
              '--model', 'tiny', '--quiet', '--steps', '2', '--lr', '1e-2', '--val-limit', '4',
              '--save-every', '1', '-p', 'keyframes.max_count:=1']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    two = tmp_path / 'two'
    done = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
         '-m', 'vlm_planner.cli', 'finetune', *common, '--out', str(two), '--batch-size', '1'],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count('finished after 2 steps') == 1  # one report, from the main process

    one = tmp_path / 'one'
    assert main(['finetune', *common, '--out', str(one), '--batch-size', '2']) == 0

    record = json.loads((two / 'training' / 'run.json').read_text())['command']
    assert record['processes'] == 2
    expected, got = load_file(one / 'model.safetensors'), load_file(two / 'model.safetensors')
    # Equal up to the order of float sums (Adam's first step magnifies those to ~1e-5; a
    # different batch would move weights by about the learning rate, 1e-2).
    assert all(torch.allclose(expected[name], got[name], atol=1e-4) for name in expected)
    assert any(not torch.equal(expected[name], load_file(
        ensure_tiny_model() / 'model.safetensors')[name]) for name in expected)
