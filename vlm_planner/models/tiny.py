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

"""Tiny, randomly initialised models of real video-VLM architectures, built offline.

They exercise the whole pipeline (processor, chat template, vision tower, letter scoring,
generation) in seconds on a CPU without downloading anything. Their answers mean nothing: every
build's model card (:mod:`.model_card`) says so (``untrained``), which backends read to flag
themselves as untrained; its ``details`` hold the build key (:data:`BUILD_FORMAT`, architecture,
seed) the cache checks.

Each architecture is one builder function registered in ``_BUILDERS``: it picks the family's
tokenizer class, special tokens and chat template, its processor classes with small pixel budgets,
and a config of 2 layers with hidden size 64 and a 2-layer vision tower (larger with
:class:`TinySize`). Tokenizer training (:func:`_train_tokenizer`), the language-model config
(:func:`_text_config`), the generation config and seeded initialisation and saving (:func:`_save`)
are shared. Adding an architecture
means writing its builder and adding it to that dict.

Built architectures (``AutoModelForImageTextToText`` classes): ``qwen2_5_vl`` (Qwen2.5-VL),
``video_llama_3`` (VideoLLaMA3), ``qwen3_vl`` (Qwen3-VL), ``llava_onevision`` (LLaVA-OneVision)
and ``smolvlm`` (SmolVLM2, whose processor needs the num2words package).

The heavy imports (torch, transformers, tokenizers) happen inside the builders, so finding an
existing build in the cache stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
import shutil
import string
import tempfile
from typing import Any, Callable, Sequence

from vlm_planner.errors import ConfigError
from vlm_planner.models.model_card import CARD_NAME, ModelCard, read_model_card, write_model_card

#: Bumped when builds change in a way that makes older cached builds stale (2: model cards).
BUILD_FORMAT = 2

#: Letters every tiny tokenizer encodes as exactly one token (multiple-choice answers).
LETTERS = string.ascii_uppercase

# Text the tiny tokenizers are trained on: the vocabulary of tabletop planning prompts.
CORPUS = (
    'Pick up the red block and put it in the blue bin.',
    'Stack the green block on the yellow block.',
    'Put the blue block in the left bin.',
    'Move the small cube to the right side of the table.',
    'Open the drawer, then place the cup inside.',
    'Close the drawer and push the bin to the corner.',
    'Unstack the top block and put it on the table.',
    'The robot arm picks the red cube and places it on the plate.',
    'Sort the blocks by colour into the three bins.',
    'Grasp the handle, lift the lid and put it down next to the box.',
    'What should be my next action?',
    'Considering the progress shown in the video and my current observation in the last frame, '
    'what action should I take next in order to complete the task?',
    'My current task is to stack all blocks into one tower.',
    'Choose one of the following actions. Answer with the letter only.',
    'A. pick up the red block',
    'B. put the red block in the blue bin',
    'C. stack the green block on the yellow block',
    'D. open the drawer',
    '(A) (B) (C) (D) Answer: A B C D E F G H',
    'Think step by step, then give the letter of the best action.',
    'Is the previous answer correct? If not, give the right letter.',
    'The gripper is empty. The block is already in the bin. The task is done.',
    'first, second, third, next, then, finally, left, right, top, bottom, front, back',
    'red, green, blue, yellow, orange, purple, white, black, block, cube, bin, bowl, cup, plate',
    'You are a helpful assistant.',
)

# Special tokens of the Qwen2 / Qwen2.5-VL tokenizer that chat templates and processors rely on;
# VideoLLaMA3 (a Qwen2.5 language model) uses the same ones.
_QWEN_SPECIAL_TOKENS = (
    '<|endoftext|>', '<|im_start|>', '<|im_end|>',
    '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>',
    '<|quad_start|>', '<|quad_end|>',
    '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>',
)

# Qwen3 adds tool-call and thinking markers.
_QWEN3_SPECIAL_TOKENS = _QWEN_SPECIAL_TOKENS + (
    '<tool_call>', '</tool_call>', '<think>', '</think>')

# LLaVA-OneVision (Qwen2 language model) marks images and videos with tokens of its own.
_LLAVA_ONEVISION_SPECIAL_TOKENS = (
    '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>', '<video>')

# SmolVLM2 (SmolLM2 language model): image framing tokens and the tile grid of split images.
_SMOLVLM_SPECIAL_TOKENS = (
    '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<fake_token_around_image>', '<image>',
    '<end_of_utterance>', '<global-img>',
) + tuple(f'<row_{row}_col_{col}>' for row in range(1, 7) for col in range(1, 7))

_QWEN2_5_VL_SYSTEM = 'You are a helpful assistant.'
_VIDEO_LLAMA_3_SYSTEM = ('You are VideoLLaMA3 created by Alibaba DAMO Academy, a helpful '
                         'assistant to help people understand images and videos.')

# The chat template LLaVA-OneVision ships: a message's images, then its videos, then its text.
_LLAVA_ONEVISION_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' }}"
    "{% if message['content'] is string %}{{ '\n' + message['content'] }}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ '\n' + content['text'] }}{% endfor %}{% endif %}{{ '<|im_end|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Pixel budget per image or video frame (56x56 .. 112x112) keeps CPU inference fast. Qwen3-VL's
# 16-pixel patches merged 2x2 need multiples of 32.
_MIN_PIXELS = 56 * 56
_MAX_PIXELS = 112 * 112
_QWEN3_MIN_PIXELS = 64 * 64
_QWEN3_MAX_PIXELS = 128 * 128

# Processors that share one pixel budget among a clip's frames get this many frames' worth.
_CLIP_FRAMES_BUDGET = 4

# Square side of LLaVA-OneVision and SmolVLM inputs (their vision towers take fixed-size squares).
_LLAVA_ONEVISION_SIDE = 56
_SMOLVLM_SIDE = 64

# Head size of every tiny language model.
_HEAD_DIM = 16

#: Key-value heads of every tiny language model (its attention heads must be a multiple).
_KV_HEADS = 2


#: Module names of the vision encoders of the supported architectures (``visual`` in the
#: Qwen-VL family, ``vision_tower`` in LLaVA-OneVision, ``vision_model`` in VideoLLaMA3 and
#: SmolVLM2).
VISION_TOWERS = ('visual', 'vision_tower', 'vision_model', 'vision_encoder')


@dataclasses.dataclass(frozen=True)
class TinySize:
    """How big a tiny build is; the default is the size the tests use (about 0.2 M parameters).

    Heads are 16 wide, and each MLP is twice as wide as its model. For example
    ``TinySize(hidden_size=128, layers=6, vision_hidden_size=64, vision_layers=4)`` gives a
    Qwen2.5-VL of about 1.3 M parameters, big enough to learn a simple tabletop task from scratch.

    Attributes:
        hidden_size: the language model's width, a multiple of 32.
        layers: language-model layers.
        vision_hidden_size: the vision tower's width, a multiple of 16.
        vision_layers: vision-tower layers.
        attention_init_std: standard deviation the language model's query and key projections
            are drawn with; 0 keeps the architecture's own (0.02). The small default makes every
            attention map nearly uniform, and a model trained from scratch then never learns to
            pick out the few image tokens that show a held block: it learns the text prior and
            ignores the camera. 0.2 gives sharp random attention from the start (see
            docs/training.md, section 8).
        max_pixels: largest frame the processor passes on, in pixels (Qwen2.5-VL and
            VideoLLaMA3 builds); 0 keeps the default of 112 x 112. Objects a few pixels wide,
            such as a block in the gripper, need more (the demo model uses 50,176: 196 x 252).
    """

    hidden_size: int = 64
    layers: int = 2
    vision_hidden_size: int = 32
    vision_layers: int = 2
    attention_init_std: float = 0.0
    max_pixels: int = 0

    def __post_init__(self) -> None:
        """Refuse sizes the architectures cannot take.

        Raises:
            ConfigError: a width is not a multiple of its heads' size, or a count is below 1.
        """
        problems = []
        if self.hidden_size < _HEAD_DIM * _KV_HEADS or self.hidden_size % (_HEAD_DIM * _KV_HEADS):
            problems.append(f'hidden_size {self.hidden_size} must be a positive multiple of '
                            f'{_HEAD_DIM * _KV_HEADS}')
        if self.vision_hidden_size < _HEAD_DIM or self.vision_hidden_size % _HEAD_DIM:
            problems.append(f'vision_hidden_size {self.vision_hidden_size} must be a positive '
                            f'multiple of {_HEAD_DIM}')
        for name in ('layers', 'vision_layers'):
            if getattr(self, name) < 1:
                problems.append(f'{name} must be at least 1, got {getattr(self, name)}')
        if self.max_pixels and self.max_pixels < _MIN_PIXELS:
            problems.append(f'max_pixels must be 0 or at least {_MIN_PIXELS}, got '
                            f'{self.max_pixels}')
        if not 0.0 <= self.attention_init_std <= 10.0:
            problems.append(f'attention_init_std must be within 0 and 10, got '
                            f'{self.attention_init_std}')
        if problems:
            raise ConfigError(f'tiny model size: {"; ".join(problems)}.')

    @property
    def is_default(self) -> bool:
        """Whether this is the default (test) size."""
        return self == _DEFAULT_SIZE

    @property
    def key(self) -> str:
        """A short name of the size for cache folders, such as ``h128l6-v64l4``."""
        key = (f'h{self.hidden_size}l{self.layers}-v{self.vision_hidden_size}'
               f'l{self.vision_layers}')
        key += f'-a{self.attention_init_std:g}' if self.attention_init_std else ''
        return key + (f'-p{self.max_pixels}' if self.max_pixels else '')

    def vision(self, depth: str = 'depth', heads: str = 'num_heads') -> dict[str, int]:
        """The vision tower's size entries, under the config's names for depth and heads."""
        width = self.vision_hidden_size
        return {depth: self.vision_layers, 'hidden_size': width, 'intermediate_size': 2 * width,
                heads: width // _HEAD_DIM}


_DEFAULT_SIZE = TinySize()


def build_tiny_model(out_dir: str | os.PathLike, arch: str = 'qwen2_5_vl', seed: int = 0,
                     size: TinySize | None = None) -> Path:
    """Build a tiny random model of ``arch`` into ``out_dir`` and return that folder.

    The folder holds safetensors weights, config, generation config, processor and tokenizer (all
    loadable with ``AutoModelForImageTextToText`` / ``AutoProcessor``) and a model card saying it
    is untrained. The same ``arch`` and ``seed`` always give the same weights and tokenizer.

    Args:
        out_dir: folder to write into; created if missing.
        arch: one of :data:`SUPPORTED_ARCHS`.
        seed: seed of the random weights.
        size: how big (default: :class:`TinySize`'s defaults, the test size).

    Raises:
        ConfigError: ``arch`` is not supported.
    """
    builder = _builder(arch)
    size = size or TinySize()
    if size.max_pixels and arch not in _PIXEL_LIMITED:
        raise ConfigError(f'a frame size limit (max_pixels) can be set for the '
                          f'{" and ".join(_PIXEL_LIMITED)} builds, not for {arch}.')
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # A default build calls its builder with the arguments builders have always taken.
    model_class = builder(out, seed) if size.is_default else builder(out, seed, size=size)
    _write_card(out, arch, seed, model_class, size)
    return out


def ensure_tiny_model(cache_dir: str | os.PathLike | None = None, arch: str = 'qwen2_5_vl',
                      seed: int = 0, size: TinySize | None = None) -> Path:
    """Return the cached tiny build of ``arch`` and ``seed``, building it first if missing.

    The build lives in ``<cache>/tiny/<arch>-seed<seed>`` where ``<cache>`` is ``cache_dir``, else
    ``$VLM_PLANNER_CACHE``, else ``$XDG_CACHE_HOME/vlm_planner`` (``~/.cache/vlm_planner``); a
    size other than the default adds its :attr:`TinySize.key` to the folder's name. It is
    written into a temporary sibling folder and moved into place in one step, so an interrupted
    build never leaves a half-written model behind.

    Args:
        cache_dir: cache root overriding the environment.
        arch: one of :data:`SUPPORTED_ARCHS`.
        seed: seed of the random weights.
        size: how big (default: the test size).

    Raises:
        ConfigError: ``arch`` is not supported.
    """
    _builder(arch)
    size = size or TinySize()
    name = f'{arch}-seed{seed}' + ('' if size.is_default else f'-{size.key}')
    target = _cache_root(cache_dir) / 'tiny' / name
    if _is_complete(target, arch, seed, size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{target.name}.', suffix='.partial', dir=target.parent))
    try:
        build_tiny_model(tmp, arch=arch, seed=seed, size=size)
        # Another process may have finished the same build meanwhile; keep theirs then.
        if not _is_complete(target, arch, seed, size):
            if target.exists():
                shutil.rmtree(target)  # stale format or left over from a foreign tool
            try:
                os.replace(tmp, target)
            except OSError:
                if not _is_complete(target, arch, seed, size):
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get('VLM_PLANNER_CACHE'):
        return Path(os.environ['VLM_PLANNER_CACHE']).expanduser()
    return Path(os.environ.get('XDG_CACHE_HOME') or '~/.cache').expanduser() / 'vlm_planner'


def _is_complete(path: Path, arch: str, seed: int, size: TinySize) -> bool:
    """Whether ``path`` holds a finished build of this format, ``arch``, ``seed`` and ``size``."""
    if not (path / CARD_NAME).is_file():
        return False  # missing, half-written, or built before model cards
    try:
        details = read_model_card(path).details
    except ConfigError:
        return False  # damaged: build it again
    return (details.get('format') == BUILD_FORMAT and details.get('arch') == arch
            and details.get('seed') == seed and details.get('size') == _size_detail(size))


def _size_detail(size: TinySize) -> dict[str, int] | None:
    """The size as the model card records it: nothing for the default (its key is unchanged)."""
    return None if size.is_default else dataclasses.asdict(size)


def _write_card(out: Path, arch: str, seed: int, model_class: str, size: TinySize) -> None:
    import transformers

    details: dict[str, Any] = {
        'builder': 'vlm_planner.models.tiny', 'format': BUILD_FORMAT, 'arch': arch, 'seed': seed,
        'model_class': model_class, 'transformers_version': transformers.__version__}
    if not size.is_default:
        details['size'] = _size_detail(size)

    card = ModelCard(
        untrained=True,
        trained_on='nothing: randomly initialised tiny model built offline by vlm_planner for '
                   'tests and demos; its answers carry no meaning.',
        details=details)
    # Written last: a folder with a model card is a complete build.
    write_model_card(out, card)


def _im_chat_template(*, image: str, video: str, system: str = '') -> str:
    """Chat template of the ChatML family (Qwen-VL, VideoLLaMA3) for content lists.

    Args:
        image: text an image part renders as.
        video: text a video part renders as.
        system: system prompt used when the conversation has none; empty for no default.
    """
    default_system = (
        "{% if loop.first and message['role'] != 'system' %}"
        f"<|im_start|>system\n{system}<|im_end|>\n"
        "{% endif %}") if system else ''
    return (
        "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
        "{% for message in messages %}"
        f"{default_system}"
        "<|im_start|>{{ message['role'] }}\n"
        "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
        "{% else %}{% for content in message['content'] %}"
        "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
        "{% set image_count.value = image_count.value + 1 %}"
        "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
        f"{image}"
        "{% elif content['type'] == 'video' or 'video' in content %}"
        "{% set video_count.value = video_count.value + 1 %}"
        "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
        f"{video}"
        "{% elif 'text' in content %}{{ content['text'] }}"
        "{% endif %}{% endfor %}<|im_end|>\n"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )


def _train_tokenizer(tokenizer_class: type, special_tokens: tuple[str, ...], **kwargs: Any) -> Any:
    """Return a ``tokenizer_class`` whose byte-level BPE is trained on :data:`CORPUS`.

    The vocabulary is trained with the normaliser and pre-tokeniser ``tokenizer_class`` itself
    builds (they are rebuilt from code when the tokenizer loads, so they must match). The full byte
    alphabet is seeded, hence every single character (each letter A..Z included) is one token.

    Args:
        tokenizer_class: a byte-level BPE tokenizer class of transformers (``Qwen2Tokenizer``,
            ``GPT2Tokenizer``).
        special_tokens: the model family's special tokens, first in the vocabulary in this order.
        kwargs: the roles of special tokens (``eos_token``, ``pad_token``, ...); every special
            token without a role becomes an extra special token.
    """
    from tokenizers import pre_tokenizers, trainers

    blank = tokenizer_class(vocab={}, merges=[], unk_token=kwargs.get('unk_token'))._tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=1024, min_frequency=1, special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    blank.train_from_iterator(CORPUS, trainer)
    model = json.loads(blank.to_str())['model']
    roles = set(kwargs.values())
    tokenizer = tokenizer_class(
        vocab=model['vocab'], merges=[tuple(merge) for merge in model['merges']],
        extra_special_tokens=[token for token in special_tokens if token not in roles], **kwargs)
    _check_letters(tokenizer)
    return tokenizer


def _check_letters(tokenizer: Any) -> None:
    ids = [tokenizer.encode(letter, add_special_tokens=False) for letter in LETTERS]
    if any(len(i) != 1 for i in ids) or len({i[0] for i in ids}) != len(LETTERS):
        raise RuntimeError('tiny tokenizer does not encode each letter A..Z as one distinct token')


def _text_config(tokenizer: Any, size: TinySize, *, eos: str, pad: str,
                 **extra: Any) -> dict[str, Any]:
    """Language-model config shared by all builds: heads of 16, GQA 2 (default: 2 layers of 64)."""
    token_id = tokenizer.convert_tokens_to_ids
    width = size.hidden_size
    return {
        'vocab_size': len(tokenizer), 'hidden_size': width, 'intermediate_size': 2 * width,
        'num_hidden_layers': size.layers, 'num_attention_heads': width // _HEAD_DIM,
        'num_key_value_heads': _KV_HEADS,
        'max_position_embeddings': 32768, 'bos_token_id': None, 'eos_token_id': token_id(eos),
        'pad_token_id': token_id(pad), **extra,
    }


def _mrope_section(interleaved: bool) -> list[int]:
    """Split a head's rotary half into multimodal RoPE t, h, w sections (they must sum to it).

    Qwen2.5-VL gives time 1/4 and height and width 3/8 each; Qwen3-VL, which interleaves the
    sections, gives time the larger share (24, 20, 20 of 64).
    """
    half = _HEAD_DIM // 2
    if interleaved:
        height = half * 20 // 64
        return [half - 2 * height, height, height]
    temporal = half // 4
    height = (half - temporal) // 2
    return [temporal, height, half - temporal - height]


def _generation_config(tokenizer: Any, *, eos: Sequence[str], pad: str, bos: str | None = None,
                       **sampling: Any) -> Any:
    """Generation config that stops at the tiny tokenizer's ``eos``, with ``sampling`` defaults."""
    from transformers import GenerationConfig

    token_id = tokenizer.convert_tokens_to_ids
    return GenerationConfig(
        bos_token_id=token_id(bos) if bos else None, eos_token_id=[token_id(t) for t in eos],
        pad_token_id=token_id(pad), **sampling)


def _save(out: Path, seed: int, model_class: type, config: Any, processor: Any,
          generation_config: Any, size: TinySize = _DEFAULT_SIZE) -> str:
    """Initialise ``model_class`` from ``seed``, save it with ``processor``; return its name."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
        if size.attention_init_std:
            _sharpen_attention(model, size.attention_init_std)
    model.generation_config = generation_config
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return model_class.__name__


def _sharpen_attention(model: Any, std: float) -> None:
    """Draw the language model's query and key projection weights again with ``std``."""
    import torch

    for name, module in model.named_modules():
        parts = name.split('.')
        if parts[-1] in ('q_proj', 'k_proj') and not set(parts) & set(VISION_TOWERS):
            torch.nn.init.normal_(module.weight, std=std)


def _build_qwen2_5_vl(out: Path, seed: int, size: TinySize = _DEFAULT_SIZE) -> str:
    """Write a tiny Qwen2.5-VL (``Qwen2_5_VLForConditionalGeneration``) into ``out``."""
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                              Qwen2_5_VLProcessor, Qwen2Tokenizer, Qwen2VLImageProcessor,
                              Qwen2VLVideoProcessor)

    tokenizer = _train_tokenizer(Qwen2Tokenizer, _QWEN_SPECIAL_TOKENS, eos_token='<|im_end|>',
                                 pad_token='<|endoftext|>', unk_token=None)
    pixels = {'min_pixels': _MIN_PIXELS, 'max_pixels': size.max_pixels or _MAX_PIXELS}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels),
        # Explicit cap setting: silences the per-call deprecation warning of transformers 5.
        video_processor=Qwen2VLVideoProcessor(**pixels, cap_pixels_per_frame=False),
        tokenizer=tokenizer, chat_template=_im_chat_template(
            image='<|vision_start|><|image_pad|><|vision_end|>',
            video='<|vision_start|><|video_pad|><|vision_end|>', system=_QWEN2_5_VL_SYSTEM))
    token_id = tokenizer.convert_tokens_to_ids
    config = Qwen2_5_VLConfig(
        text_config=_text_config(
            tokenizer, size, eos='<|im_end|>', pad='<|endoftext|>', max_window_layers=size.layers,
            rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0,
                             'mrope_section': _mrope_section(interleaved=False)}),
        vision_config={
            **size.vision(), 'out_hidden_size': size.hidden_size,
            'fullatt_block_indexes': [size.vision_layers - 1], 'window_size': 112,
            'patch_size': 14, 'spatial_merge_size': 2, 'temporal_patch_size': 2,
        },
        image_token_id=token_id('<|image_pad|>'), video_token_id=token_id('<|video_pad|>'),
        vision_start_token_id=token_id('<|vision_start|>'),
        vision_end_token_id=token_id('<|vision_end|>'), tie_word_embeddings=False)
    # Same sampling defaults as Qwen2.5-VL-Instruct ships, so backends meet realistic settings.
    generation = _generation_config(
        tokenizer, bos='<|endoftext|>', eos=('<|im_end|>', '<|endoftext|>'), pad='<|endoftext|>',
        do_sample=True, temperature=0.1, top_p=0.001, top_k=1, repetition_penalty=1.05)
    return _save(out, seed, Qwen2_5_VLForConditionalGeneration, config, processor, generation,
                 size)


