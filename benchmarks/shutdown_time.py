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

"""Shutdown under load: Ctrl-C to a ``planner_node`` process while a decision runs.

Usage::

    python benchmarks/shutdown_time.py [--repeat 5] [--strategy consistency]
                                       [--max-new-tokens 2048] [--signal INT]
                                       [--json build/reliability/shutdown.json]

Each round starts the ``planner_node`` console script (``.venv/bin/planner_node``, next to this
Python) as its own process on the tiny model with self-consistency (5 sampled reasoning paths of
up to ``--max-new-tokens`` tokens: a random model rarely ends them early, so a decision takes
seconds to tens of seconds on a CPU; ``--strategy cot`` for chain of thought), the ``timer``
trigger every 0.1 s and a goal, while this script publishes a 10 Hz 320x240 camera stream. Once
the first decision record has arrived (decisions then run back to back), it waits 0.3 s, so the
next decision is under way, and sends SIGINT (``--signal TERM``: SIGTERM, as ``ros2 launch``
escalates to), then measures the time until the process has exited.

Checks per round: exit status 0, no ``Traceback`` and no ``context is invalid`` on stderr, no
decision record or action heard more than 0.05 s after the signal (nothing may be published once
shutdown starts; 0.05 s covers messages already on the wire), and an exit within ``--limit`` s
(5 s: when ``ros2 launch`` escalates to SIGTERM). The node's log says how many decisions ended
after the signal (so were under way when it came). Prints each round and min / median / max; writes
JSON; exit status 1 when a round fails a check.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from planner_rig import GOAL, markdown_table, PlannerRig, Repeater, wait_until, write_json

from vlm_planner.ros.conversions import rgb_to_image_msg

#: Seconds after the signal during which messages already sent may still arrive.
IN_FLIGHT_S = 0.05
#: A decision's log line: '[INFO] [<wall time>] [vlm_planner]: -> ...' or '... held ...'.
DECISION_LOG = re.compile(r'^\[\w+\] \[(\d+\.\d+)\] \[vlm_planner\]: (->|held)', re.MULTILINE)


def planner_command(args: argparse.Namespace) -> list[str]:
    """The planner_node command line of one round."""
    executable = os.path.join(os.path.dirname(sys.executable), 'planner_node')
    params = {'model.backend': 'tiny', 'trigger.mode': 'timer', 'trigger.period': 0.1,
              'strategy.name': args.strategy,
              'strategy.max_new_tokens': args.max_new_tokens, 'goal': GOAL}
    command = [executable, '--ros-args']
    for name, value in params.items():
        command += ['-p', f'{name}:={value}']
    return command


def one_round(rig: PlannerRig, args: argparse.Namespace) -> dict[str, Any]:
    """Start a planner process, interrupt it mid-decision, and return what happened."""
    probe = rig.probe
    started = time.monotonic()
    with tempfile.TemporaryFile('w+') as stderr:
        process = subprocess.Popen(planner_command(args), stdout=subprocess.DEVNULL,
                                   stderr=stderr, text=True)
        try:
            if not wait_until(lambda: probe.decisions_since(started), args.start_timeout):
                raise TimeoutError(f'no decision within {args.start_timeout} s')
            first = probe.decisions_since(started)[0]
            time.sleep(0.3)  # the next decision is under way
            signalled, signalled_wall = time.monotonic(), time.time()
            process.send_signal(signal.SIGINT if args.signal == 'INT' else signal.SIGTERM)
            try:
                status = process.wait(timeout=args.kill_after)
            except subprocess.TimeoutExpired:
                process.kill()
                status = process.wait()
            exited = time.monotonic()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr.seek(0)
        errors = stderr.read()
    late = signalled + IN_FLIGHT_S
    ended = [float(stamp) for stamp, _ in DECISION_LOG.findall(errors)
             if float(stamp) > signalled_wall]
    return {
        'exit_s': round(exited - signalled, 3), 'status': status,
        'decision_s_before': round(first['latency_s'], 2), 'tokens_before': first.get('tokens'),
        'traceback': 'Traceback' in errors, 'context_invalid': 'context is invalid' in errors,
        'decisions_ended_after_signal': len(ended),
        'decision_stopped_after_s': round(max(ended) - signalled_wall, 3) if ended else None,
        'records_after_signal': len(probe.decisions_since(late)),
        'actions_after_signal': len(probe.actions_since(late)),
        'stderr_tail': errors[-1500:],
    }


def passed(result: dict[str, Any], limit: float) -> bool:
    """Whether one round kept every rule."""
    return (result['status'] == 0 and not result['traceback'] and not result['context_invalid']
            and result['records_after_signal'] == 0 and result['actions_after_signal'] == 0
            and result['exit_s'] <= limit)


def main() -> int:
    """Run the rounds, print the table and the spread, write the JSON; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--strategy', default='consistency', choices=('cot', 'consistency'))
    parser.add_argument('--max-new-tokens', type=int, default=2048)
    parser.add_argument('--signal', default='INT', choices=('INT', 'TERM'))
    parser.add_argument('--limit', type=float, default=5.0,
                        help='most seconds an exit may take (ros2 launch escalates after 5)')
    parser.add_argument('--start-timeout', type=float, default=180.0,
                        help='seconds to wait for the first decision of a round')
    parser.add_argument('--kill-after', type=float, default=60.0,
                        help='seconds after which a process that has not exited is killed')
    parser.add_argument('--json', default='build/reliability/shutdown.json')
    args = parser.parse_args()
    rgb = np.random.default_rng(0).integers(0, 256, (240, 320, 3), np.uint8)
    results = []
    with PlannerRig(None) as rig:
        msg = rgb_to_image_msg(rgb)

        def send_frame() -> None:
            msg.header.stamp = rig.probe.node.get_clock().now().to_msg()
            rig.probe.image_pub.publish(msg)

        camera = Repeater(send_frame, 0.1)
        try:
            for index in range(args.repeat):
                results.append(one_round(rig, args))
                r = results[-1]
                print(f'round {index + 1}: exit after {r["exit_s"]} s, status {r["status"]}, '
                      f'traceback {r["traceback"]}, decisions ended after the signal '
                      f'{r["decisions_ended_after_signal"]} (after {r["decision_stopped_after_s"]}'
                      f' s), records/actions heard after it '
                      f'{r["records_after_signal"]}/{r["actions_after_signal"]}', flush=True)
        finally:
            camera.stop()
    times = [r['exit_s'] for r in results]
    print(markdown_table(
        ['rounds', 'decision before (s)', 'decision under way at the signal', 'exit min (s)',
         'exit median (s)', 'exit max (s)', 'status 0', 'no traceback',
         'nothing published after the signal', f'within {args.limit} s'],
        [[len(results), statistics.median(r['decision_s_before'] for r in results),
          sum(r['decisions_ended_after_signal'] > 0 for r in results),
          min(times), statistics.median(times), max(times),
          sum(r['status'] == 0 for r in results),
          sum(not (r['traceback'] or r['context_invalid']) for r in results),
          sum(r['records_after_signal'] == r['actions_after_signal'] == 0 for r in results),
          sum(t <= args.limit for t in times)]]))
    write_json(args.json, {'signal': args.signal, 'max_new_tokens': args.max_new_tokens,
                           'command': planner_command(args), 'rounds': results})
    print(f'\nwritten: {args.json}')
    return 0 if all(passed(r, args.limit) for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
