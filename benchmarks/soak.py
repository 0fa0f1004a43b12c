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

"""Soak: a 30 Hz 1280x720 camera into a live planner for minutes; memory, drops, latency.

Usage::

    python benchmarks/soak.py [--minutes 10] [--rate 30] [--width 1280] [--height 720]
                              [--compressed] [--trigger idle|timer] [--strategy base]
                              [--sample-every 5] [--out build/reliability/soak]
                              [--plot docs/reliability_soak.png]
    python benchmarks/soak.py transport [--minutes 0.5] [--compressed]   # no planner: DDS alone

A camera process (this script's ``camera`` subcommand, so it shares no interpreter, GIL or memory
with the planner) publishes ``--rate`` Hz ``rgb8`` frames of ``--width`` x ``--height`` (JPEG on
``image/compressed`` with ``--compressed``) with the default sensor QoS: 30 prepared frames of a
moving block on a gradient, each stamped when sent. This process runs the planner node with the
real tiny Qwen2.5-VL model (untrained; ``--strategy``, base by default, takes about 0.2 to 1 s per
decision at this frame size on two CPU cores, standing for a slow model) and the mock
manipulator (1 s per action), on the ``idle`` trigger (or ``timer`` every 1 s).

Every ``--sample-every`` s it records: this process's resident memory (/proc/self/statm: the
planner, its model and the manipulator), keyframes held, frames received by the planner and
frames published by the camera (dropped = published - received: frames the best-effort, depth-1
subscription lost or replaced while the node was busy), decisions, actions and the latency of
each decision in the interval (from the decision records). Writes ``<out>.csv`` (the samples),
``<out>.json`` (samples, decision latencies and a summary) and the plot: memory over time with
the least-squares slope of its last half, decision latency, drop rate per interval. The summary
says whether memory is bounded: a last-half slope under ``--max-slope`` MB/min (exit status 1
otherwise, or when a callback failed).
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np


# --- the camera process -----------------------------------------------------------------------

def scene(index: int, count: int, height: int, width: int) -> np.ndarray:
    """Frame ``index`` of ``count``: a block moving across a fixed gradient."""
    rows = np.linspace(40, 200, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 120, width, dtype=np.float32)[None, :]
    rgb = np.stack([np.broadcast_to(rows, (height, width)),
                    np.broadcast_to(cols, (height, width)),
                    np.full((height, width), 90, np.float32)], axis=2).astype(np.uint8)
    side = max(1, min(height, width) // 3)
    x = int((width - side) * index / max(1, count - 1))
    y = (height - side) // 2
    rgb[y:y + side, x:x + side] = (250, 250, 250)
    return rgb


def run_camera(args: argparse.Namespace) -> int:
    """Publish frames at ``args.rate`` Hz until SIGINT; print the count published every second."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from sensor_msgs.msg import CompressedImage, Image

    from vlm_planner.ros.conversions import rgb_to_compressed_msg, rgb_to_image_msg
    from vlm_planner.ros.qos import SENSOR_QOS

    rclpy.init()
    node = rclpy.create_node('soak_camera')
    if args.compressed:
        publisher = node.create_publisher(CompressedImage, 'image/compressed', SENSOR_QOS)
        frames = [rgb_to_compressed_msg(scene(i, 30, args.height, args.width), 'jpeg')
                  for i in range(30)]
    else:
        publisher = node.create_publisher(Image, 'image', SENSOR_QOS)
        frames = [rgb_to_image_msg(scene(i, 30, args.height, args.width)) for i in range(30)]
    published, period = 0, 1.0 / args.rate
    next_at = last_report = time.monotonic()
    try:
        while rclpy.ok():
            msg = frames[published % len(frames)]
            msg.header.stamp = node.get_clock().now().to_msg()
            publisher.publish(msg)
            published += 1
            next_at += period
            now = time.monotonic()
            if now - last_report >= 1.0:
                print(published, flush=True)
                last_report = now
            if next_at > now:
                time.sleep(next_at - now)
            else:
                next_at = now  # behind: publish at once, never in a burst
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    print(published, flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


class CameraProcess:
    """The camera subcommand as a child process, and the count it last reported."""

    def __init__(self, args: argparse.Namespace) -> None:
        command = [sys.executable, os.path.abspath(__file__), 'camera', '--rate', str(args.rate),
                   '--width', str(args.width), '--height', str(args.height)]
        if args.compressed:
            command.append('--compressed')
        self.published = 0
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip().isdigit():
                self.published = int(line)

    def stop(self) -> int:
        """Stop the camera; return the final count of frames it published."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        return self.published


def run_transport(args: argparse.Namespace) -> int:
    """The camera into a bare subscriber (no planner) for ``--minutes``: the transport's own loss.

    The subscription has the planner's QoS and its callback only counts, so what is lost here is
    lost by DDS and rclpy, not by the planner.
    """
    from planner_rig import PlannerRig, wait_until
    from sensor_msgs.msg import CompressedImage, Image

    from vlm_planner.ros.qos import SENSOR_QOS

    received = [0]

    def count(msg: Any) -> None:
        received[0] += 1

    with PlannerRig(None) as rig:
        rig.probe.node.create_subscription(
            CompressedImage if args.compressed else Image,
            'image/compressed' if args.compressed else 'image', count, SENSOR_QOS)
        camera = CameraProcess(args)
        wait_until(lambda: False, args.minutes * 60)
        published = camera.stop()
    print(f'transport only, {args.width}x{args.height} '
          f'{"jpeg" if args.compressed else "rgb8"} at {args.rate} Hz for {args.minutes} min: '
          f'published {published}, received {received[0]}, dropped '
          f'{100.0 * (published - received[0]) / max(published, 1):.1f} %')
    return 0


# --- the planner side -------------------------------------------------------------------------

def run_soak(args: argparse.Namespace) -> int:
    """Run the soak, write CSV, JSON and plot; return the exit status."""
    from planner_rig import GOAL, PlannerRig, rss_bytes, write_json
    from rclpy.parameter import Parameter

    from vlm_planner.ros.mock_manipulator_node import MockManipulatorNode

    def arm(context):
        return MockManipulatorNode(context=context, parameter_overrides=[
            Parameter('execution_time', value=1.0)])

    params = {'goal': GOAL, 'trigger.mode': args.trigger, 'trigger.period': 1.0,
              'strategy.name': args.strategy,
              'image_transport': 'compressed' if args.compressed else 'raw'}
    samples: list[dict[str, Any]] = []
    latencies: list[tuple[float, float]] = []
    with PlannerRig(params, nodes=(arm,)) as rig:
        camera = CameraProcess(args)
        try:
            start = time.monotonic()
            end = start + args.minutes * 60
            seen = 0
            while True:
                time.sleep(max(0.0, min(args.sample_every, end - time.monotonic())))
                now = time.monotonic()
                stats = rig.stats
                records = rig.probe.decisions_since(0.0)
                fresh = [r['latency_s'] for r in records[seen:]]
                latencies += [(now - start, latency) for latency in fresh]
                seen = len(records)
                samples.append({
                    't_s': round(now - start, 1), 'rss_mb': round(rss_bytes() / 2 ** 20, 1),
                    'keyframes': len(rig.planner.session.buffer),
                    'published': camera.published, 'received': stats['frames_received'],
                    'decisions': stats['decisions'], 'actions': stats['actions_published'],
                    'latency_mean_s': round(float(np.mean(fresh)), 3) if fresh else '',
                    'callback_errors': stats['callback_errors']})
                print(' '.join(f'{k}={v}' for k, v in samples[-1].items()), flush=True)
                if now >= end:
                    break
        finally:
            published = camera.stop()
        stats = dict(rig.stats)
    summary = summarize(samples, latencies, published, stats, args)
    os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
    with open(args.out + '.csv', 'w', newline='') as out:
        writer = csv.DictWriter(out, fieldnames=list(samples[0]))
        writer.writeheader()
        writer.writerows(samples)
    write_json(args.out + '.json', {'summary': summary, 'samples': samples,
                                    'latencies': [[round(t, 2), round(v, 4)]
                                                  for t, v in latencies]})
    plot(samples, latencies, summary, args.plot)
    for key, value in summary.items():
        print(f'{key}: {value}')
    print(f'written: {args.out}.csv, {args.out}.json, {args.plot}')
    bounded = summary['rss_slope_last_half_mb_per_min'] < args.max_slope
    return 0 if bounded and stats['callback_errors'] == 0 else 1


def summarize(samples: list[dict[str, Any]], latencies: list[tuple[float, float]],
              published: int, stats: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    """The figures of a soak run."""
    t = np.array([s['t_s'] for s in samples])
    rss = np.array([s['rss_mb'] for s in samples])
    half = t >= t[-1] / 2
    slope = float(np.polyfit(t[half] / 60, rss[half], 1)[0]) if half.sum() >= 2 else 0.0
    received = stats['frames_received']
    values = np.array([v for _, v in latencies]) if latencies else np.zeros(1)
    return {
        'date': time.strftime('%Y-%m-%d'), 'minutes': args.minutes,
        'camera': f'{args.width}x{args.height} {"jpeg" if args.compressed else "rgb8"} at '
                  f'{args.rate} Hz',
        'model': f'tiny qwen2_5_vl (untrained), {args.strategy} strategy',
        'trigger': args.trigger, 'frames_published': published,
        'publish_rate_hz': round(published / max(t[-1], 1e-9), 1),
        'frames_received': received,
        'dropped_pct': round(100.0 * (published - received) / max(published, 1), 1),
        'decisions': stats['decisions'], 'actions_published': stats['actions_published'],
        'latency_p50_s': round(float(np.percentile(values, 50)), 3),
        'latency_p95_s': round(float(np.percentile(values, 95)), 3),
        'latency_max_s': round(float(values.max()), 3),
        'rss_first_mb': float(rss[0]), 'rss_max_mb': float(rss.max()),
        'rss_last_mb': float(rss[-1]), 'rss_slope_last_half_mb_per_min': round(slope, 2),
        'keyframes_max': max(s['keyframes'] for s in samples),
        'callback_errors': stats['callback_errors'],
    }


def plot(samples: list[dict[str, Any]], latencies: list[tuple[float, float]],
         summary: dict[str, Any], path: str) -> None:
    """Memory, decision latency and drop rate over time, in one PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    minutes = np.array([s['t_s'] for s in samples]) / 60
    rss = np.array([s['rss_mb'] for s in samples])
    fig, axes = plt.subplots(3, 1, figsize=(8, 7.5), sharex=True)
    axes[0].plot(minutes, rss, color='tab:blue')
    half = minutes >= minutes[-1] / 2
    if half.sum() >= 2:
        fit = np.polyfit(minutes[half], rss[half], 1)
        axes[0].plot(minutes[half], np.polyval(fit, minutes[half]), '--', color='tab:red',
                     label=f'last half: {fit[0]:+.2f} MB/min')
        axes[0].legend(loc='lower right')
    axes[0].set_ylabel('planner RSS (MB)')
    axes[0].set_title(f'{summary["camera"]} into the planner, {summary["model"]}', fontsize=10)
    if latencies:
        axes[1].plot([t / 60 for t, _ in latencies], [v for _, v in latencies], '.',
                     markersize=3, color='tab:green')
    axes[1].set_ylabel('decision latency (s)')
    published = np.diff([0] + [s['published'] for s in samples])
    received = np.diff([0] + [s['received'] for s in samples])
    drop = 100.0 * (published - received) / np.maximum(published, 1)
    axes[2].plot(minutes, drop, color='tab:orange', label='dropped')
    axes[2].set_ylabel('frames dropped (%)')
    axes[2].set_ylim(-5, 105)
    axes[2].set_xlabel('minutes')
    received_rate = received / np.diff([0.0] + [s['t_s'] for s in samples])
    twin = axes[2].twinx()
    twin.plot(minutes, received_rate, color='tab:gray', linewidth=0.8)
    twin.set_ylabel('received (Hz)', color='tab:gray')
    for axis in axes:
        axis.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    """Parse the command line and run the soak, the camera process or the transport check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('role', nargs='?', default='soak', choices=('soak', 'camera', 'transport'),
                        help="'camera': the camera process; 'transport': the camera into a bare "
                             'subscriber, no planner')
    parser.add_argument('--minutes', type=float, default=10.0)
    parser.add_argument('--rate', type=float, default=30.0, help='camera frames per second')
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--compressed', action='store_true', help='JPEG on image/compressed')
    parser.add_argument('--trigger', default='idle', choices=('idle', 'timer'))
    parser.add_argument('--strategy', default='base')
    parser.add_argument('--sample-every', type=float, default=5.0, help='seconds')
    parser.add_argument('--max-slope', type=float, default=1.0,
                        help='largest last-half memory slope (MB/min) counted as bounded')
    parser.add_argument('--out', default='build/reliability/soak')
    parser.add_argument('--plot', default='docs/reliability_soak.png')
    args = parser.parse_args()
    return {'soak': run_soak, 'camera': run_camera, 'transport': run_transport}[args.role](args)


if __name__ == '__main__':
    sys.exit(main())
