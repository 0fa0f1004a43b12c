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

"""A registry of classes by name, filled by a decorator and by importing a package's modules.

Used for the prompting strategies: each strategy module registers its class with
``@register_strategy('name')``, and importing every module of the strategies package
(:meth:`Registry.discover`) fills the registry without a central list.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, TypeVar

from vlm_planner.errors import ConfigError

T = TypeVar('T')


class Registry(Generic[T]):
    """Subclasses of one base class, by name, listed by their ``order`` and then by name."""

    def __init__(self, kind: str, base: type) -> None:
        """Create an empty registry.

        Args:
            kind: what is registered, in words, for error messages (``'strategy'``).
            base: the class every registered class must derive from.
        """
        self.kind = kind
        self.base = base
        self._classes: dict[str, type[T]] = {}
        self._order: dict[str, int] = {}

    def register(self, name: str, *, order: int = 100) -> Callable[[type[T]], type[T]]:
        """Return a class decorator registering the class under ``name`` (and setting its name).

        Args:
            name: the name that selects the class.
            order: position among the names (lower first, ties by name), so the built-in ones
                keep a stable order in parameter choices and help texts.

        Raises:
            ConfigError: ``name`` is empty or taken by another class, or the class does not
                derive from the base class.
        """
        if not name or name != name.strip():
            raise ConfigError(f'a {self.kind} name must be non-empty text without surrounding '
                              f'blanks, got {name!r}.')

        def decorate(cls: type[T]) -> type[T]:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise ConfigError(f'{cls!r} registered as {self.kind} {name!r} does not derive '
                                  f'from {self.base.__name__}; subclass it.')
            known = self._classes.get(name)
            if known is not None and _qualified(known) != _qualified(cls):
                raise ConfigError(f'{self.kind} name {name!r} is taken by {_qualified(known)}; '
                                  f'give {_qualified(cls)} another name.')
            setattr(cls, 'name', name)
            self._classes[name] = cls
            self._order[name] = order
            return cls
        return decorate

    def unregister(self, name: str) -> None:
        """Forget ``name`` (for tests that register a class of their own)."""
        self._classes.pop(name, None)
        self._order.pop(name, None)

    def names(self) -> tuple[str, ...]:
        """The registered names, by ``order`` and then by name."""
        return tuple(sorted(self._classes, key=lambda name: (self._order[name], name)))

    def get(self, name: str) -> type[T]:
        """Return the class registered as ``name``.

        Raises:
            ConfigError: nothing is registered under ``name``.
        """
        try:
            return self._classes[name]
        except KeyError:
            raise ConfigError(f'{self.kind} {name!r} is unknown; choose one of '
                              f'{", ".join(self.names())}.') from None

    def discover(self, package: str) -> None:
        """Import every module of ``package`` (not those starting with '_'), so they register."""
        paths = importlib.import_module(package).__path__
        for module in pkgutil.iter_modules(paths):
            if not module.name.startswith('_'):
                importlib.import_module(f'{package}.{module.name}')


def _qualified(cls: type) -> str:
    return f'{cls.__module__}.{cls.__qualname__}'
