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

"""EgoPlan-Bench item files with their videos or frame folders (see docs/datasets.md)."""

from vlm_planner.data.egoplan import EgoPlanDataset
from vlm_planner.data.formats import DATASET_FORMATS, DatasetFormat

DATASET_FORMATS.register('egoplan', order=1)(DatasetFormat(
    description='an EgoPlan-Bench item file',
    recognises=lambda data: isinstance(data, list) and bool(data) and all(
        isinstance(entry, dict) and 'task_goal' in entry for entry in data),
    open=EgoPlanDataset, options=('video_root', 'name', 'fps', 'sample_fps', 'sampling'),
    required=('video_root',), hint='a JSON list of items with "task_goal"'))
