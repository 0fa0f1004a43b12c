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

"""Shared fixtures: the colour task's recordings and a session cache of tiny models."""

from __future__ import annotations

import pytest
import torch

from test.train.colour_data import write_colour_data


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Train on one thread, as tiny models gain nothing from more.

    On a CPU shared with other work, threads waiting for each other slow each step down several
    times over.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _tiny_cache(tiny_model_cache):
    """Build tiny models into the session's cache, not the user's."""
    return tiny_model_cache


@pytest.fixture(scope='session')
def colour_data(tmp_path_factory):
    """The colour task: train (24), val (12), all actions (8); with scenes: train, val."""
    folder = tmp_path_factory.mktemp('colour_data')
    return {'train': write_colour_data(folder, 'train', 24, seed=1),
            'val': write_colour_data(folder, 'val', 12, seed=2),
            'all': write_colour_data(folder, 'all', 8, seed=3, all_actions=True),
            'scenes': write_colour_data(folder, 'scenes', 24, seed=4, scenes=True),
            'val_scenes': write_colour_data(folder, 'val_scenes', 12, seed=5, scenes=True)}
