"""Pick an adapter by its configured name, with one clear error for an unknown one."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


def choose(kind: str, name: str, makers: Mapping[str, Callable[[], T]]) -> T:
    """Build the `kind` called `name`; ValueError listing the valid names otherwise."""
    if name not in makers:
        raise ValueError(f"unknown {kind} {name!r}; choose one of {', '.join(makers)}")
    return makers[name]()
