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

"""A stand-in for a robot arm: takes action labels, pretends to execute them, reports the outcome.

Topics (all names relative, so they follow the node's namespace and remappings):

* subscribes ``action`` (std_msgs/String): a label of the action library to execute;
* subscribes ``estop`` (std_msgs/Bool): True aborts at once and blocks actions, False releases;
* publishes ``manipulator/status`` (std_msgs/String, latched): ``idle``, ``executing``,
  ``succeeded``, ``failed`` or ``estopped``; sent on every change and again at ``status_rate`` Hz;
* publishes ``joint_states`` (sensor_msgs/JointState): six joints, moving smoothly toward a pose
  that depends on the action while it executes;
* subscribes ``scene/status`` (std_msgs/String, latched JSON), when a simulated scene publishes
  one (:mod:`~vlm_planner.ros.scene_camera_node`): with ``scene_feedback`` an action that scene
  says cannot be done fails, as a real arm fails to pick up a block with another on top of it.

An action arriving while the arm is idle or done starts it; one arriving while it executes or is
estopped is rejected with a warning (never queued). An unknown label is logged as an error and
reported as ``failed``. All timing runs on ROS timers.
"""

from __future__ import annotations

import json
import math
import random
import zlib

from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String

from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.params import Param
from vlm_planner.ros.node_main import run_node, SelfCleaningNode
from vlm_planner.ros.parameters import declare_params
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS
from vlm_planner.sim.world import TabletopWorld

IDLE = 'idle'
EXECUTING = 'executing'
SUCCEEDED = 'succeeded'
FAILED = 'failed'
ESTOPPED = 'estopped'

MOCK_MANIPULATOR_PARAMS = (
    Param('execution_time', 1.0, 'Seconds an action takes to execute.', minimum=0.0),
    Param('failure_rate', 0.0, 'Probability that an executed action fails.', minimum=0.0,
          maximum=1.0),
    Param('seed', -1, 'Seed of the failure draws; -1 draws a fresh seed.'),
    Param('scene_feedback', True, 'Fail an action that the simulated scene (scene/status of the '
          'scene camera, when one publishes) says cannot be done, as a real arm fails to pick '
          'up a covered block; false: every action succeeds but for failure_rate.'),
    Param('status_rate', 2.0, 'Hz at which manipulator/status is re-sent as a heartbeat.',
          above=0.0),
    Param('joint_state_rate', 20.0, 'Hz at which joint_states is published.', above=0.0),
    Param('actions_file', '', 'Action library YAML. Empty: the shipped '
          'config/actions/tabletop.yaml.'),
)

JOINT_NAMES: tuple[str, ...] = ('shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint',
                                'wrist_1_joint', 'wrist_2_joint', 'wrist_3_joint')
HOME_POSE: tuple[float, ...] = (0.0, -1.57, 1.57, -1.57, -1.57, 0.0)

#: Base rotation toward each place of the tabletop world.
_PAN = {'red': -0.6, 'green': -0.2, 'blue': 0.2, 'table': 0.0, 'bin': 0.9}
#: (shoulder lift, elbow) per verb: reach down to pick, stay higher to stack, middle to put.
_REACH = {'pick': (-0.9, 1.9), 'stack': (-1.1, 1.6), 'put': (-1.0, 1.4)}


def target_pose(action: Action) -> tuple[float, ...]:
    """Return the joint positions (radians) the arm moves to for ``action``.

    The base turns toward the action's noun (a block colour, the table or the bin; other nouns get
    a fixed angle derived from the label) and the arm reaches down as far as the verb needs.
    """
    noun = action.noun.lower().split()
    key = noun[0] if noun else ''
    if key in _PAN:
        pan = _PAN[key]
    else:
        pan = (zlib.crc32(action.label.encode('utf-8')) % 2000) / 1000.0 - 1.0
    lift, elbow = _REACH.get(action.verb.lower(), (-1.2, 1.5))
    return (pan, lift, elbow, -math.pi / 2 - (lift + elbow), -math.pi / 2, pan / 2)