def _build_video_llama_3(out: Path, seed: int, size: TinySize = _DEFAULT_SIZE) -> str:
    """Write a tiny VideoLLaMA3 (``VideoLlama3ForConditionalGeneration``) into ``out``.

    The vision tower's patch size must equal the processor's (14). The video processor shares one
    pixel budget among a clip's frames, so it gets :data:`_CLIP_FRAMES_BUDGET` frames' worth.
    """
    from transformers import (Qwen2Tokenizer, VideoLlama3Config,
                              VideoLlama3ForConditionalGeneration, VideoLlama3ImageProcessor,
                              VideoLlama3Processor, VideoLlama3VideoProcessor)

    tokenizer = _train_tokenizer(Qwen2Tokenizer, _QWEN_SPECIAL_TOKENS, eos_token='<|im_end|>',
                                 pad_token='<|endoftext|>', unk_token=None)
    limit = size.max_pixels or _MAX_PIXELS
    processor = VideoLlama3Processor(
        image_processor=VideoLlama3ImageProcessor(min_pixels=_MIN_PIXELS, max_pixels=limit),
        video_processor=VideoLlama3VideoProcessor(
            min_pixels=_MIN_PIXELS, max_pixels=limit * _CLIP_FRAMES_BUDGET),
        tokenizer=tokenizer, chat_template=_im_chat_template(
            image='<|image_pad|>\n', video='<|video_pad|>\n', system=_VIDEO_LLAMA_3_SYSTEM))
    token_id = tokenizer.convert_tokens_to_ids
    config = VideoLlama3Config(
        text_config=_text_config(
            tokenizer, size, eos='<|im_end|>', pad='<|endoftext|>', model_type='qwen2',
            rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0}),
        vision_config={**size.vision('num_hidden_layers', 'num_attention_heads'),
                       'patch_size': 14},
        image_token_id=token_id('<|image_pad|>'), video_token_id=token_id('<|video_pad|>'),
        tie_word_embeddings=False)
    generation = _generation_config(
        tokenizer, bos='<|endoftext|>', eos=('<|im_end|>', '<|endoftext|>'), pad='<|endoftext|>')
    return _save(out, seed, VideoLlama3ForConditionalGeneration, config, processor, generation,
                 size)


