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

"""Driving an arm from the planner's action labels: the pure-Python part of the skill bridge.

:mod:`.config` loads and validates a **skills file**
(:func:`~vlm_planner.skills.config.load_skills`): which joints move, their limits, named poses,
and the steps of each action label.
:mod:`.motion` times each step within the joints' velocity limits, samples its trajectory, and
checks that the joints arrived. See docs/arm.md.

Nothing here imports rclpy; the ROS node that sends the trajectories builds on these modules.
"""