class JointMotion:
    """A smooth joint move (smoothstep profile: zero speed at both ends) over a time span.

    Args:
        pose: the joint positions to start at rest in.
    """

    def __init__(self, pose: tuple[float, ...]) -> None:
        self.start = self.goal = tuple(pose)
        self.t0 = 0.0
        self.duration = 0.0

    def move_to(self, goal: tuple[float, ...], now: float, duration: float) -> None:
        """Start moving from where the joints are at ``now`` to ``goal`` in ``duration`` s."""
        self.start = self.position(now)
        self.goal = tuple(goal)
        self.t0 = now
        self.duration = duration

    def stop(self, now: float) -> None:
        """Hold the joints where they are at ``now``."""
        self.start = self.goal = self.position(now)
        self.duration = 0.0

    def _phase(self, now: float) -> float:
        if self.duration <= 0.0:
            return 1.0
        return min(1.0, max(0.0, (now - self.t0) / self.duration))

    def position(self, now: float) -> tuple[float, ...]:
        """Return the joint positions at time ``now``."""
        a = self._phase(now)
        s = a * a * (3.0 - 2.0 * a)
        return tuple(p + (q - p) * s for p, q in zip(self.start, self.goal))

    def velocity(self, now: float) -> tuple[float, ...]:
        """Return the joint velocities at time ``now``."""
        a = self._phase(now)
        if self.duration <= 0.0 or a >= 1.0:
            return (0.0,) * len(self.goal)
        rate = 6.0 * a * (1.0 - a) / self.duration
        return tuple((q - p) * rate for p, q in zip(self.start, self.goal))


