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

"""Execute action labels on a ros2_control arm: each label runs its steps from a skills file.

The planner publishes one action-library label; this node looks it up in a skills file (format
in docs/arm.md) and runs its steps one after the other, each a joint trajectory for the arm or a
command for the gripper, checking every step against ``joint_states``. It reports on
``manipulator/status`` exactly as the mock manipulator does, so the planner and the scene camera
work with it unchanged.

Topics (all names relative, so they follow the node's namespace and remappings):

* subscribes ``action`` (std_msgs/String): a label of the action library to execute;
* subscribes ``estop`` (std_msgs/Bool): True holds the arm at once and blocks actions, False
  releases;
* subscribes ``joint_states`` (sensor_msgs/JointState): where the joints are; every joint of the
  skills file must be reported, and fresh (``joint_state_timeout``);
* publishes ``manipulator/status`` (std_msgs/String, latched): ``idle``, ``executing``,
  ``succeeded``, ``failed`` or ``estopped``; sent on every change and again at ``status_rate`` Hz;
* publishes ``trajectory_topic`` (trajectory_msgs/JointTrajectory, default
  ``joint_trajectory_controller/joint_trajectory``): the arm steps, and an empty trajectory (the
  ros2_control way to hold) on a failure or an e-stop;
* publishes ``gripper_topic``: a trajectory_msgs/JointTrajectory (gripper ``command:
  trajectory``, default ``gripper_controller/joint_trajectory``) or a std_msgs/Float64MultiArray
  of target positions (``command: forward``, default ``gripper_forward_controller/commands``);
* with ``interface:=action``, the arm steps go as control_msgs/FollowJointTrajectory goals to
  ``action_name`` (default ``joint_trajectory_controller/follow_joint_trajectory``) instead, when
  control_msgs is installed; the gripper stays on its topic.

Parameters: :data:`SKILL_BRIDGE_PARAMS` (skills_file, actions_file, trajectory_topic,
gripper_topic, interface, action_name, joint_state_timeout, status_rate, rate).

Behaviour. The skills file is loaded and checked against the action library at start (every
library label needs a skill); any problem is a :class:`~vlm_planner.errors.ConfigError` then. An
action arriving while estopped or executing is rejected with a warning (never queued). An
unknown label, joint names the robot does not report, or ``joint_states`` that are missing or
older than ``joint_state_timeout`` fail the action before anything moves. Otherwise the status
turns ``executing`` and the steps run in order: each step's duration is the skills file's, made
long enough for the joints' velocity limits (:func:`~vlm_planner.skills.motion.step_duration`),
and a step is done when every joint is within its tolerance of the target. A closing gripper
step is also done when the fingers have stopped (a grasped block stops them before ``closed``)
after its planned duration. A step that has not arrived ``timeouts.margin`` seconds after its
planned duration fails the action with the joint and the distance logged, and the arm is held;
so do ``joint_states`` that go stale while executing. When every step is done the status turns
``succeeded``. All timing runs on ROS timers.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from pathlib import Path
import threading
from typing import Any, Sequence

from rclpy.duration import Duration
from rclpy.exceptions import InvalidTopicNameException
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
import yaml

from vlm_planner.config_paths import default_actions_file, find_config_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.errors import ConfigError
from vlm_planner.params import Param
from vlm_planner.ros.mock_manipulator_node import (ESTOPPED, EXECUTING, FAILED, IDLE,
                                                   SUCCEEDED)
from vlm_planner.ros.node_main import run_node, SelfCleaningNode
from vlm_planner.ros.parameters import declare_params
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS
from vlm_planner.skills.config import (ArmStep, check_joint_names, GripperStep, Joint,
                                       load_skills, Skills, SkillsError, Step)
from vlm_planner.skills.motion import (describe_miss, step_duration, trajectory_points,
                                       worst_error)

#: The skills file used when ``skills_file`` is empty, below ``config/``.
DEFAULT_SKILLS_FILE = 'skills/tabletop_arm.yaml'
#: Default gripper topics by ``gripper.command`` of the skills file.
DEFAULT_GRIPPER_TOPICS = {'trajectory': 'gripper_controller/joint_trajectory',
                          'forward': 'gripper_forward_controller/commands'}
INTERFACES = ('topic', 'action')

#: A closing gripper counts as stopped when every finger moves slower than this (rad/s or m/s)
STILL_VELOCITY = 1e-3
#: ... and has stayed within this distance (rad or m) of where it was
STILL_POSITION = 1e-4
#: ... for this many seconds.
STILL_TIME = 0.2
#: action_msgs/msg/GoalStatus.STATUS_SUCCEEDED.
_GOAL_SUCCEEDED = 4

SKILL_BRIDGE_PARAMS = (
    Param('skills_file', '', 'Skills YAML: the steps of each action label (docs/arm.md). Empty: '
          'the shipped config/skills/tabletop_arm.yaml.'),
    Param('actions_file', '', 'Action library YAML; every label needs a skill. Empty: the '
          'shipped config/actions/tabletop.yaml.'),
    Param('trajectory_topic', 'joint_trajectory_controller/joint_trajectory',
          "Topic of the arm controller's trajectory_msgs/JointTrajectory commands."),
    Param('gripper_topic', '', 'Topic of the gripper commands. Empty: '
          'gripper_controller/joint_trajectory (gripper command trajectory) or '
          'gripper_forward_controller/commands (command forward).'),
    Param('interface', 'topic', "How arm steps are sent: 'topic' (a JointTrajectory on "
          "trajectory_topic) or 'action' (a control_msgs FollowJointTrajectory goal to "
          'action_name; needs control_msgs).', choices_from=INTERFACES),
    Param('action_name', 'joint_trajectory_controller/follow_joint_trajectory',
          "The arm controller's FollowJointTrajectory action (interface 'action')."),
    Param('joint_state_timeout', 0.5, 'Seconds after which joint_states count as stale: no '
          'action starts, and a running one fails.', above=0.0),
    Param('status_rate', 2.0, 'Hz at which manipulator/status is re-sent as a heartbeat.',
          above=0.0),
    Param('rate', 20.0, 'Hz at which a running step is checked against joint_states.',
          above=0.0),
)


def _action_types() -> tuple[Any, Any]:
    """Return control_msgs' FollowJointTrajectory and rclpy's ActionClient.

    Raises:
        ConfigError: control_msgs is not installed.
    """
    try:
        module = importlib.import_module('control_msgs.action')
    except ImportError:
        raise ConfigError(
            'parameter interface is \'action\', but control_msgs is not installed, so the '
            'bridge cannot send FollowJointTrajectory goals. Install it (apt install '
            'ros-$ROS_DISTRO-control-msgs) or use interface:=topic, which sends the same '
            'trajectories on trajectory_topic.') from None
    from rclpy.action import ActionClient
    return module.FollowJointTrajectory, ActionClient


def _gripper_open_closed(skills: Skills) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Return the ``open`` and ``closed`` values of the (already validated) skills file."""
    if not skills.gripper:
        return (), ()
    data = yaml.safe_load(Path(skills.path).read_text(encoding='utf-8'))
    gripper = data['gripper']
    return (tuple(float(v) for v in gripper['open']),
            tuple(float(v) for v in gripper['closed']))


