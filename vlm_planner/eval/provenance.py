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

"""What produced a result: the model beyond its folder's name, and every setting that matters.

A *run* is one model asked one way: the model's identity (its backend, its ``config.json`` and a
fingerprint of its weights and processor files; for a served model, the server and model name),
the settings that change answers (``model.*``, ``strategy.*``, ``keyframes.*``, the prompt's
wording, the data sets' frame rates and sampling), whether frames were blanked, and the evaluation
seed. :func:`run_identity` collects them
and :func:`run_id` names them with a short hash. Every result line carries its run's id and the
output folder's ``runs.json`` holds the identities, so an evaluation rerun into the same folder
with other settings is a new run, evaluated afresh, instead of silently reusing what another
configuration answered.

A weights fingerprint hashes each weights file's size, its safetensors header (tensor names,
shapes and offsets) and its first and last MiB: a fine-tuned copy differs there, and a 15 GB
checkpoint is fingerprinted in milliseconds rather than read whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from vlm_planner import settings

#: Parameters that change only speed or robustness, not answers; left out of a run's identity.
PERFORMANCE_ONLY = frozenset({
    'model.device', 'model.timeout', 'model.retries', 'model.keyframe_cache',
    'model.prompt_reuse_tokens', 'model.trust_remote_code', 'model.max_in_flight'})

#: Setting prefixes that change a model's answers.
ANSWER_SETTINGS = ('model.', 'strategy.', 'keyframes.')

#: Files of a model folder hashed whole (configuration, tokenizer, processor, chat template).
_SMALL_FILES = ('*.json', '*.jinja', '*.txt', '*.model')
#: Bytes read from each end of a weights file.
_EDGE = 1 << 20


def run_identity(values: Mapping[str, Any], *, blank_frames: bool = False, seed: int = 0,
                 data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything that decides the answers of a run configured by complete ``values``.

    ``data`` holds the options the data sets were read with that change their items (frame
    rates, frame sampling); unset (None) options are left out.
    """
    return {
        'data': {name: value for name, value in sorted((data or {}).items())
                 if value is not None},
        'model': model_identity(values),
        'settings': {name: value for name, value in sorted(values.items())
                     if name.startswith(ANSWER_SETTINGS) and name not in PERFORMANCE_ONLY},
        'prompt': dataclasses.asdict(settings.load_template(values)),
        'blank_frames': blank_frames,
        'seed': seed,
    }


def run_id(identity: Mapping[str, Any]) -> str:
    """A short stable name of ``identity`` (12 hex digits of its SHA-256)."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def model_identity(values: Mapping[str, Any]) -> dict[str, Any]:
    """The model ``values`` select: backend, and its folder's fingerprint or its server."""
    backend = values['model.backend']
    if backend == 'openai':
        return {'backend': backend, 'url': values['model.url'],
                'served_model': values['model.api_model']}
    folder = _folder(values)
    if folder is None:  # a backend registered elsewhere: its settings are all we know
        return {'backend': backend}
    return {'backend': backend, 'folder': folder.name, 'fingerprint': folder_fingerprint(folder)}


def folder_fingerprint(folder: str | Path) -> str:
    """A SHA-256 over a model folder's small files and its weights' sizes, headers and ends.

    A LoRA adapter folder's base model is included.
    """
    from vlm_planner.models.hf import adapter_base, is_adapter_folder

    folder = Path(folder)
    digest = hashlib.sha256()
    for path in _model_files(folder):
        digest.update(path.name.encode())
        if path.suffix == '.safetensors':
            digest.update(_weights_digest(path))
        else:
            digest.update(path.read_bytes())
    if is_adapter_folder(folder):
        digest.update(folder_fingerprint(adapter_base(folder)).encode())
    return digest.hexdigest()


def _folder(values: Mapping[str, Any]) -> Path | None:
    if values['model.backend'] == 'tiny':
        from vlm_planner.models.tiny import ensure_tiny_model
        return Path(ensure_tiny_model(arch=values['model.tiny_arch']))
    return settings.model_folder(values)


def _model_files(folder: Path) -> list[Path]:
    files = {path for pattern in (*_SMALL_FILES, '*.safetensors') for path in folder.glob(pattern)}
    return sorted((path for path in files if path.is_file()), key=lambda path: path.name)


def _weights_digest(path: Path) -> bytes:
    """Size, safetensors header and first and last MiB of a weights file."""
    size = path.stat().st_size
    with open(path, 'rb') as handle:
        head = handle.read(_EDGE)
        handle.seek(max(0, size - _EDGE))
        tail = handle.read(_EDGE)
        handle.seek(0)
        header_length = int.from_bytes(handle.read(8), 'little') if size >= 8 else 0
        header = handle.read(min(header_length, size))
    return hashlib.sha256(str(size).encode() + header + head + tail).digest()
