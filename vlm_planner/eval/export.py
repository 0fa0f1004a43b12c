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

"""Per-item results as a CSV table, for spreadsheets, pandas and R.

One row per result line of ``results.jsonl``: the item, the run that answered it, the correct and
the predicted action (index and label), confidence, latency and the decision's stage times. Lists
(candidates, scores, votes) are joined with `` | ``. Written atomically next to the report.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

from vlm_planner.atomic_file import atomic_path

CSV_FILE = 'results.csv'

#: Columns in order; the values come from :func:`row`.
COLUMNS = ('dataset', 'item_id', 'task', 'domain', 'model', 'strategy', 'run', 'seed', 'goal',
           'answer', 'answer_label', 'predicted', 'predicted_label', 'correct', 'confidence',
           'needs_help', 'invalid_answers', 'answer_method', 'latency_s', 'tokens',
           'prepare_ms', 'vision_ms', 'prefill_ms', 'decode_ms', 'decision_time', 'candidates',
           'scores', 'votes')

_JOIN = ' | '


def row(record: dict[str, Any]) -> dict[str, Any]:
    """The CSV row of one result record."""
    candidates = list(record.get('candidates') or [])
    stages = record.get('stages') or {}

    def label(index: Any) -> str:
        return candidates[index] if isinstance(index, int) and 0 <= index < len(candidates) \
            else ''

    values = {name: record.get(name, '') for name in COLUMNS}
    values.update(
        answer_label=label(record.get('answer')), predicted_label=label(record.get('predicted')),
        predicted='' if record.get('predicted') is None else record['predicted'],
        candidates=_JOIN.join(candidates),
        scores=_JOIN.join(f'{s:.6g}' for s in record.get('scores') or []),
        votes=_JOIN.join(str(v) for v in record.get('votes') or []),
        **{name: stages.get(name, '') for name in ('prepare_ms', 'vision_ms', 'prefill_ms',
                                                   'decode_ms')})
    return values


def write_csv(records: Sequence[dict[str, Any]], out_dir: str | Path) -> Path:
    """Write ``results.csv`` into ``out_dir``; return its path."""
    path = Path(out_dir) / CSV_FILE
    with atomic_path(path) as temp:
        with open(temp, 'w', newline='', encoding='utf-8') as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(row(record) for record in records)
    return path
