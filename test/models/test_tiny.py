"""The tiny model builder: real architecture, loadable, deterministic, cached atomically."""

from __future__ import annotations

import json
import string

import pytest

from vlm_planner.errors import ConfigError
from vlm_planner.models import tiny
from vlm_planner.models.tiny import (build_tiny_model, ensure_tiny_model, MARKER_NAME,
                                     read_tiny_marker, SUPPORTED_ARCHS)


def test_build_loads_through_the_real_auto_classes(tiny_model_path):
    from transformers import (AutoModelForImageTextToText, AutoProcessor,
                              Qwen2_5_VLForConditionalGeneration)

    model = AutoModelForImageTextToText.from_pretrained(
        tiny_model_path, local_files_only=True, use_safetensors=True)
    processor = AutoProcessor.from_pretrained(tiny_model_path, local_files_only=True)

    assert isinstance(model, Qwen2_5_VLForConditionalGeneration)
    text = model.config.text_config
    assert (text.num_hidden_layers, text.hidden_size) == (2, 64)
    head_dim = text.hidden_size // text.num_attention_heads
    assert sum(text.rope_parameters['mrope_section']) == head_dim // 2
    assert model.config.tie_word_embeddings is False
    assert model.config.vision_config.depth == 2
    assert processor.image_processor is not None and processor.video_processor is not None
    assert processor.image_processor.size['longest_edge'] <= 112 * 112
    assert list(tiny_model_path.glob('*.safetensors'))


def test_chat_template_renders_video_image_and_text(tiny_model_path):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_path, local_files_only=True)
    conversation = [{'role': 'user', 'content': [
        {'type': 'video'}, {'type': 'image'}, {'type': 'text', 'text': 'What next?'}]}]

    text = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)

    assert '<|vision_start|><|video_pad|><|vision_end|>' in text
    assert '<|vision_start|><|image_pad|><|vision_end|>' in text
    assert text.index('<|video_pad|>') < text.index('<|image_pad|>') < text.index('What next?')
    assert text.endswith('<|im_start|>assistant\n')


def test_letters_are_single_distinct_tokens(tiny_model_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path, local_files_only=True)
    ids = [tokenizer.encode(letter, add_special_tokens=False)
           for letter in string.ascii_uppercase]

    assert all(len(i) == 1 for i in ids)
    assert len({i[0] for i in ids}) == 26
    assert tokenizer.decode(ids[2]) == 'C'


def test_special_tokens_and_generation_ids_match(tiny_model_path):
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path, local_files_only=True)
    generation = GenerationConfig.from_pretrained(tiny_model_path, local_files_only=True)
    specials = ['<|im_start|>', '<|im_end|>', '<|endoftext|>', '<|vision_start|>',
                '<|vision_end|>', '<|image_pad|>', '<|video_pad|>']

    for token in specials:
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1, token
    assert tokenizer.convert_tokens_to_ids('<|im_end|>') in generation.eos_token_id
    assert generation.pad_token_id == tokenizer.convert_tokens_to_ids('<|endoftext|>')
    sentence = 'Put the red block in the bin. What should be my next action?'
    assert tokenizer.decode(tokenizer.encode(sentence)) == sentence


def test_marker_says_untrained(tiny_model_path):
    marker = json.loads((tiny_model_path / MARKER_NAME).read_text())

    assert marker['untrained'] is True
    assert (marker['arch'], marker['seed']) == ('qwen2_5_vl', 0)
    assert read_tiny_marker(tiny_model_path) == marker
    assert read_tiny_marker(tiny_model_path.parent) is None


def test_same_seed_same_model_other_seed_other_weights(tmp_path, tiny_model_path):
    from safetensors.numpy import load_file

    again = build_tiny_model(tmp_path / 'again', seed=0)
    other = build_tiny_model(tmp_path / 'other', seed=1)
    reference = load_file(tiny_model_path / 'model.safetensors')

    same = load_file(again / 'model.safetensors')
    assert same.keys() == reference.keys()
    assert all((same[k] == reference[k]).all() for k in reference)
    tokenizer = (tiny_model_path / 'tokenizer.json').read_bytes()
    assert (again / 'tokenizer.json').read_bytes() == tokenizer
    different = load_file(other / 'model.safetensors')
    assert any((different[k] != reference[k]).any() for k in reference)


def test_ensure_reuses_an_existing_build(tiny_cache, tiny_model_path):
    weights = tiny_model_path / 'model.safetensors'
    before = (weights.stat().st_mtime_ns, (tiny_model_path / MARKER_NAME).stat().st_mtime_ns)

    path = ensure_tiny_model(cache_dir=tiny_cache)

    assert path == tiny_cache / 'tiny' / 'qwen2_5_vl-seed0'
    assert path == tiny_model_path
    assert (weights.stat().st_mtime_ns, (path / MARKER_NAME).stat().st_mtime_ns) == before


def test_ensure_uses_the_cache_environment_variable(tiny_cache, monkeypatch):
    monkeypatch.setenv('VLM_PLANNER_CACHE', str(tiny_cache))

    assert ensure_tiny_model() == tiny_cache / 'tiny' / 'qwen2_5_vl-seed0'


def test_ensure_rebuilds_an_incomplete_folder(tmp_path):
    target = tmp_path / 'tiny' / 'qwen2_5_vl-seed0'
    target.mkdir(parents=True)
    (target / 'config.json').write_text('{}')

    path = ensure_tiny_model(cache_dir=tmp_path)

    assert path == target
    assert read_tiny_marker(path)['untrained'] is True
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
    assert SUPPORTED_ARCHS == ('qwen2_5_vl',)
    with pytest.raises(ConfigError, match='qwen2_5_vl'):
        ensure_tiny_model(cache_dir=tmp_path, arch='gpt-17')
    with pytest.raises(ConfigError, match='gpt-17'):
        build_tiny_model(tmp_path / 'x', arch='gpt-17')
    assert not (tmp_path / 'tiny').exists()
