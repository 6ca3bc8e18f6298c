"""A frozen, slotted dataclass's ``__init__`` at a fraction of its cost, for the few built on
every request.

Why: ``@dataclass(frozen=True)`` generates an ``__init__`` that sets each field through
``object.__setattr__`` (the class's own ``__setattr__`` refuses assignment), and that call is
several times a plain slot store. A small GET builds about forty such fields (the parsed
request, its Authorization header and credential, the verified signature, the handler's
context, the read conditions, the upstream location): ~5 % of its CPU in process
(BENCHMARKS.md "Wave 16 G"). :func:`quick_init` gives such a class an ``__init__`` that sets
each slot through its descriptor (listing entries, :class:`s3proxy.model.ListEntry`, too).

Nothing else changes: the class is the same frozen dataclass (assignment raises
``FrozenInstanceError``; fields, defaults, ``==``, ``hash``, ``repr``, ``dataclasses.replace``
as before; a ``default_factory`` field gets a new value per instance). Only a plain case is
taken: every field in ``__init__`` and positional, no ``__post_init__``; anything else is
refused when the module is imported, not at a request.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

T = TypeVar("T")

_UNSET = object()
"""A ``default_factory`` field's default in the signature: the factory is called instead."""


def quick_init(cls: type[T]) -> type[T]:
    """Decorate a ``@dataclass(frozen=True, slots=True)`` class (put this above it)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init takes a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init does not run __post_init__")
    namespace: dict[str, Any] = {"_UNSET": _UNSET}
    signature: list[str] = []
    body: list[str] = []
    for field in dataclasses.fields(cast(Any, cls)):
        name = field.name
        if not field.init or field.kw_only:
            raise TypeError(f"{cls.__name__}.{name}: quick_init takes plain fields only")
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__  # the slot's descriptor
        value = name
        if field.default_factory is not dataclasses.MISSING:  # a new value per instance
            namespace[f"_factory_{name}"] = field.default_factory
            signature.append(f"{name}=_UNSET")
            value = f"_factory_{name}() if {name} is _UNSET else {name}"
        elif field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            signature.append(f"{name}=_default_{name}")
        else:
            signature.append(name)
        body.append(f"    _set_{name}(self, {value})\n")
    source = f"def __init__(self, {', '.join(signature)}):\n{''.join(body) or '    pass'}\n"
    exec(source, namespace)  # the source is built above from field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {**cls.__init__.__annotations__}  # as the generated one's, for inspect
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
