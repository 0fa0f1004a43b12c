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

"""Figures drawn off screen and written whole: the one way the package makes its PNG plots.

Figures use matplotlib's Agg canvas directly (no pyplot, no display, no global backend switch),
and each file is written to a temporary name and renamed over the target, so a crash leaves the
previous complete plot or none, never half of one.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vlm_planner.atomic_file import atomic_path

#: Resolution of every plot.
DPI = 110


def figure(width: float, height: float) -> Figure:
    """A new figure of ``width`` x ``height`` inches with a constrained layout."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout='constrained')
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically and return ``path``."""
    with atomic_path(path) as temp:
        fig.savefig(temp, format='png', bbox_inches='tight', pad_inches=0.1)
    return path
