"""Twins are mirrored, as httpx mirrors Client and AsyncClient: within a workload every client
class defines the same methods, in the same order, with the same names — sync clients plain,
async clients all `async def` — so a diff of two of them shows only the I/O."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from harness.model.registry import discover
from harness.model.workload import Workload

REGISTRY = discover()


def client_class(impl: Any) -> type | None:
    while isinstance(impl, functools.partial):
        impl = impl.func
    return impl if inspect.isclass(impl) else None


def methods(cls: type) -> list[str]:
    """Public methods in definition order, inherited ones first (as the MRO defines them)."""
    names: list[str] = []
    for klass in reversed(cls.__mro__[:-1]):  # without object
        for name, value in vars(klass).items():
            if inspect.isfunction(value) and not name.startswith("_") and name not in names:
                names.append(name)
    return names


CLIENT_WORKLOADS = [w for w in REGISTRY.values()
                    if any(client_class(t.impl) for t in w.twins)]


@pytest.mark.parametrize("workload", CLIENT_WORKLOADS, ids=lambda w: w.name)
def test_client_twins_define_the_same_methods_in_the_same_order(workload: Workload) -> None:
    classes = {t.name: client_class(t.impl) for t in workload.twins}
    assert all(classes.values()), f"{workload.name}: every client twin needs a client class"
    lists = {name: methods(cls) for name, cls in classes.items() if cls}
    first = next(iter(lists.values()))
    assert first[:3] == ["open", "op", "close"], first
    for name, names in lists.items():
        assert names == first, f"{workload.name}: {name} defines {names}, not {first}"


@pytest.mark.parametrize("workload", CLIENT_WORKLOADS, ids=lambda w: w.name)
def test_async_clients_are_async_throughout_and_sync_ones_never(workload: Workload) -> None:
    for twin in workload.twins:
        cls = client_class(twin.impl)
        assert cls is not None
        for name in methods(cls):
            is_async = inspect.iscoroutinefunction(getattr(cls, name))
            assert is_async == (twin.kind == "async"), f"{twin.name}.{name}"