def _build_qwen3_vl(out: Path, seed: int, size: TinySize = _DEFAULT_SIZE) -> str:
    """Write a tiny Qwen3-VL (``Qwen3VLForConditionalGeneration``) into ``out``.

    16-pixel patches, interleaved multimodal RoPE, one DeepStack layer, and learned vision position
    embeddings on an 8x8 grid (their count must be a square).
    """
    from transformers import (Qwen2Tokenizer, Qwen2VLImageProcessor, Qwen3VLConfig,
                              Qwen3VLForConditionalGeneration, Qwen3VLProcessor,
                              Qwen3VLVideoProcessor)

    tokenizer = _train_tokenizer(Qwen2Tokenizer, _QWEN3_SPECIAL_TOKENS, eos_token='<|im_end|>',
                                 pad_token='<|endoftext|>', unk_token=None)
    normalise: dict[str, Any] = {'image_mean': [0.5, 0.5, 0.5], 'image_std': [0.5, 0.5, 0.5]}
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            min_pixels=_QWEN3_MIN_PIXELS, max_pixels=_QWEN3_MAX_PIXELS, patch_size=16,
            **normalise),
        video_processor=Qwen3VLVideoProcessor(
            size={'shortest_edge': _QWEN3_MIN_PIXELS * 2,
                  'longest_edge': _QWEN3_MAX_PIXELS * _CLIP_FRAMES_BUDGET},
            cap_pixels_per_frame=False, **normalise),
        tokenizer=tokenizer, chat_template=_im_chat_template(
            image='<|vision_start|><|image_pad|><|vision_end|>',
            video='<|vision_start|><|video_pad|><|vision_end|>'))
    token_id = tokenizer.convert_tokens_to_ids
    config = Qwen3VLConfig(
        text_config=_text_config(
            tokenizer, size, eos='<|im_end|>', pad='<|endoftext|>', head_dim=_HEAD_DIM,
            rope_parameters={'rope_type': 'default', 'rope_theta': 5000000.0,
                             'mrope_section': _mrope_section(interleaved=True),
                             'mrope_interleaved': True}),
        vision_config={
            **size.vision(), 'patch_size': 16, 'spatial_merge_size': 2,
            'temporal_patch_size': 2, 'out_hidden_size': size.hidden_size,
            'num_position_embeddings': 64, 'deepstack_visual_indexes': [0],
        },
        image_token_id=token_id('<|image_pad|>'), video_token_id=token_id('<|video_pad|>'),
        vision_start_token_id=token_id('<|vision_start|>'),
        vision_end_token_id=token_id('<|vision_end|>'), tie_word_embeddings=False)
    # Qwen3-VL-Instruct's sampling defaults.
    generation = _generation_config(
        tokenizer, bos='<|endoftext|>', eos=('<|im_end|>', '<|endoftext|>'), pad='<|endoftext|>',
        do_sample=True, temperature=0.7, top_p=0.8, top_k=20)
    return _save(out, seed, Qwen3VLForConditionalGeneration, config, processor, generation, size)


