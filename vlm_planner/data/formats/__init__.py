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

"""Data-set formats registered by name: each module here recognises one kind of file.

:func:`vlm_planner.data.episodes.load_dataset` reads a file once and opens it with the first
registered format that recognises its content. Adding a format is one module here (plus its
test) that registers a :class:`DatasetFormat`::

    DATASET_FORMATS.register('mine', order=50)(DatasetFormat(
        description='a Mine file', recognises=lambda data: ..., open=MineDataset,
        options=('name',)))

Each format's ``open(path, **options)`` returns a :class:`~vlm_planner.data.items.Dataset`
whose items come through a :class:`~vlm_planner.core.session.DecisionSession`, so the model sees
what the live node would have shown it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from vlm_planner.data.items import Dataset
from vlm_planner.registry import Registry


@dataclasses.dataclass(frozen=True)
class DatasetFormat:
    """One kind of data-set file.

    Attributes:
        description: the kind in words, for messages (``'an annotation file'``).
        recognises: whether a file's parsed content (JSON or YAML) is of this kind.
        open: makes the data set from the file's path and the options.
        options: the options ``open`` accepts.
        required: options that must be given.
        ignored: options that do not apply and are dropped silently when not among
            ``options`` (one ``--video-root`` serves a mix of kinds).
        hint: what the content must look like, for the message when no format recognises it.
    """

    description: str
    recognises: Callable[[Any], bool]
    open: Callable[..., Dataset]
    options: tuple[str, ...] = ('name',)
    required: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ('video_root',)
    hint: str = ''


DATASET_FORMATS: Registry[DatasetFormat] = Registry('data-set format',
                                                    'vlm_planner.data.formats')
