"""Wave 16 G: :func:`s3proxy.quick_init.quick_init` gives the frozen dataclasses built on every
request a cheaper ``__init__`` and changes nothing else about them."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from s3proxy.auth.sigv4 import AuthorizationHeader, Credential, VerifiedSigV4
from s3proxy.handlers.context import RequestContext
from s3proxy.layout import UpstreamLocation
from s3proxy.model import (
    ObjectAttributes,
    ObjectInfo,
    PutObjectInput,
    ReadConditions,
    WriteConditions,
)
from s3proxy.quick_init import quick_init
from s3proxy.request import S3Request

HOT = [RequestContext, S3Request, Credential, AuthorizationHeader, VerifiedSigV4, ReadConditions]
HOT += [UpstreamLocation, ObjectInfo, ObjectAttributes, PutObjectInput, WriteConditions]


@quick_init
@dataclasses.dataclass(frozen=True, slots=True)
class Quick:
    a: int
    b: str = "b"
    c: tuple[int, ...] | None = None
    d: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str = "b"
    c: tuple[int, ...] | None = None
    d: dict[str, int] = dataclasses.field(default_factory=dict)


@pytest.mark.parametrize("cls", HOT, ids=lambda cls: cls.__name__)
def test_the_request_path_classes_set_their_slots_without_object_setattr(cls: Any) -> None:
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert "__setattr__" not in cls.__init__.__code__.co_names  # object.__setattr__ per field
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    fields = [field.name for field in dataclasses.fields(cls)]
    assert list(inspect.signature(cls).parameters) == fields
    assert list(cls.__init__.__annotations__) == [*fields, "return"]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((1,), {}),
        ((1, "x"), {}),
        ((1,), {"c": (2,)}),
        ((), {"a": 1, "b": "y", "c": None}),
        ((1, "x", None, {"k": 1}), {}),
    ],
)
def test_an_instance_is_what_the_generated_init_made(args: Any, kwargs: Any) -> None:
    quick, plain = Quick(*args, **kwargs), Plain(*args, **kwargs)
    assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
    assert repr(quick) == repr(plain).replace("Plain", "Quick")
    assert quick == Quick(*args, **kwargs)
    with pytest.raises(TypeError):  # a dict field: unhashable, as the generated init's
        hash(quick)
    assert hash(dataclasses.replace(quick, d=())) == hash(dataclasses.replace(quick, d=()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.a = 2  # type: ignore[misc]
    assert dataclasses.replace(quick, b="z") == Quick(quick.a, "z", quick.c, quick.d)
    if "d" not in kwargs and len(args) < 4:  # each instance its own new dict, as before
        assert quick.d == {} and quick.d is not Quick(*args, **kwargs).d


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1, "x", None, {}, 5), {}), ((1,), {"a": 2}), ((1,), {"e": 1})],
)
def test_wrong_arguments_are_refused_as_before(args: Any, kwargs: Any) -> None:
    for cls in (Quick, Plain):
        with pytest.raises(TypeError):
            cls(*args, **kwargs)


def test_only_the_plain_case_is_taken() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        a: int

    for cls in (NoSlots, NotFrozen, PostInit, KeywordOnly):
        with pytest.raises(TypeError):
            quick_init(cls)
