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

"""One module per model backend; each registers its loader by name when imported.

:mod:`vlm_planner.models.registry` imports every module here (found with :mod:`pkgutil`), so a new
backend is one new module with a function decorated by
:func:`~vlm_planner.models.registry.register_backend`. Keep each module's top level light: the
heavy libraries (torch, transformers) are imported inside the loader.
"""
