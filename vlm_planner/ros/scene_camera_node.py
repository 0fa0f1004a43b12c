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

"""A synthetic camera over the simulated tabletop world; executed actions change what it sees.

Topics (all names relative):

* publishes ``image`` (sensor_msgs/Image, sensor QoS) at ``rate`` Hz, and ``image/compressed``
  (sensor_msgs/CompressedImage, JPEG) as well when ``publish_compressed`` is true;
* publishes ``goal`` (std_msgs/String, latched) once, when ``publish_goal`` is true;
* publishes ``scene/status`` (std_msgs/String, latched, JSON) on every change;
* subscribes ``action`` (std_msgs/String) and ``manipulator/status`` (std_msgs/String, latched).

Service ``~/reset`` (std_srvs/Trigger) restores the initial world.

An action label is applied to the world only once the manipulator has executed it: the label is
kept as pending, and is applied when ``manipulator/status`` next turns to ``succeeded``; ``failed``
or ``estopped`` discard it. Status heartbeats repeat the last value, so a ``succeeded`` (or
``failed``) only counts when it follows ``executing`` (or another status), never when it merely
repeats the outcome of the previous action. While an action is executing, further labels are
ignored, as the manipulator rejects them too.
"""

from __future__ import annotations

import json

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.params import Param
from vlm_planner.ros.conversions import rgb_to_compressed_msg, rgb_to_image_msg
from vlm_planner.ros.node_main import run_node, SelfCleaningNode
from vlm_planner.ros.parameters import declare_params
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from vlm_planner.sim.render import MIN_HEIGHT, MIN_WIDTH, render
from vlm_planner.sim.tasks import parse_goal, Task, UnsolvableTaskError
from vlm_planner.sim.world import TabletopWorld

ENCODINGS = ('rgb8', 'bgr8')

EXECUTING = 'executing'
SUCCEEDED = 'succeeded'
FAILED = 'failed'
ESTOPPED = 'estopped'

SCENE_CAMERA_PARAMS = (
    Param('goal', 'put the red block in the bin', 'Task goal, e.g. "put the red block in the '
          'bin", "stack the blue block on the green block", "put all blocks in the bin".'),
    Param('rate', 10.0, 'Hz at which images are published.', above=0.0),
    Param('width', 320, 'Image width in pixels.', minimum=MIN_WIDTH),
    Param('height', 240, 'Image height in pixels.', minimum=MIN_HEIGHT),
    Param('encoding', 'rgb8', 'Encoding of image.', choices_from=ENCODINGS),
    Param('publish_compressed', False, 'Also publish JPEG frames on image/compressed.'),
    Param('publish_goal', True, 'Publish the goal text on the latched goal topic.'),
    Param('frame_id', 'camera', 'header.frame_id of the images.'),
    Param('seed', -1, '-1: the fixed default layout; otherwise a random layout from this seed.'),
    Param('actions_file', '', 'Action library YAML. Empty: the shipped '
          'config/actions/tabletop.yaml.'),
)


class _Pending:
    """The label sent to the manipulator and whether it was seen executing."""

    def __init__(self, label: str, started: bool) -> None:
        self.label = label
        self.started = started


