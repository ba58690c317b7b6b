"""rpc.discover is valid OpenRPC 1.3.2 and says what every method takes, answers and fails with."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft7Validator

from tests.contract.openrpc import Contract, meta_validator
from tests.helpers import Zingd
from tests.integration.support import Raw
from zingd.errors import APP_ERRORS, INVALID_PARAMS
from zingd.services.permissions import ALIASES, PERMISSIONS, PUBLIC


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    z = Zingd(tmp_path_factory.mktemp("discover")).start()
    yield z
    z.kill()


@pytest.fixture(scope="module")
def doc(daemon):
    with Raw(daemon.socket) as r:   # before login
        return r.call("rpc.discover")


def test_the_meta_schema_is_what_the_readme_says():
    meta = meta_validator()
    Draft7Validator.check_schema(meta.schema)
    assert meta.schema["$id"] == "https://meta.open-rpc.org/"
    assert "1.3.2" in meta.schema["properties"]["openrpc"]["enum"]
    bad = {"openrpc": "1.3.2", "info": {"title": "x", "version": "1"},
           "methods": [{"name": "a.b", "params": [{"name": "p"}]}]}   # a content descriptor needs a schema
    assert not meta.is_valid(bad)
    # both references into https://meta.json-schema.tools resolve (offline) and bite
    method = {"name": "a.b", "params": [], "result": {"name": "r", "schema": {"type": "integer"}}}
    good = {**bad, "methods": [method]}
    assert meta.is_valid(good)
    assert not meta.is_valid({**bad, "methods": [{**method, "result": {"name": "r", "schema": {"type": 5}}}]})
    assert not meta.is_valid({**bad, "methods": [{**method, "result": {"$ref": 5}}]})


def test_discover_validates_against_the_openrpc_meta_schema(doc):
    errors = sorted(meta_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10])
    assert doc["openrpc"] == "1.3.2"


def test_every_method_has_params_a_result_and_errors(doc):
    components = doc["components"]
    assert {m["name"] for m in doc["methods"]} == set(PERMISSIONS)
    for m in doc["methods"]:
        assert m["paramStructure"] == "by-name"
        names = [p["name"] for p in m["params"]]
        assert len(names) == len(set(names)), m["name"]
        for p in m["params"]:
            assert isinstance(p["required"], bool) and p["schema"] is not None, (m["name"], p)
        assert m["result"]["name"] and m["result"]["schema"], m["name"]
        assert m["errors"], m["name"]
        kinds = Contract(doc).kinds[m["name"]]
        assert "invalid_params" in kinds, m["name"]
        if m["x-role"] != PUBLIC:
            assert {"unauthenticated", "forbidden"} <= kinds, m["name"]
    # the error objects are the one table of zingd.errors
    by_kind = {e["data"]["kind"]: e for e in components["errors"].values()}
    for kind, cls in APP_ERRORS.items():
        if kind in by_kind:
            assert by_kind[kind]["code"] == cls.code and by_kind[kind]["message"], kind
    assert by_kind["invalid_params"]["code"] == INVALID_PARAMS
    assert set(by_kind) - {"invalid_params"} <= set(APP_ERRORS)


def test_params_are_one_content_descriptor_each(doc):
    by = {m["name"]: {p["name"]: p for p in m["params"]} for m in doc["methods"]}
    assert list(by["ticket.get"]) == ["id"] and by["ticket.get"]["id"]["required"] is True
    assert by["ticket.list"]["limit"]["required"] is False and by["ticket.list"]["limit"]["schema"]["default"] == 50
    assert "from" in by["sim.say"] and "from_" not in by["sim.say"]
    assert list(by["rpc.hello"]) == ["os_user"] and by["rpc.hello"]["os_user"]["required"] is False
    assert by["rpc.discover"] == {}
    # a patch: left out keeps a field, null (where it makes sense) clears it
    close = by["queue.update"]["auto_close_hours"]
    assert close["required"] is False and {"type": "null"} in close["schema"]["anyOf"]
    assert "null clears" in close["description"]
    assert by["queue.update"]["name"]["schema"] == {"type": "string"}   # a name can't be cleared


def test_the_whole_params_object_is_published_too(doc):
    """x-params: what the server's params struct checks, unknown members refused, one per method."""
    contract = Contract(doc)
    assert not contract.params_problems("ticket.get", {"id": 1})
    assert contract.params_problems("ticket.get", {"id": 1, "bogus": 2})
    assert contract.params_problems("ticket.get", {})
    assert not contract.params_problems("queue.update", {"id": 1, "auto_close_hours": None})
    assert contract.params_problems("queue.update", {"id": 1, "name": None})
    assert not contract.params_problems("sim.say", {"from": "5511900000001"})
    methods = {m["name"]: m for m in doc["methods"]}
    assert methods["ticket.get"]["x-params"] == {"$ref": "#/components/schemas/TicketGetParams"}
    assert methods["campaign.show"]["x-params"] == methods["campaign.get"]["x-params"]
    for m in doc["methods"]:
        params = doc["components"]["schemas"][m["x-params"]["$ref"].rsplit("/", 1)[1]]
        assert params["additionalProperties"] is False, m["name"]
        assert sorted(params["properties"]) == sorted(p["name"] for p in m["params"]), m["name"]
        assert sorted(params.get("required", ())) == sorted(p["name"] for p in m["params"] if p["required"])


def test_component_names_say_whose_they_are(doc):
    schemas = doc["components"]["schemas"]
    assert not {"Create", "Update", "Close", "Pair", "ById", "NoParams"} & set(schemas)
    assert "ConnectionUpdateSettings" in schemas and "Ticket" in schemas
    for m in doc["methods"]:
        camel = "".join(part[:1].upper() + part[1:] for part in re.split(r"[._]", m["name"]))
        assert m["result"]["name"] == f"{camel}Result"
    nested = {ref.rsplit("/", 1)[1] for m in doc["methods"] for p in m["params"]
              for ref in re.findall(r"#/components/schemas/\w+", str(p["schema"]))}
    for name in nested:   # a struct inside params is named after its method (ConnectionUpdateSettings)
        assert any(name.startswith("".join(w.title() for w in re.split(r"[._]", m["name"])))
                   for m in doc["methods"]), name


def test_old_names_are_deprecated_aliases(doc):
    methods = {m["name"]: m for m in doc["methods"]}
    for old, new in ALIASES.items():
        assert methods[old].get("deprecated") is True, old
        assert new in methods[old]["description"]
        assert methods[new].get("deprecated", False) is False
        for key in ("params", "errors", "x-role"):
            assert methods[old][key] == methods[new][key], (old, key)
        assert methods[old]["result"]["schema"] == methods[new]["result"]["schema"]
    assert {"campaign.show": "campaign.get", "webhook.enable": "webhook.update"}.items() <= ALIASES.items()


def test_discover_is_built_once(daemon, doc):
    """Served before login to anyone: built on first use, then the same bytes for every caller."""
    from zingd import __version__
    from zingd.rpc import methods  # noqa: F401 - registers every method
    from zingd.rpc.registry import REGISTRY

    assert REGISTRY.discover(__version__) is REGISTRY.discover(__version__)
    with Raw(daemon.socket) as r:
        assert r.call("rpc.discover") == doc