@dataclasses.dataclass
class _Sample:
    """The latest measurement of one joint."""

    position: float
    velocity: float | None
    stamp: float  # node clock (s) when it arrived


@dataclasses.dataclass
class _Execution:
    """An action being executed: its steps and the state of the current one."""

    label: str
    steps: tuple[Step, ...]
    index: int = -1
    joints: tuple[Joint, ...] = ()
    target: dict[str, float] = dataclasses.field(default_factory=dict)
    started: float = 0.0
    planned: float = 0.0
    deadline: float = 0.0
    closing: bool = False
    still_since: float = 0.0
    still_at: dict[str, float] = dataclasses.field(default_factory=dict)
    # interface 'action': the goal of the current arm step and what became of it
    goal_handle: Any = None
    goal_done: bool = False
    goal_error: str = ''

    @property
    def step(self) -> Step:
        return self.steps[self.index]

    def where(self) -> str:
        step = self.step
        kind = 'arm' if isinstance(step, ArmStep) else 'gripper'
        return f'step {self.index + 1} of {len(self.steps)} ({kind} {step.name})'


class SkillBridgeNode(SelfCleaningNode):
    """Executes action labels as skills on a ros2_control arm (see module doc).

    Args:
        **kwargs: passed to :class:`rclpy.node.Node` (e.g. ``context``, ``namespace``,
            ``parameter_overrides``).

    Raises:
        ConfigError: a parameter is invalid, the skills file or the action library cannot be
            loaded or do not fit each other, or ``interface`` is 'action' without control_msgs.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__('skill_bridge', **kwargs)

    def setup(self) -> None:
        """Load the skills and create publishers, subscriptions, timers (and action client)."""
        values = declare_params(self, SKILL_BRIDGE_PARAMS)
        self._interface = values['interface']
        action_types = _action_types() if self._interface == 'action' else None
        actions_file = values['actions_file'] or default_actions_file()
        library = ActionLibrary.from_yaml(actions_file)
        skills_file = values['skills_file'] or find_config_file(DEFAULT_SKILLS_FILE)
        self._skills = load_skills(skills_file, library)
        self._open, self._closed = _gripper_open_closed(self._skills)
        self._joint_state_timeout = values['joint_state_timeout']

        self._lock = threading.RLock()  # action client callbacks run outside the node's group
        self._status = IDLE
        self._run: _Execution | None = None
        self._samples: dict[str, _Sample] = {}
        self._names_error: str | None = None
        self._last_error = ''

        gripper_topic = values['gripper_topic'] or DEFAULT_GRIPPER_TOPICS[
            self._skills.gripper_command]
        self._forward_gripper = self._skills.gripper_command == 'forward'
        try:
            self._status_pub = self.create_publisher(String, 'manipulator/status', LATCHED_QOS)
            self._arm_pub = self.create_publisher(JointTrajectory, values['trajectory_topic'],
                                                  COMMAND_QOS)
            self._gripper_pub: Any = None
            if self._skills.gripper:
                self._gripper_pub = self.create_publisher(
                    Float64MultiArray if self._forward_gripper else JointTrajectory,
                    gripper_topic, COMMAND_QOS)
            self._joint_sub = self.create_subscription(JointState, 'joint_states',
                                                       self._on_joint_states, COMMAND_QOS)
            self.create_subscription(String, 'action', self._on_action, COMMAND_QOS)
            self.create_subscription(Bool, 'estop', self._on_estop, COMMAND_QOS)
            self._action_name = values['action_name']
            self._action_client: Any = None
            if action_types is not None:
                follow, client_class = action_types
                self._follow_type = follow
                self._action_client = client_class(self, follow, self._action_name)
        except InvalidTopicNameException as exc:
            raise ConfigError(f'parameters trajectory_topic, gripper_topic and action_name must '
                              f'be valid topic names: {exc}') from exc
        self.create_timer(1.0 / values['rate'], self._on_monitor)
        self.create_timer(1.0 / values['status_rate'], self._publish_status)
        self._publish_status()
        gripper = (f', gripper {", ".join(self._skills.gripper_names)} by '
                   f'{self._skills.gripper_command} on {self._gripper_pub.topic_name}'
                   if self._gripper_pub is not None else ', no gripper')
        arm_target = (f'FollowJointTrajectory goals to {values["action_name"]}'
                      if self._action_client is not None else self._arm_pub.topic_name)
        self.get_logger().info(
            f'ready: {len(self._skills.skills)} skills from {self._skills.path} for action '
            f'library {library.name!r}; arm {", ".join(self._skills.arm_names)} on '
            f'{arm_target}{gripper}; joint states from {self._joint_sub.topic_name}')

    # ----------------------------------------------------------------------------------- state

    @property
    def status(self) -> str:
        """The current status: idle, executing, succeeded, failed or estopped."""
        return self._status

    @property
    def current_action(self) -> str | None:
        """The label of the action being executed, or None."""
        run = self._run
        return None if run is None else run.label

    @property
    def skills(self) -> Skills:
        """The loaded skills."""
        return self._skills

    @property
    def last_error(self) -> str:
        """Why the last action failed or was refused ('' before the first failure)."""
        return self._last_error

    def joint_state_problem(self) -> str:
        """Why an action could not start now for lack of joint states ('' when they are fine)."""
        with self._lock:
            return self._stale(self._now())

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self._publish_status()

    def _publish_status(self) -> None:
        self._status_pub.publish(String(data=self._status))

    def _error(self, message: str) -> None:
        self._last_error = message
        self.get_logger().error(message)

    # ------------------------------------------------------------------------------ joint states

    def _on_joint_states(self, msg: JointState) -> None:
        now = self._now()
        with self._lock:
            new = False
            for i, name in enumerate(msg.name):
                position = float(msg.position[i]) if i < len(msg.position) else math.nan
                velocity = float(msg.velocity[i]) if i < len(msg.velocity) else None
                new = new or name not in self._samples
                self._samples[name] = _Sample(position, velocity, now)
            if new:
                self._check_names()

    def _check_names(self) -> None:
        """Check the reported joint names against the skills' (when new names appear)."""
        try:
            check_joint_names(self._skills, list(self._samples))
        except SkillsError as exc:
            if self._names_error is None:
                self.get_logger().error(f'{exc} Actions fail until it does.')
            self._names_error = str(exc)
            return
        if self._names_error is not None:
            self.get_logger().info('joint_states now report every joint of the skills file')
        self._names_error = None

    def _joint_state_age(self, now: float) -> float:
        """Seconds since the oldest of the skills' joints was last reported."""
        names = self._skills.arm_names + self._skills.gripper_names
        return now - min(self._samples[n].stamp for n in names)

    def _stale(self, now: float) -> str:
        """Why the joint states cannot be trusted now ('' when they are fresh)."""
        topic = self._joint_sub.topic_name
        if not self._samples:
            return f'no joint_states received on {topic} yet'
        if self._names_error is not None:
            return self._names_error.rstrip('.')
        age = self._joint_state_age(now)
        if age > self._joint_state_timeout:
            return (f'joint_states stale: the last on {topic} arrived {age:.2f} s ago '
                    f'(joint_state_timeout {self._joint_state_timeout:g} s)')
        return ''

    # --------------------------------------------------------------------------------- actions

    def _on_action(self, msg: String) -> None:
        label = msg.data
        with self._lock:
            if self._status == ESTOPPED:
                self.get_logger().warn(f'rejected {label!r}: emergency stop is active')
                return
            if self._status == EXECUTING:
                self.get_logger().warn(
                    f'rejected {label!r}: still executing {self.current_action!r}')
                return
            try:
                steps = self._skills.steps(label)
            except SkillsError as exc:
                self._error(f'{label!r} failed: {exc} Nothing moved.')
                self._set_status(FAILED)
                return
            problem = self._stale(self._now())
            if problem:
                self._error(f'{label!r} failed: {problem}; nothing moved.')
                self._set_status(FAILED)
                return
            self._run = _Execution(label, steps)
            self._set_status(EXECUTING)
            self.get_logger().info(f'executing {label!r}: {len(steps)} steps')
            self._next_step(self._now())

    def _next_step(self, now: float) -> None:
        """Start the next step of the running action, or report success after the last."""
        run = self._run
        if run is None:
            return
        run.index += 1
        if run.index >= len(run.steps):
            self._run = None
            self.get_logger().info(f'{run.label!r} succeeded')
            self._set_status(SUCCEEDED)
            return
        step = run.step
        arm = isinstance(step, ArmStep)
        joints = self._skills.arm if arm else self._skills.gripper
        start = [self._samples[j.name].position for j in joints]
        bad = [j.name for j, q in zip(joints, start) if not math.isfinite(q)]
        if bad:
            self._fail(f'{run.label!r} failed at {run.where()}: joint_states report no finite '
                       f'position of {", ".join(bad)}; holding the arm')
            return
        duration = step_duration(start, step.positions, joints, step.duration)
        run.joints = joints
        run.target = {j.name: q for j, q in zip(joints, step.positions)}
        run.started, run.planned = now, duration
        run.deadline = now + duration + self._skills.margin
        run.closing = (isinstance(step, GripperStep) and bool(self._closed)
                       and _distance(step.positions, self._closed)
                       < _distance(step.positions, self._open))
        run.still_since, run.still_at = now, {j.name: q for j, q in zip(joints, start)}
        run.goal_handle, run.goal_done, run.goal_error = None, False, ''
        names = [j.name for j in joints]
        if arm and self._action_client is not None:
            self._send_goal(run, self._trajectory(names, start, step.positions, duration))
        elif arm:
            self._arm_pub.publish(self._trajectory(names, start, step.positions, duration))
        elif self._forward_gripper:
            assert self._gripper_pub is not None
            self._gripper_pub.publish(Float64MultiArray(data=[float(q) for q in step.positions]))
        else:
            assert self._gripper_pub is not None
            self._gripper_pub.publish(self._trajectory(names, start, step.positions, duration))
        self.get_logger().debug(f'{run.label!r}: {run.where()} over {duration:.3f} s')

    @staticmethod
    def _trajectory(names: Sequence[str], start: Sequence[float], target: Sequence[float],
                    duration: float) -> JointTrajectory:
        """A trajectory from ``start`` to ``target``, to start on reception (stamp zero)."""
        msg = JointTrajectory()
        msg.joint_names = list(names)
        for positions, velocities, seconds in trajectory_points(start, target, duration):
            msg.points.append(JointTrajectoryPoint(
                positions=list(positions), velocities=list(velocities),
                time_from_start=Duration(nanoseconds=int(round(seconds * 1e9))).to_msg()))
        return msg

    def _on_monitor(self) -> None:
        with self._lock:
            run = self._run
            if run is None or self._status != EXECUTING:
                return
            now = self._now()
            stale = self._stale(now)
            if stale:
                self._fail(f'{run.label!r} failed at {run.where()}: {stale}; holding the arm')
                return
            if run.goal_error:
                self._fail(f'{run.label!r} failed at {run.where()}: {run.goal_error}; holding '
                           'the arm')
                return
            actual = {name: sample.position for name, sample in self._samples.items()}
            try:
                miss = worst_error(actual, run.target, run.joints)
            except ValueError as exc:  # cannot happen after the names check; never crash
                self._fail(f'{run.label!r} failed at {run.where()}: {exc}')
                return
            waiting_for_goal = (isinstance(run.step, ArmStep) and self._action_client is not None
                                and not run.goal_done)
            if miss is None and not waiting_for_goal:
                self._next_step(now)
                return
            if run.closing and self._gripper_stopped(run, now):
                self.get_logger().info(
                    f'{run.label!r}: the gripper stopped short of its target (grasped '
                    f'something) at {run.where()}')
                self._next_step(now)
                return
            if now > run.deadline:
                if miss is None:
                    detail = ('the controller did not report the goal done although the joints '
                              'are at the target')
                else:
                    name, error, tolerance = miss
                    unit = 'rad' if isinstance(run.step, ArmStep) else '(rad or m)'
                    detail = describe_miss(name, error, tolerance, unit)
                self._fail(
                    f'{run.label!r} failed at {run.where()}: {detail} '
                    f'{now - run.started:.2f} s after the step started (planned '
                    f'{run.planned:.2f} s + margin {self._skills.margin:g} s); holding the arm')

    def _gripper_stopped(self, run: _Execution, now: float) -> bool:
        """Whether the fingers have stood still for STILL_TIME, after the planned duration."""
        moving = False
        for name in run.target:
            sample = self._samples[name]
            if (abs(sample.position - run.still_at[name]) > STILL_POSITION
                    or (sample.velocity is not None and abs(sample.velocity) >= STILL_VELOCITY)):
                moving = True
        if moving:
            run.still_since = now
            run.still_at = {name: self._samples[name].position for name in run.target}
            return False
        return now >= run.started + run.planned and now - run.still_since >= STILL_TIME

    def _fail(self, message: str) -> None:
        """Abandon the running action, hold the arm, report failed."""
        self._error(message)
        self._abandon()
        self._hold()
        self._set_status(FAILED)

    def _abandon(self) -> None:
        run, self._run = self._run, None
        if run is not None and run.goal_handle is not None:
            run.goal_handle.cancel_goal_async()

    def _hold(self) -> None:
        """Stop the arm (and a trajectory-driven gripper) where it is: empty trajectories."""
        self._arm_pub.publish(JointTrajectory(joint_names=list(self._skills.arm_names)))
        if self._gripper_pub is not None and not self._forward_gripper:
            self._gripper_pub.publish(
                JointTrajectory(joint_names=list(self._skills.gripper_names)))

    # ----------------------------------------------------------------------------------- estop

    def _on_estop(self, msg: Bool) -> None:
        with self._lock:
            if msg.data:
                aborted = self.current_action
                self._abandon()
                self._hold()  # on every True: holding twice does no harm
                if self._status != ESTOPPED:
                    self._set_status(ESTOPPED)
                    self.get_logger().warn(
                        'emergency stop' + (f': aborted {aborted!r}' if aborted else ''))
            elif self._status == ESTOPPED:
                self._set_status(IDLE)
                self.get_logger().info('emergency stop released')

    # ------------------------------------------------------------------- interface 'action'

    def _send_goal(self, run: _Execution, trajectory: JointTrajectory) -> None:
        client = self._action_client
        assert client is not None
        if not client.server_is_ready():
            self._fail(f'{run.label!r} failed at {run.where()}: no FollowJointTrajectory '
                       f'action server on {self._action_name}; nothing moved')
            return
        goal = self._follow_type.Goal()
        goal.trajectory = trajectory
        step = run.index
        future = client.send_goal_async(goal)
        future.add_done_callback(lambda f: self._on_goal_response(f, run, step))

    def _current(self, run: _Execution, step: int) -> bool:
        return self._run is run and run.index == step

    def _on_goal_response(self, future: Any, run: _Execution, step: int) -> None:
        with self._lock:
            try:
                handle = future.result()
            except Exception as exc:  # reported as the step's failure
                handle, run.goal_error = None, f'sending the goal failed: {exc}'
            if not self._current(run, step):
                if handle is not None and handle.accepted:
                    handle.cancel_goal_async()  # abandoned meanwhile
                return
            if handle is None or not handle.accepted:
                run.goal_error = (run.goal_error
                                  or 'the controller rejected the FollowJointTrajectory goal')
                return
            run.goal_handle = handle
            handle.get_result_async().add_done_callback(
                lambda f: self._on_goal_result(f, run, step))

    def _on_goal_result(self, future: Any, run: _Execution, step: int) -> None:
        with self._lock:
            if not self._current(run, step):
                return
            try:
                response = future.result()
            except Exception as exc:  # reported as the step's failure
                run.goal_error = f'the FollowJointTrajectory goal failed: {exc}'
                return
            result = getattr(response, 'result', None)
            code = getattr(result, 'error_code', 0)
            if response is not None and response.status == _GOAL_SUCCEEDED and code == 0:
                run.goal_done = True
            else:
                status = getattr(response, 'status', None)
                text = getattr(result, 'error_string', '')
                run.goal_error = (f'the controller ended the goal with status {status}, '
                                  f'error_code {code}{": " + text if text else ""}')


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b))


def main(args: list[str] | None = None) -> int:
    """Run the skill bridge until Ctrl-C or shutdown; return the process exit status."""
    return run_node(SkillBridgeNode, 'skill_bridge', args)


if __name__ == '__main__':
    raise SystemExit(main())
