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

"""One model specification for plan, eval, the node and the launch file."""

from __future__ import annotations

import pytest

from vlm_planner.errors import ConfigError
from vlm_planner.models.spec import (apply_model_spec, FORMS, model_name, model_parameters,
                                     parse_model_spec, spec_from_parameters)

URL = 'http://127.0.0.1:8000/v1'


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / 'Qwen2.5-VL-7B'
    path.mkdir()
    return path


@pytest.mark.parametrize('text, parameters, name', [
    ('tiny', {'model.backend': 'tiny'}, 'tiny-qwen2_5_vl'),
    ('tiny:smolvlm', {'model.backend': 'tiny', 'model.tiny_arch': 'smolvlm'}, 'tiny-smolvlm'),
    (f'openai:{URL}', {'model.backend': 'openai', 'model.url': URL}, '127.0.0.1:8000'),
    (f'openai:{URL}#qwen-vl', {'model.backend': 'openai', 'model.url': URL,
                               'model.api_model': 'qwen-vl'}, '127.0.0.1:8000/qwen-vl'),
    (URL, {'model.backend': 'openai', 'model.url': URL}, '127.0.0.1:8000'),
    ('https://models.lab/v1#vlm', {'model.backend': 'openai', 'model.url': 'https://models.lab/v1',
                                   'model.api_model': 'vlm'}, 'models.lab/vlm'),
])
def test_named_forms(text, parameters, name):
    spec = parse_model_spec(text)

    assert (spec.text, spec.parameters, spec.name) == (text, parameters, name)
    assert model_parameters(text) == parameters


@pytest.mark.parametrize('prefix', ['', 'transformers:'])
def test_a_folder_selects_the_transformers_backend(folder, prefix):
    spec = parse_model_spec(prefix + str(folder))

    assert spec.parameters == {'model.backend': 'transformers', 'model.path': str(folder)}
    assert spec.name == 'Qwen2.5-VL-7B'


def test_a_folder_with_a_colon_in_its_name_is_still_a_folder(tmp_path):
    odd = tmp_path / 'qwen:7b'
    odd.mkdir()

    assert parse_model_spec(str(odd)).parameters['model.path'] == str(odd)


@pytest.mark.parametrize('text, problem', [
    ('', 'it is empty'),
    ('  ', 'it is empty'),
    ('vllm:http://localhost:8000/v1', "'vllm' is not a backend .backends: tiny, transformers, "
                                      'openai'),
    ('openai', 'the server is missing: give openai:URL'),
    ('openai:localhost:8000/v1', "'localhost:8000/v1' is not an http.s. URL"),
    ('openai:', 'nothing follows the colon'),
    ('tiny:', 'nothing follows the colon'),
    ('transformers', 'the folder is missing'),
    ('/no/such/model', 'the model folder /no/such/model does not exist'),
])
def test_a_bad_specification_names_itself_and_the_accepted_forms(text, problem):
    with pytest.raises(ConfigError, match=problem) as error:
        parse_model_spec(text)

    assert f'model {text!r}' in str(error.value)
    assert ', '.join(FORMS) in str(error.value)


def test_a_file_is_not_a_model_folder(tmp_path):
    (tmp_path / 'weights.safetensors').write_bytes(b'')

    with pytest.raises(ConfigError, match='is a file, not a model folder'):
        parse_model_spec(str(tmp_path / 'weights.safetensors'))


@pytest.mark.parametrize('given, name', [
    ({'model.backend': 'openai', 'model.url': 'http://elsewhere/v1'}, 'model.backend'),
    ({'model.url': 'http://elsewhere/v1'}, 'model.url'),
    ({'model.path': '/models/other'}, 'model.path'),
])
def test_parameters_that_contradict_the_model_are_refused(given, name):
    with pytest.raises(ConfigError, match=f'--model tiny selects {name} .*Name the model once: '
                                          f'drop --model tiny or drop the parameter {name} '
                                          rf'\(-p {name}:=\.\.\.\)'):
        apply_model_spec(given, 'tiny')


def test_a_contradicting_server_url_or_served_name_is_refused():
    with pytest.raises(ConfigError, match=f"selects model.url '{URL}'"):
        apply_model_spec({'model.url': 'http://other:8000/v1'}, f'openai:{URL}')
    with pytest.raises(ConfigError, match="selects model.api_model 'a'"):
        apply_model_spec({'model.api_model': 'b'}, f'openai:{URL}#a', source='model:=')


def test_parameters_that_refine_or_repeat_the_model_are_kept(folder):
    values = {'model.tiny_arch': 'smolvlm', 'model.device': 'cpu', 'model.backend': 'tiny',
              'model.path': '', 'strategy.name': 'cot'}

    assert apply_model_spec(values, 'tiny') == values
    served = apply_model_spec({'model.api_model': 'qwen', 'model.timeout': 5.0}, URL)
    assert served == {'model.backend': 'openai', 'model.url': URL, 'model.api_model': 'qwen',
                      'model.timeout': 5.0}
    local = apply_model_spec({'model.dtype': 'bfloat16'}, parse_model_spec(str(folder)))
    assert local['model.path'] == str(folder) and local['model.dtype'] == 'bfloat16'


def test_the_model_the_parameters_select(folder):
    blank = {'model.path': '', 'model.url': '', 'model.api_model': ''}

    tiny = spec_from_parameters({**blank, 'model.backend': 'tiny', 'model.tiny_arch': 'smolvlm'})
    served = spec_from_parameters({**blank, 'model.backend': 'openai', 'model.url': URL,
                                   'model.api_model': 'qwen'})
    local = spec_from_parameters({**blank, 'model.backend': 'transformers',
                                  'model.path': str(folder)})

    assert (tiny.name, tiny.parameters['model.tiny_arch']) == ('tiny-smolvlm', 'smolvlm')
    assert (served.name, served.text) == ('127.0.0.1:8000/qwen', f'openai:{URL}#qwen')
    assert local.name == folder.name
    for spec in (tiny, served, local):  # merging it back into its parameters changes nothing
        values = {**blank, **spec.parameters}
        assert apply_model_spec(values, spec) == values


@pytest.mark.parametrize('backend, missing', [('transformers', 'model.path'),
                                              ('openai', 'model.url')])
def test_parameters_that_select_no_model_say_what_is_missing(backend, missing):
    with pytest.raises(ConfigError, match=f"model.backend is '{backend}' but {missing} is empty"):
        spec_from_parameters({'model.backend': backend, 'model.path': '', 'model.url': ''})


def test_model_names():
    assert model_name({'model.backend': 'tiny', 'model.tiny_arch': 'qwen3_vl'}) == 'tiny-qwen3_vl'
    assert model_name({'model.backend': 'transformers', 'model.path': '/m/VideoLLaMA3-7B/'}) == (
        'VideoLLaMA3-7B')
    assert model_name({'model.backend': 'openai', 'model.url': URL}) == '127.0.0.1:8000'
