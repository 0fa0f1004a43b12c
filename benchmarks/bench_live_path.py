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

"""The planner node's live path over loopback DDS: frame-to-action latency and frame backlog.

Usage::

    python benchmarks/bench_live_path.py [--decisions 300] [--stream-seconds 120] [--json FILE]

A :class:`~vlm_planner.ros.planner_node.PlannerNode` and a probe node (camera, task giver, arm
status, action listener; :mod:`planner_rig`) spin in one process on one multi-threaded executor,
talking over DDS on this host only. The model is a backend defined here; it is a benchmark of the
path around the model, not of a model.

1. **Frame-to-action latency**, the model answering at once. Each decision is caused by exactly
   one frame: the probe publishes a frame, and the decision that follows must be stamped with it
   (its decision record's ``stamp``; a decision on another frame fails the run). Latency is from
   just before the frame's ``publish`` to the ``action`` message's arrival at the probe, over
   ``--decisions`` decisions. The probe triggers the decision as soon as the planner's image
   callback has taken the frame (seen through a timing hook), in one of two ways:

   * ``~/plan`` per frame (``trigger.mode: service``): the probe calls ``~/plan``, which decides
     at once on the service's thread. This is the path's own latency: what the node adds to the
     model's time;
   * ``idle`` trigger (the default mode, ``trigger.settle_time: 0``): the arm status went to
     ``executing`` before the frame; the probe reports ``succeeded``, as an arm finishing a
     motion would, and the node's worker thread starts the decision at its next poll.

   Both legs are reported too: publish -> frame taken (DDS transport of the image, conversion,
   keyframe selection) and trigger sent -> action arrived (the request or status message, the
   wait for the worker, the decision, the action's transport). A random pause of up to one poll
   period before each frame keeps the rounds out of step with the worker's poll.

2. **Frame backlog under a slow model**: a 30 Hz 1920x1080 rgb8 camera for ``--stream-seconds``
   while a model that takes ``--slow-model`` seconds (2) per decision decides back to back
   (``timer`` trigger). The image subscription (sensor QoS: best effort, keep last 1) must drop
   what it cannot take instead of queueing it: the delay from a frame's publication to the end of
   its image callback, and the age of the frame each decision uses, must not grow over the run;
   no frame may be taken long after the camera stopped; the memory Python allocated during the
   stream and still holds (``tracemalloc``, which counts numpy's frame buffers too) must not
   grow. Resident memory is reported as well; it also holds what the allocator keeps for reuse.

Timing hooks wrap the node's session ``add_frame`` and the planner's ``decide`` (the time a frame
was taken, the frame a decision used); they add a function call each and change nothing else.
Prints Markdown tables; ``--json`` also writes the raw numbers. Exits 1 when a decision used
another frame than the one that caused it, or when the backlog check fails. With the defaults it
takes about 3 minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import random
import statistics
import sys
import threading
import time
import tracemalloc
from typing import Any, Callable, Sequence

import numpy as np
from planner_rig import GOAL, markdown_table, PlannerRig, rss_bytes, wait_until, write_json
import rclpy
from rclpy.logging import LoggingSeverity
from rclpy.parameter import Parameter
from std_msgs.msg import String
from std_srvs.srv import Trigger

from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.chat import Generation
from vlm_planner.core.planner import Planner
from vlm_planner.core.strategies import make_strategy, StrategyConfig
from vlm_planner.models.base import VLMBackend
from vlm_planner.ros.conversions import rgb_to_image_msg
from vlm_planner.ros.planner_node import PlannerNode, POLL_S
from vlm_planner.ros.qos import COMMAND_QOS

#: Seconds to wait for one frame, action or decision record before the round counts as lost.
ROUND_TIMEOUT_S = 5.0
#: Unmeasured rounds first (DDS matching, first-call costs).
WARMUP_ROUNDS = 10
#: Seconds of the stream left out at its start (discovery, first keyframes) for the trends.
STREAM_WARMUP_S = 5.0
#: Seconds left out for memory: the keyframe buffer fills and the allocator's arenas grow first.
MEMORY_WARMUP_S = 30.0
#: Growth of the memory Python holds, between the first and the last third, that fails the run.
MEMORY_GROWTH_LIMIT_MB = 50.0
#: Camera of the backlog run.
STREAM_SHAPE, STREAM_HZ = (1080, 1920), 30.0
#: Distinct camera images cycled through (random content: every compared frame is a change).
DISTINCT_FRAMES = 8
#: Seconds after the camera stopped by which the last frame must have been taken (no backlog).
DRAIN_LIMIT_S = 0.5


class InstantBackend(VLMBackend):
    """A model that answers at once (after ``delay`` s, when given): always the first option."""

    name = 'instant'

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self._interrupted = threading.Event()

    def score_letters(self, messages, letters) -> np.ndarray:
        """Log-probabilities that make the first letter the clear choice."""
        self._think()
        scores = np.full(len(letters), -5.0)
        scores[0] = 0.0
        return scores

    def generate(self, messages, *, num_samples=1, temperature=0.0,
                 max_new_tokens=128) -> list[Generation]:
        """The first letter, as every reply."""
        self._think()
        return [Generation('A', 1) for _ in range(num_samples)]

    def interrupt(self) -> None:
        """Cut a running ``delay`` short (the node is shutting down)."""
        self._interrupted.set()

    def _think(self) -> None:
        if self.delay > 0:
            self._interrupted.clear()
            self._interrupted.wait(self.delay)


@dataclasses.dataclass
class Timings:
    """What the timing hooks and the probe saw, in ``time.monotonic()`` seconds."""

    published: dict[int, float] = dataclasses.field(default_factory=dict)  # stamp key -> time
    taken: dict[int, float] = dataclasses.field(default_factory=dict)  # stamp key -> time
    asked: list[tuple[float, int]] = dataclasses.field(default_factory=list)  # time, stamp key
    actions: list[float] = dataclasses.field(default_factory=list)
    records: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    changed: threading.Condition = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def note(self, what: Callable[[], None]) -> None:
        """Run ``what`` (an update) under the lock and wake the waiters."""
        with self.changed:
            what()
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = ROUND_TIMEOUT_S) -> bool:
        """Wait until ``predicate`` (read under the lock) holds; return whether it did."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)