class SceneCameraNode(SelfCleaningNode):
    """Renders the tabletop world, publishes it as a camera, and applies executed actions.

    Args:
        **kwargs: passed to :class:`rclpy.node.Node` (e.g. ``context``, ``namespace``,
            ``parameter_overrides``).

    Raises:
        ConfigError: if a parameter is invalid (unknown goal phrasing, bad size, rate or
            encoding) or the action library cannot be loaded.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__('scene_camera', **kwargs)

    def setup(self) -> None:
        """Read the parameters and create publishers, subscriptions and timers."""
        values = declare_params(self, SCENE_CAMERA_PARAMS)
        self._task = parse_goal(values['goal'])
        rate = values['rate']
        self._width, self._height = values['width'], values['height']
        self._encoding = values['encoding']
        self._frame_id = values['frame_id']
        seed = values['seed']
        self._initial = (TabletopWorld.default() if seed < 0
                         else TabletopWorld.random_initial(seed))
        self._library = ActionLibrary.from_yaml(values['actions_file'] or default_actions_file())

        self._world = self._initial.copy()
        self._frame: np.ndarray | None = None
        self._steps = 0
        self._last_action: str | None = None
        self._last_result: str | None = None
        self._last_applied: bool | None = None
        self._pending: _Pending | None = None
        self._manipulator_status: str | None = None

        self._image_pub = self.create_publisher(Image, 'image', SENSOR_QOS)
        self._compressed_pub = None
        if values['publish_compressed']:
            self._compressed_pub = self.create_publisher(
                CompressedImage, 'image/compressed', SENSOR_QOS)
        self._status_pub = self.create_publisher(String, 'scene/status', LATCHED_QOS)
        if values['publish_goal']:
            self._goal_pub = self.create_publisher(String, 'goal', LATCHED_QOS)
            self._goal_pub.publish(String(data=self._task.text))
        self.create_subscription(String, 'action', self._on_action, COMMAND_QOS)
        self.create_subscription(String, 'manipulator/status', self._on_manipulator_status,
                                 LATCHED_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.create_timer(1.0 / rate, self._publish_image)
        self._publish_status()
        self.get_logger().info(
            f'goal {self._task.text!r}, initial world {self._initial!r}, '
            f'{self._width}x{self._height} {self._encoding} at {rate} Hz')
        if self._task.is_satisfied(self._world):
            self.get_logger().warn('the goal is already met in the initial world')

    # ----------------------------------------------------------------------------------- state

    @property
    def world(self) -> TabletopWorld:
        """A copy of the current world."""
        return self._world.copy()

    @property
    def pending_action(self) -> str | None:
        """The label sent to the manipulator whose outcome is awaited, or None."""
        return None if self._pending is None else self._pending.label

    @property
    def manipulator_status(self) -> str | None:
        """The last status received on ``manipulator/status``, or None before the first."""
        return self._manipulator_status

    @property
    def task(self) -> Task:
        """The task the goal parameter describes."""
        return self._task

    def status_dict(self) -> dict[str, object]:
        """Return what ``scene/status`` reports.

        Keys: ``goal`` (canonical goal text), ``satisfied`` (bool), ``steps_applied`` (executed
        actions applied to the world since start or reset, counting those that were infeasible
        and changed nothing), ``slots`` (table slots), ``held`` (colour or null), ``blocks``
        (colour to ``table:<slot>``, ``bin``, ``on:<colour>`` or ``gripper``), ``last_action``
        (label or null),
        ``last_result`` (what happened, or why the action was discarded), ``last_applied``
        (whether it changed the world; null before the first action) and ``expert_next`` (the
        action a scripted expert would take now; null when the goal holds or cannot be reached).
        """
        state = self._world.to_dict()
        try:
            expert = self._task.expert_plan(self._world)
        except UnsolvableTaskError:
            expert = []
        return {
            'goal': self._task.text,
            'satisfied': self._task.is_satisfied(self._world),
            'steps_applied': self._steps,
            'slots': state['slots'],
            'held': state['held'],
            'blocks': state['blocks'],
            'last_action': self._last_action,
            'last_result': self._last_result,
            'last_applied': self._last_applied,
            'expert_next': expert[0] if expert else None,
        }

    def _publish_status(self) -> None:
        self._status_pub.publish(String(data=json.dumps(self.status_dict())))

    def _publish_image(self) -> None:
        if self._frame is None:
            self._frame = render(self._world, self._width, self._height)
        frame = self._frame
        stamp = self.get_clock().now().to_msg()
        self._image_pub.publish(rgb_to_image_msg(frame, self._encoding, stamp, self._frame_id))
        if self._compressed_pub is not None:
            self._compressed_pub.publish(
                rgb_to_compressed_msg(frame, 'jpeg', stamp=stamp, frame_id=self._frame_id))

    # ------------------------------------------------------------------------------- callbacks

    def _on_action(self, msg: String) -> None:
        if self._pending is not None and self._pending.started:
            self.get_logger().info(
                f'ignored {msg.data!r}: the manipulator is executing {self._pending.label!r}')
            return
        if self._manipulator_status == ESTOPPED:
            self.get_logger().info(f'ignored {msg.data!r}: the manipulator is estopped')
            return
        # A status "executing" that overtook its own action message marks it started already.
        self._pending = _Pending(msg.data, started=self._manipulator_status == EXECUTING)

    def _on_manipulator_status(self, msg: String) -> None:
        status, previous = msg.data, self._manipulator_status
        self._manipulator_status = status
        pending = self._pending
        if pending is None:
            return
        # A repeat of the previous outcome is a heartbeat; so is the first (latched) status seen.
        fresh = pending.started or (previous is not None and status != previous)
        if status == EXECUTING:
            pending.started = True
        elif status == SUCCEEDED and fresh:
            self._pending = None
            self._apply(pending.label)
        elif (status == FAILED and fresh) or status == ESTOPPED:
            self._pending = None
            self._record(pending.label, f'discarded: the manipulator reported {status}', False)

    def _apply(self, label: str) -> None:
        action = self._library.find(label)
        if action is None:
            self.get_logger().warn(
                f'{label!r} succeeded but is not in action library {self._library.name!r}; '
                'the world is unchanged')
            self._record(label, 'not in the action library; nothing applied', False)
            return
        result = self._world.apply(action)
        self._steps += 1
        self._frame = None
        if result.applied:
            self.get_logger().info(result.message)
        else:
            self.get_logger().info(f'{label!r} changed nothing: {result.message}')
        self._record(label, result.message, result.applied)
        if self._task.is_satisfied(self._world):
            self.get_logger().info(f'goal met after {self._steps} steps: {self._task.text!r}')

    def _record(self, label: str, result: str, applied: bool) -> None:
        self._last_action, self._last_result, self._last_applied = label, result, applied
        self._publish_status()

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self._world = self._initial.copy()
        self._frame = None
        self._steps = 0
        self._pending = None
        self._last_action = self._last_result = self._last_applied = None
        self._publish_status()
        response.success = True
        response.message = f'world reset to {self._initial!r}'
        self.get_logger().info(response.message)
        return response


def main(args: list[str] | None = None) -> int:
    """Run the scene camera until Ctrl-C or shutdown; return the process exit status."""
    return run_node(SceneCameraNode, 'scene_camera', args)


if __name__ == '__main__':
    raise SystemExit(main())
