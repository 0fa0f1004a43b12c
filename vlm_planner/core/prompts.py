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

"""Build the planning question as chat messages from a YAML wording template.

The default wording (``vlm_planner/resources/prompt_default.yaml``) follows EgoPlan-Bench: the task
goal, a video of the progress so far, the current observation, and lettered candidate actions.
"""

from __future__ import annotations

import dataclasses
import string
from importlib import resources
from pathlib import Path

import yaml

from vlm_planner.core.chat import ImagePart, Message, Part, TextPart, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.errors import ConfigError

LETTERS = string.ascii_uppercase


@dataclasses.dataclass(frozen=True)
class PromptTemplate:
    """The wording of every prompt the strategies send (see the default YAML for each field)."""

    system: str
    progress: str
    current: str
    question: str
    choices_header: str
    choice: str
    answer_instruction: str
    action_instruction: str
    cot_instruction: str
    reflect_question: str

    @classmethod
    def default(cls) -> 'PromptTemplate':
        """The wording shipped with the package."""
        text = resources.files('vlm_planner').joinpath('resources/prompt_default.yaml').read_text()
        return cls.from_dict(yaml.safe_load(text), source='default prompt template')

    @classmethod
    def from_yaml(cls, path: str | Path) -> 'PromptTemplate':
        """Load a template; fields missing from the file keep the default wording."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
        except FileNotFoundError:
            raise ConfigError(f'prompt template {path} does not exist; set prompt_file to an '
                              'existing YAML file or leave it empty for the default.') from None
        except yaml.YAMLError as exc:
            raise ConfigError(f'prompt template {path} is not valid YAML: {exc}') from None
        merged = dataclasses.asdict(cls.default())
        if not isinstance(data, dict):
            raise ConfigError(f'prompt template {path} must be a mapping of field: text.')
        merged.update(data)
        return cls.from_dict(merged, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str) -> 'PromptTemplate':
        """Validate field names and types."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        missing = names - set(data)
        if unknown or missing:
            raise ConfigError(f'{source}: unknown fields {sorted(unknown)}, missing fields '
                              f'{sorted(missing)}; the fields are {sorted(names)}.')
        bad = [k for k, v in data.items() if not isinstance(v, str)]
        if bad:
            raise ConfigError(f'{source}: fields {bad} must be text.')
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class PlanningQuestion:
    """Everything the model is asked about at one decision point."""

    goal: str
    history: tuple[Frame, ...]  # keyframes before the current frame, oldest first
    current: Frame
    candidates: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError('a planning question needs at least one candidate action')
        if len(self.candidates) > len(LETTERS):
            raise ValueError(f'at most {len(LETTERS)} candidate actions can be lettered, '
                             f'got {len(self.candidates)}')

    @property
    def letters(self) -> list[str]:
        """Answer letters, one per candidate."""
        return list(LETTERS[:len(self.candidates)])


def format_choice(template: PromptTemplate, question: PlanningQuestion, index: int) -> str:
    """Return one option as shown to the model, e.g. ``(B) pick up the red block``."""
    return template.choice.format(letter=LETTERS[index], label=question.candidates[index])


def build_messages(template: PromptTemplate, question: PlanningQuestion,
                   instruction: str) -> list[Message]:
    """Return the chat messages for ``question``, ending the user turn with ``instruction``.

    A template whose ``choice`` is empty leaves the options list (and its header) out: the prompt
    of a model fine-tuned on whole action texts and asked by likelihood scoring. A template whose
    ``progress`` is empty sends no progress video, only the current observation: the prompt of a
    model trained on single frames (the demo model, see docs/training.md).
    """
    parts: list[Part] = []
    if question.history and template.progress:
        times = ', '.join(f'{f.stamp - question.current.stamp:+.1f} s' for f in question.history)
        parts.append(TextPart(template.progress.format(count=len(question.history), times=times)))
        parts.append(VideoPart(tuple(question.history)))
    parts.append(TextPart(template.current))
    parts.append(ImagePart(question.current))
    asked = template.question.format(goal=question.goal)
    if template.choice:
        options = '\n'.join(format_choice(template, question, i)
                            for i in range(len(question.candidates)))
        parts.append(TextPart(f'{asked}\n{template.choices_header}\n{options}\n{instruction}'))
    else:  # no options list: the candidates are only scored as whole answers (likelihood)
        parts.append(TextPart(f'{asked}\n{instruction}'))
    messages = [Message('user', tuple(parts))]
    if template.system:
        messages.insert(0, Message.text('system', template.system))
    return messages


def reflection_messages(template: PromptTemplate, question: PlanningQuestion,
                        first_index: int, instruction: str) -> list[Message]:
    """Return the second pass of self-reflection: the first answer shown back, asked to check.

    ``instruction`` is the one the first pass ended with.
    """
    messages = build_messages(template, question, instruction)
    answer = format_choice(template, question, first_index)
    messages.append(Message.text('assistant', answer))
    messages.append(Message.text(
        'user', f'{template.reflect_question.format(answer=answer)} {instruction}'))
    return messages
