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

"""The tiny model builder: real architectures, loadable, deterministic, cached atomically."""

from __future__ import annotations

import json
import string

import pytest

from vlm_planner.errors import ConfigError
from vlm_planner.models import tiny
from vlm_planner.models.model_card import CARD_NAME, LEGACY_TINY_MARKER, ModelCard, read_model_card
from vlm_planner.models.tiny import (BUILD_FORMAT, build_tiny_model, ensure_tiny_model,
                                     SUPPORTED_ARCHS)

#: Model class, chat-template markers of a video and an image, generation prompt end, end of
#: turn token and padding token of each architecture (those of the real released models).
EXPECTED = {
    'qwen2_5_vl': ('Qwen2_5_VLForConditionalGeneration',
                   '<|vision_start|><|video_pad|><|vision_end|>',
                   '<|vision_start|><|image_pad|><|vision_end|>',
                   '<|im_start|>assistant\n', '<|im_end|>', '<|endoftext|>'),
    'video_llama_3': ('VideoLlama3ForConditionalGeneration', '<|video_pad|>\n',
                      '<|image_pad|>\n', '<|im_start|>assistant\n', '<|im_end|>',
                      '<|endoftext|>'),
    'qwen3_vl': ('Qwen3VLForConditionalGeneration',
                 '<|vision_start|><|video_pad|><|vision_end|>',
                 '<|vision_start|><|image_pad|><|vision_end|>',
                 '<|im_start|>assistant\n', '<|im_end|>', '<|endoftext|>'),
    'llava_onevision': ('LlavaOnevisionForConditionalGeneration', '<video>', '<image>',
                        '<|im_start|>assistant\n', '<|im_end|>', '<|endoftext|>'),
    'smolvlm': ('SmolVLMForConditionalGeneration', '<video>', '<image>', 'Assistant:',
                '<end_of_utterance>', '<|im_end|>'),
}

#: Special tokens each architecture's processor and chat template rely on.
SPECIAL_TOKENS = {
    'qwen2_5_vl': ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|vision_start|>',
                   '<|vision_end|>', '<|image_pad|>', '<|video_pad|>'],
    'video_llama_3': ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|image_pad|>',
                      '<|video_pad|>'],
    'qwen3_vl': ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|vision_start|>',
                 '<|vision_end|>', '<|image_pad|>', '<|video_pad|>', '<think>', '</think>'],
    'llava_onevision': ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<image>', '<video>'],
    'smolvlm': ['<|im_start|>', '<|im_end|>', '<end_of_utterance>', '<image>',
                '<fake_token_around_image>', '<global-img>', '<row_1_col_1>', '<row_6_col_6>'],
}

MULTIMODAL_ROPE = ('qwen2_5_vl', 'qwen3_vl')


