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

"""Run the planner, an arm and the scene camera in one process (for pip-only installs).

The arm is the mock manipulator, or (``arm='bridge'``) the skill bridge driving the simulated
joint controller. ``ros2 launch vlm_planner planner.launch.py`` starts the same nodes as separate
processes; this module is what ``vlm-planner run`` and ``vlm-planner demo`` use where the launch
tools are absent. Both read the same ROS parameter file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
import threading
from typing import Callable

from rclpy.node import Node
from std_msgs.msg import String

from vlm_planner.errors import ConfigError
from vlm_planner.ros.process import ros_process
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS

TERMINAL_STATUSES = ('succeeded', 'failed')
#: The arms run_loop can start: the mock manipulator, or the skill bridge with a simulated arm.
ARMS = ('mock', 'bridge')
#: Seconds between an action's outcome and reading the scene it produced.
SCENE_SETTLE_S = 0.3


@dataclasses.dataclass
class Step:
    """One decision of a run and what became of it."""

    number: int
    decision: dict
    outcome: str = ''  # manipulator status after the action, '' while executing
    scene: dict | None = None  # scene/status after the action, when a scene camera runs


class LoopMonitor(Node):
    """Follows decisions, manipulator outcomes and the scene, and says when a run is over."""

    def __init__(self, *, max_steps: int = 0, on_step: Callable[[Step], None] | None = None,
                 **kwargs) -> None:
        """Stop after ``max_steps`` completed steps (0: never) or when the scene's goal holds."""
        super().__init__('loop_monitor', **kwargs)
        self.max_steps = max_steps
        self.on_step = on_step or (lambda step: None)
        self.steps: list[Step] = []  # every published decision
        self.reported: list[Step] = []  # steps whose outcome and scene are known
        self.scene: dict | None = None
        self.done = threading.Event()
        self._unreported: list[tuple[float, Step]] = []  # (report time, step), in order
        self.create_timer(0.05, self._report)
        self.create_subscription(String, 'decision', self._on_decision, COMMAND_QOS)
        self.create_subscription(String, 'manipulator/status', self._on_status, LATCHED_QOS)
        self.create_subscription(String, 'scene/status', self._on_scene, LATCHED_QOS)

    @property
    def goal_reached(self) -> bool:
        """Whether the scene camera reports the goal as satisfied."""
        return bool(self.scene and self.scene.get('satisfied'))

    def _on_decision(self, msg: String) -> None:
        record = json.loads(msg.data)
        if record.get('published'):
            self.steps.append(Step(len(self.steps) + 1, record))

    def _on_status(self, msg: String) -> None:
        pending = self.steps[-1] if self.steps and not self.steps[-1].outcome else None
        if pending is not None and msg.data in TERMINAL_STATUSES:
            pending.outcome = msg.data
            # The scene applies the action on this same status message; let its update arrive.
            self._unreported.append((self._now() + SCENE_SETTLE_S, pending))

    def _report(self) -> None:
        while self._unreported and self._unreported[0][0] <= self._now():
            _, step = self._unreported.pop(0)
            step.scene = self.scene
            self.reported.append(step)
            self.on_step(step)
            if self.goal_reached or (self.max_steps and step.number >= self.max_steps):
                self.done.set()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_scene(self, msg: String) -> None:
        self.scene = json.loads(msg.data)
        if self.goal_reached and not self.steps:
            self.done.set()  # nothing to do: the goal holds from the start


def ros_arguments(params_file: str | None, *, namespace: str = '', log_level: str = 'info',
                  overrides: dict[str, object] | None = None) -> list[str]:
    """Build the ``--ros-args`` list that applies to every node of the process."""
    args = ['--ros-args', '--log-level', log_level]
    if params_file:
        args += ['--params-file', str(params_file)]
    if namespace:
        args += ['-r', f'__ns:=/{namespace.strip("/")}']
    for name, value in (overrides or {}).items():
        args += ['-p', f'{name}:={json.dumps(value) if isinstance(value, str) else value}']
    return args


def run_loop(params_file: str | None, *, namespace: str = '', log_level: str = 'info',
             overrides: dict[str, object] | None = None, mock_manipulator: bool = True,
             scene_camera: bool = True, max_steps: int = 0,
             on_step: Callable[[Step], None] | None = None, managed: bool = False,
             raise_on_interrupt: bool = False, arm: str = 'mock') -> list[Step]:
    """Start the nodes in one process and spin until shutdown, the goal, or ``max_steps``.

    ``arm`` says what executes the actions when ``mock_manipulator`` is true (false: nothing,
    an arm runs elsewhere): ``'mock'`` the mock manipulator, ``'bridge'`` the skill bridge
    driving the simulated joint controller (the bridge's ``skills_file`` and the controller's
    ``max_velocity`` are parameters like any other, so ``overrides`` reach them).

    With ``managed`` the planner is the lifecycle node, brought up here (configure, activate)
    as a lifecycle manager would. With ``raise_on_interrupt`` a Ctrl-C or SIGTERM raises
    KeyboardInterrupt after the teardown (so a caller running several loops stops too).

    Ctrl-C or SIGTERM ends the run as a normal end (see :mod:`vlm_planner.ros.process`).

    Returns the steps whose outcome is known, in order.

    Raises:
        VlmPlannerError: a node cannot start (bad parameter, missing model or file, an
            unknown ``arm``).
        NodeCrashedError: a node's callback raised, which stopped the run.
    """
    from vlm_planner.ros.mock_manipulator_node import MockManipulatorNode
    from vlm_planner.ros.planner_node import ManagedPlannerNode, PlannerNode
    from vlm_planner.ros.scene_camera_node import SceneCameraNode
    from vlm_planner.ros.sim_joint_controller_node import SimJointControllerNode
    from vlm_planner.ros.skill_bridge_node import SkillBridgeNode

    if arm not in ARMS:
        raise ConfigError(f'unknown arm {arm!r}; choose one of {", ".join(ARMS)}.')
    if params_file and not Path(params_file).is_file():
        raise ConfigError(f'parameter file {params_file} does not exist; pass --params with an '
                          'existing ROS 2 parameter file, or leave it out for the default.')
    monitor = None
    with ros_process(ros_arguments(params_file, namespace=namespace, log_level=log_level,
                                   overrides=overrides)) as process:
        context = process.context
        if scene_camera:
            process.add(SceneCameraNode(context=context))
        if mock_manipulator and arm == 'mock':
            process.add(MockManipulatorNode(context=context))
        elif mock_manipulator:
            process.add(SimJointControllerNode(context=context))
            process.add(SkillBridgeNode(context=context))
        monitor = process.add(LoopMonitor(max_steps=max_steps, on_step=on_step,
                                          context=context))
        if managed:
            planner = process.add(ManagedPlannerNode(context=context))
            bring_up(planner)
        else:
            process.add(PlannerNode(context=context))  # last: it loads the model
        process.start()
        process.wait(monitor.done)
    if raise_on_interrupt and process.interrupted:
        raise KeyboardInterrupt
    return monitor.reported if monitor is not None else []


def bring_up(node) -> None:
    """Configure and activate a lifecycle node, or raise why it would not.

    Raises:
        ConfigError: a transition failed (the node logged the reason, e.g. a missing model).
    """
    from rclpy.lifecycle import TransitionCallbackReturn
    for name, transition in (('configure', node.trigger_configure),
                             ('activate', node.trigger_activate)):
        if transition() != TransitionCallbackReturn.SUCCESS:
            raise ConfigError(f'the managed planner failed to {name}; its log above says why.')