class MockManipulatorNode(SelfCleaningNode):
    """Pretends to execute action labels and reports status and joint states (see module doc).

    Args:
        **kwargs: passed to :class:`rclpy.node.Node` (e.g. ``context``, ``namespace``,
            ``parameter_overrides``).

    Raises:
        ConfigError: if a parameter is invalid or the action library cannot be loaded.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__('mock_manipulator', **kwargs)

    def setup(self) -> None:
        """Read the parameters and create publishers, subscriptions and timers."""
        values = declare_params(self, MOCK_MANIPULATOR_PARAMS)
        self._execution_time = values['execution_time']
        self._failure_rate = values['failure_rate']
        self._scene_feedback = values['scene_feedback']
        self._scene: TabletopWorld | None = None
        seed = values['seed']
        self._rng = random.Random(None if seed < 0 else seed)
        actions_file = values['actions_file'] or default_actions_file()
        self._library = ActionLibrary.from_yaml(actions_file)
        status_rate, joint_state_rate = values['status_rate'], values['joint_state_rate']

        self._status = IDLE
        self._current: Action | None = None
        self._motion = JointMotion(HOME_POSE)

        # Every callback is in the node's default mutually exclusive group: no two run at once.
        self._status_pub = self.create_publisher(String, 'manipulator/status', LATCHED_QOS)
        # Reliable with a short queue, like joint_state_broadcaster; best-effort readers match too.
        self._joint_pub = self.create_publisher(JointState, 'joint_states', COMMAND_QOS)
        self.create_subscription(String, 'action', self._on_action, COMMAND_QOS)
        self.create_subscription(Bool, 'estop', self._on_estop, COMMAND_QOS)
        if self._scene_feedback:
            self.create_subscription(String, 'scene/status', self._on_scene, LATCHED_QOS)
        # Ends an execution: started (reset) with each action, cancelled when it fires or on
        # estop. One timer for the node's life: destroying a timer from its own callback races
        # with a multi-threaded executor.
        self._done_timer = self.create_timer(max(self._execution_time, 1e-3), self._on_done)
        self._done_timer.cancel()
        self.create_timer(1.0 / status_rate, self._publish_status)
        self.create_timer(1.0 / joint_state_rate, self._publish_joint_states)
        self._publish_status()
        self.get_logger().info(
            f'ready: {len(self._library)} actions from {actions_file}, execution_time '
            f'{self._execution_time} s, failure_rate {self._failure_rate}')

    # ----------------------------------------------------------------------------------- state

    @property
    def status(self) -> str:
        """The current status: idle, executing, succeeded, failed or estopped."""
        return self._status

    @property
    def current_action(self) -> str | None:
        """The label of the action being executed, or None."""
        return None if self._current is None else self._current.label

    @property
    def library(self) -> ActionLibrary:
        """The action library labels are checked against."""
        return self._library

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self._publish_status()

    def _publish_status(self) -> None:
        self._status_pub.publish(String(data=self._status))

    def _publish_joint_states(self) -> None:
        now = self.get_clock().now()
        seconds = now.nanoseconds * 1e-9
        msg = JointState()
        msg.header.stamp = now.to_msg()
        msg.name = list(JOINT_NAMES)
        msg.position = list(self._motion.position(seconds))
        msg.velocity = list(self._motion.velocity(seconds))
        self._joint_pub.publish(msg)

    # ------------------------------------------------------------------------------- callbacks

    def _on_action(self, msg: String) -> None:
        label = msg.data
        if self._status == ESTOPPED:
            self.get_logger().warn(f'rejected {label!r}: emergency stop is active')
            return
        if self._status == EXECUTING:
            self.get_logger().warn(
                f'rejected {label!r}: still executing {self.current_action!r}')
            return
        action = self._library.find(label)
        if action is None:
            self.get_logger().error(
                f'{label!r} is not in action library {self._library.name!r}; nothing executed')
            self._set_status(FAILED)
            return
        self._current = action
        self._motion.move_to(target_pose(action), self._now(), self._execution_time)
        self._done_timer.reset()
        self._set_status(EXECUTING)
        self.get_logger().info(f'executing {action.label!r}')

    def _stop_timer(self) -> None:
        self._done_timer.cancel()

    def _on_done(self) -> None:
        self._stop_timer()
        if self._status != EXECUTING or self._current is None:
            return
        action, self._current = self._current, None
        label = action.label
        impossible = self._impossible(action)
        failed = bool(impossible) or self._rng.random() < self._failure_rate
        if impossible:
            self.get_logger().warn(f'{label!r} failed: {impossible}')
        elif failed:
            self.get_logger().warn(f'{label!r} failed')
        else:
            self.get_logger().info(f'{label!r} succeeded')
        self._set_status(FAILED if failed else SUCCEEDED)

    def _on_scene(self, msg: String) -> None:
        try:
            state = json.loads(msg.data)
            self._scene = TabletopWorld.from_dict(state)
        except (ValueError, TypeError, AttributeError) as exc:
            self._scene = None
            self.get_logger().warn(f'scene/status unreadable ({exc}); actions are not checked '
                                   'against the scene until a readable one comes')

    def _impossible(self, action: Action) -> str:
        """Why the simulated scene cannot do ``action`` ('' if it can, or without a scene)."""
        if self._scene is None:
            return ''
        result = self._scene.copy().apply(action)
        return '' if result.applied else result.message

    def _on_estop(self, msg: Bool) -> None:
        if msg.data and self._status != ESTOPPED:
            self._stop_timer()
            self._motion.stop(self._now())
            aborted = self.current_action
            self._current = None
            self._set_status(ESTOPPED)
            self.get_logger().warn(
                'emergency stop' + (f': aborted {aborted!r}' if aborted else ''))
        elif not msg.data and self._status == ESTOPPED:
            self._set_status(IDLE)
            self.get_logger().info('emergency stop released')


def main(args: list[str] | None = None) -> int:
    """Run the mock manipulator until Ctrl-C or shutdown; return the process exit status."""
    return run_node(MockManipulatorNode, 'mock_manipulator', args)


if __name__ == '__main__':
    raise SystemExit(main())
