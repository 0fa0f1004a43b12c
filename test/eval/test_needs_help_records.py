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

"""Tests that a decision with no action (the model named no candidate) is scored, never crashes."""

import json

import numpy as np

from test.core.scripted_backend import ScriptedBackend
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.core.frames import Frame
from vlm_planner.core.planner import Planner
from vlm_planner.core.strategies import StrategyConfig, make_strategy
from vlm_planner.data.items import EvalItem
from vlm_planner.eval import metrics
from vlm_planner.eval.report import write_report
from vlm_planner.eval.runner import result_record

ACTIONS = (Action('pick up the red block', 'pick', 'red block'),
           Action('put the held block in the bin', 'put', 'held block'), Action('wait'))


def records(replies):
    """Evaluate one item per reply with chain of thought; return their result records."""
    frames = (Frame(np.zeros((8, 8, 3), np.uint8), 0.0),)
    out = []
    for i, reply in enumerate(replies):
        item = EvalItem('d', str(i), 't', 'tidy up', ACTIONS, 1, frames, 0.0)
        planner = Planner(ScriptedBackend(probs=[0.1, 0.8, 0.1], replies=[reply]),
                          ActionLibrary(ACTIONS), make_strategy(StrategyConfig(name='cot')))
        decision = planner.decide(item.goal, item.frames, [a.label for a in item.candidates])
        out.append(json.loads(json.dumps(result_record(item, 'scripted', decision))))
    return out


def test_a_needs_help_decision_counts_as_wrong_and_as_naming_no_candidate(tmp_path):
    results = records(['Answer: (B)', 'do NOT put the held block in the bin',
                       'pick up the yellow block'])
    assert [r['predicted'] for r in results] == [1, None, None]
    assert [r['needs_help'] for r in results] == [False, True, True]
    assert [r['correct'] for r in results] == [True, False, False]
    [summary] = metrics.summarize(results)
    assert summary.n == 3 and summary.correct == 1
    assert summary.invalid_rate == 2 / 3
    assert summary.position_bias.out_of_range == 2
    assert summary.verb_n == 3 and summary.verb_accuracy == 1 / 3
    labels, matrix = metrics.confusion(results, 'scripted', 'cot')
    assert matrix[labels.index('put the held block in the bin')][
        labels.index(metrics.NO_ANSWER)] == 2
    report = write_report(results, tmp_path)
    assert 'scripted' in report.read_text()
