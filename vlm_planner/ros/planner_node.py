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

"""The planner node: camera frames and a goal in, one action-library label out per decision.

Topics (all relative, so remappable and namespaceable):

* subscribes ``image`` (sensor_msgs/Image) or ``image/compressed`` (CompressedImage), sensor QoS;
  ``goal`` (std_msgs/String, latched); ``manipulator/status`` (std_msgs/String, latched);
* publishes ``action`` (std_msgs/String, exactly one action-library label), ``decision``
  (std_msgs/String, JSON record), ``debug_image`` (sensor_msgs/Image) and ``/diagnostics``;
* services ``~/plan`` (decide now, answer with the label) and ``~/reset`` (forget the task so far).

Decisions run on a worker thread, so image callbacks never wait for the model. The planning logic
itself lives in :mod:`vlm_planner.core`; this module only moves data between ROS and it.
"""

from __future__ import annotations

import json
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rcl_interfaces.msg import SetParametersResult
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header, String
from std_srvs.srv import Trigger

from vlm_planner import settings
from vlm_planner.core.frames import Frame
from vlm_planner.core.keyframes import KeyframeBuffer
from vlm_planner.core.planner import Decision
from vlm_planner.core.strategies import make_strategy
from vlm_planner.errors import ImageConversionError, VlmPlannerError
from vlm_planner.ros.conversions import (compressed_msg_to_rgb, image_msg_to_rgb,
                                         rgb_to_image_msg, stamp_to_seconds)
from vlm_planner.ros.debug_image import annotate_decision
from vlm_planner.ros.node_main import run_node, SelfCleaningNode
from vlm_planner.ros.parameters import declare_params
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS

#: How often the worker thread checks whether a decision is due.
POLL_S = 0.05


