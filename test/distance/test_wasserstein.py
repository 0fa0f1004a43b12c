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

"""Exact W1 and its bootstrap interval, checked against solutions known by other means."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vlm_planner.distance.wasserstein import bootstrap_w1, w1
from vlm_planner.errors import ConfigError


def points(n, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def brute_force_w1(x, y):
    """For equal-size uniform sets, W1 is the best one-to-one matching's mean distance."""
    cost = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2)
    return min(cost[range(len(x)), list(p)].mean() for p in itertools.permutations(range(len(y))))


def test_w1_of_identical_sets_is_zero():
    x = points(20)
    assert w1(x, x) == 0.0
    assert w1(x, x[::-1].copy()) == 0.0  # order does not matter


def test_w1_is_symmetric():
    x, y = points(12, seed=1), points(9, seed=2) + 0.5
    assert w1(x, y) == pytest.approx(w1(y, x), rel=1e-12)
    assert w1(x, y) > 0


def test_w1_of_a_shifted_copy_is_the_shift_and_grows_with_it():
    x = points(15, d=3)
    direction = np.array([1.0, 2.0, -2.0]) / 3.0  # unit length
    values = [w1(x, x + t * direction) for t in (0.0, 0.1, 0.5, 1.0, 3.0)]
    assert values == pytest.approx([0.0, 0.1, 0.5, 1.0, 3.0], abs=1e-9)
    assert all(a < b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize('n, seed', [(2, 3), (4, 4), (5, 5), (6, 6)])
def test_w1_equals_the_brute_force_matching(n, seed):
    x, y = points(n, d=3, seed=seed), points(n, d=3, seed=seed + 100) * 2.0
    assert w1(x, y) == pytest.approx(brute_force_w1(x, y), rel=1e-9)


def test_w1_of_sets_of_different_sizes_matches_the_one_dimensional_formula():
    from scipy.stats import wasserstein_distance  # a dependency of POT
    x, y = points(7, d=1, seed=7), points(11, d=1, seed=8) + 0.3
    assert w1(x, y) == pytest.approx(wasserstein_distance(x[:, 0], y[:, 0]), rel=1e-9)


@pytest.mark.parametrize('x, y, message', [
    (np.empty((0, 3)), points(2, d=3), 'the first set of embeddings is empty'),
    (points(2, d=3), np.empty((0, 3)), 'the second set of embeddings is empty'),
    (points(3, d=3), points(3, d=4), 'embedding sizes differ: 3 against 4'),
    (np.zeros(3), points(3, d=3), 'must be a 2-D array'),
    (np.full((2, 3), np.nan), points(3, d=3), 'NaN or infinite'),
])
def test_w1_refuses_sets_it_cannot_compare(x, y, message):
    with pytest.raises(ConfigError, match=message):
        w1(x, y)
    with pytest.raises(ConfigError, match=message):
        bootstrap_w1(x, y, 5, 0)


def test_w1_says_when_the_solver_stopped_early():
    with pytest.raises(ConfigError, match='did not finish .* give fewer --samples'):
        w1(points(30, seed=1), points(30, seed=2), max_iterations=1)


def test_bootstrap_returns_the_value_and_a_seeded_interval_around_the_shift():
    x = points(40, d=3, seed=9) * 0.1
    y = x + np.array([10.0, 0.0, 0.0])
    value, low, high = bootstrap_w1(x, y, 50, seed=1)

    assert value == pytest.approx(10.0)
    assert 9.5 < low <= high < 10.5
    assert bootstrap_w1(x, y, 50, seed=1) == (value, low, high)
    assert bootstrap_w1(x, y, 50, seed=2)[1:] != (low, high)


def test_bootstrap_interval_of_a_set_against_itself_starts_at_zero_or_above():
    x = points(10)
    value, low, high = bootstrap_w1(x, x, 30, seed=0)
    assert value == 0.0
    assert 0.0 <= low <= high
    assert high > 0  # independent resamples of the two sides differ


@pytest.mark.parametrize('rounds', [0, -1, 1.5, True])
def test_bootstrap_needs_at_least_one_round(rounds):
    with pytest.raises(ConfigError, match='at least 1 round'):
        bootstrap_w1(points(3), points(3), rounds, 0)
