"""One registry of RPC methods: name, params struct, result type, errors, handler.

The same msgspec struct validates a call's params and is turned into the JSON
Schema that ``rpc.discover`` publishes, so the two can't drift apart; the result
type each method declares (``zingd.rpc.results``) is published beside it, and
tests/contract checks every real answer against it.

``rpc.discover`` is an OpenRPC 1.3.2 document: one content descriptor per
parameter (``paramStructure: by-name``: params travel as one JSON object), a
``result`` content descriptor, the method's possible errors (references into
``components.errors``, built from the one error table in ``zingd.errors``), the
lowest role in ``x-role``, and ``deprecated: true`` on the old names of
``ALIASES``; ``x-params`` names the whole params object (``TicketGetParams``), which
also says that unknown members are refused. It is built once and served as the same
bytes to every caller.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET

from zingd.errors import INVALID_PARAMS, Forbidden, Unauthenticated, ZingError
from zingd.services.permissions import ALIASES, PERMISSIONS, PUBLIC

REF = "#/components/schemas/{name}"


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    pass


class ById(msgspec.Struct, forbid_unknown_fields=True):
    """Params of every method that acts on one object."""

    id: int


def changes(p: msgspec.Struct, *fields: str) -> dict[str, Any]:
    """What a patch asks to change: the fields the caller sent, by name. A field left out is
    ``UNSET`` (unchanged) and is not in the answer; one sent as ``null`` is, as ``None`` (clear).

    With no ``fields``: every field of the struct but ``id``. Nested structs (a patch of a
    settings object) come back as plain dicts, their own unsent fields left out too."""
    names = fields or tuple(f for f in p.__struct_fields__ if f != "id")
    out = {}
    for name in names:
        value = getattr(p, name)
        if value is not UNSET:
            out[name] = msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value
    return out


class AnyOf:
    """A result that is one of several types (e.g. a campaign, or a dry run's preview)."""

    def __init__(self, *types: Any) -> None:
        self.types = types


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    params: type[msgspec.Struct]
    handler: Callable[[Any, Any], Awaitable[Any]]
    summary: str
    role: str
    result: Any
    errors: tuple[type[ZingError], ...]
    deprecated_for: str | None = None   # the new name, for an old one kept as an alias


def _camel(name: str) -> str:
    """``connection.set_queues`` -> ``ConnectionSetQueues``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._]", name))


def _error_object(code: int, kind: str, doc: str | None) -> dict[str, Any]:
    message = (doc or kind.replace("_", " ")).strip().splitlines()[0]
    return {"code": code, "message": message, "data": {"kind": kind}}


class Registry:
    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}
        self._doc: msgspec.Raw | None = None

    def method(self, name: str, params: type[msgspec.Struct] = NoParams, *, result: Any,
               errors: tuple[type[ZingError], ...] = ()):
        """Register ``async def handler(call, params)`` under ``name``, answering ``result``
        (a msgspec type, or ``AnyOf``), possibly failing with ``errors`` (beyond the gate's
        unauthenticated / forbidden and -32602 for bad params, which every method declares).
        The old names ``ALIASES`` maps to ``name`` are registered with it, marked deprecated."""
        if name not in PERMISSIONS:
            raise RuntimeError(f"{name} has no row in the permission table")

        def wrap(fn):
            doc = (inspect.getdoc(fn) or "").split("\n\n")[0]
            for alias in [name, *(old for old, new in ALIASES.items() if new == name)]:
                if alias in self.methods:
                    raise RuntimeError(f"{alias} registered twice")
                if PERMISSIONS[alias] != PERMISSIONS[name]:
                    raise RuntimeError(f"alias {alias} must have the permission of {name}")
                self.methods[alias] = Method(alias, params, fn, doc, PERMISSIONS[alias], result, tuple(errors),
                                             None if alias == name else name)
            self._doc = None
            return fn

        return wrap

    # -- rpc.discover ------------------------------------------------------
    def discover(self, server_version: str) -> msgspec.Raw:
        """The OpenRPC document, built on first use and kept (it never changes while zingd runs)."""
        if self._doc is None:
            self._doc = msgspec.Raw(msgspec.json.encode(self.document(server_version)))
        return self._doc

    def document(self, server_version: str) -> dict[str, Any]:
        names = sorted(self.methods)
        missing = sorted(set(ALIASES) - set(self.methods))
        if missing:
            raise RuntimeError(f"aliases of methods never registered: {missing}")
        # Every type once, so shared entities (Ticket, Contact...) are one component each.
        types: list[Any] = []
        slots: dict[int, int] = {}

        def slot(tp: Any) -> int:
            if id(tp) not in slots:
                slots[id(tp)] = len(types)
                types.append(tp)
            return slots[id(tp)]

        for n in names:
            m = self.methods[n]
            slot(m.params)
            for tp in (m.result.types if isinstance(m.result, AnyOf) else (m.result,)):
                slot(tp)
        schemas, components = msgspec.json.schema_components(types, ref_template=REF)

        def schema_of(tp: Any) -> dict[str, Any]:
            if isinstance(tp, AnyOf):
                return {"anyOf": [schemas[slot(t)] for t in tp.types]}
            return schemas[slot(tp)]

        clash = sorted(name for name in components if "." in name)
        if clash:  # msgspec qualifies a name two classes share: give them distinct names
            raise RuntimeError(f"two types share a name: {clash}")

        def params_name(m: Method) -> str:
            return schemas[slot(m.params)]["$ref"].rsplit("/", 1)[1]

        params_structs = {params_name(m) for m in self.methods.values()}
        errors = self._errors()
        methods = []
        for n in names:
            m = self.methods[n]
            entry: dict[str, Any] = {
                "name": n,
                "summary": m.summary,
                "paramStructure": "by-name",
                "params": self._params(m, components[params_name(m)]),
                "result": {"name": f"{_camel(n)}Result", "schema": schema_of(m.result)},
                "errors": [{"$ref": f"#/components/errors/{e}"} for e in self._method_errors(m)],
                "x-role": m.role,
            }
            if m.deprecated_for is not None:
                entry["deprecated"] = True
                entry["description"] = f"Deprecated: use {m.deprecated_for} (same params and result)."
            methods.append(entry)
        # A params struct is spread over its content descriptors; only what they reference stays.
        used = _refs([m["params"] for m in methods] + [m["result"] for m in methods])
        structs = {name: components[name] for name in params_structs}
        components = _closure(components, used)
        stray = sorted(set(components) & params_structs)
        if stray:
            raise RuntimeError(f"params structs used as components: {stray}; give nested ones their own class")
        # ...and, whole, as <Method>Params (x-params): the one object a call sends, unknown members refused
        users: dict[str, set[str]] = {}
        for m in self.methods.values():
            users.setdefault(params_name(m), set()).add(m.deprecated_for or m.name)
        for entry in methods:
            m = self.methods[entry["name"]]
            name = f"{_camel(m.deprecated_for or m.name)}Params"
            struct = dict(structs[params_name(m)], title=name)
            if len(users[params_name(m)]) > 1:  # a shared struct's docstring (ById's) is about no method
                struct.pop("description", None)
            components[name] = struct
            entry["x-params"] = {"$ref": REF.format(name=name)}
        components = dict(sorted(components.items()))
        return {
            "openrpc": "1.3.2",
            "info": {"title": "zingd", "version": server_version,
                     "description": "zing's daemon: JSON-RPC 2.0, one JSON object per line on a Unix socket."},
            "methods": methods,
            "components": {"schemas": components, "errors": errors},
        }

    @staticmethod
    def _params(m: Method, struct: dict[str, Any]) -> list[dict[str, Any]]:
        props = struct.get("properties", {})
        required = set(struct.get("required", ()))
        out = []
        for f in msgspec.structs.fields(m.params):
            schema = props[f.encode_name]
            cd: dict[str, Any] = {"name": f.encode_name, "required": f.encode_name in required, "schema": schema}
            if f.default is UNSET:
                nullable = any(s.get("type") == "null" for s in schema.get("anyOf", ()))
                cd["description"] = "Leave out to keep the current value" + ("; null clears it." if nullable else ".")
            out.append(cd)
        return out

    @staticmethod
    def _method_errors(m: Method) -> list[str]:
        out = [] if m.role == PUBLIC else [Unauthenticated.__name__, Forbidden.__name__]
        out += [e.__name__ for e in m.errors if e.__name__ not in out]
        return [*out, "InvalidParams"]

    def _errors(self) -> dict[str, Any]:
        """``components.errors``: the application errors of ``zingd.errors`` any method declares, and
        the -32602 every method answers to params it can't read."""
        used: dict[str, type[ZingError]] = {"Unauthenticated": Unauthenticated, "Forbidden": Forbidden}
        for m in self.methods.values():
            used.update((e.__name__, e) for e in m.errors)
        out = {name: _error_object(cls.code, cls.kind, cls.__dict__.get("__doc__")) for name, cls in sorted(used.items())}
        out["InvalidParams"] = _error_object(INVALID_PARAMS, "invalid_params", "invalid params")
        return out


def _refs(obj: Any, found: set[str] | None = None) -> set[str]:
    found = set() if found is None else found
    if isinstance(obj, dict):
        ref = obj.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for v in obj.values():
            _refs(v, found)
    elif isinstance(obj, list):
        for v in obj:
            _refs(v, found)
    return found


def _closure(components: dict[str, Any], roots: set[str]) -> dict[str, Any]:
    """The components reachable from ``roots`` (through each other's $refs)."""
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(_refs(components[name]) - keep)
    return {name: components[name] for name in sorted(keep)}


REGISTRY = Registry()
