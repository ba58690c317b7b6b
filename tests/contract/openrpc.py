"""Validating rpc.discover and real answers against it, offline (no $ref is ever fetched)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7, DRAFT202012

META_SCHEMA = json.loads((Path(__file__).with_name("openrpc-meta-schema.json")).read_text())
JSON_SCHEMA_TOOLS = "https://meta.json-schema.tools"
DISCOVER = "urn:zingd:rpc.discover"


def meta_validator() -> Draft7Validator:
    """The OpenRPC meta-schema, its ``https://meta.json-schema.tools`` references answered by the
    Draft 7 meta-schema bundled with jsonschema. That document is the JSON Schema meta-schema; the
    meta-schema also points into it at ``#/definitions/JSONSchemaObject`` (the object form of a
    schema), so the Draft 7 schema is offered there too."""
    draft7 = copy.deepcopy(Draft7Validator.META_SCHEMA)
    body = {k: v for k, v in draft7.items() if k not in ("$id", "$schema")}
    contents = {**body, "definitions": {**draft7["definitions"], "JSONSchemaObject": body}}
    resource = DRAFT7.create_resource(contents)
    registry = Registry().with_resources([(JSON_SCHEMA_TOOLS, resource), (JSON_SCHEMA_TOOLS + "/", resource)])
    return Draft7Validator(META_SCHEMA, registry=registry)


class Contract:
    """One rpc.discover document: each method's result schema and declared error kinds."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.index = {m["name"]: i for i, m in enumerate(doc["methods"])}
        # msgspec writes JSON Schema 2020-12 (prefixItems); refs are into the document itself
        self.registry = Registry().with_resource(DISCOVER, DRAFT202012.create_resource(doc))
        self._validators: dict[str, Draft202012Validator] = {}
        self._params: dict[str, Draft202012Validator] = {}
        errors = doc["components"]["errors"]
        self.kinds = {m["name"]: {errors[e["$ref"].rsplit("/", 1)[1]]["data"]["kind"] for e in m["errors"]}
                      for m in doc["methods"]}

    def validator(self, method: str) -> Draft202012Validator:
        if method not in self._validators:
            ref = f"{DISCOVER}#/methods/{self.index[method]}/result/schema"
            self._validators[method] = Draft202012Validator({"$ref": ref}, registry=self.registry)
        return self._validators[method]

    def params_problems(self, method: str, params: dict[str, Any]) -> list[str]:
        """Where ``params`` break the method's published params object (``x-params``)."""
        if method not in self._params:
            ref = f"{DISCOVER}#/methods/{self.index[method]}/x-params"
            self._params[method] = Draft202012Validator({"$ref": ref}, registry=self.registry)
        return [f"{method} params: {e.message}" for e in self._params[method].iter_errors(params)]

    def problems(self, method: str, result: Any) -> list[str]:
        """Where ``result`` breaks the method's published result schema (empty: it doesn't)."""
        return [f"{method}: {'/'.join(map(str, e.absolute_path)) or '(result)'}: {e.message}"
                for e in sorted(self.validator(method).iter_errors(result), key=lambda e: list(e.absolute_path))]

    def check(self, method: str, result: Any) -> Any:
        problems = self.problems(method, result)
        assert not problems, "result does not match rpc.discover:\n  " + "\n  ".join(problems[:20])
        return result


class Checked:
    """A SyncClient whose every successful answer is validated against its method's result schema."""

    def __init__(self, client: Any, contract: Contract, seen: set[str]) -> None:
        self.client, self.contract, self.seen = client, contract, seen

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The call, its params checked against the method's published params object (what the
        daemon accepted must be what rpc.discover says it accepts), its answer against the result."""
        result = self.client.call(method, params or {})
        problems = self.contract.params_problems(method, params or {})
        assert not problems, "accepted params that rpc.discover refuses:\n  " + "\n  ".join(problems)
        self.contract.check(method, json.loads(json.dumps(result)))
        self.seen.add(method)
        return result

    def close(self) -> None:
        self.client.close()
