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

"""Metrics over result records, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from vlm_planner.eval import metrics

ACTIONS = {
    'pick up the red block': ('pick', 'red block'),
    'pick up the blue block': ('pick', 'blue block'),
    'open the drawer': ('open', 'drawer'),
    'wait': ('wait', ''),
}


def record(item_id, answer=0, predicted=0, model='m', strategy='base', dataset='d', task='t',
           candidates=('pick up the red block', 'pick up the blue block', 'open the drawer',
                       'wait'), verbs=True, **extra):
    """A result record as the evaluator writes it."""
    candidates = list(candidates)
    result = {
        'dataset': dataset, 'item_id': str(item_id), 'task': task, 'model': model,
        'strategy': strategy, 'goal': 'tidy up', 'candidates': candidates,
        'candidate_verbs': [ACTIONS.get(c, ('', ''))[0] for c in candidates] if verbs else [],
        'candidate_nouns': [ACTIONS.get(c, ('', ''))[1] for c in candidates] if verbs else [],
        'answer': answer, 'predicted': predicted, 'correct': answer == predicted,
        'confidence': 0.5, 'scores': None, 'votes': None, 'invalid_answers': 0,
        'answer_method': 'scored', 'latency_s': 1.0, 'tokens': 10, 'untrained': False,
    }
    result.update(extra)
    return result


def right_wrong(n_right, n_wrong, **kwargs):
    """n_right correct then n_wrong wrong records (answer 0, wrong pick 2)."""
    return ([record(i, 0, 0, **kwargs) for i in range(n_right)]
            + [record(n_right + i, 0, 2, **kwargs) for i in range(n_wrong)])


def test_wilson_interval_known_values():
    assert metrics.wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert metrics.wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert metrics.wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert metrics.wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    with pytest.raises(ValueError):
        metrics.wilson_interval(0, 0)
    with pytest.raises(ValueError):
        metrics.wilson_interval(3, 2)


@pytest.mark.parametrize('n', range(1, 60))
def test_wilson_interval_brackets_all_or_nothing_exactly(n):
    # Rounding once put the lower bound of 0/3 at 5.6e-17, above the accuracy, and a report's
    # error bar became negative, which matplotlib refuses.
    for successes in (0, n):
        low, high = metrics.wilson_interval(successes, n)
        assert 0.0 <= low <= successes / n <= high <= 1.0


def test_summary_accuracy_and_interval():
    [summary] = metrics.summarize(right_wrong(8, 2))
    assert (summary.model, summary.strategy, summary.n, summary.correct) == ('m', 'base', 10, 8)
    assert summary.accuracy == pytest.approx(0.8)
    assert (summary.ci_low, summary.ci_high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert summary.chance == pytest.approx(0.25)
    assert summary.untrained is False


def test_groups_are_sorted_by_model_then_strategy():
    records = (right_wrong(1, 1, model='b', strategy='cot') + right_wrong(2, 0, model='a')
               + right_wrong(0, 2, model='b', strategy='base'))
    keys = [(s.model, s.strategy, s.accuracy) for s in metrics.summarize(records)]
    assert keys == [('a', 'base', 1.0), ('b', 'base', 0.0), ('b', 'cot', 0.5)]


def test_verb_and_noun_accuracy():
    records = [
        record(1, 0, 0),  # right: verb and noun right
        record(2, 0, 1),  # blue block instead of red: verb right, noun wrong
        record(3, 0, 2),  # open the drawer: both wrong
        record(4, 3, 3),  # 'wait' has no noun: counts for verbs only
        record(5, 0, -1),  # no valid answer: counts as wrong
    ]
    [summary] = metrics.summarize(records)
    assert (summary.verb_n, summary.verb_accuracy) == (5, pytest.approx(3 / 5))
    assert (summary.noun_n, summary.noun_accuracy) == (4, pytest.approx(1 / 4))


def test_verb_accuracy_is_none_without_verbs():
    records = [record(1, 0, 0, verbs=False), record(2, 0, 1, verbs=False)]
    del records[1]['candidate_verbs']
    records[1]['candidate_nouns'] = None
    [summary] = metrics.summarize(records)
    assert (summary.verb_n, summary.verb_accuracy) == (0, None)
    assert (summary.noun_n, summary.noun_accuracy) == (0, None)
    assert summary.accuracy == 0.5


def test_invalid_rate_latency_and_tokens():
    records = [record(i, latency_s=float(i + 1), tokens=10 * (i + 1),
                      invalid_answers=[0, 0, 3, 0, 1, 0, 0, 0, 0, 0][i]) for i in range(10)]
    [summary] = metrics.summarize(records)
    assert summary.invalid_rate == pytest.approx(0.2)
    assert summary.invalid_mean == pytest.approx(0.4)
    assert summary.latency_p50 == pytest.approx(5.5)
    assert summary.latency_p95 == pytest.approx(9.55)  # linear between 9 and 10
    assert summary.latency_mean == pytest.approx(5.5)
    assert summary.tokens_mean == pytest.approx(55.0)


def test_missing_latency_and_tokens_give_none():
    [summary] = metrics.summarize([record(1, latency_s=None, tokens=None)])
    assert summary.latency_p50 is None and summary.latency_p95 is None
    assert summary.tokens_mean is None


def test_position_bias_detects_always_a():
    records = [record(i, answer=i % 4, predicted=0) for i in range(40)]
    bias = metrics.summarize(records)[0].position_bias
    assert bias.predicted_counts == (40, 0, 0, 0)
    assert bias.answer_counts == (10, 10, 10, 10)
    assert bias.expected_counts == pytest.approx((10, 10, 10, 10))
    assert bias.dof == 3
    assert bias.chi2 == pytest.approx(120.0)  # (30^2 + 3 * 10^2) / 10
    assert bias.p_value < 1e-20
    assert bias.answer_p_value == pytest.approx(1.0)
    assert bias.predicted_share == (1.0, 0.0, 0.0, 0.0)


def test_position_bias_of_a_balanced_model_is_not_significant():
    records = [record(i, answer=i % 4, predicted=(i + i // 4) % 4) for i in range(40)]
    bias = metrics.position_bias(records)
    assert bias.predicted_counts == (10, 10, 10, 10)
    assert bias.chi2 == pytest.approx(0.0)
    assert bias.p_value == pytest.approx(1.0)


def test_position_bias_with_varying_candidates_and_invalid_picks():
    two = ('open the drawer', 'wait')
    records = [record(1, 0, 0, candidates=two), record(2, 1, 1, candidates=two),
               record(3, 0, 3), record(4, 2, -1)]
    bias = metrics.position_bias(records)
    assert bias.predicted_counts == (1, 1, 0, 1)
    assert bias.out_of_range == 1
    # Expected per position: two items of 2 options, two of 4, scaled by 3 valid picks out of 4.
    assert bias.expected_counts == pytest.approx(tuple(0.75 * e for e in (1.5, 1.5, 0.5, 0.5)))


def test_position_bias_with_one_candidate_has_no_test():
    bias = metrics.position_bias([record(1, 0, 0, candidates=('wait',))])
    assert (bias.chi2, bias.p_value, bias.answer_p_value) == (None, None, None)


@pytest.mark.parametrize('x, dof', [(3.841458820694124, 1), (5.991464547107979, 2),
                                    (7.814727903251179, 3), (9.487729036781154, 4),
                                    (11.070497693516351, 5)])
def test_chi2_survival_at_critical_values(x, dof):
    assert metrics.chi2_sf(x, dof) == pytest.approx(0.05, abs=1e-9)


def test_chi2_survival_edges():
    assert metrics.chi2_sf(0.0, 3) == 1.0
    assert metrics.chi2_sf(1.0, 1) == pytest.approx(math.erfc(math.sqrt(0.5)))
    with pytest.raises(ValueError):
        metrics.chi2_sf(1.0, 0)


def test_confusion_counts():
    records = [record(1, 0, 0), record(2, 0, 1), record(3, 0, 1), record(4, 2, 2),
               record(5, 2, -1), record(6, 0, 0, strategy='other')]
    labels, matrix = metrics.confusion(records, 'm', 'base')
    assert labels == ['pick up the red block', 'open the drawer', 'pick up the blue block',
                      metrics.NO_ANSWER]
    assert matrix == [[1, 0, 2, 0],
                      [0, 1, 0, 1],
                      [0, 0, 0, 0],
                      [0, 0, 0, 0]]
    assert sum(map(sum, matrix)) == 5


def test_confusion_of_unknown_system_is_empty():
    assert metrics.confusion([record(1)], 'nobody', 'base') == ([], [])


def test_mcnemar_exact_by_hand():
    # 12 discordant pairs split 10 / 2: p = 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12.
    assert metrics.mcnemar_exact(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert metrics.mcnemar_exact(2, 10) == metrics.mcnemar_exact(10, 2)
    assert metrics.mcnemar_exact(0, 0) == 1.0
    assert metrics.mcnemar_exact(5, 5) == 1.0
    assert metrics.mcnemar_exact(6, 0) == pytest.approx(2 / 64)


def test_holm_correction():
    assert metrics.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert metrics.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert metrics.holm([]) == []


def strategy_pair(only_a, only_b, both_right=0, both_wrong=0):
    """Records of model 'm' with strategies 'a' and 'b' and the given paired outcomes."""
    outcomes = ([(True, False)] * only_a + [(False, True)] * only_b
                + [(True, True)] * both_right + [(False, False)] * both_wrong)
    records = []
    for i, (a, b) in enumerate(outcomes):
        records.append(record(i, 0, 0 if a else 1, strategy='a'))
        records.append(record(i, 0, 0 if b else 1, strategy='b'))
    return records


def test_paired_comparison_of_strategies():
    records = strategy_pair(10, 2, both_right=5, both_wrong=3)
    records.append(record('only-in-a', 0, 0, strategy='a'))  # not shared: left out
    records.append(record('0', 0, 1, strategy='b', dataset='elsewhere'))  # another item
    [c] = metrics.paired_comparison(records)
    assert (c.kind, c.fixed, c.a, c.b) == ('strategy', 'm', 'a', 'b')
    assert (c.n, c.both_right, c.only_a, c.only_b, c.both_wrong) == (20, 5, 10, 2, 3)
    assert c.accuracy_a == pytest.approx(15 / 20)
    assert c.accuracy_b == pytest.approx(7 / 20)
    assert c.difference == pytest.approx(0.4)
    assert c.p_value == pytest.approx(2 * 79 / 4096)
    assert c.p_holm == c.p_value
    assert c.significant


def test_paired_comparison_models_and_holm_family():
    first = strategy_pair(10, 2)
    second = [dict(r, model='n', correct=True, predicted=0) for r in first]
    comparisons = metrics.paired_comparison(first + second)
    kinds = [(c.kind, c.fixed, c.a, c.b) for c in comparisons]
    assert kinds == [('strategy', 'm', 'a', 'b'), ('strategy', 'n', 'a', 'b'),
                     ('model', 'a', 'm', 'n'), ('model', 'b', 'm', 'n')]
    by_kind = {k: c for k, c in zip(kinds, comparisons)}
    assert by_kind['strategy', 'n', 'a', 'b'].p_value == 1.0  # no discordant pair
    model_a = by_kind['model', 'a', 'm', 'n']
    assert (model_a.only_a, model_a.only_b) == (0, 2)
    assert model_a.p_value == pytest.approx(0.5)
    model_b = by_kind['model', 'b', 'm', 'n']
    assert (model_b.only_b, model_b.p_value) == (10, pytest.approx(2 / 1024))
    # Holm over the four tests: the smallest p times 4, the next times 3, then times 2 and 1.
    assert model_b.p_holm == pytest.approx(4 * 2 / 1024)
    assert by_kind['strategy', 'm', 'a', 'b'].p_holm == pytest.approx(3 * 2 * 79 / 4096)
    assert model_a.p_holm == 1.0
    assert [c.significant for c in comparisons] == [False, False, False, True]


def test_all_correct_systems_are_not_different():
    records = right_wrong(6, 0, strategy='a') + right_wrong(6, 0, strategy='b')
    [c] = metrics.paired_comparison(records)
    assert (c.both_right, c.only_a, c.only_b, c.difference) == (6, 0, 0, 0.0)
    assert (c.p_value, c.p_holm, c.significant) == (1.0, 1.0, False)
    for summary in metrics.summarize(records):
        assert (summary.accuracy, summary.ci_high) == (1.0, 1.0)


def test_accuracy_by_task_and_dataset():
    records = (right_wrong(3, 1, task='tea') + [record(10, 0, 2, task='tidy', dataset='e')])
    by_task = metrics.accuracy_by(records, 'task')
    assert [(r.value, r.n, r.correct, r.accuracy) for r in by_task] == [
        ('tea', 4, 3, 0.75), ('tidy', 1, 0, 0.0)]
    assert by_task[0].key == 'task'
    assert (by_task[0].ci_low, by_task[0].ci_high) == metrics.wilson_interval(3, 4)
    by_dataset = metrics.accuracy_by(records, 'dataset')
    assert [(r.value, r.n) for r in by_dataset] == [('d', 4), ('e', 1)]


def test_empty_input():
    assert metrics.summarize([]) == []
    assert metrics.accuracy_by([], 'task') == []
    assert metrics.confusion([], 'm', 'base') == ([], [])
    assert metrics.paired_comparison([]) == []
    assert metrics.position_bias([]).p_value is None


def test_single_group_has_no_comparison():
    records = right_wrong(3, 2)
    assert len(metrics.summarize(records)) == 1
    assert metrics.paired_comparison(records) == []


def test_untrained_flag_and_iterables():
    records = right_wrong(1, 1, untrained=True)
    [summary] = metrics.summarize(iter(records))
    assert summary.untrained is True


def test_position_letters():
    assert [metrics.position_letter(i) for i in (0, 1, 25, 26)] == ['A', 'B', 'Z', '27']
