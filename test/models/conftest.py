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

"""Shared fixtures: each tiny model built once and loaded once per test session.

``tiny_model_path`` and ``backend`` are the default architecture (Qwen2.5-VL). ``arch_model_path``
and ``arch_backend`` are parametrized over every architecture :mod:`vlm_planner.models.tiny`
builds, so a test that takes them runs once per architecture.
"""

from __future__ import annotations

import numpy as np
import pytest

from vlm_planner.core.frames import Frame
from vlm_planner.models.tiny import SUPPORTED_ARCHS

# Query and key projections scaled up: attention gets sharp, so wrong positions show in outputs.
SHARPEN = 6.0


def sharpened(path, **options):
    """Load a CPU backend on ``path`` with sharpened attention (the session's backend is kept)."""
    import torch
    from vlm_planner.models.hf import TransformersBackend

    backend = TransformersBackend(path=path, device='cpu', **options)
    with torch.no_grad():
        for name, parameter in backend.model.named_parameters():
            if 'q_proj' in name or 'k_proj' in name:
                parameter.mul_(SHARPEN)
    return backend


@pytest.fixture(scope='session')
def tiny_cache(tmp_path_factory):
    """Return the session's cache root of tiny builds (each built on first use)."""
    return tmp_path_factory.mktemp('vlm_planner_cache')


@pytest.fixture(scope='session')
def tiny_model_path(tiny_cache):
    """Return the folder of the session's tiny Qwen2.5-VL (seed 0)."""
    from vlm_planner.models.tiny import ensure_tiny_model

    return ensure_tiny_model(cache_dir=tiny_cache)


@pytest.fixture(scope='session')
def backend(tiny_model_path):
    """Load a CPU backend on the session's tiny Qwen2.5-VL."""
    from vlm_planner.models.hf import TransformersBackend

    return TransformersBackend(path=tiny_model_path, device='cpu')


@pytest.fixture(scope='session', params=SUPPORTED_ARCHS)
def arch(request):
    """Return each architecture the tiny builder supports, one per test run."""
    return request.param


@pytest.fixture(scope='session')
def arch_model_path(tiny_cache, arch):
    """Return the folder of the session's tiny model of ``arch`` (seed 0)."""
    from vlm_planner.models.tiny import ensure_tiny_model

    return ensure_tiny_model(cache_dir=tiny_cache, arch=arch)


@pytest.fixture(scope='session')
def arch_backend(arch_model_path):
    """Load a CPU backend on the session's tiny model of ``arch``."""
    from vlm_planner.models.hf import TransformersBackend

    return TransformersBackend(path=arch_model_path, device='cpu')


@pytest.fixture(scope='session')
def make_frame():
    """Return a factory of synthetic camera frames (see :func:`synthetic_frame`)."""
    return synthetic_frame


def synthetic_frame(kind: str, stamp: float = 0.0, shape: tuple[int, int] = (96, 128)) -> Frame:
    """Make a synthetic camera frame: 'black', 'white', 'noise' or 'stripes'."""
    height, width = shape
    if kind == 'black':
        image = np.zeros((height, width, 3), np.uint8)
    elif kind == 'white':
        image = np.full((height, width, 3), 255, np.uint8)
    elif kind == 'noise':
        image = np.random.default_rng(int(stamp * 1000)).integers(
            0, 256, (height, width, 3), dtype=np.uint8)
    else:
        image = np.zeros((height, width, 3), np.uint8)
        image[:, ::8] = (255, 0, 0)
    return Frame(image, stamp)
