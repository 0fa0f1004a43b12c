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
  ``estop`` (std_msgs/Bool). Every subscription's QoS can be overridden the ROS way, e.g.
  ``qos_overrides./goal.subscription.durability:=volatile``;
* publishes ``action`` (std_msgs/String, exactly one action-library label), ``decision``
  (std_msgs/String, JSON record), ``debug_image`` (sensor_msgs/Image) and ``/diagnostics``;
* services ``~/plan`` (decide now, answer with the label), ``~/reset`` (forget the task so far)
  and ``~/resume`` (plan again after an e-stop was released).

The decision state and its safety rules live in :class:`vlm_planner.core.session.DecisionSession`;
this module only turns messages into session calls and session results into messages. It comes
in two variants sharing :class:`PlannerPorts`: :class:`PlannerNode`, which starts planning at
once, and :class:`ManagedPlannerNode`, a ROS 2 lifecycle node (``configure`` loads the model,
``activate`` subscribes and starts deciding, ``deactivate`` stops acting, ``cleanup`` frees the
model).

Decisions run on a worker thread, so image callbacks never wait for the model. No exception in a
callback or the worker takes the node down: each is counted, logged (throttled) and shown on
``/diagnostics``.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import traceback
from typing import Any, Callable, NoReturn

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.qos_overriding_options import QoSOverridingOptions, QoSPolicyKind
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger

from vlm_planner import settings
from vlm_planner.core.planner import Planner
from vlm_planner.core.session import DecisionSession, Outcome
from vlm_planner.core.strategies import make_strategy
from vlm_planner.data.image_decoding import (compressed_msg_to_rgb, image_msg_to_rgb,
                                             stamp_to_seconds)
from vlm_planner.errors import ImageConversionError, VlmPlannerError
from vlm_planner.models.base import check_scoring
from vlm_planner.models.stage_times import stage_summary
from vlm_planner.ros.conversions import rgb_to_image_msg
from vlm_planner.ros.debug_image import annotate_decision
from vlm_planner.ros.node_main import exit_now, run_node, SelfCleaningNode
from vlm_planner.ros.parameters import declare_params
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS

#: How often the worker thread checks whether a decision is due.
POLL_S = 0.05
#: Seconds between two log lines about the same kind of failure.
LOG_THROTTLE_S = 5.0
#: The QoS policies a user may override per subscription (qos_overrides.<topic>.subscription.*).
OVERRIDABLE = QoSOverridingOptions(policy_kinds=(
    QoSPolicyKind.HISTORY, QoSPolicyKind.DEPTH, QoSPolicyKind.RELIABILITY,
    QoSPolicyKind.DURABILITY))