def load(path):
    """Load the model and processor in ``path`` through the auto classes, offline."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(
        path, local_files_only=True, use_safetensors=True)
    return model, AutoProcessor.from_pretrained(path, local_files_only=True)


def test_every_architecture_is_tested():
    assert SUPPORTED_ARCHS == tuple(EXPECTED) == tuple(SPECIAL_TOKENS)


def test_build_loads_through_the_real_auto_classes(arch_model_path, arch):
    model, processor = load(arch_model_path)

    assert type(model).__name__ == EXPECTED[arch][0]
    text = model.config.text_config
    assert (text.num_hidden_layers, text.hidden_size) == (2, 64)
    assert model.config.tie_word_embeddings is False
    vision = model.config.vision_config
    assert (getattr(vision, 'depth', None) or vision.num_hidden_layers) == 2
    assert vision.hidden_size <= 64
    assert processor.image_processor is not None and processor.video_processor is not None
    assert processor.chat_template
    assert sum(p.numel() for p in model.parameters()) < 500_000
    assert list(arch_model_path.glob('*.safetensors'))


@pytest.mark.parametrize('arch_name', MULTIMODAL_ROPE)
def test_multimodal_rope_sections_fill_half_a_head(tiny_cache, arch_name):
    model, _ = load(ensure_tiny_model(cache_dir=tiny_cache, arch=arch_name))

    text = model.config.text_config
    head_dim = getattr(text, 'head_dim', None) or text.hidden_size // text.num_attention_heads
    assert sum(text.rope_parameters['mrope_section']) == head_dim // 2


def test_chat_template_renders_video_image_and_text(arch_model_path, arch):
    from transformers import AutoProcessor

    _, video, image, prompt_end, _, _ = EXPECTED[arch]
    processor = AutoProcessor.from_pretrained(arch_model_path, local_files_only=True)
    conversation = [{'role': 'user', 'content': [
        {'type': 'video'}, {'type': 'image'}, {'type': 'text', 'text': 'What next?'}]}]

    text = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)

    assert text.count(video) == 1 and text.count(image) == 1
    assert text.index(video) < text.index('What next?')
    assert text.index(image) < text.index('What next?')
    assert text.endswith(prompt_end)


def test_letters_are_single_distinct_tokens(arch_model_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(arch_model_path, local_files_only=True)
    ids = [tokenizer.encode(letter, add_special_tokens=False)
           for letter in string.ascii_uppercase]

    assert all(len(i) == 1 for i in ids)
    assert len({i[0] for i in ids}) == 26
    assert tokenizer.decode(ids[2]) == 'C'


def test_special_tokens_and_generation_ids_match(arch_model_path, arch):
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(arch_model_path, local_files_only=True)
    generation = GenerationConfig.from_pretrained(arch_model_path, local_files_only=True)
    *_, end_of_turn, pad = EXPECTED[arch]

    for token in SPECIAL_TOKENS[arch]:
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1, token
    assert tokenizer.convert_tokens_to_ids(end_of_turn) in generation.eos_token_id
    assert generation.pad_token_id == tokenizer.convert_tokens_to_ids(pad)
    sentence = 'Put the red block in the bin. What should be my next action?'
    assert tokenizer.decode(tokenizer.encode(sentence, add_special_tokens=False)) == sentence


def test_processor_and_model_agree_on_the_media_tokens(arch_model_path):
    model, processor = load(arch_model_path)

    assert processor.image_token_id == model.config.image_token_id
    if hasattr(model.config, 'video_token_id'):  # SmolVLM2 sends video frames as images
        assert processor.video_token_id == model.config.video_token_id


def test_model_card_says_untrained_and_keeps_the_build_key(arch_model_path, arch):
    card = read_model_card(arch_model_path)

    assert card.untrained is True
    assert card.trained_on.startswith('nothing')
    assert card.recommended == {}
    assert (card.details['arch'], card.details['seed']) == (arch, 0)
    assert card.details['format'] == BUILD_FORMAT
    assert card.details['model_class'] == EXPECTED[arch][0]
    assert json.loads((arch_model_path / CARD_NAME).read_text())['untrained'] is True
    assert read_model_card(arch_model_path.parent) == ModelCard()


def test_same_seed_same_model_other_seed_other_weights(tmp_path, arch_model_path, arch):
    from safetensors.numpy import load_file

    again = build_tiny_model(tmp_path / 'again', arch=arch, seed=0)
    other = build_tiny_model(tmp_path / 'other', arch=arch, seed=1)
    reference = load_file(arch_model_path / 'model.safetensors')

    same = load_file(again / 'model.safetensors')
    assert same.keys() == reference.keys()
    assert all((same[k] == reference[k]).all() for k in reference)
    for name in ('tokenizer.json', 'config.json', 'processor_config.json'):
        assert (again / name).read_bytes() == (arch_model_path / name).read_bytes(), name
    different = load_file(other / 'model.safetensors')
    assert any((different[k] != reference[k]).any() for k in reference)


def test_ensure_reuses_an_existing_build(tiny_cache, arch_model_path, arch):
    weights = arch_model_path / 'model.safetensors'
    before = (weights.stat().st_mtime_ns, (arch_model_path / CARD_NAME).stat().st_mtime_ns)

    path = ensure_tiny_model(cache_dir=tiny_cache, arch=arch)

    assert path == tiny_cache / 'tiny' / f'{arch}-seed0'
    assert path == arch_model_path
    assert (weights.stat().st_mtime_ns, (path / CARD_NAME).stat().st_mtime_ns) == before


def test_ensure_uses_the_cache_environment_variable(tiny_cache, monkeypatch):
    monkeypatch.setenv('VLM_PLANNER_CACHE', str(tiny_cache))

    assert ensure_tiny_model() == tiny_cache / 'tiny' / 'qwen2_5_vl-seed0'


def test_ensure_rebuilds_an_incomplete_folder_or_a_build_from_before_model_cards(tmp_path):
    target = tmp_path / 'tiny' / 'qwen2_5_vl-seed0'
    target.mkdir(parents=True)
    (target / 'config.json').write_text('{}')
    (target / LEGACY_TINY_MARKER).write_text(json.dumps(
        {'format': 1, 'untrained': True, 'arch': 'qwen2_5_vl', 'seed': 0}))

    path = ensure_tiny_model(cache_dir=tmp_path)

    assert path == target
    assert read_model_card(path).details['format'] == BUILD_FORMAT
    assert not (path / LEGACY_TINY_MARKER).exists()
    assert json.loads((path / 'config.json').read_text())['model_type'] == 'qwen2_5_vl'
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_builder(out, seed):
        (out / 'model.safetensors').write_bytes(b'half')
        raise KeyboardInterrupt

    monkeypatch.setitem(tiny._BUILDERS, 'qwen2_5_vl', broken_builder)

    with pytest.raises(KeyboardInterrupt):
        ensure_tiny_model(cache_dir=tmp_path)

    assert list((tmp_path / 'tiny').iterdir()) == []


def test_unknown_arch_is_a_config_error(tmp_path):
    assert SUPPORTED_ARCHS == (
        'qwen2_5_vl', 'video_llama_3', 'qwen3_vl', 'llava_onevision', 'smolvlm')
    with pytest.raises(ConfigError, match='qwen2_5_vl, video_llama_3'):
        ensure_tiny_model(cache_dir=tmp_path, arch='gpt-17')
    with pytest.raises(ConfigError, match='gpt-17'):
        build_tiny_model(tmp_path / 'x', arch='gpt-17')
    assert not (tmp_path / 'tiny').exists()
