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

"""When to decide: on manipulator idle, on a timer, or only on request.

* ``idle``: decide once the manipulator reports ``idle``, ``succeeded`` or ``failed`` and the
  outcome of the previously published action is known; wait ``settle_time`` first so the camera
  shows the scene after the motion. An action whose outcome never arrives is given up on after
  ``action_timeout`` seconds.
* ``timer``: decide every ``period`` seconds, whatever the manipulator does.
* ``service``: decide only when asked (the ``~/plan`` service); the other modes also honour it.

Pure state machine over timestamps so it can be tested without ROS or real time.
"""

from __future__ import annotations

import dataclasses
import threading

from vlm_planner.params import check_fields, option

MODES = ('idle', 'timer', 'service')
READY_STATUSES = frozenset({'idle', 'succeeded', 'failed'})
#: A decision that published nothing (low confidence) is retried after at least this long.
MIN_RETRY_S = 1.0


@dataclasses.dataclass(frozen=True)
class TriggerConfig:
    """When decisions are made; the ``trigger.*`` parameters."""

    mode: str = option('idle', "'idle': decide when the manipulator reports idle, succeeded or "
                       "failed; 'timer': every trigger.period seconds; 'service': only on "
                       '~/plan.', choices=MODES)
    period: float = option(5.0, "'timer' mode: seconds between decisions.", above=0.0)
    settle_time: float = option(0.5, "'idle' mode: seconds to wait after the manipulator stops, "
                                'so the camera shows the result.', minimum=0.0)
    action_timeout: float = option(30.0, "'idle' mode: seconds after which an action whose "
                                   'outcome never came is given up on.', above=0.0)

    def __post_init__(self) -> None:
        check_fields(self, 'trigger.')


class DecisionTrigger:
    """Tracks manipulator status and past decisions; says when the next decision is due.

    Every method takes the time ``now`` from its caller, so one clock (the node's, which follows
    ``/clock`` under ``use_sim_time``) drives the trigger and the frame-age checks alike.
    """

    def __init__(self, mode: str = 'idle', *, period: float = 5.0, settle_time: float = 0.5,
                 action_timeout: float = 30.0) -> None:
        config = TriggerConfig(mode=mode, period=period, settle_time=settle_time,
                               action_timeout=action_timeout)
        self.mode = config.mode
        self.period = config.period
        self.settle_time = config.settle_time
        self.action_timeout = config.action_timeout
        self._lock = threading.Lock()
        self.reset()

    @classmethod
    def from_config(cls, config: TriggerConfig) -> 'DecisionTrigger':
        """A trigger set up as ``config`` says."""
        return cls(config.mode, period=config.period, settle_time=config.settle_time,
                   action_timeout=config.action_timeout)

    def reset(self) -> None:
        """Forget past actions and decisions (new task)."""
        with self._lock:
            self.status = ''
            self._ready_at: float | None = None
            self._awaiting_since: float | None = None
            self._status_at_publish = ''
            self._seen_executing = False
            self._last_decision: float | None = None

    def on_status(self, status: str, now: float) -> None:
        """Record a manipulator status message received at ``now``."""
        with self._lock:
            changed = status != self.status
            self.status = status
            if status == 'executing':
                self._seen_executing = True
            if status not in READY_STATUSES:
                self._ready_at = None
                return
            if self._awaiting_since is not None:
                # The outcome of our action is known once the arm moved, or its status changed.
                if not (self._seen_executing or (changed and status != self._status_at_publish)):
                    return
                self._awaiting_since = None
            if self._ready_at is None:
                self._ready_at = now + self.settle_time

    def on_decision(self, now: float, published: bool) -> None:
        """Record that a decision was made at ``now``, and whether an action went out."""
        with self._lock:
            self._last_decision = now
            self._ready_at = None
            if published:
                self._awaiting_since = now
                self._status_at_publish = self.status
                self._seen_executing = False
            elif self.status in READY_STATUSES:
                self._ready_at = now + max(self.settle_time, MIN_RETRY_S)

    def due(self, now: float) -> bool:
        """Whether a decision should be made now (the ``~/plan`` service bypasses this)."""
        with self._lock:
            if self.mode == 'service':
                return False
            if self.mode == 'timer':
                return self._last_decision is None or now - self._last_decision >= self.period
            if self._awaiting_since is not None:
                if now - self._awaiting_since < self.action_timeout:
                    return False
                self._awaiting_since = None  # the outcome never came: plan again
                return self.status in READY_STATUSES
            return self._ready_at is not None and now >= self._ready_at
