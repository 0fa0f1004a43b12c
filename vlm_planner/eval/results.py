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

"""An evaluation output folder: per-item results a killed run resumes, and what produced them.

``results.jsonl`` is append-only: each line is one finished decision, written whole and flushed to
disk before the next begins. On opening, a last line cut short by a kill is dropped (it was never
counted) and the keys of the complete lines tell the evaluator what to skip, so nothing is lost and
nothing is counted twice. A result's key includes its *run* (:mod:`.provenance`): results of other
settings are never taken for this run's. ``runs.json`` maps each run id to what produced it, and
``.eval.lock`` keeps two evaluations from writing one folder at once (:class:`FolderLock`).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from vlm_planner.atomic_file import atomic_path
from vlm_planner.errors import VlmPlannerError

#: The fields that identify one result; a run never writes two lines with the same key.
KEY_FIELDS = ('dataset', 'item_id', 'model', 'strategy', 'run')

RESULTS_FILE = 'results.jsonl'
RUNS_FILE = 'runs.json'
LOCK_FILE = '.eval.lock'


class ResultsError(VlmPlannerError):
    """The results file is unreadable beyond a cut-off last line, or the folder is in use."""


def result_key(record: dict[str, Any]) -> tuple[str, ...]:
    """The identity of a result record (results written before runs were recorded: run '')."""
    return tuple(str(record.get(field, '')) if field == 'run' else str(record[field])
                 for field in KEY_FIELDS)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The complete result lines of a results file, read without changing it.

    An evaluation may be writing it: a last line being written is left out.

    Raises:
        ResultsError: the file is missing or a complete line is not a result record.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ResultsError(f'cannot read {path} ({error.strerror}); give the output folder of '
                           'a `vlm-planner eval` run.') from None
    return list(_parse(data[:data.rfind(b'\n') + 1], path))


def _parse(data: bytes, path: Path) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            result_key(record)
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ResultsError(
                f'{path} line {number} is not a result record ({error}); move the file '
                'away to start over, or fix that line to resume.') from None
        yield record


def read_runs(folder: str | Path) -> dict[str, Any]:
    """The identities of the runs whose results are in ``folder``, by run id."""
    path = Path(folder) / RUNS_FILE
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding='utf-8')))
    except (OSError, ValueError, TypeError) as error:
        raise ResultsError(f'{path} is not a runs file ({error}); move it away to rebuild it '
                           'from the next evaluation.') from None


def record_runs(folder: str | Path, runs: Mapping[str, Any]) -> None:
    """Add ``runs`` (id to identity) to the folder's ``runs.json``, written atomically."""
    path = Path(folder) / RUNS_FILE
    merged = {**read_runs(folder), **runs}
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(merged, indent=2, sort_keys=True, default=str) + '\n',
                        encoding='utf-8')


def labelled(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records for a report: a model evaluated in several runs is named ``model@run`` in each.

    A folder holding one run per model keeps the plain model names.
    """
    runs = collections.defaultdict(set)
    for record in records:
        runs[record['model']].add(record.get('run', ''))
    return [{**record, 'model': f'{record["model"]}@{record.get("run", "") or "earlier"}'}
            if len(runs[record['model']]) > 1 else record for record in records]


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[None]:
    """Hold the folder's evaluation lock for the block.

    Raises:
        ResultsError: another process holds it; the message names it and what to do.
    """
    path = Path(folder) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'a+', encoding='utf-8') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or 'another process'
            raise ResultsError(
                f'{folder} is being written by {holder}; wait for that evaluation to finish, or '
                'give this one another --out folder.') from None
        handle.seek(0)
        handle.truncate()
        started = datetime.datetime.now().isoformat(timespec='seconds')
        handle.write(f'vlm-planner (pid {os.getpid()}, started {started})')
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


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
        for record in _parse(complete, self.path):
            key = result_key(record)
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
