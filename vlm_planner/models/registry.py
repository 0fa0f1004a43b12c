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

"""Model backends registered by name, as lerobot registers its config subclasses.

Each module of :mod:`vlm_planner.models.backends` registers one loader with
:func:`register_backend`; the modules are found with :mod:`pkgutil`, so adding a backend is one
new file there (plus its test) and no list elsewhere changes::

    @register_backend('mine', order=50)
    def load(config: ModelConfig) -> VLMBackend:
        from vlm_planner.models.mine import MyBackend  # heavy imports inside the loader
        return MyBackend(...)

A backend module's top level must stay light (no torch, no transformers): every module is imported
whenever the names are listed, which configuration parsing does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from vlm_planner.registry import Registry

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend
    from vlm_planner.models.factory import ModelConfig

#: A function that turns a model configuration into a ready backend.
Loader = Callable[['ModelConfig'], 'VLMBackend']

#: Package whose modules register the backends.
BACKENDS_PACKAGE = 'vlm_planner.models.backends'


def _is_backend_name(load: Loader, name: str) -> str:
    if not name.isidentifier():
        return f'a backend name must be a Python identifier, got {name!r}.'
    return '' if callable(load) else f'backend {name!r} must register a loader function.'


BACKEND_REGISTRY: Registry[Loader] = Registry('backend', BACKENDS_PACKAGE,
                                              check=_is_backend_name)


def register_backend(name: str, *, order: int = 100) -> Callable[[Loader], Loader]:
    """Register the decorated function as the loader of backend ``name``.

    Args:
        name: the value of ``model.backend`` that selects this backend.
        order: position among the backend names (lower first; ties by name), so the built-in
            ones keep a stable order in parameter descriptions and choices.

    Raises:
        ConfigError: ``name`` is not an identifier or already taken by another loader.
    """
    return BACKEND_REGISTRY.register(name, order=order)


def backend_names() -> tuple[str, ...]:
    """Return the registered names: tiny, transformers, openai first, then by order and name."""
    return BACKEND_REGISTRY.names()


def get_backend_loader(name: str) -> Loader:
    """Return the loader registered as ``name``.

    Raises:
        ConfigError: no backend has that name; the message lists those that do.
    """
    return BACKEND_REGISTRY.get(name)
