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

"""An append-only JSON-lines file of per-item results that a killed run can resume.

Each line is one finished decision, written whole and flushed to disk before the next begins. On
opening, a last line cut short by a kill is dropped (it was never counted) and the keys of the
complete lines tell the evaluator what to skip, so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vlm_planner.errors import VlmPlannerError

#: The fields that identify one result; a run never writes two lines with the same key.
KEY_FIELDS = ('dataset', 'item_id', 'model', 'strategy')


class ResultsError(VlmPlannerError):
    """The results file is unreadable beyond a cut-off last line."""


def result_key(record: dict[str, Any]) -> tuple[str, ...]:
    """The identity of a result record."""
    return tuple(str(record[field]) for field in KEY_FIELDS)


class ResultStore:
    """The results of one evaluation output folder."""

    def __init__(self, path: str | Path) -> None:
        """Open (or create) ``path``, repairing a line cut short by a killed run."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: list[dict[str, Any]] = []
        self._keys: set[tuple[str, ...]] = set()
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        complete = data[:data.rfind(b'\n') + 1]  # a kill can only cut the last line
        for number, line in enumerate(complete.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = result_key(record)
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise ResultsError(
                    f'{self.path} line {number} is not a result record ({error}); move the file '
                    'away to start over, or fix that line to resume.') from None
            if key not in self._keys:
                self._keys.add(key)
                self.records.append(record)
        if len(complete) != len(data):
            with open(self.path, 'r+b') as handle:
                handle.truncate(len(complete))

    def __contains__(self, key: tuple[str, ...]) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self.records)

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line and make it durable before returning."""
        key = result_key(record)
        if key in self._keys:
            raise ResultsError(f'result {key} is already in {self.path}')
        line = (json.dumps(record) + '\n').encode()
        with open(self.path, 'ab') as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self._keys.add(key)
        self.records.append(record)
