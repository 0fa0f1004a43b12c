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

"""The report on EgoPlan-Bench data: accuracy per EgoPlan-Bench2 domain, published figures."""

from __future__ import annotations

from vlm_planner.eval import metrics, report

CANDIDATES = ['put cereal box into cupboard', 'take cereal bag', 'open cupboard', 'wait']


def record(item_id, correct, dataset='EgoPlan_validation', strategy='base', **fields):
    """A result record as the evaluator writes it, with the item's domain and benchmark."""
    return {'dataset': dataset, 'item_id': str(item_id), 'task': 'baking', 'model': 'qwen',
            'strategy': strategy, 'goal': 'store cereal', 'candidates': CANDIDATES,
            'candidate_verbs': [''] * 4, 'candidate_nouns': [''] * 4, 'answer': 0,
            'predicted': 0 if correct else 1, 'correct': correct, 'invalid_answers': 0,
            'latency_s': 0.5, 'tokens': 1, 'untrained': False, **fields}


def markdown(records):
    return report.render_markdown(records, metrics.summarize(records))


def bench2(item_id, correct, domain):
    return record(item_id, correct, dataset='EgoPlan-Bench2', domain=domain,
                  benchmark='EgoPlan-Bench2')


def test_egoplan_bench2_domains_get_their_own_table():
    records = [bench2(0, True, 'Daily life'), bench2(1, True, 'Daily life'),
               bench2(2, False, 'Daily life'), bench2(3, False, 'Hobbies'),
               bench2(4, True, 'Hobbies'), bench2(5, True, 'Work'),
               record(6, False, dataset='tabletop')]  # a robot recording: no domain
    text = markdown(records)
    table = text.split('## Accuracy per domain')[1].split('## ')[0]
    assert '| domain | model | strategy | n | accuracy [95% CI] |' in table
    assert '| Daily life | qwen | base | 3 | 66.7% [' in table
    assert '| Hobbies | qwen | base | 2 | 50.0% [' in table
    assert '| Work | qwen | base | 1 | 100.0% [' in table
    assert '| tabletop' not in table and '|  |' not in table
    assert '1 decision(s) on items without a domain are left out' in table
    assert text.index('## Accuracy per task') < text.index('## Accuracy per domain') < \
        text.index('## Paired comparisons')

    assert '## Accuracy per domain' not in markdown([record(0, True, dataset='tabletop')])


def test_published_figures_stand_beside_egoplan_bench_results_only():
    egoplan = [record(i, i < 3, benchmark='EgoPlan-Bench') for i in range(4)]
    egoplan += [record(i, i < 1, strategy='cot', benchmark='EgoPlan-Bench') for i in range(4)]
    text = markdown(egoplan + [record(9, True, dataset='tabletop')])
    section = text.split('## EgoPlan-Bench: published reference figures')[1].split('## ')[0]
    assert '| qwen / base | 4 | 75.0% [' in section and '| this evaluation |' in section
    assert '| qwen / cot | 4 | 25.0% [' in section
    assert '| Video-LLaMA (vanilla) | 3,355 | 30.4% | **published**, not measured here |' \
        in section
    assert ('| Video-LLaMA fine-tuned on EgoPlan-IT (EgoPlan-Video-LLaMA) | 3,355 | 44.4% | '
            '**published**, not measured here |') in section
    assert 'arXiv:2312.06722' in section and 'validation set (3,355 questions)' in section
    assert 'This evaluation answered 4 EgoPlan-Bench question(s)' in section
    assert text.index('## Headline') < text.index('## EgoPlan-Bench: published') < \
        text.index('## Accuracy per data set')

    for others in ([record(0, True, dataset='tabletop')],
                   [bench2(0, True, 'Work')]):  # EgoPlan-Bench2 is another benchmark
        text = markdown(others)
        assert 'published' not in text and '30.4%' not in text and '44.4%' not in text
