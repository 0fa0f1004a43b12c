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

"""No action while e-stopped: every trigger mode, both e-stop sources, and the ~/plan service.

Usage::

    python benchmarks/estop_check.py [--window 10] [--after 3] [--modes idle,timer,service]
                                     [--json build/reliability/estop.json]

For each trigger mode (``idle``, ``timer`` every 0.5 s, ``service``) and each e-stop source (the
planner's ``estop`` topic; the manipulator reporting ``estopped``) a live planner node runs the
real tiny model next to the mock manipulator (0.3 s per action, status heartbeat 5 Hz), with a
goal and a 10 Hz camera stream, and goes through:

1. **before**: planning works: an action is published (``service`` mode: by ``~/plan``);
2. **e-stop**: the e-stop is pressed (``estop`` true, or the arm's own e-stop input, remapped to
   ``arm_estop`` so that the planner hears only the arm's ``estopped`` status); after the planner
   reports it and 0.5 s for messages already under way, a ``--window`` s window follows with
   frames flowing, the arm's status heartbeat (``idle``/``succeeded`` for the topic source,
   ``estopped`` for the arm source) and ``~/plan`` called every 0.25 s;
3. **released**: the e-stop is released; for ``--after`` s, with frames, idle statuses and
   ``~/plan`` calls as before, nobody calls ``~/resume``;
4. **resumed**: ``~/resume`` is called; planning must start again.

Counts, per run: actions heard on ``action`` and the node's own ``actions_published`` counter in
windows 2 and 3 (both must be 0), ``~/plan`` calls answered with success there (must be 0),
decision records there, and decisions that finished while the e-stop came in (held, not
published). Prints a Markdown table, writes JSON, exits 1 when any count that must be 0 is not.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

import numpy as np
from planner_rig import GOAL, markdown_table, PlannerRig, Repeater, wait_until, write_json
from rclpy.parameter import Parameter
from std_msgs.msg import Bool

from vlm_planner.ros.conversions import rgb_to_image_msg
from vlm_planner.ros.mock_manipulator_node import MockManipulatorNode

MODES = ('idle', 'timer', 'service')
SOURCES = ('estop topic', 'arm status')
#: Seconds after the planner reports the e-stop for actions already under way to arrive.
GRACE_S = 0.5


def mock_arm(context) -> MockManipulatorNode:
    """The mock manipulator with its own e-stop input on ``arm_estop`` (not the planner's)."""
    return MockManipulatorNode(
        context=context, cli_args=['--ros-args', '-r', 'estop:=arm_estop'],
        parameter_overrides=[Parameter('execution_time', value=0.3),
                             Parameter('status_rate', value=5.0)])


def plan_calls(rig: PlannerRig, seconds: float, every: float = 0.25) -> list[tuple[bool, str]]:
    """Call ~/plan every ``every`` s for ``seconds`` s; return (success, message) of each."""
    answers = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = rig.probe.call('/vlm_planner/plan')
        answers.append((bool(response.success), response.message))
        time.sleep(every)
    return answers


def check_one(mode: str, source: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run the four phases for one trigger mode and e-stop source; return the counts."""
    params = {'goal': GOAL, 'trigger.mode': mode, 'trigger.period': 0.5,
              'trigger.settle_time': 0.0, 'diagnostics_period': 0.5}
    rng = np.random.default_rng(0)
    frames = [rgb_to_image_msg(rng.integers(0, 256, (240, 320, 3), np.uint8)) for _ in range(5)]
    sent = [0]
    result: dict[str, Any] = {'mode': mode, 'source': source}
    with PlannerRig(params, nodes=(mock_arm,)) as rig:
        probe, session = rig.probe, rig.planner.session
        estop_pub = probe.estop_pub if source == 'estop topic' else \
            probe.node.create_publisher(Bool, 'arm_estop', 10)

        def send_frame() -> None:
            msg = frames[sent[0] % len(frames)]
            msg.header.stamp = probe.node.get_clock().now().to_msg()
            probe.image_pub.publish(msg)
            sent[0] += 1

        rig.wait_for_subscriber(probe.image_pub)
        camera = Repeater(send_frame, 0.1)
        try:
            # 1. before: planning works.
            start = time.monotonic()
            if mode == 'service':
                wait_until(lambda: session.buffer.latest is not None, 10)
                ok = any(success for success, _ in plan_calls(rig, 1.0))
            else:
                ok = wait_until(lambda: probe.actions_since(start), 30)
            result['before: actions'] = len(probe.actions_since(start))
            result['before: planning worked'] = bool(ok)

            # 2. e-stop window.
            wait_until(lambda: estop_pub.get_subscription_count() >= 1, 10)
            estop_pub.publish(Bool(data=True))
            result['estop seen by planner'] = wait_until(lambda: session.estopped, 10)
            time.sleep(GRACE_S)
            window = phase(rig, lambda: plan_calls(rig, args.window), sent)
            result.update({f'estop: {k}': v for k, v in window.items()})

            # 3. released, not resumed.
            estop_pub.publish(Bool(data=False))
            result['release seen by planner'] = wait_until(lambda: not session.estopped, 10)
            released = phase(rig, lambda: plan_calls(rig, args.after), sent)
            result.update({f'released: {k}': v for k, v in released.items()})

            # 4. resumed.
            start = time.monotonic()
            result['resume answer'] = probe.call('/vlm_planner/resume').message
            if mode == 'service':
                resumed = wait_until(lambda: probe.call('/vlm_planner/plan').success, 30, 0.1)
            else:
                resumed = wait_until(lambda: probe.actions_since(start), 30)
            result['resumed: planning again'] = bool(resumed)
            result['resumed: first action after (s)'] = round(time.monotonic() - start, 2)
        finally:
            camera.stop()
        records = probe.decisions_since(0.0)
        result['held mid-decision by the e-stop'] = sum(
            1 for r in records if not r['published'] and 'estop' in r['problem'])
        result['callback_errors'] = rig.stats['callback_errors']
    return result


def phase(rig: PlannerRig, run: Callable[[], list[tuple[bool, str]]],
          sent: list[int]) -> dict[str, Any]:
    """Run ``run`` (the ~/plan calls of a window) and count what happened meanwhile."""
    probe = rig.probe
    start, frames, published = time.monotonic(), sent[0], rig.stats['actions_published']
    answers = run()
    time.sleep(GRACE_S)  # an action sent at the end of the window would still arrive
    statuses = probe.statuses_since(start)
    return {'seconds': round(time.monotonic() - start, 1),
            'frames sent': sent[0] - frames,
            'statuses heard': {s: statuses.count(s) for s in sorted(set(statuses))},
            'actions heard': len(probe.actions_since(start)),
            'actions_published counter': rig.stats['actions_published'] - published,
            'decision records': len(probe.decisions_since(start)),
            '~/plan calls': len(answers),
            '~/plan successes': sum(success for success, _ in answers),
            '~/plan answer': answers[-1][1][:120] if answers else ''}


def passed(result: dict[str, Any]) -> bool:
    """Whether one run kept every rule."""
    zero = [result[f'{p}: {k}'] for p in ('estop', 'released')
            for k in ('actions heard', 'actions_published counter', '~/plan successes')]
    return (not any(zero) and result['before: planning worked'] and
            result['resumed: planning again'] and result['callback_errors'] == 0)


def main() -> int:
    """Run every mode and source, print the table, write the JSON; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--window', type=float, default=10.0, help='e-stop window (s)')
    parser.add_argument('--after', type=float, default=3.0,
                        help='window after the release, before ~/resume (s)')
    parser.add_argument('--modes', default=','.join(MODES))
    parser.add_argument('--json', default='build/reliability/estop.json')
    args = parser.parse_args()
    results = [check_one(mode, source, args) for mode in args.modes.split(',')
               for source in SOURCES]
    rows = [[r['mode'], r['source'], r['before: actions'],
             f'{r["estop: seconds"]} s, {r["estop: frames sent"]} frames, '
             + ', '.join(f'{n} {s}' for s, n in r['estop: statuses heard'].items()),
             r['estop: actions heard'], r['estop: actions_published counter'],
             f'{r["estop: ~/plan successes"]}/{r["estop: ~/plan calls"]}',
             r['released: actions heard'],
             f'{r["released: ~/plan successes"]}/{r["released: ~/plan calls"]}',
             r['held mid-decision by the e-stop'],
             f'{r["resumed: first action after (s)"]} s' if r['resumed: planning again']
             else 'NO', 'ok' if passed(r) else 'FAIL'] for r in results]
    print(markdown_table(
        ['trigger', 'e-stop source', 'actions before', 'e-stop window',
         'actions heard (e-stopped)', 'actions_published (e-stopped)',
         '~/plan ok (e-stopped)', 'actions after release, before ~/resume',
         '~/plan ok (released, not resumed)', 'decisions held mid-way',
         'planning again after ~/resume', 'verdict'], rows))
    write_json(args.json, {'model': 'tiny qwen2_5_vl (untrained), base', 'window_s': args.window,
                           'after_s': args.after, 'results': results})
    print(f'\nwritten: {args.json}')
    return 0 if all(passed(r) for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
