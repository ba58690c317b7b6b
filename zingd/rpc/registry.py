"""One registry of RPC methods: name, params struct, handler.

The same msgspec struct validates a call's params and is turned into the JSON
Schema that ``rpc.discover`` publishes, so the two can't drift apart.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from zingd.services.actor import PERMISSIONS


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    pass


class ById(msgspec.Struct, forbid_unknown_fields=True):
    """Params of every method that acts on one object."""

    id: int


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    params: type[msgspec.Struct]
    handler: Callable[[Any, Any], Awaitable[Any]]
    summary: str
    role: str


class Registry:
    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}

    def method(self, name: str, params: type[msgspec.Struct] = NoParams):
        """Register ``async def handler(call, params)`` under ``name``."""
        if name not in PERMISSIONS:
            raise RuntimeError(f"{name} has no row in the permission table")

        def wrap(fn):
            if name in self.methods:
                raise RuntimeError(f"{name} registered twice")
            doc = inspect.getdoc(fn) or ""
            self.methods[name] = Method(name, params, fn, doc.split("\n\n")[0], PERMISSIONS[name])
            return fn

        return wrap

    def discover(self, server_version: str) -> dict[str, Any]:
        """An OpenRPC-shaped description of every method."""
        names = sorted(self.methods)
        schemas, components = msgspec.json.schema_components(
            [self.methods[n].params for n in names], ref_template="#/components/schemas/{name}"
        )
        methods = []
        for name, schema in zip(names, schemas):
            m = self.methods[name]
            methods.append({
                "name": name,
                "summary": m.summary,
                "x-role": m.role,
                "paramStructure": "by-name",
                "params": [{"name": "params", "schema": schema}],
            })
        return {
            "openrpc": "1.3.2",
            "info": {"title": "zingd", "version": server_version},
            "methods": methods,
            "components": {"schemas": components},
        }


REGISTRY = Registry()