def _build_llava_onevision(out: Path, seed: int, size: TinySize = _DEFAULT_SIZE) -> str:
    """Write a tiny LLaVA-OneVision (``LlavaOnevisionForConditionalGeneration``) into ``out``.

    A SigLIP tower on 56x56 squares (4x4 patches of 14); the any-resolution grid holds up to 2x2
    such tiles and must be the same in the processor and the model config.
    """
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration,
                              LlavaOnevisionImageProcessor, LlavaOnevisionProcessor,
                              LlavaOnevisionVideoProcessor, Qwen2Tokenizer)

    tokenizer = _train_tokenizer(Qwen2Tokenizer, _LLAVA_ONEVISION_SPECIAL_TOKENS,
                                 eos_token='<|im_end|>', pad_token='<|endoftext|>', unk_token=None)
    side, patch = _LLAVA_ONEVISION_SIDE, 14
    square = {'height': side, 'width': side}
    pinpoints = [[side * rows, side * cols] for rows in (1, 2) for cols in (1, 2)]
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=square, image_grid_pinpoints=pinpoints),
        video_processor=LlavaOnevisionVideoProcessor(size=square), tokenizer=tokenizer,
        num_image_tokens=(side // patch) ** 2, vision_feature_select_strategy='full',
        chat_template=_LLAVA_ONEVISION_CHAT_TEMPLATE)
    token_id = tokenizer.convert_tokens_to_ids
    config = LlavaOnevisionConfig(
        text_config=_text_config(
            tokenizer, size, eos='<|im_end|>', pad='<|endoftext|>', model_type='qwen2',
            rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0}),
        vision_config={'model_type': 'siglip_vision_model',
                       **size.vision('num_hidden_layers', 'num_attention_heads'),
                       'patch_size': patch, 'image_size': side, 'vision_use_head': False},
        image_token_index=token_id('<image>'), video_token_index=token_id('<video>'),
        image_grid_pinpoints=pinpoints, vision_feature_select_strategy='full',
        vision_feature_layer=-1, tie_word_embeddings=False)
    generation = _generation_config(
        tokenizer, bos='<|endoftext|>', eos=('<|im_end|>', '<|endoftext|>'), pad='<|endoftext|>')
    return _save(out, seed, LlavaOnevisionForConditionalGeneration, config, processor, generation,
                 size)


