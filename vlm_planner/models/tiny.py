"""Tiny, randomly initialised models of real video-VLM architectures, built offline.

They exercise the whole pipeline (processor, chat template, vision tower, letter scoring,
generation) in seconds on a CPU without downloading anything. Their answers mean nothing: every
build holds a :data:`MARKER_NAME` file saying so, which backends read to flag themselves as
untrained.

Each architecture is one builder function registered in ``_BUILDERS``; adding an architecture means
writing its builder (tokenizer, processor, config, model) and adding it to that dict.

The heavy imports (torch, transformers, tokenizers) happen inside the builders, so finding an
existing build in the cache stays cheap.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import string
import tempfile
from typing import Callable

from vlm_planner.errors import ConfigError

#: Name of the file that marks a folder as an untrained tiny build.
MARKER_NAME = 'vlm_planner_tiny.json'

#: Bumped when builds change in a way that makes older cached builds stale.
MARKER_FORMAT = 1

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

# Special tokens of the Qwen2 / Qwen2.5-VL tokenizer that chat templates and processors rely on.
_QWEN_SPECIAL_TOKENS = (
    '<|endoftext|>', '<|im_start|>', '<|im_end|>',
    '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>',
    '<|quad_start|>', '<|quad_end|>',
    '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>',
)

# The chat template Qwen2.5-VL-Instruct ships (content lists of text, image and video parts).
_QWEN_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Pixel budget per image or video frame (56x56 .. 112x112) keeps CPU inference fast.
_MIN_PIXELS = 56 * 56
_MAX_PIXELS = 112 * 112


def build_tiny_model(out_dir: str | os.PathLike, arch: str = 'qwen2_5_vl', seed: int = 0) -> Path:
    """Build a tiny random model of ``arch`` into ``out_dir`` and return that folder.

    The folder holds safetensors weights, config, generation config, processor and tokenizer (all
    loadable with ``AutoModelForImageTextToText`` / ``AutoProcessor``) and the :data:`MARKER_NAME`
    file. The same ``arch`` and ``seed`` always give the same weights and tokenizer.

    Args:
        out_dir: folder to write into; created if missing.
        arch: one of :data:`SUPPORTED_ARCHS`.
        seed: seed of the random weights.

    Raises:
        ConfigError: ``arch`` is not supported.
    """
    builder = _builder(arch)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_class = builder(out, seed)
    _write_marker(out, arch, seed, model_class)
    return out


def ensure_tiny_model(cache_dir: str | os.PathLike | None = None, arch: str = 'qwen2_5_vl',
                      seed: int = 0) -> Path:
    """Return the cached tiny build of ``arch`` and ``seed``, building it first if missing.

    The build lives in ``<cache>/tiny/<arch>-seed<seed>`` where ``<cache>`` is ``cache_dir``, else
    ``$VLM_PLANNER_CACHE``, else ``$XDG_CACHE_HOME/vlm_planner`` (``~/.cache/vlm_planner``). It is
    written into a temporary sibling folder and moved into place in one step, so an interrupted
    build never leaves a half-written model behind.

    Args:
        cache_dir: cache root overriding the environment.
        arch: one of :data:`SUPPORTED_ARCHS`.
        seed: seed of the random weights.

    Raises:
        ConfigError: ``arch`` is not supported.
    """
    _builder(arch)
    target = _cache_root(cache_dir) / 'tiny' / f'{arch}-seed{seed}'
    if _is_complete(target, arch, seed):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{target.name}.', suffix='.partial', dir=target.parent))
    try:
        build_tiny_model(tmp, arch=arch, seed=seed)
        # Another process may have finished the same build meanwhile; keep theirs then.
        if not _is_complete(target, arch, seed):
            if target.exists():
                shutil.rmtree(target)  # stale format or left over from a foreign tool
            try:
                os.replace(tmp, target)
            except OSError:
                if not _is_complete(target, arch, seed):
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def read_tiny_marker(path: str | os.PathLike) -> dict | None:
    """Return the tiny-build marker of model folder ``path``, or ``None`` if it has none."""
    try:
        with open(Path(path) / MARKER_NAME, encoding='utf-8') as stream:
            marker = json.load(stream)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get('VLM_PLANNER_CACHE'):
        return Path(os.environ['VLM_PLANNER_CACHE']).expanduser()
    return Path(os.environ.get('XDG_CACHE_HOME') or '~/.cache').expanduser() / 'vlm_planner'


def _is_complete(path: Path, arch: str, seed: int) -> bool:
    marker = read_tiny_marker(path)
    return (marker is not None and marker.get('format') == MARKER_FORMAT
            and marker.get('arch') == arch and marker.get('seed') == seed)


def _write_marker(out: Path, arch: str, seed: int, model_class: str) -> None:
    import transformers

    marker = {
        'format': MARKER_FORMAT,
        'untrained': True,
        'arch': arch,
        'seed': seed,
        'model_class': model_class,
        'transformers_version': transformers.__version__,
        'note': 'Randomly initialised tiny model built offline by vlm_planner for tests and '
                'demos. It has never been trained: its answers carry no meaning.',
    }
    # Written last: a folder with a marker is a complete build.
    (out / MARKER_NAME).write_text(json.dumps(marker, indent=2) + '\n', encoding='utf-8')


def _train_qwen2_bpe(
        special_tokens: tuple[str, ...]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a byte-level BPE on :data:`CORPUS` with the exact pipeline ``Qwen2Tokenizer`` uses.

    ``Qwen2Tokenizer`` rebuilds its normaliser and pre-tokeniser from code when it loads, so the
    vocabulary must be trained with the same ones. The full byte alphabet is seeded, hence every
    single character (each letter A..Z included) is one token.
    """
    from tokenizers import decoders, normalizers, pre_tokenizers, Regex, Tokenizer, trainers
    from tokenizers.models import BPE
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tokenizer = Tokenizer(BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior='isolated', invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024, min_frequency=1, special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer)
    model = json.loads(tokenizer.to_str())['model']
    return model['vocab'], [tuple(merge) for merge in model['merges']]


