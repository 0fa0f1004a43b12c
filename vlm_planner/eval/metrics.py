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

"""Metrics over evaluation result records: accuracy, its uncertainty, biases and comparisons.

Every function here is pure and takes the records of ``results.jsonl`` as plain dicts (one per
dataset, model, strategy and item). The fields read are ``dataset``, ``item_id``, ``task``,
``model``, ``strategy``, ``candidates``, ``candidate_verbs``, ``candidate_nouns``, ``answer``,
``predicted``, ``correct``, ``invalid_answers``, ``latency_s``, ``tokens`` and ``untrained``.
A ``predicted`` of None (the planner chose no action) counts as wrong and as naming no candidate.

Statistics used:

* accuracy comes with a Wilson score 95% interval, which stays inside [0, 1] and is reliable for
  small samples and for accuracies near 0 or 1, unlike the normal approximation;
* answer-position bias is a chi-square goodness-of-fit test of the positions a model picked
  against *uniform choice among each item's candidates* (the null hypothesis "the position of an
  option does not matter to the model"). Items with different numbers of candidates are handled
  by summing each item's 1/k share over its k positions. The distribution of correct positions
  is reported next to it, with its own test against uniform, because on a data set whose answers
  are not balanced an accurate model also departs from uniform;
* two systems are compared on the items both answered with the exact McNemar test (a two-sided
  binomial test on the discordant pairs), and the p-values of all comparisons returned by one
  call of :func:`paired_comparison` are Holm-corrected as one family.
"""

from __future__ import annotations

from collections import Counter, defaultdict
import dataclasses
import itertools
import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

Record = Mapping[str, Any]

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054
#: Family-wise error rate for the Holm correction.
ALPHA = 0.05
#: Confusion-matrix label for a predicted index that names no candidate.
NO_ANSWER = '(no valid answer)'


@dataclasses.dataclass(frozen=True)
class PositionBias:
    """Which answer positions (A, B, ...) a model picks, against which positions are correct.

    ``p_value`` tests ``predicted_counts`` against ``expected_counts`` (uniform choice among each
    item's candidates); ``answer_p_value`` tests ``answer_counts`` against the same expectation,
    so a small value there means the data set itself is unbalanced. Both are None when there are
    fewer than two positions to compare.
    """

    predicted_counts: tuple[int, ...]  # per position, over predictions that name a candidate
    answer_counts: tuple[int, ...]  # per position: where the correct answer was
    expected_counts: tuple[float, ...]  # per position under uniform choice
    out_of_range: int  # predictions that name no candidate
    chi2: float | None
    dof: int
    p_value: float | None
    answer_p_value: float | None

    @property
    def predicted_share(self) -> tuple[float, ...]:
        """Fraction of the in-range predictions at each position."""
        return _shares(self.predicted_counts)

    @property
    def answer_share(self) -> tuple[float, ...]:
        """Fraction of the correct answers at each position."""
        return _shares(self.answer_counts)


@dataclasses.dataclass(frozen=True)
class GroupSummary:
    """The headline metrics of one (model, strategy) over all its records."""

    model: str
    strategy: str
    n: int
    correct: int
    accuracy: float
    ci_low: float  # Wilson 95% interval of the accuracy
    ci_high: float
    chance: float  # expected accuracy of uniform guessing, the mean of 1/k over items
    verb_n: int  # items whose correct candidate carries a verb
    verb_accuracy: float | None  # None when verb_n == 0
    noun_n: int
    noun_accuracy: float | None
    invalid_rate: float  # fraction of decisions with at least one invalid answer
    invalid_mean: float  # mean number of invalid answers per decision
    latency_p50: float | None  # seconds; None without latencies
    latency_p95: float | None
    latency_mean: float | None
    tokens_mean: float | None  # generated tokens per decision
    position_bias: PositionBias
    untrained: bool  # any record came from an untrained (random-weight) model


