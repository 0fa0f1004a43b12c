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

"""The whole loop in one process: scene camera -> planner (tiny real model) -> mock manipulator."""

import pytest

pytest.importorskip('rclpy')

from vlm_planner.config_paths import default_actions_file, default_params_file  # noqa: E402
from vlm_planner.core.actions import ActionLibrary  # noqa: E402
from vlm_planner.errors import ConfigError  # noqa: E402
from vlm_planner.ros.runner import run_loop  # noqa: E402


def test_loop_completes_steps_that_change_the_scene(tiny_model_cache):
    labels = ActionLibrary.from_yaml(default_actions_file()).labels
    reported = []
    steps = run_loop(str(default_params_file()), max_steps=2,
                     # Every action succeeds, so that every step changes the scene.
                     overrides={'execution_time': 0.2, 'trigger.settle_time': 0.2,
                                'scene_feedback': False},
                     on_step=reported.append)
    assert [s.number for s in steps] == [1, 2] and reported == steps
    for step in steps:
        assert step.decision['action'] in labels
        assert step.decision['published'] and step.decision['trigger'] == 'trigger'
        assert step.outcome == 'succeeded'
        # The camera applied the executed action before the step was reported.
        assert step.scene['last_action'] == step.decision['action']
        assert step.scene['steps_applied'] == step.number
    assert steps[1].decision['keyframe_stamps'][-1] > steps[0].decision['stamp']


def test_bad_parameter_stops_start_up_with_a_clear_error(tiny_model_cache):
    with pytest.raises(ConfigError, match='strategy.name'):
        run_loop(str(default_params_file()),
                 overrides={'strategy.name': 'telepathy'})