def stamp_key(sec: int, nanosec: int) -> int:
    """A frame's identity: its header stamp in microseconds."""
    return round((sec + nanosec * 1e-9) * 1e6)


def seconds_key(stamp: float) -> int:
    """:func:`stamp_key` of a stamp in seconds (as the session and decision records give it)."""
    return round(stamp * 1e6)


class LiveRig:
    """A planner node over ``backend`` with ``params``, a probe, and the timing hooks."""

    def __init__(self, backend: InstantBackend, params: dict[str, Any]) -> None:
        self.timings = Timings()
        self.planner = Planner(backend, ActionLibrary.from_yaml(default_actions_file()),
                               make_strategy(StrategyConfig()))
        self._overrides = [Parameter(k, value=v) for k, v in {'goal': GOAL, **params}.items()]
        self.node: PlannerNode | None = None
        self.rig = PlannerRig(None, nodes=(self._make_node,))
        self._hook()
        probe = self.rig.probe.node
        probe.create_subscription(String, 'action', self._on_action, COMMAND_QOS)
        probe.create_subscription(String, 'decision', self._on_record, COMMAND_QOS)
        self.plan_client = probe.create_client(Trigger, '/vlm_planner/plan')

    def _make_node(self, context: rclpy.Context) -> PlannerNode:
        self.node = PlannerNode(context=context, planner=self.planner,
                                parameter_overrides=self._overrides)
        self.node.get_logger().set_level(LoggingSeverity.WARN)  # no line per decision
        return self.node

    def _hook(self) -> None:
        """Wrap the session's ``add_frame`` and the planner's ``decide`` to time them."""
        assert self.node is not None
        session, timings = self.node.session, self.timings
        add_frame, decide = session.add_frame, self.planner.decide

        def timed_add_frame(image, stamp=None):
            problem = add_frame(image, stamp)
            taken = time.monotonic()
            if stamp is not None:
                timings.note(lambda: timings.taken.setdefault(seconds_key(stamp), taken))
            return problem

        def timed_decide(goal, frames, candidates=None):
            asked = time.monotonic()
            timings.note(lambda: timings.asked.append((asked, seconds_key(frames[-1].stamp))))
            return decide(goal, frames, candidates)

        session.add_frame = timed_add_frame  # type: ignore[method-assign]
        self.planner.decide = timed_decide  # type: ignore[method-assign]

    def _on_action(self, msg: String) -> None:
        arrived = time.monotonic()
        self.timings.note(lambda: self.timings.actions.append(arrived))

    def _on_record(self, msg: String) -> None:
        record = json.loads(msg.data)
        self.timings.note(lambda: self.timings.records.append(record))

    def start(self) -> LiveRig:
        """Wait until the planner hears the camera and its action reaches the probe."""
        self.rig.wait_for_subscriber(self.rig.probe.image_pub)
        assert self.node is not None
        action_pub = self.node.ports.action_pub
        if not wait_until(lambda: action_pub.get_subscription_count() >= 2, 10.0):
            raise TimeoutError('the probe does not hear the action topic')
        return self

    def publish(self, msg) -> int:
        """Stamp ``msg`` now, publish it on ``image`` and return its key."""
        now = self.rig.probe.node.get_clock().now().to_msg()
        msg.header.stamp = now
        key = stamp_key(now.sec, now.nanosec)
        with self.timings.lock:
            self.timings.published[key] = time.monotonic()
        self.rig.probe.image_pub.publish(msg)
        return key

    def image_qos(self) -> str:
        """The QoS of the planner's image subscription (after any qos_overrides)."""
        assert self.node is not None
        qos = next(sub.qos_profile for sub in self.node.subscriptions
                   if sub.topic_name == '/image')
        return (f'{qos.reliability.name.lower()}, {qos.history.name.lower()} {qos.depth}, '
                f'{qos.durability.name.lower()}')

    def close(self) -> None:
        """Stop and tear down."""
        self.rig.close()


