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

import dataclasses
import importlib
import pkgutil
import threading
from typing import TYPE_CHECKING, Callable

from vlm_planner.errors import ConfigError

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend
    from vlm_planner.models.factory import ModelConfig

#: A function that turns a model configuration into a ready backend.
Loader = Callable[['ModelConfig'], 'VLMBackend']

#: Package whose modules register the backends.
BACKENDS_PACKAGE = 'vlm_planner.models.backends'


@dataclasses.dataclass(frozen=True)
class _Entry:
    load: Loader
    order: int
    module: str


_ENTRIES: dict[str, _Entry] = {}
_LOCK = threading.Lock()
_discovered: tuple[str, ...] = ()  # the package path last searched


def register_backend(name: str, *, order: int = 100) -> Callable[[Loader], Loader]:
    """Register the decorated function as the loader of backend ``name``.

    Args:
        name: the value of ``model.backend`` that selects this backend.
        order: position among the backend names (lower first; ties by name), so the built-in
            ones keep a stable order in parameter descriptions and choices.

    Returns:
        A decorator that registers the loader and returns it unchanged.

    Raises:
        ValueError: ``name`` is empty or already taken by another loader.
    """
    if not name or not name.isidentifier():
        raise ValueError(f'a backend name must be a Python identifier, got {name!r}')

    def decorate(load: Loader) -> Loader:
        with _LOCK:
            known = _ENTRIES.get(name)
            if known is not None and known.load is not load:
                raise ValueError(f'backend {name!r} is registered twice (by {known.module} and '
                                 f'{load.__module__}); give one of them another name')
            _ENTRIES[name] = _Entry(load, order, load.__module__)
        return load

    return decorate


def backend_names() -> tuple[str, ...]:
    """Return the registered names: tiny, transformers, openai first, then by order and name."""
    discover_backends()
    with _LOCK:
        return tuple(sorted(_ENTRIES, key=lambda name: (_ENTRIES[name].order, name)))


def get_backend_loader(name: str) -> Loader:
    """Return the loader registered as ``name``.

    Raises:
        ConfigError: no backend has that name; the message lists those that do.
    """
    names = backend_names()
    if name not in names:
        raise ConfigError(f'model.backend is {name!r}; choose one of {", ".join(names)}.')
    with _LOCK:
        return _ENTRIES[name].load


def discover_backends() -> None:
    """Import every module of :data:`BACKENDS_PACKAGE` once, so each registers its backend.

    Cheap after the first call: the package is searched again only when its path changed. The
    imports run outside the registry's lock (a module registering from another thread's import
    must not wait for it); importing a module twice is harmless.
    """
    global _discovered
    package = importlib.import_module(BACKENDS_PACKAGE)
    path = tuple(package.__path__)
    if path == _discovered:
        return
    for module in pkgutil.iter_modules(path):
        if not module.name.startswith('_'):
            importlib.import_module(f'{BACKENDS_PACKAGE}.{module.name}')
    _discovered = path