def _check_letters(tokenizer) -> None:
    ids = [tokenizer.encode(letter, add_special_tokens=False) for letter in LETTERS]
    if any(len(i) != 1 for i in ids) or len({i[0] for i in ids}) != len(LETTERS):
        raise RuntimeError('tiny tokenizer does not encode each letter A..Z as one distinct token')


def _build_qwen2_5_vl(out: Path, seed: int) -> str:
    """Write a tiny Qwen2.5-VL (``Qwen2_5_VLForConditionalGeneration``) into ``out``."""
    import torch
    from transformers import (GenerationConfig, Qwen2_5_VLConfig,
                              Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2Tokenizer, Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

    vocab, merges = _train_qwen2_bpe(_QWEN_SPECIAL_TOKENS)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=merges, eos_token='<|im_end|>', pad_token='<|endoftext|>',
        unk_token=None, extra_special_tokens=list(_QWEN_SPECIAL_TOKENS[1:]))
    _check_letters(tokenizer)
    token_id = tokenizer.convert_tokens_to_ids
    pixels = {'min_pixels': _MIN_PIXELS, 'max_pixels': _MAX_PIXELS}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels),
        # Explicit cap setting: silences the per-call deprecation warning of transformers 5.
        video_processor=Qwen2VLVideoProcessor(**pixels, cap_pixels_per_frame=False),
        tokenizer=tokenizer, chat_template=_QWEN_CHAT_TEMPLATE)

    head_dim = 16
    # Multimodal RoPE splits each head's rotary half into t, h, w sections (Qwen's 1/4, 3/8, 3/8).
    half = head_dim // 2
    temporal = half // 4
    height = (half - temporal) // 2
    mrope_section = [temporal, height, half - temporal - height]
    config = Qwen2_5_VLConfig(
        text_config={
            'vocab_size': len(tokenizer), 'hidden_size': 64, 'intermediate_size': 128,
            'num_hidden_layers': 2, 'max_window_layers': 2, 'num_attention_heads': 64 // head_dim,
            'num_key_value_heads': 2, 'max_position_embeddings': 32768,
            'rope_parameters': {'rope_type': 'default', 'rope_theta': 1000000.0,
                                'mrope_section': mrope_section},
            'bos_token_id': None, 'eos_token_id': token_id('<|im_end|>'),
            'pad_token_id': token_id('<|endoftext|>'),
        },
        vision_config={
            'depth': 2, 'hidden_size': 32, 'intermediate_size': 64, 'num_heads': 2,
            'out_hidden_size': 64, 'fullatt_block_indexes': [1], 'window_size': 112,
            'patch_size': 14, 'spatial_merge_size': 2, 'temporal_patch_size': 2,
        },
        image_token_id=token_id('<|image_pad|>'), video_token_id=token_id('<|video_pad|>'),
        vision_start_token_id=token_id('<|vision_start|>'),
        vision_end_token_id=token_id('<|vision_end|>'), tie_word_embeddings=False)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config)
    # Same sampling defaults as Qwen2.5-VL-Instruct ships, so backends meet realistic settings.
    model.generation_config = GenerationConfig(
        bos_token_id=token_id('<|endoftext|>'),
        eos_token_id=[token_id('<|im_end|>'), token_id('<|endoftext|>')],
        pad_token_id=token_id('<|endoftext|>'), do_sample=True, temperature=0.1, top_p=0.001,
        top_k=1, repetition_penalty=1.05)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return type(model).__name__


_BUILDERS: dict[str, Callable[[Path, int], str]] = {
    'qwen2_5_vl': _build_qwen2_5_vl,
}

#: Architectures :func:`build_tiny_model` can build.
SUPPORTED_ARCHS = tuple(_BUILDERS)


def _builder(arch: str) -> Callable[[Path, int], str]:
    try:
        return _BUILDERS[arch]
    except KeyError:
        raise ConfigError(
            f'no tiny model builder for architecture {arch!r}; '
            f'supported: {", ".join(SUPPORTED_ARCHS)}.') from None