def camera_messages(shape: tuple[int, int], count: int = DISTINCT_FRAMES) -> list[Any]:
    """``count`` rgb8 camera messages of ``shape`` with random content."""
    rng = np.random.default_rng(0)
    return [rgb_to_image_msg(rng.integers(0, 256, (*shape, 3), dtype=np.uint8), 'rgb8')
            for _ in range(count)]


# --- 1. frame-to-action latency ------------------------------------------------------------------


@dataclasses.dataclass
class Round:
    """One measured decision, in seconds from just before the frame's publication."""

    taken: float  # the image callback took the frame
    triggered: float  # the probe sent the trigger (~/plan request or status)
    acted: float  # the action arrived at the probe


def service_trigger(live: LiveRig) -> Callable[[], None]:
    """Call ``~/plan``; the returned call waits for its answer."""
    future = live.plan_client.call_async(Trigger.Request())

    def answered() -> None:
        if not wait_until(future.done, ROUND_TIMEOUT_S):
            raise TimeoutError('~/plan did not answer')
    return answered


def idle_trigger(live: LiveRig) -> Callable[[], None]:
    """Report ``succeeded`` (the arm reported ``executing`` before the frame)."""
    live.rig.probe.status_pub.publish(String(data='succeeded'))
    return lambda: None


def arm_moving(live: LiveRig) -> None:
    """Report ``executing`` and wait until the planner heard it.

    Raises:
        TimeoutError: it did not.
    """
    assert live.node is not None
    trigger = live.node.session.trigger
    live.rig.probe.status_pub.publish(String(data='executing'))
    if not wait_until(lambda: trigger.status == 'executing', ROUND_TIMEOUT_S):
        raise TimeoutError('the planner did not hear the arm move')


def one_round(live: LiveRig, msg, send_trigger: Callable[[LiveRig], Callable[[], None]]) -> Round:
    """Publish ``msg``, send the trigger once the planner took it, time the action's arrival.

    Raises:
        TimeoutError: the frame, the action or the decision record did not come.
        RuntimeError: the decision was made on another frame.
    """
    timings = live.timings
    actions = len(timings.actions)
    key = live.publish(msg)
    if not timings.wait_for(lambda: key in timings.taken):
        raise TimeoutError('the planner did not take the frame')
    triggered = time.monotonic()
    finish = send_trigger(live)
    if not timings.wait_for(lambda: len(timings.actions) > actions
                            and len(timings.records) > actions):
        raise TimeoutError('no action and decision record came')
    finish()
    with timings.lock:
        record, published = timings.records[actions], timings.published[key]
        acted, taken = timings.actions[actions], timings.taken[key]
    if seconds_key(record['stamp']) != key:
        raise RuntimeError(f'the decision used the frame stamped {record["stamp"]}, not the one '
                           'published for it')
    return Round(taken - published, triggered - published, acted - published)


