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

"""Fixtures of the distance tests: generated episodes, a tiny CLIP model, word-vector files."""

from __future__ import annotations

import string

import numpy as np
import pytest

from vlm_planner.sim.filming import FilmConfig
from vlm_planner.sim.generate import generate, GenerateOptions, parse_splits

#: Words of the generated goals (and a few more), for the tiny word-vector file.
WORDS = ('stack', 'the', 'red', 'green', 'blue', 'yellow', 'block', 'blocks', 'on', 'put', 'in',
         'bin', 'all', 'table', 'of', 'and', 'a', 'top', 'tower', 'clear', 'pick', 'up')


@pytest.fixture(scope='session')
def episodes(tmp_path_factory):
    """Generated episodes: ``test`` and ``ood`` (out-of-domain looks) splits, 64 x 48 frames."""
    out = tmp_path_factory.mktemp('distance') / 'episodes'
    generate(out, GenerateOptions(episodes=4, seed=11, splits=parse_splits('test:1'),
                                  ood_episodes=4, film=FilmConfig(width=64, height=48)),
             workers=1, progress=False)
    return out


def write_vec(path, vectors, header=None):
    """Write a fastText .vec file of ``vectors`` (word -> sequence of numbers)."""
    size = len(next(iter(vectors.values())))
    lines = [header if header is not None else f'{len(vectors)} {size}']
    lines += [f'{word} ' + ' '.join(f'{v:.6f}' for v in vector)
              for word, vector in vectors.items()]
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return path


@pytest.fixture(scope='session')
def word_vectors(tmp_path_factory):
    """A .vec file of 8-dimensional random vectors of :data:`WORDS`."""
    rng = np.random.default_rng(5)
    return write_vec(tmp_path_factory.mktemp('vectors') / 'tiny.vec',
                     {word: rng.normal(size=8) for word in WORDS})


@pytest.fixture(scope='session')
def tiny_clip(tmp_path_factory):
    """A random CLIP model of a few thousand weights with its processor, saved to a folder."""
    import torch
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor,
                              CLIPTokenizer)

    vocab = {'<|startoftext|>': 0, '<|endoftext|>': 1}
    for char in string.ascii_lowercase + string.digits + '.,!?\'-':
        vocab[char] = len(vocab)
        vocab[f'{char}</w>'] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    tiny = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    config = CLIPConfig(
        text_config=dict(tiny, vocab_size=len(vocab), max_position_embeddings=77,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(tiny, image_size=32, patch_size=8), projection_dim=8)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp('clip')
    CLIPModel(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={'shortest_edge': 32},
                                         crop_size={'height': 32, 'width': 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder
