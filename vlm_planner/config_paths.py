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

"""Find the package's own configuration files, from a source checkout, a pip or an ament install.

Places are tried in this order, and the first that holds the file wins:

1. ``<parent of the vlm_planner package>/config`` (a source checkout, an editable install, or a
   ``colcon build --symlink-install`` which links back to the sources);
2. ``<share of vlm_planner in the ament index>/config`` (``colcon build`` into an install space);
3. ``<sys.prefix>/share/vlm_planner/config`` (``pip install .``, which copies ``data_files``
   there).
"""

from __future__ import annotations

from pathlib import Path
import sys

from vlm_planner.errors import ConfigError

PACKAGE_NAME = 'vlm_planner'


def _ament_share_config() -> Path | None:
    """Return ``<share>/config`` from the ament index, or None where the package is not indexed."""
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(PACKAGE_NAME)) / 'config'
    except (LookupError, OSError, ValueError):
        # PackageNotFoundError is a KeyError; an unset AMENT_PREFIX_PATH raises an OSError.
        return None


def config_dirs() -> list[Path]:
    """Return the folders searched for configuration files, in search order."""
    dirs = [Path(__file__).resolve().parent.parent / 'config']
    share = _ament_share_config()
    if share is not None:
        dirs.append(share)
    dirs.append(Path(sys.prefix) / 'share' / PACKAGE_NAME / 'config')
    return dirs


def find_config_file(relative: str) -> Path:
    """Return the first existing ``<config dir>/<relative>``.

    Args:
        relative: path below ``config/``, e.g. ``'actions/tabletop.yaml'``.

    Raises:
        ConfigError: if no searched folder holds the file.
    """
    dirs = config_dirs()
    for folder in dirs:
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f'cannot find config/{relative} of {PACKAGE_NAME}; looked in '
        f'{", ".join(str(d) for d in dirs)}. Pass the file\'s path explicitly, or install the '
        'package (pip install . or colcon build) so that its config/ folder is installed.')


def default_actions_file() -> Path:
    """Return the path of the default action library, ``config/actions/tabletop.yaml``."""
    return find_config_file('actions/tabletop.yaml')


def default_params_file() -> Path:
    """Return the path of the default planner parameters, ``config/planner.yaml``."""
    return find_config_file('planner.yaml')