def measure_latency(trigger: str, shape: tuple[int, int], decisions: int) -> list[Round]:
    """``decisions`` measured rounds (after a warm-up) of one way of triggering."""
    params: dict[str, Any] = {'trigger.mode': trigger}
    if trigger == 'idle':
        params['trigger.settle_time'] = 0.0
    send_trigger = service_trigger if trigger == 'service' else idle_trigger
    live = LiveRig(InstantBackend(), params).start()
    pause = random.Random(0)
    try:
        rounds = []
        for msg in itertools.islice(itertools.cycle(camera_messages(shape)),
                                    WARMUP_ROUNDS + decisions):
            if trigger == 'idle':
                arm_moving(live)
            # A random pause, so frames do not fall in step with the worker's poll.
            time.sleep(pause.uniform(0.0, POLL_S))
            rounds.append(one_round(live, msg, send_trigger))
    finally:
        live.close()
    return rounds[WARMUP_ROUNDS:]


def ms(values: Sequence[float], q: float) -> str:
    """The ``q`` quantile (0..1) of ``values`` (seconds) in milliseconds, as text."""
    return f'{np.quantile(np.asarray(values), q) * 1000:.2f}'


def latency_row(label: str, size: str, rounds: list[Round]) -> list[Any]:
    """A table row: p50 / p95 / max of the whole path and of its two legs."""
    legs = ([r.acted for r in rounds], [r.taken for r in rounds],
            [r.acted - r.triggered for r in rounds])
    return [label, size, len(rounds),
            *(' / '.join(ms(values, q) for q in (0.5, 0.95, 1.0)) for values in legs)]


# --- 2. frame backlog under a slow model -------------------------------------------------------


class Camera:
    """Publishes ``messages`` in turn at ``hz`` on a background thread until stopped."""

    def __init__(self, live: LiveRig, messages: list[Any], hz: float) -> None:
        self._live, self._messages, self._period = live, itertools.cycle(messages), 1.0 / hz
        self._stop = threading.Event()
        self.late = 0  # frames skipped because publishing fell behind the schedule
        self.stopped_at = 0.0  # when the last frame went out
        self._thread = threading.Thread(target=self._run, name='camera', daemon=True)

    def start(self) -> Camera:
        """Start publishing."""
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop publishing; return the time the last frame went out."""
        self._stop.set()
        self._thread.join()
        return self.stopped_at

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            self._live.publish(next(self._messages))
            self.stopped_at = time.monotonic()
            due += self._period
            behind = int((time.monotonic() - due) // self._period)
            if behind > 0:  # never burst to catch up: a camera drops frames too
                self.late += behind
                due += behind * self._period
            self._stop.wait(max(0.0, due - time.monotonic()))


def measure_backlog(seconds: float, model_s: float) -> dict[str, Any]:
    """Stream 1080p at 30 Hz for ``seconds`` while a ``model_s`` model decides back to back."""
    live = LiveRig(InstantBackend(delay=model_s),
                   {'trigger.mode': 'timer', 'trigger.period': 0.1}).start()
    memory: dict[str, list[tuple[float, float]]] = {'traced': [], 'resident': []}
    tracemalloc.start()
    try:
        camera = Camera(live, camera_messages(STREAM_SHAPE), STREAM_HZ)
        start, cpu = time.monotonic(), time.process_time()
        camera.start()
        while time.monotonic() - start < seconds:
            time.sleep(1.0)
            now = time.monotonic() - start
            memory['traced'].append((now, tracemalloc.get_traced_memory()[0] / 2**20))
            memory['resident'].append((now, rss_bytes() / 2**20))
        stopped = camera.stop()
        cpu = (time.process_time() - cpu) / (stopped - start)
        time.sleep(1.0)  # anything still queued would arrive now
        assert live.node is not None
        stats, qos = dict(live.node.stats), live.image_qos()
    finally:
        tracemalloc.stop()
        live.close()
    summary = backlog_summary(live.timings, start, stopped, stats, camera.late)
    summary.update(cpu_percent=100 * cpu, image_qos=qos,
                   **{f'{kind}_mb': memory_summary(series, stopped - start)
                      for kind, series in memory.items()})
    return summary


def memory_summary(series: list[tuple[float, float]], duration: float) -> dict[str, Any]:
    """Medians of the first and last third, range and slope of ``(s, MB)`` after the warm-up."""
    steady = [(t, mb) for t, mb in series if t >= MEMORY_WARMUP_S]
    third = (duration - MEMORY_WARMUP_S) / 3
    times, sizes = zip(*steady)
    return {'first_third_p50': statistics.median(mb for t, mb in steady
                                                 if t < MEMORY_WARMUP_S + third),
            'last_third_p50': statistics.median(mb for t, mb in steady if t >= duration - third),
            'min': min(sizes), 'max': max(sizes),
            'slope_per_min': 60 * float(np.polyfit(times, sizes, 1)[0]),
            'series': [(round(t, 1), round(mb, 1)) for t, mb in steady]}


def backlog_summary(timings: Timings, start: float, stopped: float, stats: dict[str, int],
                    late: int) -> dict[str, Any]:
    """The backlog run's numbers: counts, and delays and ages early and late."""
    settled = start + STREAM_WARMUP_S
    delays = sorted((timings.published[k], timings.taken[k] - timings.published[k])
                    for k in timings.taken if k in timings.published)
    # Decisions asked after the camera stopped see an ever older frame: left out.
    ages = [(t, t - timings.published[k]) for t, k in timings.asked
            if k in timings.published and t <= stopped]
    steady = [(t, d) for t, d in delays if t >= settled]
    third = (stopped - settled) / 3
    early = [d for t, d in steady if t < settled + third]
    late_delays = [d for t, d in steady if t >= stopped - third]
    return {
        'published': len(timings.published), 'publish_hz': len(timings.published)
        / (stopped - start), 'camera_late': late,
        'taken': len(timings.taken), 'received': stats.get('frames_received', 0),
        'drain_ms': 1000 * max(0.0, max(timings.taken.values()) - stopped),
        'decisions': len(ages),
        'delay_ms': {'p50': 1000 * statistics.median(d for _, d in steady),
                     'p95': 1000 * float(np.quantile([d for _, d in steady], 0.95)),
                     'max': 1000 * max(d for _, d in steady),
                     'first_third_p50': 1000 * statistics.median(early),
                     'last_third_p50': 1000 * statistics.median(late_delays)},
        'age_ms': {'p50': 1000 * statistics.median(a for _, a in ages),
                   'max': 1000 * max(a for _, a in ages),
                   'first': 1000 * ages[0][1], 'last': 1000 * ages[-1][1]},
    }


def backlog_failures(summary: dict[str, Any]) -> list[str]:
    """Signs of a backlog: late frames, a delay or age that grows, memory that grows."""
    delay, age, traced = summary['delay_ms'], summary['age_ms'], summary['traced_mb']
    problems = []
    if summary['drain_ms'] > DRAIN_LIMIT_S * 1000:
        problems.append(f'frames still arrived {summary["drain_ms"]:.0f} ms after the camera '
                        'stopped')
    if delay['last_third_p50'] > 2 * delay['first_third_p50'] + 5:
        problems.append('the frame delay grew over the run')
    if age['max'] > 1000:
        problems.append('a decision used a frame older than 1 s')
    if traced['last_third_p50'] - traced['first_third_p50'] > MEMORY_GROWTH_LIMIT_MB:
        problems.append(f'the memory Python holds grew by more than {MEMORY_GROWTH_LIMIT_MB:.0f} '
                        'MB')
    return problems