def _build_smolvlm(out: Path, seed: int, size: TinySize = _DEFAULT_SIZE) -> str:
    """Write a tiny SmolVLM2 (``SmolVLMForConditionalGeneration``) into ``out``.

    A 64x64 vision tower with 16-pixel patches and pixel shuffle 2, so each image tile is 4 tokens;
    images are split into at most 2x2 tiles plus the whole image. Its language model is a Llama
    with SmolLM2's GPT-2 style tokenizer.
    """
    from transformers import (GPT2Tokenizer, SmolVLMConfig, SmolVLMForConditionalGeneration,
                              SmolVLMImageProcessor, SmolVLMProcessor, SmolVLMVideoProcessor)
    from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE

    tokenizer = _train_tokenizer(
        GPT2Tokenizer, _SMOLVLM_SPECIAL_TOKENS, bos_token='<|im_start|>',
        eos_token='<end_of_utterance>', pad_token='<|im_end|>', unk_token='<|endoftext|>')
    side, patch, scale = _SMOLVLM_SIDE, 16, 2
    tile = {'longest_edge': side}
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(
            size={'longest_edge': 2 * side}, max_image_size=tile),
        video_processor=SmolVLMVideoProcessor(size=tile, max_image_size=tile),
        tokenizer=tokenizer, image_seq_len=(side // patch) ** 2 // scale ** 2,
        chat_template=DEFAULT_CHAT_TEMPLATE)
    config = SmolVLMConfig(
        text_config=_text_config(
            tokenizer, size, eos='<end_of_utterance>', pad='<|im_end|>', model_type='llama',
            rope_parameters={'rope_type': 'default', 'rope_theta': 100000.0}),
        vision_config={**size.vision('num_hidden_layers', 'num_attention_heads'),
                       'image_size': side, 'patch_size': patch},
        image_token_id=tokenizer.convert_tokens_to_ids('<image>'), scale_factor=scale,
        tie_word_embeddings=False)
    generation = _generation_config(
        tokenizer, bos='<|im_start|>', eos=('<end_of_utterance>', '<|im_end|>'), pad='<|im_end|>')
    return _save(out, seed, SmolVLMForConditionalGeneration, config, processor, generation, size)


_BUILDERS: dict[str, Callable[..., str]] = {
    'qwen2_5_vl': _build_qwen2_5_vl,
    'video_llama_3': _build_video_llama_3,
    'qwen3_vl': _build_qwen3_vl,
    'llava_onevision': _build_llava_onevision,
    'smolvlm': _build_smolvlm,
}

#: Architectures :func:`build_tiny_model` can build.
SUPPORTED_ARCHS = tuple(_BUILDERS)
#: The builds whose processor's frame size limit ``TinySize.max_pixels`` sets.
_PIXEL_LIMITED = ('qwen2_5_vl', 'video_llama_3')


def _builder(arch: str) -> Callable[..., str]:
    try:
        return _BUILDERS[arch]
    except KeyError:
        raise ConfigError(
            f'no tiny model builder for architecture {arch!r}; '
            f'supported: {", ".join(SUPPORTED_ARCHS)}.') from None
