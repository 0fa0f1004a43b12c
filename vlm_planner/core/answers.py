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

"""Turn a model's free-text reply into one of the candidate actions, or admit that it cannot.

Tried in order, first match wins:

1. an explicit answer marker: ``Answer: (B)``, ``answer is B``, ``Answer: B.``;
2. a reply that is only a letter, or starts with one: ``B``, ``(B)``, ``B) pick ...``, ``B. pick``;
3. a candidate's label written out (the last one mentioned, as reasoning usually ends on it);
4. a fuzzy match of the reply's last line against the labels (difflib ratio >= ``FUZZY_CUTOFF``).

Anything else is invalid: the caller reports it instead of guessing silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Sequence

from vlm_planner.core.actions import normalize_label

FUZZY_CUTOFF = 0.75

# Letters must be capitals: 'the answer is a bit unclear' names no option.
_MARKER = re.compile(r'(?i:answer)\s*(?i:is)?\s*[:\-]?\s*\(?\s*([A-Z])\s*\)?(?![A-Za-z])')
_LEADING_LETTER = re.compile(r'^\s*\(?([A-Z])(?:\s*$|\s*[).:\]])')


@dataclasses.dataclass(frozen=True)
class ParsedAnswer:
    """The outcome of parsing one reply."""

    index: int | None  # position in the candidates, None when invalid
    method: str  # 'marker', 'letter', 'label', 'fuzzy' or 'invalid'

    @property
    def valid(self) -> bool:
        """Whether a candidate was recognised."""
        return self.index is not None


def parse_answer(text: str, candidates: Sequence[str]) -> ParsedAnswer:
    """Find which of ``candidates`` (lettered A, B, ... in order) ``text`` chooses."""
    count = len(candidates)

    def letter_index(letter: str) -> int | None:
        i = ord(letter) - ord('A')
        return i if 0 <= i < count else None

    markers = [letter_index(m.group(1)) for m in _MARKER.finditer(text)]
    markers = [i for i in markers if i is not None]
    if markers:
        return ParsedAnswer(markers[-1], 'marker')
    leading = _LEADING_LETTER.match(text)
    if leading and letter_index(leading.group(1)) is not None:
        return ParsedAnswer(letter_index(leading.group(1)), 'letter')
    normalized = normalize_label(text)
    mentions = [(normalized.rfind(normalize_label(c)), i) for i, c in enumerate(candidates)]
    mentions = [m for m in mentions if m[0] >= 0]
    if mentions:
        # Latest mention wins; among labels ending at the same place, the longest.
        return ParsedAnswer(max(mentions, key=lambda m: (m[0], len(candidates[m[1]])))[1], 'label')
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines:
        keys = [normalize_label(c) for c in candidates]
        close = difflib.get_close_matches(normalize_label(lines[-1]), keys, n=1,
                                          cutoff=FUZZY_CUTOFF)
        if close:
            return ParsedAnswer(keys.index(close[0]), 'fuzzy')
    return ParsedAnswer(None, 'invalid')