class PlannerPorts:
    """The planner's ROS side (parameters, topics, services, worker), shared by both nodes."""

    def __init__(self, node: Node, planner: Planner | None = None) -> None:
        """Declare the parameters on ``node``; ``planner`` replaces the one they would build."""
        self.node = node
        self._given_planner = planner
        self.values = declare_params(node, settings.PLANNER_PARAMS)
        self.planner: Planner | None = None
        self.session: DecisionSession | None = None
        self.errors = {'callback_errors': 0, 'incompatible_qos': 0}
        self._problems = {'node': ''}
        self._entities: list[Any] = []  # publishers, services, timers: made on configure
        self._subscriptions: list[Any] = []  # made on activate
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._active = False
        node.add_on_set_parameters_callback(self._on_set_parameters)

    @property
    def live_session(self) -> DecisionSession:
        """The session of a configured planner (callbacks run only then)."""
        if self.session is None:
            raise RuntimeError('the planner is not configured')
        return self.session

    @property
    def live_planner(self) -> Planner:
        """The planner of a configured node."""
        if self.planner is None:
            raise RuntimeError('the planner is not configured')
        return self.planner

    # --- lifecycle ----------------------------------------------------------------------------

    def configure(self) -> None:
        """Load the model and create publishers, services and the diagnostics timer.

        Raises:
            VlmPlannerError: a parameter, file or the model is wrong (the message says how).
        """
        node = self.node
        given, self.values = self.values, settings.check(self.values)
        applied = {k: v for k, v in self.values.items() if given.get(k) != v}
        if applied:
            node.get_logger().info(f'the model card recommends, and the node uses: {applied}')
        planner = self._given_planner or settings.build_planner(self.values)
        self.planner = planner
        self.session = settings.make_session(self.values, planner, clock=self._now)
        self.session.steady_clock = time.monotonic  # tells a stopped /clock (use_sim_time)
        self.io = settings.node_config(self.values)
        if planner.backend.untrained:
            node.get_logger().warning(
                f'model {planner.backend.name!r} is randomly initialised: its choices are '
                'UNTRAINED. Set model.backend to transformers and model.path to a trained model.')
        self.action_pub = node.create_publisher(String, 'action', COMMAND_QOS)
        self.decision_pub = node.create_publisher(String, 'decision', COMMAND_QOS)
        self.debug_pub = node.create_publisher(Image, 'debug_image', 1)
        self.diag_pub = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        # Services may block for a whole decision: keep them out of the image callbacks' way.
        services = MutuallyExclusiveCallbackGroup()
        self._entities = [
            self.action_pub, self.decision_pub, self.debug_pub, self.diag_pub,
            node.create_service(Trigger, '~/plan', self._on_plan, callback_group=services),
            node.create_service(Trigger, '~/reset', self._on_reset, callback_group=services),
            node.create_service(Trigger, '~/resume', self._on_resume, callback_group=services),
            # On the steady clock: diagnostics go on when a simulated /clock stops.
            node.create_timer(self.io.diagnostics_period,
                              self._guarded(self._publish_diagnostics, 'diagnostics'),
                              clock=Clock(clock_type=ClockType.STEADY_TIME)),
        ]
        node.get_logger().info(
            f'planning with {planner.backend.name} ({planner.strategy.name} strategy) over '
            f'{len(planner.actions)} actions; trigger: {self.session.trigger.mode}'
            + ('; DRY RUN: no action is published' if self.session.config.dry_run else ''))

    def activate(self) -> None:
        """Subscribe to the inputs and start deciding."""
        if self._active:
            return
        compressed = self.io.image_transport == 'compressed'
        image_type, image_topic = ((CompressedImage, 'image/compressed') if compressed
                                   else (Image, 'image'))
        self._subscriptions = [
            self._subscribe(image_type, image_topic, self._on_image, SENSOR_QOS),
            self._subscribe(String, 'goal', self._on_goal, LATCHED_QOS),
            self._subscribe(String, 'manipulator/status', self._on_status, LATCHED_QOS),
            self._subscribe(Bool, 'estop', self._on_estop, COMMAND_QOS),
        ]
        self._stop.clear()
        self._active = True
        self._worker = threading.Thread(target=self._run_worker, name='vlm_planner_decisions',
                                        daemon=True)
        self._worker.start()

    def deactivate(self) -> None:
        """Stop deciding and acting; the model stays loaded."""
        self._active = False
        self._stop.set()
        self._interrupt_model()
        worker = self._worker
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            worker.join(timeout=5.0)
        self._worker = None
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)
        self._subscriptions = []

    def cleanup(self) -> None:
        """Destroy publishers, services and timers and free the model (GPU memory too)."""
        self.deactivate()
        for entity in self._entities:
            destroy = {'Publisher': self.node.destroy_publisher,
                       'Service': self.node.destroy_service,
                       'Timer': self.node.destroy_timer}.get(type(entity).__name__)
            if destroy is not None:
                destroy(entity)
        self._entities = []
        if self.planner is not None and self._given_planner is None:
            self.planner.backend.close()
        self.planner = None
        self.session = None

    def shutdown(self) -> None:
        """Refuse every further action at once, then stop (the node is going away)."""
        if self.session is not None:
            self.session.close()
        self.deactivate()

    def _subscribe(self, msg_type, topic: str, callback: Callable, qos: QoSProfile):
        events = SubscriptionEventCallbacks(
            incompatible_qos=lambda info, topic=topic: self._on_incompatible_qos(topic, info))
        # A copy: rclpy writes the qos_overrides parameters into the profile it is given.
        return self.node.create_subscription(
            msg_type, topic, self._guarded(callback, topic), copy.copy(qos),
            qos_overriding_options=OVERRIDABLE, event_callbacks=events)

    # --- inputs -------------------------------------------------------------------------------

    def _on_image(self, msg) -> None:
        convert = compressed_msg_to_rgb if isinstance(msg, CompressedImage) else image_msg_to_rgb
        try:
            rgb = convert(msg, max_pixels=self.io.max_image_pixels)
        except ImageConversionError as exc:
            self._warn(self.live_session.reject_frame(str(exc)))
            return
        problem = self.live_session.add_frame(rgb, stamp_to_seconds(msg.header.stamp) or None)
        if problem:
            self._warn(problem)

    def _on_goal(self, msg: String) -> None:
        old = self.live_session.goal
        problem = self.live_session.set_goal(msg.data)
        if problem:
            self._warn(problem)
        elif self.live_session.goal != old:
            self.node.get_logger().info(f'new goal: {self.live_session.goal[:200]!r}; keyframes '
                                        'of the old task dropped')

    def _on_status(self, msg: String) -> None:
        was_estopped = self.live_session.estopped
        self.live_session.on_status(msg.data)
        self._log_estop(was_estopped)

    def _on_estop(self, msg: Bool) -> None:
        was_estopped = self.live_session.estopped
        self.live_session.set_estop(bool(msg.data))
        self._log_estop(was_estopped)

    def _log_estop(self, was_estopped: bool) -> None:
        if self.live_session.estopped and not was_estopped:
            self.node.get_logger().warning('E-STOP: no action will be published; after the '
                                           'release call ~/resume to plan again')
        elif was_estopped and not self.live_session.estopped:
            self.node.get_logger().warning('e-stop released; planning stays paused until '
                                           '~/resume is called')

    def _on_incompatible_qos(self, topic: str, info) -> None:
        self.errors['incompatible_qos'] += 1
        policy = getattr(info.last_policy_kind, 'name', str(info.last_policy_kind)).lower()
        name = self.node.resolve_topic_name(topic)
        self._problems['node'] = (
            f'a publisher on {name} has an incompatible QoS {policy}: nothing from it arrives. '
            f'Match the publisher to the subscription, or set qos_overrides.{name}.subscription.'
            f'{policy} to match the publisher')
        self._warn(self._problems['node'])

    def _on_set_parameters(self, params) -> SetParametersResult:
        if self.session is None:
            return SetParametersResult(successful=True)  # declaring, or not configured
        values = dict(self.values)
        for param in params:
            if param.name not in values:
                continue  # not ours (use_sim_time, qos_overrides.*): rclpy handles it
            if param.name not in settings.DYNAMIC:
                return SetParametersResult(successful=False,
                                           reason=f'{param.name} is read-only; restart the node.')
            values[param.name] = param.value
        try:
            values = settings.complete(values)
            check_scoring(self.live_planner.backend, values['strategy.scoring'])
            strategy = make_strategy(settings.strategy_config(values),
                                     self.live_planner.strategy.template)
            session_config = settings.session_config(values)
        except VlmPlannerError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.values = values
        self.live_planner.strategy = strategy
        self.live_planner.min_confidence = values['min_confidence']
        self.live_planner.max_rationale_chars = values['max_rationale_chars']
        self.live_session.config = session_config
        if values['goal']:
            self._on_goal(String(data=values['goal']))
        return SetParametersResult(successful=True)

    # --- services -----------------------------------------------------------------------------

    def _on_plan(self, request, response):
        try:
            outcome = self._decide('service', wait=self.io.plan_service_timeout)
            response.success = outcome.act
            response.message = outcome.decision.action if outcome.act else outcome.problem
        except Exception as exc:  # noqa: BLE001 - the caller gets the reason, the node stays up
            self._failed('~/plan', exc)
            response.success, response.message = False, f'{type(exc).__name__}: {exc}'
        return response

    def _on_reset(self, request, response):
        self.live_session.reset()
        response.success = True
        response.message = 'keyframes and pending actions forgotten'
        self.node.get_logger().info(response.message)
        return response

    def _on_resume(self, request, response):
        problem = self.live_session.resume()
        response.success = not problem
        response.message = problem or 'planning resumed'
        self.node.get_logger().info(f'~/resume: {response.message}')
        return response

    # --- decisions ----------------------------------------------------------------------------

    def _run_worker(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                due = self.live_session.due()
                for note in self.live_session.clock_notes():  # the clock stopped or moves again
                    self.node.get_logger().warning(note)
                if due:
                    self._decide('trigger')
            except Exception as exc:  # noqa: BLE001 - counted and shown; the worker carries on
                self._failed('decision worker', exc)

    def _decide(self, trigger: str, wait: float = -1):
        """Make one decision through the session and publish what it allows."""
        if not self._active:
            return Outcome(None, 'the planner is not active (lifecycle state); activate it')
        outcome = self.live_session.decide(wait=wait)
        if outcome.decided:
            self._publish(outcome, trigger)
        elif trigger == 'service' or outcome.problem:
            self._warn(outcome.problem)
        return outcome

    def _publish(self, outcome: Outcome, trigger: str) -> None:
        decision = outcome.decision
        assert decision is not None
        if not self._active or self.live_session.closed:
            return  # deactivated or shutting down while the model thought: nothing goes out
        published = False
        with self.live_session.action_gate:
            # Checked again here: an e-stop may have come while the model was thinking.
            if outcome.act and self._active and self.live_session.may_act():
                self.live_session.sent(decision.action)  # before the arm can answer
                self.action_pub.publish(String(data=decision.action))
                published = True
        if outcome.act and not published:
            outcome = Outcome(decision, self.live_session.blocked() or 'not active', False)
        record = decision.to_record()
        record.update(trigger=trigger, published=published, problem=outcome.problem,
                      dry_run=self.live_session.config.dry_run)
        self.decision_pub.publish(String(data=json.dumps(record)))
        verdict = '->' if published else f'held ({outcome.problem})'
        self.node.get_logger().info(
            f'{verdict} {decision.action or "(no action: needs help)"!r} conf '
            f'{decision.confidence:.2f} in {decision.latency_s * 1000:.0f} ms')
        latest = self.live_session.buffer.latest
        if self.io.publish_debug_image and latest is not None \
                and self.debug_pub.get_subscription_count():
            annotated = annotate_decision(
                latest.image, label=decision.action or 'needs help',
                confidence=decision.confidence, strategy=decision.strategy,
                latency_s=decision.latency_s, untrained=decision.untrained, goal=decision.goal)
            self.debug_pub.publish(rgb_to_image_msg(annotated, 'rgb8',
                                                    self.node.get_clock().now().to_msg()))

    # --- health -------------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """Counters also shown in ``/diagnostics`` (frames, decisions, errors...)."""
        session_stats = self.session.stats if self.session is not None else {}
        return {**session_stats, **self.errors}

    def _guarded(self, callback: Callable, what: str) -> Callable:
        """``callback`` with every exception contained (counted, logged, on diagnostics)."""
        def run(*args):
            try:
                return callback(*args)
            except Exception as exc:  # noqa: BLE001 - one bad message must not kill the node
                self._failed(what, exc)
        return run

    def _failed(self, what: str, exc: BaseException) -> None:
        self.errors['callback_errors'] += 1
        self._problems['node'] = f'{what} failed: {type(exc).__name__}: {exc}'[:500]
        if self.errors['callback_errors'] == 1:
            self.node.get_logger().error(
                self._problems['node'] + '\n' + ''.join(traceback.format_exception(exc))[-2000:])
        else:
            self.node.get_logger().error(self._problems['node'],
                                         throttle_duration_sec=LOG_THROTTLE_S)

    def _warn(self, message: str) -> None:
        if message:
            self.node.get_logger().warning(message[:500], throttle_duration_sec=LOG_THROTTLE_S)

    def _interrupt_model(self) -> None:
        backend = self.live_planner.backend if self.planner is not None else None
        if backend is not None:
            backend.interrupt()

    def _publish_diagnostics(self) -> None:
        session = self.live_session
        status = DiagnosticStatus(name=f'{self.node.get_name()}: planner',
                                  hardware_id='vlm_planner')
        backend = self.live_planner.backend
        values: dict[str, Any] = {
            **self.stats, 'active': self._active, 'model': backend.name,
            'strategy': self.live_planner.strategy.name, 'goal': session.goal[:200],
            'keyframes': len(session.buffer), 'trigger': session.trigger.mode,
            'manipulator_status': session.trigger.status, 'estopped': session.estopped,
            'paused': session.paused, 'dry_run': session.config.dry_run,
            'avoided_actions': '; '.join(session.failed_actions),
            'untrained_model': backend.untrained,
            'model_trained_on': backend.card.trained_on[:200], 'model_caching': backend.caching}
        latest = session.buffer.latest
        if latest is not None:
            values['frame_age_s'] = round(self._now() - latest.stamp, 3)
        if session.last_decision is not None:
            values['last_action'] = session.last_decision.action or '(needs help)'
            values['last_latency_s'] = round(session.last_decision.latency_s, 4)
            if session.last_decision.stages:
                values['last_stages'] = stage_summary(session.last_decision.stages)
        problems = '; '.join(p for p in (*session.problems.values(), *self._problems.values())
                             if p)
        if session.estopped:
            status.level, status.message = DiagnosticStatus.ERROR, problems
        elif problems:
            status.level, status.message = DiagnosticStatus.WARN, problems
        elif not self._active:
            status.level, status.message = DiagnosticStatus.OK, 'inactive'
        elif backend.untrained:
            status.level, status.message = DiagnosticStatus.WARN, 'model is untrained'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'planning'
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        header = Header(stamp=self.node.get_clock().now().to_msg())
        self.diag_pub.publish(DiagnosticArray(header=header, status=[status]))

    def _now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9


class PlannerNode(SelfCleaningNode):
    """The planner as a plain node: configured and active from the start."""

    def __init__(self, *, planner: Planner | None = None, **kwargs) -> None:
        """Create the node; ``planner`` replaces the one its parameters would build."""
        self._given_planner = planner
        self._ports: PlannerPorts | None = None
        super().__init__('vlm_planner', **kwargs)

    def setup(self) -> None:
        """Declare parameters, load the model, wire topics and services, start deciding."""
        self._ports = PlannerPorts(self, self._given_planner)
        self._ports.configure()
        self._ports.activate()

    @property
    def ports(self) -> PlannerPorts:
        """The planner's ROS side."""
        assert self._ports is not None, 'set up in __init__'
        return self._ports

    @property
    def stats(self) -> dict[str, int]:
        """Counters also shown in ``/diagnostics``."""
        return self.ports.stats

    @property
    def goal(self) -> str:
        """The current task goal."""
        return self.ports.live_session.goal

    @property
    def session(self) -> DecisionSession:
        """The decision session this node feeds."""
        return self.ports.live_session

    def destroy_node(self) -> None:
        """Stop acting and deciding, free the model, then destroy the node."""
        if self._ports is not None:
            self._ports.shutdown()
            if self._ports.planner is not None and self._given_planner is None:
                self._ports.planner.backend.close()
        super().destroy_node()


class ManagedPlannerNode(LifecycleNode):
    """The planner as a ROS 2 lifecycle node (see module docstring)."""

    def __init__(self, *, planner: Planner | None = None, **kwargs) -> None:
        """Create the node unconfigured; its parameters are declared at once."""
        super().__init__('vlm_planner', **kwargs)
        self.ports = PlannerPorts(self, planner)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model and create publishers and services."""
        try:
            self.ports.configure()
        except VlmPlannerError as exc:
            self.get_logger().error(f'configure failed: {exc}')
            self.ports.cleanup()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the inputs and start deciding."""
        self.ports.activate()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop deciding and acting; the model stays loaded."""
        self.ports.deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free the model and the publishers."""
        self.ports.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop at once and free everything."""
        self.ports.shutdown()
        self.ports.cleanup()
        return TransitionCallbackReturn.SUCCESS

    @property
    def stats(self) -> dict[str, int]:
        """Counters also shown in ``/diagnostics``."""
        return self.ports.stats

    @property
    def goal(self) -> str:
        """The current task goal; empty while unconfigured."""
        return self.ports.session.goal if self.ports.session is not None else ''

    def destroy_node(self) -> None:
        """Stop acting, free the model, then destroy the node."""
        self.ports.shutdown()
        self.ports.cleanup()
        super().destroy_node()


def main(args: list[str] | None = None) -> NoReturn:
    """Run the plain planner node until Ctrl-C or shutdown, then exit with its status."""
    exit_now(run_node(PlannerNode, 'vlm_planner', args, executor_class=MultiThreadedExecutor))


def managed_main(args: list[str] | None = None) -> NoReturn:
    """Run the lifecycle planner node (unconfigured until told) until Ctrl-C, then exit."""
    exit_now(run_node(ManagedPlannerNode, 'vlm_planner', args,
                      executor_class=MultiThreadedExecutor))