class PlannerNode(SelfCleaningNode):
    """ROS front end of :class:`vlm_planner.core.planner.Planner`."""

    def __init__(self, *, planner=None, **kwargs) -> None:
        """Create the node; ``planner`` replaces the one its parameters would build."""
        self._given_planner = planner
        self._worker: threading.Thread | None = None
        super().__init__('vlm_planner', **kwargs)

    def setup(self) -> None:
        """Declare parameters, load the model and wire topics, services and the worker."""
        self.values = declare_params(self, settings.PLANNER_PARAMS)
        self.planner = self._given_planner or settings.build_planner(self.values)
        self.buffer = KeyframeBuffer(settings.keyframe_config(self.values))
        self.trigger = settings.make_trigger(self.values)
        self.goal = self.values['goal']
        self._stats = {'frames_received': 0, 'frames_rejected': 0, 'decisions': 0,
                       'actions_published': 0, 'failed_decisions': 0}
        self._last_decision: Decision | None = None
        # Latest unresolved problem per area, shown in /diagnostics until it clears.
        self._problems = {'camera': '', 'decision': ''}
        self._plan_lock = threading.Lock()  # one decision at a time
        if getattr(self.planner.backend, 'untrained', False):
            self.get_logger().warning(
                f'model {self.planner.backend.name!r} is randomly initialised: its choices are '
                'UNTRAINED. Set model.backend to transformers and model.path to a trained model.')

        self.action_pub = self.create_publisher(String, 'action', COMMAND_QOS)
        self.decision_pub = self.create_publisher(String, 'decision', COMMAND_QOS)
        self.debug_pub = self.create_publisher(Image, 'debug_image', 1)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        if self.values['image_transport'] == 'compressed':
            self.create_subscription(CompressedImage, 'image/compressed',
                                     self._on_compressed, SENSOR_QOS)
        else:
            self.create_subscription(Image, 'image', self._on_image, SENSOR_QOS)
        self.create_subscription(String, 'goal', self._on_goal, LATCHED_QOS)
        self.create_subscription(String, 'manipulator/status', self._on_status, LATCHED_QOS)
        # Services may block for a whole decision: keep them out of the image callbacks' way.
        services = MutuallyExclusiveCallbackGroup()
        self.create_service(Trigger, '~/plan', self._on_plan, callback_group=services)
        self.create_service(Trigger, '~/reset', self._on_reset, callback_group=services)
        self.create_timer(self.values['diagnostics_period'], self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run_worker, name='vlm_planner_decisions',
                                        daemon=True)
        self._worker.start()
        self.get_logger().info(
            f'planning with {self.planner.backend.name} ({self.planner.strategy.name} strategy) '
            f'over {len(self.planner.actions)} actions; trigger: {self.trigger.mode}')

    # --- inputs -------------------------------------------------------------------------------

    def _on_image(self, msg: Image) -> None:
        self._add_frame(msg, image_msg_to_rgb)

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._add_frame(msg, compressed_msg_to_rgb)

    def _add_frame(self, msg, convert) -> None:
        try:
            rgb = convert(msg)
        except ImageConversionError as exc:
            self._stats['frames_rejected'] += 1
            self._problem('camera', f'dropped a camera frame: {exc}')
        else:
            self._problems['camera'] = ''
            stamp = stamp_to_seconds(msg.header.stamp) or self._now()
            self.buffer.add(Frame(rgb, stamp))
        finally:
            # Counted once handled, so whoever sees the count also sees the buffer updated.
            self._stats['frames_received'] += 1

    def _on_goal(self, msg: String) -> None:
        goal = msg.data.strip()
        if goal and goal != self.goal:
            self.get_logger().info(f'new goal: {goal!r}; keyframes of the old task dropped')
            self.goal = goal
            self.buffer.reset(keep_latest=True)

    def _on_status(self, msg: String) -> None:
        self.trigger.on_status(msg.data.strip(), time.monotonic())

    def _on_set_parameters(self, params) -> SetParametersResult:
        values = dict(self.values)
        for param in params:
            if param.name not in settings.DYNAMIC:
                return SetParametersResult(successful=False,
                                           reason=f'{param.name} is read-only; restart the node.')
            values[param.name] = param.value
        try:
            values = settings.complete(values)
            strategy = make_strategy(settings.strategy_config(values),
                                     self.planner.strategy.template)
        except VlmPlannerError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.values = values
        self.planner.strategy = strategy
        self.planner.min_confidence = values['min_confidence']
        if values['goal'] and values['goal'] != self.goal:
            self._on_goal(String(data=values['goal']))
        return SetParametersResult(successful=True)

    # --- services -----------------------------------------------------------------------------

    def _on_plan(self, request, response):
        decision, problem = self._decide(published_by='service',
                                         wait=self.values['plan_service_timeout'])
        response.success = decision is not None and decision.accepted
        if decision is None:
            response.message = problem
        elif not decision.accepted:
            response.message = (f'confidence {decision.confidence:.2f} is below min_confidence '
                                f'{self.planner.min_confidence:.2f}; no action published '
                                f'(best: {decision.action})')
        else:
            response.message = decision.action
        return response

    def _on_reset(self, request, response):
        self.buffer.reset()
        self.trigger.reset()
        response.success = True
        response.message = 'keyframes and pending actions forgotten'
        self.get_logger().info(response.message)
        return response

    # --- decisions ----------------------------------------------------------------------------

    def _run_worker(self) -> None:
        while not self._stop.wait(POLL_S):
            if self.trigger.due(time.monotonic()):
                self._decide(published_by='trigger')

    def _decide(self, published_by: str, wait: float = -1) -> tuple[Decision | None, str]:
        """Make one decision and publish it; return it, or None and the reason why not.

        ``wait`` bounds how long to queue behind a decision already running (-1: no bound).
        """
        if not self._plan_lock.acquire(timeout=wait):
            return None, (f'another decision is still running after {wait:.0f} s '
                          '(plan_service_timeout); try again')
        try:
            problem = self._precondition_problem()
            if problem:
                self.trigger.on_decision(time.monotonic(), published=False)
                self._problem('decision', problem)
                return None, problem
            try:
                decision = self.planner.decide(self.goal, self.buffer.snapshot())
            except Exception as exc:  # noqa: BLE001 - a model failure must not kill the node
                self._stats['failed_decisions'] += 1
                self.trigger.on_decision(time.monotonic(), published=False)
                problem = f'decision failed: {type(exc).__name__}: {exc}'
                self.get_logger().error(problem)
                self._problems['decision'] = problem
                return None, problem
            self._publish(decision, published_by)
            self.trigger.on_decision(time.monotonic(), published=decision.accepted)
            return decision, ''
        finally:
            self._plan_lock.release()

    def _precondition_problem(self) -> str:
        if not self.goal:
            return ('no goal yet: publish one on the goal topic (std_msgs/String) or set the '
                    'goal parameter')
        latest = self.buffer.latest
        if latest is None:
            topic = 'image/compressed' if self.values['image_transport'] == 'compressed' \
                else 'image'
            return f'no camera frame yet on {self.resolve_topic_name(topic)}'
        age = self._now() - latest.stamp
        if age > self.values['max_frame_age']:
            return (f'newest camera frame is {age:.1f} s old (max_frame_age '
                    f'{self.values["max_frame_age"]} s): is the camera still publishing?')
        return ''

    def _publish(self, decision: Decision, published_by: str) -> None:
        self._stats['decisions'] += 1
        self._last_decision = decision
        self._problems['decision'] = ''
        record = decision.to_record()
        record['trigger'] = published_by
        record['published'] = decision.accepted
        self.decision_pub.publish(String(data=json.dumps(record)))
        if decision.accepted:
            # The label comes from the action library through the planner, never from raw text.
            self.action_pub.publish(String(data=decision.action))
            self._stats['actions_published'] += 1
        self.get_logger().info(
            f'{"->" if decision.accepted else "held (low confidence)"} {decision.action!r} '
            f'conf {decision.confidence:.2f} in {decision.latency_s * 1000:.0f} ms')
        if self.values['publish_debug_image'] and self.debug_pub.get_subscription_count():
            annotated = annotate_decision(
                self.buffer.latest.image, label=decision.action, confidence=decision.confidence,
                strategy=decision.strategy, latency_s=decision.latency_s,
                untrained=decision.untrained, goal=decision.goal)
            self.debug_pub.publish(rgb_to_image_msg(annotated, 'rgb8',
                                                    self.get_clock().now().to_msg()))

    # --- health -------------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """Counters also shown in ``/diagnostics`` (frames received and rejected, decisions...)."""
        return dict(self._stats)

    def _problem(self, area: str, message: str) -> None:
        self._problems[area] = message
        self.get_logger().warning(message, throttle_duration_sec=5.0)

    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name=f'{self.get_name()}: planner', hardware_id='vlm_planner')
        latest = self.buffer.latest
        values = {**self._stats, 'model': self.planner.backend.name,
                  'strategy': self.planner.strategy.name, 'goal': self.goal,
                  'keyframes': len(self.buffer), 'trigger': self.trigger.mode,
                  'manipulator_status': self.trigger.status,
                  'untrained_model': getattr(self.planner.backend, 'untrained', False)}
        if latest is not None:
            values['frame_age_s'] = round(self._now() - latest.stamp, 3)
        if self._last_decision is not None:
            values['last_action'] = self._last_decision.action
            values['last_latency_s'] = round(self._last_decision.latency_s, 4)
        problems = '; '.join(p for p in self._problems.values() if p)
        if problems:
            status.level, status.message = DiagnosticStatus.WARN, problems
        elif values['untrained_model']:
            status.level, status.message = DiagnosticStatus.WARN, 'model is untrained'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'planning'
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        header = Header(stamp=self.get_clock().now().to_msg())
        self.diag_pub.publish(DiagnosticArray(header=header, status=[status]))

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def destroy_node(self) -> None:
        """Stop the decision thread before the node goes away."""
        worker = self._worker  # None when set-up failed before starting it
        if worker is not None:
            self._stop.set()
            if worker.is_alive() and worker is not threading.current_thread():
                worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the planner node until Ctrl-C or shutdown; return the process exit status."""
    return run_node(PlannerNode, 'vlm_planner', args, executor_class=MultiThreadedExecutor)