@dataclasses.dataclass(frozen=True)
class AccuracyRow:
    """Accuracy of one (model, strategy) on the records sharing one value of a field."""

    key: str  # the field grouped by, e.g. 'task' or 'dataset'
    value: str
    model: str
    strategy: str
    n: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A paired comparison of two systems, A and B, on the items both answered.

    For ``kind == 'strategy'`` A and B are strategies of the model ``fixed``; for
    ``kind == 'model'`` they are models run with the strategy ``fixed``.
    """

    kind: str  # 'strategy' or 'model'
    fixed: str
    a: str
    b: str
    n: int  # items both answered
    both_right: int
    only_a: int  # A right, B wrong
    only_b: int
    both_wrong: int
    accuracy_a: float
    accuracy_b: float
    difference: float  # accuracy_a - accuracy_b
    p_value: float  # exact McNemar, two-sided
    p_holm: float  # Holm-adjusted over all comparisons of the call
    significant: bool  # p_holm <= ALPHA


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial proportion.

    Args:
        successes: number of successes, 0 <= successes <= n.
        n: number of trials, at least 1.
        z: normal quantile of the interval (1.96 for 95%).

    Returns:
        (low, high), both within [0, 1], with low <= successes / n <= high.

    Raises:
        ValueError: when n < 1 or successes is outside [0, n].
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f'need 0 <= successes <= n and n >= 1, got {successes}/{n}')
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At 0 or n successes rounding can put a bound a hair past p; a plot's error bar would
    # then be negative, so the bounds are held on their side of p.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Return the two-sided exact McNemar p-value for the two discordant counts.

    Under the null hypothesis each discordant pair goes either way with probability 1/2, so the
    p-value is twice the binomial tail of the smaller count, capped at 1; no discordant pair
    gives 1.
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1))
    return min(1.0, 2.0 * tail / 2.0 ** n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Return Holm step-down adjusted p-values, in the order given (monotone, capped at 1)."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def chi2_sf(x: float, dof: int) -> float:
    """Return P(X >= x) for a chi-square variable X with integer ``dof`` >= 1 degrees of freedom.

    Uses the closed forms of the regularised upper incomplete gamma function at half-integers.
    """
    if dof < 1:
        raise ValueError(f'degrees of freedom must be >= 1, got {dof}')
    if x <= 0:
        return 1.0
    half = x / 2.0
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    total = math.erfc(math.sqrt(half))
    term = math.sqrt(half) / math.gamma(1.5)
    for i in range((dof - 1) // 2):
        total += math.exp(-half) * term
        term *= half / (i + 1.5)
    return min(1.0, total)


def summarize(records: Iterable[Record]) -> list[GroupSummary]:
    """Return one summary per (model, strategy), sorted by model then strategy."""
    groups = _group(records, lambda r: (str(r['model']), str(r['strategy'])))
    return [_summary(model, strategy, rows) for (model, strategy), rows in sorted(groups.items())]


def accuracy_by(records: Iterable[Record], key: str) -> list[AccuracyRow]:
    """Return accuracy per value of the field ``key`` (e.g. 'task', 'dataset') and system.

    Rows are sorted by value, then model, then strategy.
    """
    groups = _group(records, lambda r: (str(r.get(key, '')), str(r['model']),
                                        str(r['strategy'])))
    rows = []
    for (value, model, strategy), members in sorted(groups.items()):
        correct = sum(bool(r['correct']) for r in members)
        low, high = wilson_interval(correct, len(members))
        rows.append(AccuracyRow(key, value, model, strategy, len(members), correct,
                                correct / len(members), low, high))
    return rows


def confusion(records: Iterable[Record], model: str,
              strategy: str) -> tuple[list[str], list[list[int]]]:
    """Return the confusion between correct and chosen action labels of one system.

    Args:
        records: result records; only those of ``model`` and ``strategy`` count.
        model: the model name.
        strategy: the strategy name.

    Returns:
        ``(labels, matrix)`` where ``matrix[i][j]`` counts items whose correct action was
        ``labels[i]`` and whose chosen action was ``labels[j]``. Labels are ordered by how often
        they occur (as answer or choice), then alphabetically; a prediction naming no candidate
        is labelled :data:`NO_ANSWER`. Both are empty when the system has no record.
    """
    pairs = [(_answer_label(r), _predicted_label(r)) for r in records
             if str(r['model']) == model and str(r['strategy']) == strategy]
    frequency = Counter(label for pair in pairs for label in pair)
    labels = sorted(frequency, key=lambda label: (-frequency[label], label))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for answer, predicted in pairs:
        matrix[index[answer]][index[predicted]] += 1
    return labels, matrix


def paired_comparison(records: Iterable[Record]) -> list[Comparison]:
    """Compare every two strategies of each model and every two models of each strategy.

    Each pair is compared on the items, keyed by (dataset, item_id), that both systems answered;
    pairs with no shared item are left out. If a system has two records for one item the last
    one counts. All returned comparisons form one family for the Holm correction.
    """
    outcomes: dict[tuple[str, str], dict[tuple[str, str], bool]] = defaultdict(dict)
    for r in records:
        system = (str(r['model']), str(r['strategy']))
        outcomes[system][(str(r['dataset']), str(r['item_id']))] = bool(r['correct'])
    raw = []
    for kind, fixed_at, varied_at in (('strategy', 0, 1), ('model', 1, 0)):
        by_fixed: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for system in sorted(outcomes):
            by_fixed[system[fixed_at]].append(system)
        for fixed, systems in sorted(by_fixed.items()):
            for first, second in itertools.combinations(systems, 2):
                counts = _paired_counts(outcomes[first], outcomes[second])
                if sum(counts):
                    raw.append((kind, fixed, first[varied_at], second[varied_at], counts))
    p_values = [mcnemar_exact(counts[1], counts[2]) for *_, counts in raw]
    return [_comparison(*entry, p, p_adj)
            for entry, p, p_adj in zip(raw, p_values, holm(p_values))]


def position_bias(records: Sequence[Record]) -> PositionBias:
    """Return the answer-position bias of a set of records (normally those of one system)."""
    width = max((len(r['candidates']) for r in records), default=0)
    predicted, answers, expected = [0] * width, [0] * width, [0.0] * width
    out_of_range = 0
    for r in records:
        k = len(r['candidates'])
        for position in range(k):
            expected[position] += 1.0 / k
        answers[int(r['answer'])] += 1
        if _in_range(r):
            predicted[int(r['predicted'])] += 1
        else:
            out_of_range += 1
    in_range = len(records) - out_of_range
    scale = in_range / len(records) if records else 0.0
    expected_in_range = [e * scale for e in expected]
    chi2, dof, p_value = _goodness_of_fit(predicted, expected_in_range)
    _, _, answer_p = _goodness_of_fit(answers, expected)
    return PositionBias(tuple(predicted), tuple(answers), tuple(expected_in_range), out_of_range,
                        chi2, dof, p_value, answer_p)


def position_letter(position: int) -> str:
    """Return the option letter of a 0-based position: A, B, ..., Z, then 27, 28, ..."""
    return chr(ord('A') + position) if position < 26 else str(position + 1)


def _summary(model: str, strategy: str, records: list[Record]) -> GroupSummary:
    n = len(records)
    correct = sum(bool(r['correct']) for r in records)
    low, high = wilson_interval(correct, n)
    verb_n, verb_acc = _part_accuracy(records, 'candidate_verbs')
    noun_n, noun_acc = _part_accuracy(records, 'candidate_nouns')
    invalid = [int(r.get('invalid_answers') or 0) for r in records]
    latency = _numbers(records, 'latency_s')
    tokens = _numbers(records, 'tokens')
    return GroupSummary(
        model=model, strategy=strategy, n=n, correct=correct, accuracy=correct / n,
        ci_low=low, ci_high=high,
        chance=sum(1.0 / max(1, len(r['candidates'])) for r in records) / n,
        verb_n=verb_n, verb_accuracy=verb_acc, noun_n=noun_n, noun_accuracy=noun_acc,
        invalid_rate=sum(count > 0 for count in invalid) / n, invalid_mean=sum(invalid) / n,
        latency_p50=_percentile(latency, 50), latency_p95=_percentile(latency, 95),
        latency_mean=_mean(latency), tokens_mean=_mean(tokens),
        position_bias=position_bias(records),
        untrained=any(bool(r.get('untrained')) for r in records))


def _part_accuracy(records: Sequence[Record], field: str) -> tuple[int, float | None]:
    """Accuracy of one part (verb or noun) over items whose correct candidate carries it.

    The chosen candidate's part is compared without case or surrounding blanks; a chosen
    candidate without that part, or a prediction naming no candidate, counts as a mismatch.
    """
    n = hits = 0
    for r in records:
        parts = r.get(field) or []
        answer = int(r['answer'])
        if answer >= len(parts) or not _norm(parts[answer]):
            continue
        n += 1
        if _in_range(r) and int(r['predicted']) < len(parts):
            hits += _norm(parts[int(r['predicted'])]) == _norm(parts[answer])
    return n, (hits / n if n else None)


def _paired_counts(a: dict[tuple[str, str], bool],
                   b: dict[tuple[str, str], bool]) -> tuple[int, int, int, int]:
    """(both right, only A, only B, both wrong) over the keys both dicts hold."""
    counts = Counter((a[key], b[key]) for key in a.keys() & b.keys())
    return counts[True, True], counts[True, False], counts[False, True], counts[False, False]


def _comparison(kind: str, fixed: str, a: str, b: str, counts: tuple[int, int, int, int],
                p_value: float, p_holm: float) -> Comparison:
    both_right, only_a, only_b, both_wrong = counts
    n = sum(counts)
    accuracy_a = (both_right + only_a) / n
    accuracy_b = (both_right + only_b) / n
    return Comparison(kind, fixed, a, b, n, both_right, only_a, only_b, both_wrong, accuracy_a,
                      accuracy_b, accuracy_a - accuracy_b, p_value, p_holm, p_holm <= ALPHA)


def _goodness_of_fit(observed: Sequence[int],
                     expected: Sequence[float]) -> tuple[float | None, int, float | None]:
    """Pearson chi-square, its degrees of freedom and p-value over cells with expectation > 0."""
    cells = [(o, e) for o, e in zip(observed, expected) if e > 0]
    dof = len(cells) - 1
    if dof < 1:
        return None, max(dof, 0), None
    chi2 = sum((o - e) ** 2 / e for o, e in cells)
    return chi2, dof, chi2_sf(chi2, dof)


def _group(records: Iterable[Record],
           key: Callable[[Record], tuple[str, ...]]) -> dict[tuple[str, ...], list[Record]]:
    groups: dict[tuple[str, ...], list[Record]] = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    return groups


def _in_range(record: Record) -> bool:
    """Whether the record's prediction names a candidate (None: the planner chose no action)."""
    predicted = record.get('predicted')
    return predicted is not None and 0 <= int(predicted) < len(record['candidates'])


def _answer_label(record: Record) -> str:
    return str(record['candidates'][int(record['answer'])])


def _predicted_label(record: Record) -> str:
    return str(record['candidates'][int(record['predicted'])]) if _in_range(record) else NO_ANSWER


def _norm(text: Any) -> str:
    return ' '.join(str(text or '').lower().split())


def _numbers(records: Iterable[Record], field: str) -> list[float]:
    return [float(r[field]) for r in records if r.get(field) is not None]


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _shares(counts: Sequence[int]) -> tuple[float, ...]:
    total = sum(counts)
    return tuple(c / total if total else 0.0 for c in counts)
