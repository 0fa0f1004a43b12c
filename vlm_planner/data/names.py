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

"""How data sets given by path are named in results, reports and model cards."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence


def dataset_names(paths: Sequence[str | Path]) -> list[str]:
    """Short unique names for data files: their paths below the common folder, no suffix."""
    resolved = [Path(p).resolve().with_suffix('') for p in paths]
    if len(resolved) == 1:
        return [resolved[0].name]
    common = Path(os.path.commonpath(resolved))
    return [str(p.relative_to(common)) or p.name for p in resolved]
