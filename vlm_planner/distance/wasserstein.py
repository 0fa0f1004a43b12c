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

"""Exact Wasserstein-1 distance between two sets of embeddings, with a bootstrap interval.

Each set is an empirical distribution: every row (one embedding) weighs the same. The ground cost
is the Euclidean distance between rows (``ot.dist(..., metric='euclidean')``, computed by SciPy's
``cdist``) and the optimal transport problem is solved exactly by POT's network simplex
(``ot.emd2``), so the value is the Wasserstein-1 (earth mover's) distance of the two
distributions, in the embeddings' own units.

:func:`bootstrap_w1` adds a percentile interval: both sets are resampled with replacement and
W1 recomputed, each resample expressed as weights (how often each row was drawn) on the one cost
matrix of the full sets, which is the same problem as transporting the resampled rows.
"""

from __future__ import annotations

from typing import Sequence
import warnings

import numpy as np
import ot  # type: ignore[import-untyped]  # POT ships no type information

from vlm_planner.errors import ConfigError

#: Upper bound on network-simplex iterations; far above what a few thousand points need.
MAX_ITERATIONS = 10_000_000

#: Coverage of the bootstrap interval (a percentile interval: 2.5 % and 97.5 %).
CONFIDENCE = 0.95


def w1(x: np.ndarray, y: np.ndarray, *, max_iterations: int = MAX_ITERATIONS) -> float:
    """Return the exact Wasserstein-1 distance of two sets of embeddings (uniform weights).

    Args:
        x: ``n x d`` array, one embedding per row.
        y: ``m x d`` array of the same width ``d``.
        max_iterations: network-simplex iteration limit.

    Raises:
        ConfigError: a set is empty or not 2-D, the widths differ, a value is not finite, or the
            solver stopped at ``max_iterations`` before reaching the optimum.
    """
    x, y = checked_pair(x, y)
    return _transport(_uniform(len(x)), _uniform(len(y)), _cost(x, y), max_iterations)


def bootstrap_w1(x: np.ndarray, y: np.ndarray, rounds: int,
                 seed: int | Sequence[int]) -> tuple[float, float, float]:
    """Return W1 of ``x`` and ``y`` with a bootstrap percentile interval.

    Each round draws ``len(x)`` rows of ``x`` and ``len(y)`` rows of ``y`` with replacement and
    computes W1 of the draws; the interval holds the middle :data:`CONFIDENCE` of those values.

    Args:
        x: ``n x d`` array, one embedding per row.
        y: ``m x d`` array of the same width.
        rounds: number of resamples, at least 1.
        seed: seed of the resampling (an int, or ints for ``numpy.random.default_rng``).

    Returns:
        ``(value, low, high)``: W1 of the full sets and the interval's bounds.

    Raises:
        ConfigError: ``rounds`` is below 1, or see :func:`w1`.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f'the bootstrap needs at least 1 round, got {rounds!r}; give '
                          '--bootstrap 1 or more (or 0 to skip the interval).')
    x, y = checked_pair(x, y)
    cost = _cost(x, y)
    value = _transport(_uniform(len(x)), _uniform(len(y)), cost, MAX_ITERATIONS)
    rng = np.random.default_rng(seed)
    values = np.empty(rounds)
    for i in range(rounds):
        a = np.bincount(rng.integers(len(x), size=len(x)), minlength=len(x)) / len(x)
        b = np.bincount(rng.integers(len(y), size=len(y)), minlength=len(y)) / len(y)
        values[i] = _transport(a, b, cost, MAX_ITERATIONS)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return value, float(low), float(high)


def checked_pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``x`` and ``y`` as float64 arrays after checking they can be compared.

    Raises:
        ConfigError: a set is empty or not 2-D, the widths differ, or a value is not finite.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    for name, array in (('first', x), ('second', y)):
        if array.ndim != 2:
            raise ConfigError(f'the {name} set of embeddings must be a 2-D array (one embedding '
                              f'per row), got shape {array.shape}.')
        if len(array) == 0:
            raise ConfigError(f'the {name} set of embeddings is empty; W1 needs at least one '
                              'embedding on each side (does the data set hold any item?).')
        if not np.isfinite(array).all():
            raise ConfigError(f'the {name} set of embeddings holds NaN or infinite values; the '
                              'embedder produced invalid output.')
    if x.shape[1] != y.shape[1]:
        raise ConfigError(f'embedding sizes differ: {x.shape[1]} against {y.shape[1]}; both sets '
                          'must come from the same embedder.')
    return x, y


def _uniform(count: int) -> np.ndarray:
    return np.full(count, 1.0 / count)


def _cost(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # SciPy's cdist subtracts before squaring, so equal rows are exactly 0 apart (the default
    # expansion |x|^2 + |y|^2 - 2xy leaves rounding noise of about 1e-8).
    return ot.dist(x, y, metric='euclidean', backend='scipy')


def _transport(a: np.ndarray, b: np.ndarray, cost: np.ndarray, max_iterations: int) -> float:
    """The optimal transport cost of weights ``a`` to ``b`` under ``cost``."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # reported below, as an error
        value, log = ot.emd2(a, b, cost, numItermax=max_iterations, log=True)
    if log.get('warning') is not None:
        raise ConfigError(f'the exact optimal transport did not finish ({log["warning"]}) on '
                          f'{cost.shape[0]} x {cost.shape[1]} points; give fewer --samples.')
    return max(0.0, float(value))
