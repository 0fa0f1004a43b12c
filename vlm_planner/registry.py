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

"""Things registered by name (strategies, model backends), as lerobot registers its configs.

A :class:`Registry` is filled by a decorator in each module of one package and by importing those
modules (found with :mod:`pkgutil`, so no central list exists): adding a strategy or a backend is
one new file plus its test. Names are listed by an ``order`` (the shipped ones first, in a
stable order for parameter choices and help texts) and then alphabetically.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import Callable, Generic, TypeVar

from vlm_planner.errors import ConfigError

T = TypeVar('T')


class Registry(Generic[T]):
    """Objects (classes or functions) of one kind, by name, found in one package's modules."""

    def __init__(self, kind: str, package: str, *,
                 check: Callable[[T, str], str] | None = None) -> None:
        """Create an empty registry.

        Args:
            kind: what is registered, in words, for messages (``'strategy'``, ``'backend'``).
            package: the package whose modules register (imported when names are listed).
            check: returns why an object may not be registered under a name ('' when it may).
        """
        self.kind = kind
        self.package = package
        self._check = check
        self._entries: dict[str, tuple[int, T]] = {}
        self._lock = threading.Lock()
        self._searched: tuple[str, ...] = ()  # the package path last searched

    def register(self, name: str, *, order: int = 100) -> Callable[[T], T]:
        """Return a decorator registering its object under ``name`` (the object is unchanged).

        Raises:
            ConfigError: ``name`` is empty or padded, taken by another object, or the object
                fails the registry's check.
        """
        if not name or name != name.strip():
            raise ConfigError(f'a {self.kind} name must be non-empty text without surrounding '
                              f'blanks, got {name!r}.')

        def decorate(obj: T) -> T:
            problem = self._check(obj, name) if self._check else ''
            if problem:
                raise ConfigError(problem)
            with self._lock:
                known = self._entries.get(name)
                if known is not None and not _same(known[1], obj):
                    raise ConfigError(f'{self.kind} name {name!r} is taken by '
                                      f'{_qualified(known[1])}; give {_qualified(obj)} another '
                                      'name.')
                self._entries[name] = (order, obj)
            return obj
        return decorate

    def unregister(self, name: str) -> None:
        """Forget ``name`` (for tests that register an object of their own)."""
        with self._lock:
            self._entries.pop(name, None)

    def names(self) -> tuple[str, ...]:
        """The registered names, by order and then by name."""
        self.discover()
        with self._lock:
            return tuple(sorted(self._entries, key=lambda n: (self._entries[n][0], n)))

    def get(self, name: str) -> T:
        """Return what is registered as ``name``.

        Raises:
            ConfigError: nothing is; the message lists the registered names.
        """
        names = self.names()
        if name not in names:
            raise ConfigError(f'{self.kind} {name!r} is unknown; choose one of '
                              f'{", ".join(names)}.')
        with self._lock:
            return self._entries[name][1]

    def discover(self) -> None:
        """Import every module of the package (not those starting with '_'), so they register.

        Cheap after the first call: the package is searched again only when its path changed.
        The imports run outside the lock, since a module registers while it is imported.
        """
        path = tuple(importlib.import_module(self.package).__path__)
        if path == self._searched:
            return
        for module in pkgutil.iter_modules(path):
            if not module.name.startswith('_'):
                importlib.import_module(f'{self.package}.{module.name}')
        self._searched = path


def _same(known: object, obj: object) -> bool:
    """Whether ``obj`` is ``known`` or its definition imported again (a module reloaded)."""
    name = _qualified(obj)
    return known is obj or (name == _qualified(known) and '<lambda>' not in name)


def _qualified(obj: object) -> str:
    return f'{getattr(obj, "__module__", "?")}.{getattr(obj, "__qualname__", repr(obj))}'
