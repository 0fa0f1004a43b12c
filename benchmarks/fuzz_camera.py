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

"""The long camera fuzz run: random Image and CompressedImage messages over DDS into a live node.

Usage::

    python benchmarks/fuzz_camera.py [--messages 10000] [--seed 0] [--period 0.5]
                                     [--check-every 500] [--plan-on-accepted 10]
                                     [--json build/reliability/fuzz_camera.json]

Half the messages are ``sensor_msgs/Image`` sent to a planner node on the raw transport, half
``sensor_msgs/CompressedImage`` sent to one on the compressed transport (a node subscribes to one
of them), all from :mod:`camera_messages`: any encoding (a quarter unsupported), sides 0..300 and
now and then absurd, wrong steps, truncated or overlong data, odd stamps (zero, late, ahead,
an hour ahead); valid, truncated and corrupt PNG/JPEG/WebP files, noise, and PNGs whose header
claims 8000 x 8000 or 20000 x 20000 pixels.

The planner runs the real tiny Qwen2.5-VL model (base strategy, untrained), on the ``timer``
trigger (``--period`` s), so the model is asked to decide on whatever fuzzed frame is newest while
the messages keep coming; every keyframe is compared with the last (``keyframes.min_interval``
0). Each message is sent and then waited for until the node has handled it (decoded and kept or
dropped, or rejected); one the node never handles within 5 s counts as lost. Right after every
``--plan-on-accepted``-th accepted fuzzed frame ``~/plan`` is called, so the model decides on
exactly that frame (odd sizes such as 1 x 1 or 300 x 1 included). Every ``--check-every``
messages, and at the end, a good frame is sent and ``~/plan`` is called: it must answer with an
action.

Prints a Markdown table per transport (per kind of input: accepted, rejected, dropped for its
stamp) and a summary (callback errors, decisions that failed, ~/plan on good and on fuzzed
frames, node alive), lists the answers of ~/plan calls on fuzzed frames that did not decide, and
writes it all as JSON. Exit status 1 when a check fails (a callback error in the image path, a
dead node, a failed ~/plan on a good frame); a fuzzed frame the model cannot decide on is
reported, not failed: the node survives it.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from typing import Any

from camera_messages import describe, good_frame, random_compressed, random_raw, to_ros
from planner_rig import GOAL, markdown_table, PlannerRig, wait_until, write_json
from tqdm import tqdm

#: Seconds to wait for the node to handle one message before counting it lost.
HANDLE_TIMEOUT_S = 5.0


def handled(stats: dict[str, int]) -> int:
    """Messages the node has handled: counted as received, or failed in the callback."""
    return stats['frames_received'] + stats['callback_errors'] - stats['failed_decisions']


def outcome_of(before: dict[str, int], after: dict[str, int]) -> str:
    """What the node did with one message, from its counters before and after."""
    changed = {key for key in after if after[key] != before.get(key)}
    if after['callback_errors'] - after['failed_decisions'] \
            > before['callback_errors'] - before['failed_decisions']:
        return 'callback error'
    for key, name in (('frames_rejected', 'rejected'), ('frames_from_future', 'dropped: ahead'),
                      ('frames_out_of_order', 'dropped: late')):
        if key in changed:
            return name
    return 'accepted'


def plan_check(rig: PlannerRig, rng: random.Random, compressed: bool) -> dict[str, Any]:
    """Send a good frame, call ~/plan, and return what it answered."""
    send(rig, good_frame(rng, compressed=compressed), compressed)
    started = time.monotonic()
    response = rig.probe.call('/vlm_planner/plan')
    return {'success': bool(response.success), 'message': response.message[:300],
            'seconds': round(time.monotonic() - started, 3)}


def send(rig: PlannerRig, msg: Any, compressed: bool) -> str:
    """Publish ``msg`` and wait until the node handled it; return the outcome."""
    publisher = rig.probe.compressed_pub if compressed else rig.probe.image_pub
    before = dict(rig.stats)
    publisher.publish(to_ros(msg, rig.probe.now()))
    if not wait_until(lambda: handled(rig.stats) > handled(before), HANDLE_TIMEOUT_S):
        return 'lost'
    return outcome_of(before, dict(rig.stats))


def run_transport(transport: str, count: int, rng: random.Random,
                  args: argparse.Namespace) -> dict[str, Any]:
    """Fuzz one planner node on ``transport`` with ``count`` messages; return the results."""
    compressed = transport == 'compressed'
    make = random_compressed if compressed else random_raw
    params = {'goal': GOAL, 'image_transport': transport, 'trigger.mode': 'timer',
              'trigger.period': args.period, 'keyframes.min_interval': 0.0,
              'diagnostics_period': 0.5}
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    checks: list[dict[str, Any]] = []
    on_fuzzed: list[dict[str, Any]] = []
    accepted = 0
    with PlannerRig(params) as rig:
        rig.wait_for_subscriber(rig.probe.compressed_pub if compressed else rig.probe.image_pub)
        started = time.monotonic()
        for i in tqdm(range(count), desc=f'{transport} messages', unit='msg', mininterval=2):
            msg = make(rng)
            outcome = send(rig, msg, compressed)
            table[msg.note][outcome] += 1
            accepted += outcome == 'accepted'
            if outcome == 'accepted' and accepted % args.plan_on_accepted == 0:
                response = rig.probe.call('/vlm_planner/plan')
                on_fuzzed.append({'frame': describe(msg), 'success': bool(response.success),
                                  'message': response.message[:300]})
            if (i + 1) % args.check_every == 0:
                checks.append(plan_check(rig, rng, compressed))
        elapsed = time.monotonic() - started
        checks.append(plan_check(rig, rng, compressed))
        wait_until(lambda: False, 1.0)  # one more diagnostics message
        stats = dict(rig.stats)
        alive = rig.alive()
        failures = sorted(rig.probe.failures)
        decisions = len(rig.probe.decisions_since(0.0))
    return {'transport': transport, 'messages': count, 'seconds': round(elapsed, 1),
            'by_kind': {kind: dict(counter) for kind, counter in sorted(table.items())},
            'stats': stats, 'alive': alive, 'plan_checks': checks, 'plans_on_fuzzed': on_fuzzed,
            'decision_records': decisions, 'reported_failures': failures}


def summary_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per transport for the summary table."""
    rows = []
    for r in results:
        stats = r['stats']
        totals: collections.Counter = collections.Counter()
        for counter in r['by_kind'].values():
            totals.update(counter)
        checks = r['plan_checks']
        rows.append([
            r['transport'], r['messages'], totals['accepted'], totals['rejected'],
            totals['dropped: ahead'] + totals['dropped: late'], totals['lost'],
            stats['callback_errors'] - stats['failed_decisions'], stats['failed_decisions'],
            stats['decisions'], f'{sum(c["success"] for c in checks)}/{len(checks)}',
            f'{sum(p["success"] for p in r["plans_on_fuzzed"])}/{len(r["plans_on_fuzzed"])}',
            'yes' if r['alive'] else 'NO', f'{r["messages"] / r["seconds"]:.0f}'])
    return rows


