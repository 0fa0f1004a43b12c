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

"""Vision features encoded once per media unit and handed to the model precomputed.

Qwen2-VL, Qwen2.5-VL and Qwen3-VL encode each image and each temporal patch of a video on its own
(the vision tower's attention stays within one temporal patch), so the features of a prompt are
the features of its units side by side (Qwen3-VL's also per deeper layer, its "deepstack").
:func:`encode_missing` runs the vision tower only over the units that have none yet (one batched
pass per modality) and keeps the result on the unit (:class:`~.prepared_prompt.MediaUnit`);
:func:`encoder_outputs` hands them to the model's forward as ``mm_encoder_outputs``, which
``transformers`` takes in place of pixels. Multimodal rotary
positions are computed from the grids as usual, so they come out as without the cache.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from vlm_planner.models.prepared_prompt import MediaUnit

#: Per modality: the feature method of the model and the names of its pixel and grid arguments.
_ENCODERS = {'image': ('get_image_features', 'pixel_values', 'image_grid_thw'),
             'video': ('get_video_features', 'pixel_values_videos', 'video_grid_thw')}


def encode_missing(model: Any, units: Sequence[MediaUnit], dtype: torch.dtype) -> int:
    """Encode the units without features, one vision pass per modality; return how many.

    Call it under ``torch.inference_mode()``.
    """
    count = 0
    for modality, (method, pixels_name, grid_name) in _ENCODERS.items():
        missing = [unit for unit in units if unit.modality == modality and unit.features is None]
        if not missing:
            continue
        device = model.device
        pixels = torch.cat([unit.pixels for unit in missing]).to(device=device, dtype=dtype)
        grids = torch.cat([unit.grid for unit in missing]).to(device)
        output = getattr(model, method)(**{pixels_name: pixels, grid_name: grids},
                                        return_dict=True)
        deepstack = getattr(output, 'deepstack_features', None)
        for index, unit in enumerate(missing):
            unit.features = output.pooler_output[index]
            unit.output_type = type(output)
            if deepstack is not None:
                unit.deepstack = [layer[index] for layer in deepstack]
        count += len(missing)
    return count


def encoder_outputs(units: Sequence[MediaUnit]) -> dict[str, Any]:
    """The ``mm_encoder_outputs`` of a forward pass over ``units`` (all encoded), per modality."""
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    outputs = {}
    for modality in _ENCODERS:
        chosen = [unit for unit in units if unit.modality == modality]
        if not chosen:
            continue
        features = tuple(unit.features for unit in chosen)
        deepstack = [unit.deepstack for unit in chosen if unit.deepstack is not None]
        if not deepstack:
            outputs[modality] = BaseModelOutputWithPooling(pooler_output=features)
        else:  # Qwen3-VL: the deeper layers' features too, per layer and unit
            outputs[modality] = (chosen[0].output_type or BaseModelOutputWithPooling)(
                pooler_output=features,
                deepstack_features=[tuple(layers) for layers in zip(*deepstack)])
    return outputs
