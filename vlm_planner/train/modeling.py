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

"""The model side of fine-tuning: which folder, which weights train, and what is written.

* :func:`base_folder` turns the model specification (``tiny``, ``tiny:ARCH``, a folder, an
  adapter folder) into the folder to start from; served models cannot be fine-tuned.
* :func:`vision_tower_names` finds the vision encoder by the module names the architectures use
  (``visual`` in the Qwen-VL family, ``vision_tower`` in LLaVA-OneVision, ``vision_model`` in
  VideoLLaMA3 and SmolVLM2); the projector into the language model (``merger``,
  ``multi_modal_projector``, ``projector``, ``connector``) is not part of it and always trains.
* :func:`make_trainable` freezes the vision encoder (unless it trains) and, for LoRA, wraps the
  model with peft adapters on the language model's attention and MLP projections (and on the
  vision encoder and projector when they train).
* :func:`save_model` writes the output folder's weights: merged (full or LoRA) in the dtype the
  base model was stored in, or the LoRA adapter that names its base folder, with the processor.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import torch

from vlm_planner.errors import ConfigError
from vlm_planner.models.hf import adapter_base, is_adapter_folder
from vlm_planner.models.spec import parse_model_spec
from vlm_planner.models.tiny import VISION_TOWERS
from vlm_planner.train.config import FinetuneConfig

logger = logging.getLogger(__name__)

#: Module names of the layers that carry vision features into the language model.
PROJECTORS = ('merger', 'deepstack_merger_list', 'multi_modal_projector', 'projector',
              'connector', 'mm_projector')
#: The language model's attention and MLP projections: where LoRA adapters go.
LORA_TARGETS = ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj')


def base_folder(spec: str, values: Mapping[str, Any]) -> Path:
    """The model folder a fine-tuning run starts from.

    Args:
        spec: the model specification (``--model``): ``tiny``, ``tiny:ARCH``, a model folder or a
            LoRA adapter folder (:mod:`vlm_planner.models.spec`).
        values: the planner parameters in effect (``model.tiny_arch`` refines ``tiny``).

    Raises:
        ConfigError: the specification is malformed, names a missing folder or a served model.
    """
    parameters = parse_model_spec(spec).parameters
    backend = parameters['model.backend']
    if backend == 'tiny':
        from vlm_planner.models.tiny import ensure_tiny_model
        arch = parameters.get('model.tiny_arch') or values.get('model.tiny_arch')
        return ensure_tiny_model(arch=arch or 'qwen2_5_vl')
    if backend == 'transformers':
        return Path(parameters['model.path']).expanduser().resolve()
    raise ConfigError(f'--model {spec} is a {backend} model; finetune trains local weights: give '
                      'a model folder (config.json + safetensors), a LoRA adapter folder, or '
                      'tiny / tiny:ARCH.')


def stored_dtype(folder: Path) -> torch.dtype:
    """The dtype of the weights stored in ``folder`` or its adapter's base (default float32)."""
    if is_adapter_folder(folder):
        folder = adapter_base(folder)
    try:
        config = json.loads((folder / 'config.json').read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return torch.float32
    name = config.get('dtype') or config.get('torch_dtype')
    if name is None and isinstance(config.get('text_config'), dict):
        name = config['text_config'].get('dtype') or config['text_config'].get('torch_dtype')
    value = getattr(torch, str(name), None) if name else None
    return value if isinstance(value, torch.dtype) else torch.float32


def vision_tower_names(model: torch.nn.Module) -> list[str]:
    """Names of the outermost modules of ``model`` that are vision encoders."""
    names: list[str] = []
    for name, _ in model.named_modules():
        parts = name.split('.')
        if parts[-1] in VISION_TOWERS and not any(name.startswith(n + '.') for n in names):
            names.append(name)
    return names


def _in_tower(name: str, towers: list[str]) -> bool:
    return any(name == tower or name.startswith(tower + '.') for tower in towers)


def _in_projector(name: str) -> bool:
    return any(part in PROJECTORS for part in name.split('.'))


def _towers(model: torch.nn.Module) -> list[str]:
    towers = vision_tower_names(model)
    if not towers:
        raise ConfigError(
            f'cannot find the vision encoder of {type(model).__name__}: none of its modules is '
            f'named {", ".join(VISION_TOWERS)}. Train it with --train-vision, or add its module '
            'name to vlm_planner.models.tiny.VISION_TOWERS.')
    return towers


def freeze_vision(model: torch.nn.Module) -> int:
    """Freeze the vision encoder's parameters (not the projector's); return how many.

    Raises:
        ConfigError: no vision encoder is found by its module names.
    """
    towers = _towers(model)
    frozen = 0
    for name, parameter in model.named_parameters():
        if _in_tower(name, towers) and not _in_projector(name):
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen


def lora_modules(model: torch.nn.Module, train_vision: bool) -> list[str]:
    """Full names of the linear layers that get LoRA adapters.

    The language model's attention and MLP projections (:data:`LORA_TARGETS`); with
    ``train_vision`` also every linear layer of the vision encoder and the projector.
    """
    towers = vision_tower_names(model)
    chosen = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or name.endswith('lm_head'):
            continue
        visual = _in_tower(name, towers) or _in_projector(name)
        if (visual and train_vision) or (not visual and name.split('.')[-1] in LORA_TARGETS):
            chosen.append(name)
    return chosen


def make_trainable(model: torch.nn.Module, config: FinetuneConfig) -> torch.nn.Module:
    """Choose the weights that train (see module docstring); return the model to train.

    Raises:
        ConfigError: the vision encoder or the LoRA targets are not found.
    """
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={'use_reentrant': False})
        model.config.use_cache = False
    if not config.lora:
        model.requires_grad_(True)  # a merged adapter's base weights come frozen
        if not config.train_vision:
            freeze_vision(model)
        return model
    from peft import get_peft_model, LoraConfig

    targets = lora_modules(model, config.train_vision)
    if not targets:
        raise ConfigError(f'{type(model).__name__} has no linear layers named '
                          f'{", ".join(LORA_TARGETS)} for LoRA; fine-tune all weights instead '
                          '(drop --lora).')
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.alpha,
                      lora_dropout=config.lora_dropout, target_modules=targets, bias='none')
    return get_peft_model(model, lora)


def trainable_count(model: torch.nn.Module) -> tuple[int, int]:
    """Trainable and total parameter counts."""
    total = trainable = 0
    for parameter in model.parameters():
        total += parameter.numel()
        trainable += parameter.numel() if parameter.requires_grad else 0
    return trainable, total


def inner_model(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model inside a peft wrapper (with its LoRA layers), or ``model``."""
    get_base = getattr(model, 'get_base_model', None)
    return get_base() if callable(get_base) else model


def save_model(model: torch.nn.Module, processor: Any, out: Path, *, adapter: bool,
               base: Path, dtype: torch.dtype) -> None:
    """Write the fine-tuned weights and the processor into ``out``.

    Args:
        model: the trained model (a peft model for LoRA); merged in place when it is written
            merged, so it is not trained further.
        processor: its processor, written beside the weights.
        out: the output folder.
        adapter: write the LoRA adapter (naming ``base``) instead of merged weights.
        base: the base model folder the run started from.
        dtype: the dtype the merged weights are written in.
    """
    if adapter:
        model.peft_config['default'].base_model_name_or_path = str(base.resolve())
        model.save_pretrained(out)
    else:
        merged = model.merge_and_unload() if hasattr(model, 'merge_and_unload') else model
        merged.to(dtype)
        merged.save_pretrained(out)
    processor.save_pretrained(out)
