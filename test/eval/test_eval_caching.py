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

"""An evaluation over a real rosbag2 recording predicts the same with and without the caches.

The decision points of one recording share keyframes, so the evaluator's backend prepares and
encodes each keyframe once and reuses prompt prefixes (self-reflection's second pass repeats the
first); the predictions must not change.
"""

from __future__ import annotations

import numpy as np

from test.eval.test_eval_cli import annotated_recording
from vlm_planner.data.episodes import load_dataset
from vlm_planner.eval.runner import Evaluation
from vlm_planner.models.factory import load_backend


class KeepingLoader:
    """Loads backends as the evaluator does and keeps them for inspection."""

    def __init__(self):
        self.backends = []

    def __call__(self, config):
        self.backends.append(load_backend(config))
        return self.backends[-1]


def evaluate(recording, out, **overrides):
    loader = KeepingLoader()
    records = Evaluation([load_dataset(recording)], ['tiny'], ['base', 'reflect'], out,
                         overrides=overrides, backend_loader=loader).run(progress=False)
    return {(r['item_id'], r['strategy']): r for r in records}, loader.backends[0]


def test_predictions_are_identical_with_and_without_the_caches(tmp_path, tiny_model_cache):
    recording = annotated_recording(tmp_path / 'rec', 'sqlite3', 6)
    cached, backend = evaluate(recording, tmp_path / 'cached')
    fresh, _ = evaluate(recording, tmp_path / 'fresh', **{'model.keyframe_cache': False})

    assert cached.keys() == fresh.keys() and len(cached) == 12
    for key, record in cached.items():
        assert record['predicted'] == fresh[key]['predicted'], key
        np.testing.assert_allclose(record['scores'], fresh[key]['scores'], rtol=0, atol=1e-5)
    # The caches were used: keyframes shared between items, reflection's second pass reused.
    assert backend._preparer.units.hits > 0
    assert any(r['stages']['reused_tokens'] > 0 for r in cached.values())
    assert all(r['stages']['reused_tokens'] == 0 for r in fresh.values())
