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

1. an explicit answer marker: ``Answer: (B)``, ``answer is B``, ``Answer: B.`` (the last one);
2. a reply that is only a letter, or starts with one: ``B``, ``(B)``, ``B) pick ...``, ``B. pick``;
3. a candidate's label written out as whole words (the last one mentioned, as reasoning usually
   ends on it);
4. a fuzzy match of the reply's last line: accepted only when that line is a near-spelling of
   exactly one label, word by word (each differing word a close spelling of the label's word
   with the same first letter, only articles missing or added) and close enough overall
   (difflib ratio >= ``FUZZY_CUTOFF``).
   A line naming another action that shares words with a label (``pick up the yellow block``
   against ``pick up the red block``, ``open the drawer``) is not a near-spelling: invalid.

A marker or label mention that a negation right before it rejects (``do NOT put the held block
in the bin``, ``I would not pick up the red block``, ``avoid ...``, ``don't ...``, ``rather
than ...``: a negating word among the few words before it, within the same clause) is dropped,
never chosen. Only the last ``MAX_PARSED_CHARS`` characters of a reply are read, so a huge reply
costs bounded time.

Anything else is invalid: the caller reports it (or ends the decision as "no action") instead
of guessing silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Sequence

from vlm_planner.core.actions import normalize_label

#: Least difflib ratio between a reply's last line and a label for a fuzzy match.
FUZZY_CUTOFF = 0.75
#: Least difflib ratio between a misspelt word (or run of words) and the label's.
WORD_CUTOFF = 0.75
#: Words a fuzzy match may add or leave out.
OPTIONAL_WORDS = frozenset({'a', 'an', 'the'})
#: Replies are read from their last this many characters only.
MAX_PARSED_CHARS = 16_000
#: How many words before a mention are searched for a negation.
NEGATION_WINDOW = 4

# Letters must be capitals: 'the answer is a bit unclear' names no option. No two runs of blanks
# may meet without a mandatory token between them: 'answer' and a long run of blanks must cost
# linear time, not polynomial (a model reply is untrusted input).
_MARKER = re.compile(
    r'(?i:answer)(?:\s+(?i:is))?\s*(?:[:\-]\s*)?(?:\(\s*)?([A-Z])\s*\)?(?![A-Za-z])')
_LEADING_LETTER = re.compile(r'^\s*\(?([A-Z])(?:\s*$|\s*[).:\]])')
# A clause ends at punctuation or at a word that starts a new thought ('instead of' negates).
# Not at a colon: 'Avoid: put the block in the bin' stays negated.
_CLAUSE_END = re.compile(
    r"[.;!?,\n()\[\]]|\b(?:but|so|then|therefore|thus|hence|however|instead(?!\s+of))\b")
_NEGATION = re.compile(
    r"\b(?:not|never|no|nor|neither|cannot|avoid|avoiding|without|refrain|\w+n't|"
    r"dont|doesnt|didnt|wont|wouldnt|shouldnt|cant|instead\s+of|rather\s+than)\b")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ANSWER_PREFIX = re.compile(r"^\s*(?:final\s+)?(?:answer|action)(?:\s+is)?\s*(?:[:\-]\s*)?")


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
    """Find which of ``candidates`` (lettered A, B, ... in order) ``text`` chooses.

    Args:
        text: the model's reply.
        candidates: the candidate action labels, in option order.

    Returns:
        The chosen position and how it was read, or ``ParsedAnswer(None, 'invalid')``.
    """
    count = len(candidates)
    leading = _LEADING_LETTER.match(text)
    text = _tail(text)

    def letter_index(letter: str) -> int | None:
        i = ord(letter) - ord('A')
        return i if 0 <= i < count else None

    markers = [letter_index(m.group(1)) for m in _MARKER.finditer(text)
               if not negated(_before(text, m.start()))]
    markers = [i for i in markers if i is not None]
    if markers:
        return ParsedAnswer(markers[-1], 'marker')
    if leading and letter_index(leading.group(1)) is not None:
        return ParsedAnswer(letter_index(leading.group(1)), 'letter')
    mentioned = last_mention(text, candidates)
    if mentioned is not None:
        return ParsedAnswer(mentioned, 'label')
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines:
        fuzzy = near_spelling(lines[-1], candidates)
        if fuzzy is not None:
            return ParsedAnswer(fuzzy, 'fuzzy')
    return ParsedAnswer(None, 'invalid')


