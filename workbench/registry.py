"""Named registries: what a name given on the command line stands for, imported only when used.

Embedding backends (:mod:`workbench.embeddings.registry`) and dataset formats
(:mod:`workbench.io.formats.registry`) are each one :class:`Registry` of frozen specs. A spec names
its code by a ``"module:function"`` path (like fiftyone-brain's similarity backends in its
``config.py``), so listing the names, as the CLI does to offer its choices, imports neither torch
nor FiftyOne; :func:`load_object` imports the code the first time it runs. Adding a backend or a
format is one module plus one ``register`` call; the CLI choices, the config's checks and the
messages that list the choices read the registry.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Generic, Iterator, Protocol, TypeVar

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_OBJECT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


class Named(Protocol):
    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=Named)


def check_object_path(path: str, *, what: str) -> None:
    """Refuse ``path`` unless it has the shape ``"package.module:function"``."""
    if not isinstance(path, str) or not _OBJECT_PATH.fullmatch(path):
        raise ValueError(f"{what} must be a 'package.module:function' path, not {path!r}")


def load_object(path: str) -> Any:
    """Import the object a ``"package.module:function"`` path names.

    Example:
        >>> load_object("os.path:join")("a", "b")
        'a/b'
    """
    module, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except AttributeError:
        raise ImportError(f"{module} has no {attribute!r} (registered as {path!r})") from None


class Registry(Generic[S]):
    """Specs by name, in the order they were registered.

    ``kind`` names what the registry holds in messages (``"embedder"``, ``"format"``); ``error``
    is the exception :meth:`get` raises for a name it doesn't know; ``reserved`` are names that
    mean something else where the names are offered (``auto``, ``none``) and can't be registered.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Spec:
        ...     name: str
        >>> shapes = Registry[Spec]("shape", reserved=("auto",))
        >>> _ = shapes.register(Spec("square")); _ = shapes.register(Spec("circle"))
        >>> shapes.names()
        ('square', 'circle')
        >>> shapes.get("oval")
        Traceback (most recent call last):
        ValueError: unknown shape 'oval'; choose one of square, circle
    """

    def __init__(self, kind: str, *, error: type[Exception] = ValueError, reserved: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.error = error
        self.reserved = reserved
        self._specs: dict[str, S] = {}

    def register(self, spec: S, *, replace: bool = False) -> S:
        """Add ``spec`` under ``spec.name``; a name already taken is refused unless ``replace``."""
        name = spec.name
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"a {self.kind} name is lower-case letters, digits, '.', '_' and '-', not {name!r}")
        if name in self.reserved:
            raise ValueError(f"{name!r} can't be registered as a {self.kind}: it means something else "
                             f"({', '.join(self.reserved)} are reserved)")
        if name in self._specs and not replace:
            raise ValueError(f"a {self.kind} named {name!r} is already registered; pass replace=True to replace it")
        self._specs[name] = spec
        return spec

    def unregister(self, name: str) -> S:
        """Remove and return the spec registered as ``name``."""
        spec = self.get(name)
        del self._specs[name]
        return spec

    def get(self, name: str) -> S:
        """The spec registered as ``name``; an unknown name raises ``error`` listing the known ones."""
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            raise self.error(f"unknown {self.kind} {name!r}; choose one of {', '.join(self._specs)}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def __iter__(self) -> Iterator[S]:
        return iter(tuple(self._specs.values()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._specs

    def __len__(self) -> int:
        return len(self._specs)