def main() -> int:
    """Run the fuzz run, print the tables, write the JSON; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=10_000,
                        help='messages in all, half raw and half compressed')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--period', type=float, default=0.5,
                        help='trigger.period of the timer trigger (s)')
    parser.add_argument('--check-every', type=int, default=500,
                        help='messages between two ~/plan checks on a good frame')
    parser.add_argument('--plan-on-accepted', type=int, default=10,
                        help='call ~/plan right after every N-th accepted fuzzed frame')
    parser.add_argument('--json', default='build/reliability/fuzz_camera.json')
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results = [run_transport('raw', args.messages - args.messages // 2, rng, args),
               run_transport('compressed', args.messages // 2, rng, args)]
    for r in results:
        kinds = sorted({o for counter in r['by_kind'].values() for o in counter})
        print(f'\n{r["transport"]}: {r["messages"]} messages in {r["seconds"]} s')
        rows = [[kind, *(counter.get(o, 0) for o in kinds)]
                for kind, counter in r['by_kind'].items()]
        print(markdown_table(['input', *kinds], rows))
    print()
    print(markdown_table(['transport', 'messages', 'accepted', 'rejected', 'dropped (stamp)',
                          'lost', 'callback errors (image path)', 'failed decisions',
                          'decisions', '~/plan ok (good frame)', '~/plan ok (fuzzed frame)',
                          'node alive', 'msg/s'],
                         summary_rows(results)))
    refused = {}
    for r in results:
        for p in r['plans_on_fuzzed']:
            if not p['success']:
                refused.setdefault(p['message'][:160], p['frame'])
    if refused:
        print('\n~/plan on a fuzzed frame that did not decide (answer: one such frame):')
        for message, frame in refused.items():
            print(f'  {message}: {frame}')
    failures = sorted({f for r in results for f in r['reported_failures']})
    if failures:
        print('\nfailures the node reported on /diagnostics:')
        for failure in failures:
            print(f'  {failure}')
    write_json(args.json, {'seed': args.seed, 'model': 'tiny qwen2_5_vl (untrained), base',
                           'trigger': f'timer {args.period} s', 'results': results})
    print(f'\nwritten: {args.json}')
    ok = all(r['alive'] and r['stats']['callback_errors'] == r['stats']['failed_decisions']
             and all(c['success'] for c in r['plan_checks']) for r in results)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
