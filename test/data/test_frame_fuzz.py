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

"""Random camera messages through the node's path without ROS: decoders, then the session.

What the planner node does with every camera message (``PlannerPorts._on_image``) is done here
directly, on messages from :mod:`benchmarks.camera_messages`: decode with the size bound, hand a
failure to ``reject_frame`` and an image to ``add_frame``. Properties: only an
``ImageConversionError`` ever comes out of decoding, what decodes is a fresh H x W x 3 uint8
array within the bound, ``add_frame`` never raises, and after any sequence of messages a good
frame and a goal let the session decide a library action. test/ros/test_camera_fuzz.py sends the
same kind of messages over DDS to a live node; benchmarks/fuzz_camera.py sends 10,000.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np

from benchmarks.camera_messages import (CameraMessage, CompressedImage, describe, good_frame,
                                        random_message, stamp_of)
from test.core.scripted_backend import ScriptedBackend
from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.planner import Planner
from vlm_planner.core.session import DecisionSession, ReplayClock
from vlm_planner.core.strategies import make_strategy, StrategyConfig
from vlm_planner.core.trigger import TriggerConfig
from vlm_planner.data.image_decoding import (compressed_msg_to_rgb, DEFAULT_MAX_PIXELS,
                                             image_msg_to_rgb, stamp_to_seconds)
from vlm_planner.errors import ImageConversionError

LIBRARY = ActionLibrary.from_yaml(default_actions_file())
GOAL = 'put the red block in the bin'
FUZZ = settings(derandomize=True, max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def decode(msg: CameraMessage, max_pixels: int) -> np.ndarray:
    """Decode ``msg`` as the node does; only ImageConversionError may escape."""
    if isinstance(msg, CompressedImage):
        return compressed_msg_to_rgb(msg, max_pixels=max_pixels)
    return image_msg_to_rgb(msg, max_pixels=max_pixels)


def offer(session: DecisionSession, msg: CameraMessage, max_pixels: int) -> bool:
    """Feed ``msg`` to ``session`` as the node's image callback does; return whether it decoded.

    The message is stamped relative to the session's clock as a camera on the same clock would.
    """
    try:
        rgb = decode(msg, max_pixels)
    except ImageConversionError as exc:
        assert str(exc), 'a conversion error must say what was wrong'
        session.reject_frame(str(exc))
        return False
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8, describe(msg)
    assert rgb.flags['C_CONTIGUOUS'] and rgb.size > 0, describe(msg)
    assert max_pixels <= 0 or rgb.shape[0] * rgb.shape[1] <= max_pixels, describe(msg)
    if not isinstance(msg, CompressedImage):
        assert rgb.shape[:2] == (msg.height, msg.width), describe(msg)
    sec, nanosec = stamp_of(msg, session.clock())
    session.add_frame(rgb, stamp_to_seconds(SimpleNamespace(sec=sec, nanosec=nanosec)) or None)
    return True


def scripted_session(clock: ReplayClock, keyframes: KeyframeConfig) -> DecisionSession:
    planner = Planner(ScriptedBackend(probs=[0.1, 0.7, 0.2]), LIBRARY,
                      make_strategy(StrategyConfig()))
    return DecisionSession(planner, clock=clock, keyframes=keyframes,
                           trigger=TriggerConfig(mode='service'))


@FUZZ
@given(rng=st.randoms(use_true_random=False), count=st.integers(1, 12),
       max_pixels=st.sampled_from([64, 4096, DEFAULT_MAX_PIXELS]),
       policy=st.sampled_from(['change', 'interval']), max_count=st.integers(1, 8),
       min_interval=st.sampled_from([0.0, 0.05, 0.5]), compressed=st.booleans())
def test_after_any_camera_messages_a_good_frame_and_a_goal_let_the_session_decide(
        rng: random.Random, count: int, max_pixels: int, policy: str, max_count: int,
        min_interval: float, compressed: bool):
    clock = ReplayClock(1000.0)
    session = scripted_session(clock, KeyframeConfig(policy=policy, max_count=max_count,
                                                     min_interval=min_interval))
    decoded = 0
    for _ in range(count):
        clock.advance_to(clock() + rng.choice((0.0, 0.033, 0.1, 1.0)))
        decoded += offer(session, random_message(rng), max_pixels)
    stats = session.stats
    assert stats['frames_received'] == count
    assert stats['frames_rejected'] == count - decoded
    assert len(session.buffer) <= max_count

    clock.advance_to(clock() + 0.1)
    session.set_goal(GOAL)
    assert offer(session, good_frame(rng, shape=(8, 8), compressed=compressed), max_pixels)
    outcome = session.decide()
    assert outcome.act, outcome.problem
    assert outcome.decision is not None and outcome.decision.action in LIBRARY.labels
    assert all(frame.image.shape[2] == 3 for frame in session.snapshot())
