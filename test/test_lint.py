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

"""The ament linters of a ROS 2 Python package, run as tests where they are installed."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = [str(REPO / p) for p in ('vlm_planner', 'launch', 'test', 'benchmarks', 'setup.py')
           if (REPO / p).exists()]


def _linter(module: str):
    return pytest.importorskip(
        module, reason=f'{module.split(".")[0]} is not installed: apt install '
        f'ros-jazzy-{module.split(".")[0].replace("_", "-")} (or pip install it) to run it')


@pytest.mark.linter
def test_flake8():
    rc, errors = _linter('ament_flake8.main').main_with_errors(argv=SOURCES)
    assert rc == 0, f'{len(errors)} flake8 errors:\n' + '\n'.join(errors)


#: The package documents itself in Google style; tests need no docstrings on every function.
PEP257_PACKAGE = ['--convention', 'google', '--add-ignore', 'D105', 'D107']
PEP257_TESTS = ['--convention', 'google', '--add-ignore', 'D100', 'D101', 'D102', 'D103', 'D104',
                'D105', 'D106', 'D107']


@pytest.mark.linter
def test_pep257():
    pep257 = _linter('ament_pep257.main')
    package = [p for p in SOURCES if not p.endswith('test')]
    assert pep257.main(argv=package + PEP257_PACKAGE) == 0, 'docstring problems (listed above)'
    assert pep257.main(argv=[str(REPO / 'test')] + PEP257_TESTS) == 0, (
        'docstring problems in tests (listed above)')


@pytest.mark.linter
def test_copyright():
    rc = _linter('ament_copyright.main').main(argv=SOURCES)
    assert rc == 0, 'files without a copyright notice (listed above)'


@pytest.mark.linter
def test_xmllint():
    rc = _linter('ament_xmllint.main').main(argv=[str(REPO / 'package.xml')])
    assert rc == 0, 'package.xml does not validate (see above)'
