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

"""Results you can trust when settings change: provenance, the folder lock, report and CSV."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from test.eval.test_runner import MemoryDataset
from vlm_planner import settings
from vlm_planner.cli import main
from vlm_planner.eval.provenance import folder_fingerprint, run_id, run_identity
from vlm_planner.eval.results import folder_lock, ResultsError
from vlm_planner.eval.runner import Evaluation
from vlm_planner.models.tiny import ensure_tiny_model


def test_the_fingerprint_follows_the_weights_not_the_folder(tmp_path, tiny_model_cache):
    original = ensure_tiny_model()
    copy = shutil.copytree(original, tmp_path / 'copy')
    assert folder_fingerprint(copy) == folder_fingerprint(original)
    weights = next(copy.glob('*.safetensors'))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one changed byte of the last tensor
    weights.write_bytes(bytes(data))
    assert folder_fingerprint(copy) != folder_fingerprint(original)


def test_a_run_names_its_model_settings_prompt_and_seed(tmp_path, tiny_model_cache):
    values = settings.complete({'model.backend': 'transformers',
                                'model.path': str(ensure_tiny_model())})
    identity = run_identity(values, seed=3)
    assert identity['model']['backend'] == 'transformers'
    assert len(identity['model']['fingerprint']) == 64
    assert identity['settings']['keyframes.max_count'] == values['keyframes.max_count']
    assert 'model.device' not in identity['settings']  # where it runs changes no answer
    assert identity['prompt']['question'] and identity['seed'] == 3
    changed = [run_identity({**values, 'strategy.scoring': 'likelihood'}, seed=3),
               run_identity(values, seed=4), run_identity(values, seed=3, blank_frames=True)]
    assert len({run_id(identity), *map(run_id, changed)}) == 4
    assert run_id(run_identity(dict(values), seed=3)) == run_id(identity)
    served = settings.complete({'model.backend': 'openai', 'model.url': 'http://h:8000/v1'})
    assert run_identity(served)['model'] == {'backend': 'openai', 'url': 'http://h:8000/v1',
                                             'served_model': ''}


def test_two_evaluations_cannot_write_one_folder(tmp_path, tiny_model_cache):
    run = Evaluation([MemoryDataset('mem', 1)], ['tiny'], ['base'], tmp_path)
    with folder_lock(tmp_path):
        with pytest.raises(ResultsError, match=r'being written by vlm-planner \(pid \d+'):
            run.run(progress=False)
    assert len(run.run(progress=False)) == 1  # free again once the holder is done


def test_self_consistency_repeats_its_samples_on_a_rerun(tmp_path, tiny_model_cache):
    overrides = {'strategy.samples': 4, 'strategy.max_new_tokens': 3,
                 'strategy.temperature': 1.5}

    def votes(folder, seed):
        records = Evaluation([MemoryDataset('mem', 3)], ['tiny'], ['consistency'], folder,
                             overrides=overrides, seed=seed).run(progress=False)
        return [(r['votes'], r['scores'], r['seed']) for r in records]

    first = votes(tmp_path / 'a', 0)
    assert votes(tmp_path / 'b', 0) == first
    assert [seed for _, _, seed in votes(tmp_path / 'c', 1)] != [seed for _, _, seed in first]


def test_report_rerenders_the_report_and_writes_a_csv(tmp_path, tiny_model_cache, capsys):
    Evaluation([MemoryDataset('mem', 3)], ['tiny'], ['base'], tmp_path).run(progress=False)
    Evaluation([MemoryDataset('mem', 3)], ['tiny'], ['base'], tmp_path,
               overrides={'keyframes.max_count': 2}).run(progress=False)
    assert main(['report', str(tmp_path)]) == 0
    report = (tmp_path / 'report.md').read_text()
    with open(tmp_path / 'results.csv', newline='') as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and {row['item_id'] for row in rows} == {'item0', 'item1', 'item2'}
    assert all(row['predicted_label'] in row['candidates'].split(' | ') for row in rows)
    assert all(row['answer_label'] == row['candidates'].split(' | ')[int(row['answer'])]
               for row in rows)
    # Two runs of one model: the report names each by its run.
    runs = {row['run'] for row in rows}
    assert len(runs) == 2 and all(f'tiny-qwen2_5_vl@{run}' in report for run in runs)


def test_report_of_an_empty_folder_says_what_to_do(tmp_path, capsys):
    assert main(['report', str(tmp_path)]) != 0
    assert 'vlm-planner eval' in capsys.readouterr().err


def test_a_parameter_file_sets_the_runs_settings(tmp_path, tiny_model_cache):
    from test.eval.test_eval_cli import annotated_recording
    recording = annotated_recording(tmp_path / 'rec', 'sqlite3', 2)
    out = tmp_path / 'out'
    preset = tmp_path / 'preset.yaml'
    preset.write_text('/**/vlm_planner:\n  ros__parameters:\n    strategy:\n'
                      '      scoring: likelihood\n    keyframes:\n      max_count: 3\n')
    assert main(['eval', '--quiet', '--data', str(recording), '--model', 'tiny', '--out',
                 str(out), '--params', str(preset), '-p', 'keyframes.max_count:=2']) == 0
    runs = json.loads((out / 'runs.json').read_text())
    (identity,) = runs.values()
    assert identity['name'] == 'tiny-qwen2_5_vl' and identity['model']['backend'] == 'tiny'
    assert identity['settings']['strategy.scoring'] == 'likelihood'
    assert identity['settings']['keyframes.max_count'] == 2  # -p wins over the file
    records = [json.loads(line) for line in (out / 'results.jsonl').read_text().splitlines()]
    assert all(r['answer_method'] == 'scored' and r['domain'] == '' for r in records)
