"""Build frozen dataclass instances without their generated `__init__`.

A frozen dataclass's `__init__` stores each field through `object.__setattr__`, which costs
about 0.25 µs a field; a decision builds several such objects, so on the hot path that is a
tenth of the time budget. `builder(cls, names)` returns a function taking a dict of exactly
those fields that installs it as the instance's `__dict__`: the same object (equal, same repr,
pickles alike), provided the class is a plain dataclass with exactly these fields. If it ever
is not (a field added or renamed, slots, `__post_init__`), the function calls the class
instead, so a change elsewhere can cost speed, never change an object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any


def builder(cls: type, names: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """A constructor from a dict of exactly the fields `names`, in field order."""
    plain = (is_dataclass(cls) and "__slots__" not in cls.__dict__
             and not hasattr(cls, "__post_init__")
             and tuple(f.name for f in fields(cls)) == names and all(f.init for f in fields(cls)))
    if not plain:
        return lambda values: cls(**{name: values[name] for name in names})
    new = object.__new__
    install = object.__setattr__

    def build(values: dict[str, Any]) -> Any:
        instance: Any = new(cls)
        install(instance, "__dict__", values)
        return instance
    build.__doc__ = f"{cls.__name__}(**values) without per-field object.__setattr__"
    return build