def negated(before: str) -> bool:
    """Whether the text right ``before`` a mention negates it.

    Looks for a negating word among the last ``NEGATION_WINDOW`` words of the clause the
    mention is in (``do not``, ``I would never``, ``avoid``, ``don't``, ``rather than``, ...).
    """
    clause = _CLAUSE_END.split(_plain(before))[-1]
    words = clause.split()[-NEGATION_WINDOW:]
    return bool(_NEGATION.search(' '.join(words)))


def last_mention(text: str, candidates: Sequence[str]) -> int | None:
    """Return the candidate whose label ``text`` mentions last (as whole words, not negated).

    Among labels starting at the same place, the longest wins.
    """
    plain = _plain(text)
    best: tuple[int, int, int] | None = None  # (start, label length, index)
    for i, label in enumerate(candidates):
        words = normalize_label(label).split()
        if not words:
            continue
        pattern = re.compile(r'(?<!\w)' + r'\s+'.join(map(re.escape, words)) + r'(?!\w)')
        for match in pattern.finditer(plain):
            if negated(_before(plain, match.start())):
                continue
            key = (match.start(), len(label), i)
            if best is None or key[:2] > best[:2]:
                best = key
    return None if best is None else best[2]


def near_spelling(line: str, candidates: Sequence[str]) -> int | None:
    """Return the one candidate ``line`` is a near-spelling of, or None (none, or several)."""
    words = _WORD.findall(_ANSWER_PREFIX.sub('', _plain(line)))
    if not words:
        return None
    close = []
    for i, label in enumerate(candidates):
        label_words = _WORD.findall(_plain(label))
        if not label_words or len(words) > 2 * len(label_words) + 2:
            continue
        ratio = difflib.SequenceMatcher(None, ' '.join(words), ' '.join(label_words),
                                        autojunk=False).ratio()
        if ratio >= FUZZY_CUTOFF and _same_words(words, label_words):
            close.append(i)
    return close[0] if len(close) == 1 else None


def _same_words(words: list[str], label_words: list[str]) -> bool:
    """Whether ``words`` spell ``label_words`` with typos and articles only."""
    matcher = difflib.SequenceMatcher(None, words, label_words, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == 'equal':
            continue
        mine, theirs = words[i1:i2], label_words[j1:j2]
        if op in ('insert', 'delete'):
            if not set(mine + theirs) <= OPTIONAL_WORDS:
                return False
        elif not _misspelt(''.join(mine), ''.join(theirs)) or abs(len(mine) - len(theirs)) > 1:
            return False
    return True


def _misspelt(mine: str, theirs: str) -> bool:
    """Whether ``mine`` is a close spelling of ``theirs`` that starts alike ('unstack': no)."""
    return mine[:1] == theirs[:1] and difflib.SequenceMatcher(
        None, mine, theirs, autojunk=False).ratio() >= WORD_CUTOFF


def _before(text: str, position: int) -> str:
    """The few hundred characters before ``position``: enough for a clause's last words."""
    return text[max(0, position - 400):position]


def _plain(text: str) -> str:
    """Lower case with plain apostrophes, so mentions and negations compare simply."""
    return text.lower().replace('\u2019', "'").replace('\u2018', "'")


def _tail(text: str) -> str:
    """The last ``MAX_PARSED_CHARS`` characters of ``text``, starting at a word boundary."""
    if len(text) <= MAX_PARSED_CHARS:
        return text
    tail = text[-MAX_PARSED_CHARS:]
    cut = re.search(r'\s', tail)
    return tail[cut.end():] if cut else ''