def backlog_table(summary: dict[str, Any], seconds: float, model_s: float) -> str:
    """The backlog run as a Markdown table."""
    delay, age = summary['delay_ms'], summary['age_ms']
    rows = [
        ["the planner's image subscription QoS", summary['image_qos']],
        ['camera frames published', f'{summary["published"]} in {seconds:.0f} s '
         f'({summary["publish_hz"]:.1f} Hz; {summary["camera_late"]} skipped as late)'],
        ['frames taken by the image callback', f'{summary["taken"]} '
         f'({100 * summary["taken"] / summary["published"]:.0f} %; the others were dropped, '
         'not queued)'],
        ['frames taken by the node (its frames_received counter)', summary['received']],
        ['last frame taken after the camera stopped (ms)', f'{summary["drain_ms"]:.1f}'],
        [f'decisions ({model_s:g} s model)', summary['decisions']],
        ['publish -> image callback done, p50 / p95 / max (ms)',
         f'{delay["p50"]:.1f} / {delay["p95"]:.1f} / {delay["max"]:.1f}'],
        ['same, p50 in the first / last third of the run (ms)',
         f'{delay["first_third_p50"]:.1f} / {delay["last_third_p50"]:.1f}'],
        ['age of the frame a decision used when the model was asked, p50 / max (ms)',
         f'{age["p50"]:.1f} / {age["max"]:.1f}'],
        ['same, first / last decision (ms)', f'{age["first"]:.1f} / {age["last"]:.1f}'],
        *memory_rows('memory allocated by Python during the stream and still held',
                     summary['traced_mb']),
        *memory_rows('resident memory', summary['resident_mb']),
        ['CPU of the process, camera included (% of one core)',
         f'{summary["cpu_percent"]:.0f}'],
    ]
    return markdown_table(['measure', 'value'], rows)


def memory_rows(what: str, memory: dict[str, Any]) -> list[list[str]]:
    """Two table rows on ``what`` (a :func:`memory_summary`): level and trend."""
    return [[f'{what} after {MEMORY_WARMUP_S:.0f} s: p50 in the first / last third; min / max '
             '(MB)', f'{memory["first_third_p50"]:.0f} / {memory["last_third_p50"]:.0f}; '
             f'{memory["min"]:.0f} / {memory["max"]:.0f}'],
            ['same, least-squares slope (MB per minute)', f'{memory["slope_per_min"]:+.1f}']]


def main() -> None:
    """Run both measurements, print the tables, exit 1 on a failed check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--decisions', type=int, default=300)
    parser.add_argument('--stream-seconds', type=float, default=120.0)
    parser.add_argument('--slow-model', type=float, default=2.0)
    parser.add_argument('--json', default='')
    args = parser.parse_args()
    if args.stream_seconds < MEMORY_WARMUP_S + 15:
        parser.error(f'--stream-seconds must be at least {MEMORY_WARMUP_S + 15:.0f}')
    results: dict[str, Any] = {'latency': {}, 'load_before': os.getloadavg()}
    rows = []
    for trigger, size, shape in (('service', '640x480', (480, 640)),
                                 ('service', '1920x1080', (1080, 1920)),
                                 ('idle', '640x480', (480, 640))):
        label = '~/plan per frame' if trigger == 'service' else 'idle trigger, settle_time 0'
        rounds = measure_latency(trigger, shape, args.decisions)
        results['latency'][f'{trigger} {size}'] = [dataclasses.asdict(r) for r in rounds]
        rows.append(latency_row(label, size, rounds))
        print(f'{label} {size}: done', file=sys.stderr, flush=True)
    print(markdown_table(['trigger', 'frame', 'decisions', 'publish -> action p50 / p95 / max '
                          '(ms)', 'publish -> frame taken (ms)', 'trigger -> action (ms)'],
                         rows))
    print()
    backlog = measure_backlog(args.stream_seconds, args.slow_model)
    results['backlog'] = backlog
    print(backlog_table(backlog, args.stream_seconds, args.slow_model))
    problems = backlog_failures(backlog)
    for problem in problems:
        print(f'BACKLOG: {problem}')
    results['load_after'] = os.getloadavg()
    print(f'\nload average (1, 5, 15 min) before: {results["load_before"]}, after: '
          f'{results["load_after"]}')
    if args.json:
        write_json(args.json, results)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
