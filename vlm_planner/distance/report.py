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

"""The report of ``vlm-planner distance``: a table on stdout, JSON, and heat maps.

* :func:`table`: the text printed on stdout; for two data sets one row per modality with W1
  and its 95 % interval, for more one matrix per modality followed by every pair's interval.
* :func:`to_json`: the content of ``distance.json`` (format in docs/distance.md).
* :func:`write_outputs`: writes ``distance.json`` and, with three or more data sets,
  ``distance_visual.png`` and ``distance_text.png``: the W1 matrices as annotated heat maps,
  drawn on matplotlib's Agg canvas. Every file is written under a temporary name in the same
  folder and renamed over the target, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vlm_planner.atomic_file import atomic_path
from vlm_planner.distance.measure import Estimate, MODALITIES, Result
from vlm_planner.distance.wasserstein import CONFIDENCE

JSON_NAME = 'distance.json'
#: Heat map file of each modality (three or more data sets).
HEAT_MAPS = {modality: f'distance_{modality}.png' for modality in MODALITIES}


def unique_names(names: Sequence[str], paths: Sequence[str]) -> list[str]:
    """``names`` made readable and unique: ``.`` becomes the path's name; repeats get ``#2``..."""
    result: list[str] = []
    for name, path in zip(names, paths):
        base = Path(path).name if name in ('', '.') else name
        candidate, count = base, 1
        while candidate in result:
            count += 1
            candidate = f'{base}#{count}'
        result.append(candidate)
    return result


def mode(result: Result) -> str:
    """``pair`` for two data sets, ``matrix`` for more."""
    return 'pair' if len(result.datasets) == 2 else 'matrix'


def table(result: Result) -> str:
    """The report printed on stdout (see the module docstring)."""
    sets = ', '.join(f'{d.name} ({d.sampled} of {d.items} items)' for d in result.datasets)
    lines = [f'Wasserstein-1 distance between {sets}; seed {result.options.seed}, '
             f'{_bootstrap_text(result)}.', '']
    if mode(result) == 'pair':
        rows = [['modality', 'embedder', 'dim', 'W1', f'{CONFIDENCE:.0%} interval']]
        for modality in MODALITIES:
            estimate = result.pairs[modality][0, 1]
            rows.append([modality, result.embedders[modality], str(result.dims[modality]),
                         _number(estimate.w1), _interval(estimate)])
        return '\n'.join(lines + _aligned(rows))
    names = [d.name for d in result.datasets]
    for modality in MODALITIES:
        lines.append(f'{modality} W1 ({result.embedders[modality]}, '
                     f'{result.dims[modality]} dims):')
        matrix = result.matrix(modality)
        rows = [['', *names]] + [[name, *map(_number, row)] for name, row in zip(names, matrix)]
        lines += _aligned(rows)
        lines.append('')
    if result.options.bootstrap:
        lines.append(f'{CONFIDENCE:.0%} intervals:')
        rows = [[f'{names[i]} - {names[j]}',
                 *(f'{m} {_interval(result.pairs[m][i, j])}' for m in MODALITIES)]
                for i, j in result.pairs[MODALITIES[0]]]
        lines += _aligned(rows)
    return '\n'.join(lines).rstrip()


def to_json(result: Result) -> dict[str, Any]:
    """The content of ``distance.json``."""
    names = [d.name for d in result.datasets]
    return {
        'mode': mode(result),
        'datasets': [{'name': d.name, 'path': d.path, 'items': d.items, 'sampled': d.sampled}
                     for d in result.datasets],
        'embedders': {m: {'spec': result.embedders[m], 'dim': result.dims[m]}
                      for m in MODALITIES},
        'samples': result.options.samples,
        'bootstrap': result.options.bootstrap,
        'confidence': CONFIDENCE,
        'seed': result.options.seed,
        'pairs': [{'a': names[i], 'b': names[j],
                   **{m: _estimate_json(result.pairs[m][i, j]) for m in MODALITIES}}
                  for i, j in result.pairs[MODALITIES[0]]],
        'matrices': {m: result.matrix(m) for m in MODALITIES},
    }


def write_outputs(result: Result, out: str | Path) -> list[Path]:
    """Write ``distance.json`` (and the heat maps for three or more data sets) into ``out``.

    Returns:
        The files written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / JSON_NAME
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(to_json(result), indent=2) + '\n', encoding='utf-8')
    written = [path]
    if mode(result) == 'matrix':
        for modality in MODALITIES:
            written.append(out / HEAT_MAPS[modality])
            heat_map(result, modality, written[-1])
    return written


def heat_map(result: Result, modality: str, path: Path) -> None:
    """Draw the W1 matrix of ``modality`` as a heat map with the values in the cells."""
    from vlm_planner.plots import figure, save_png

    names = [d.name for d in result.datasets]
    matrix = np.array(result.matrix(modality))
    side = 1.6 + 0.9 * len(names)
    fig = figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap='viridis', vmin=0.0)
    fig.colorbar(image, ax=ax, label='W1')
    ax.set_xticks(range(len(names)), names, rotation=45, ha='right')
    ax.set_yticks(range(len(names)), names)
    middle = (matrix.max() + matrix.min()) / 2
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, _number(float(value)), ha='center', va='center', fontsize=9,
                color='black' if value > middle else 'white')
    ax.set_title(f'{modality} W1 ({result.embedders[modality]})', fontsize=10)
    save_png(fig, path)


def _estimate_json(estimate: Estimate) -> dict[str, float | None]:
    return {'w1': estimate.w1, 'low': estimate.low, 'high': estimate.high}


def _bootstrap_text(result: Result) -> str:
    rounds = result.options.bootstrap
    return (f'{CONFIDENCE:.0%} bootstrap intervals of {rounds} rounds' if rounds
            else 'no bootstrap')


def _number(value: float) -> str:
    return f'{value:.4g}'


def _interval(estimate: Estimate) -> str:
    if estimate.low is None or estimate.high is None:
        return '-'
    return f'[{_number(estimate.low)}, {_number(estimate.high)}]'


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in rows]
