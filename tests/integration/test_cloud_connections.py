"""Cloud connections as admins keep them (issue 16), through a real zingd and the fake Graph server:
the account view (ids, Meta's word on the number, secrets as hints, the webhook path), rotating
secrets (the number reconnects with them), changing its ids, bad input refused with nothing
changed, pairing refused, logging out (zing forgets the token, restarts included), and who may do
what: agents read, admins change, another tenant's ids don't exist."""

from __future__ import annotations

import itertools

import pytest

from tests.channels.cloud.graph_fake import FakeGraph
from tests.helpers import Zingd, bootstrap, wait_for
from tests.integration.support import db_rows, login
from tests.integration.test_http import free_port
from zingd.errors import Conflict, Forbidden, Invalid, NotFound

_numbers = itertools.count(2)


@pytest.fixture(scope="module")
def g():
    with FakeGraph() as server:
        yield server


@pytest.fixture(scope="module")
def z(tmp_path_factory):
    d = Zingd(tmp_path_factory.mktemp("cloud-connections"), env={
        "ZING_HTTP__ENABLED": "true", "ZING_HTTP__PORT": str(port := free_port())}).start()
    d.hook = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    d.token = bootstrap(d)
    with d.client(d.token) as c:
        c.call("tenant.update", {"id": c.call("tenant.get")["id"], "max_connections": 30})
        c.call("user.create", {"email": "ana@acme.test", "name": "Ana", "role": "agent", "password": "password-123"})
        bravo = c.call("tenant.create", {"name": "Bravo"})["id"]
        c.call("user.create", {"email": "bob@bravo.test", "name": "Bob", "role": "admin", "password": "password-123",
                               "tenant_id": bravo})
    yield d
    d.stop()


@pytest.fixture
def admin(z):
    with z.client(z.token) as c:
        yield c


def _number(g: FakeGraph, **fields) -> str:
    """A fresh number on the fake Graph (a tenant may name a phone-number id once)."""
    n = next(_numbers)
    pnid = f"10900000000{n:02d}"
    g.add_number(pnid, f"+55 11 4000-00{n:02d}", **fields)
    return pnid


def _cloud(admin, g: FakeGraph, name: str, **override) -> dict:
    params = g.cloud_params(phone_number_id=_number(g), **override)
    return admin.call("connection.create", {"name": name, "kind": "cloud", "cloud": params})


def _settled(admin, cid: int, status: str = "connected") -> dict:
    return wait_for(lambda: (c := admin.call("connection.get", {"id": cid}))["status"] == status and c)


def test_a_cloud_number_shows_its_account_and_meta_s_word_never_its_secrets(z, g, admin):
    made = _cloud(admin, g, "Cloud view")
    c = _settled(admin, made["id"])
    cloud = c["cloud"]
    assert c["kind"] == "cloud" and c["advice"] == "" and c["running"]
    assert cloud["phone_number_id"] == made["cloud"]["phone_number_id"] and cloud["business_account_id"] == g.waba_id
    assert (cloud["api_version"], cloud["base_url"], cloud["webhook_path"]) == ("v23.0", g.base_url,
                                                                                 "/webhooks/whatsapp")
    assert (cloud["verified_name"], cloud["quality_rating"], cloud["messaging_limit"]) == ("Fake Co", "GREEN",
                                                                                          "TIER_1K")
    assert cloud["display_phone"].startswith("+55 11 4000-")
    assert cloud["access_token_hint"] == "…" + g.token[-4:] and cloud["app_secret_hint"] == "…" + g.app_secret[-4:]
    for secret in (g.token, g.app_secret, g.verify_token):
        assert secret not in repr(c) and secret not in repr(made)
    listed = next(x for x in admin.call("connection.list") if x["id"] == c["id"])
    assert listed["cloud"]["quality_rating"] == "GREEN" and "access_token" not in listed["cloud"]
    sim = admin.call("connection.create", {"name": "Plain sim", "kind": "sim"})
    assert sim.get("cloud") is None


def test_a_new_token_rotates_the_old_one_and_the_number_reconnects_with_it(z, g, admin):
    c = _cloud(admin, g, "Rotating")
    _settled(admin, c["id"])
    old, new = g.token, "EAAGfake-token-0002-rotated"
    g.token = new  # Meta revoked the old token: a restart finds out
    try:
        admin.call("connection.restart", {"id": c["id"]})
        out = _settled(admin, c["id"], "logged_out")
        assert out["advice"] == (f"Meta refused the access token, or zing has none (logged out): set a new one with "
                                 f"zingctl connections update {c['id']} --access-token -")
        seen = len(g.requests)
        up = admin.call("connection.update", {"id": c["id"], "cloud": {"access_token": f"  {new}\n"}})
        assert up["cloud"]["access_token_hint"] == "…" + new[-4:]
        back = _settled(admin, c["id"])
        assert back["advice"] == "" and back["cloud"]["access_token_hint"] == "…" + new[-4:]
        assert f"Bearer {new}" in {r["auth"] for r in g.requests[seen:]}
        [entry] = [a for a in admin.call("audit.list", {"action": "connection.update", "target_type": "connection",
                                                        "target_id": c["id"]})]
        assert entry["data"] == {"cloud": ["access_token"]}
        assert old not in repr(entry) and new not in repr(entry)
        # the same secret again changes nothing: no restart, nothing audited as changed
        admin.call("connection.update", {"id": c["id"], "cloud": {"access_token": new}})
        entries = admin.call("audit.list", {"action": "connection.update", "target_id": c["id"]})
        assert [e["data"] for e in entries].count({"cloud": ["access_token"]}) == 1
    finally:
        g.token = old
        admin.call("connection.update", {"id": c["id"], "cloud": {"access_token": old}})


def test_a_new_app_secret_and_verify_token_take_effect_on_the_webhook_at_once(z, g, admin):
    c = _cloud(admin, g, "Webhook secrets")
    _settled(admin, c["id"])
    secret, verify = "rotated-app-secret-0002", "rotated-verify-0002"
    assert g.verify(z.hook, token=verify)[0] == 403
    value = g.statuses(g.new_wamid(), "delivered", "5511900000009", phone_number_id=c["cloud"]["phone_number_id"])
    assert g.post_webhook(z.hook, g.envelope(value), secret=secret)[0] == 401
    up = admin.call("connection.update", {"id": c["id"], "cloud": {"app_secret": secret, "verify_token": verify}})
    assert (up["cloud"]["app_secret_hint"], up["cloud"]["verify_token_hint"]) == ("…0002", "…0002")
    _settled(admin, c["id"])
    assert g.verify(z.hook, token=verify, challenge="31337") == (200, "31337")
    assert g.post_webhook(z.hook, g.envelope(value), secret=secret)[0] == 200
    [entry] = admin.call("audit.list", {"action": "connection.update", "target_id": c["id"]})
    assert entry["data"] == {"cloud": ["app_secret", "verify_token"]}


def test_new_ids_make_it_another_number_and_forget_what_meta_said_of_the_old_one(z, g, admin):
    c = _cloud(admin, g, "Moving")
    _settled(admin, c["id"])
    pnid = _number(g, verified_name="Other Co", quality_rating="YELLOW", messaging_limit_tier="TIER_10K")
    up = admin.call("connection.update", {"id": c["id"], "name": "Moved", "cloud": {"phone_number_id": pnid,
                                                                                  "api_version": "v24.0"}})
    assert up["name"] == "Moved" and up["cloud"]["phone_number_id"] == pnid and up["cloud"]["api_version"] == "v24.0"
    back = wait_for(lambda: (x := admin.call("connection.get", {"id": c["id"]}))["status"] == "connected"
                    and x["cloud"]["verified_name"] == "Other Co" and x)
    assert (back["cloud"]["quality_rating"], back["cloud"]["messaging_limit"]) == ("YELLOW", "TIER_10K")
    assert any(r["path"].startswith(f"/v24.0/{pnid}") for r in g.requests)
    [row] = db_rows(z, "SELECT display_phone, verified_name, quality_rating FROM cloud_accounts "
                       "WHERE connection_id = ?", (c["id"],))
    assert row == {"display_phone": "", "verified_name": "", "quality_rating": ""}  # nothing stale from the old id


@pytest.mark.parametrize(("cloud", "field"), [
    ({"phone_number_id": ""}, "cloud.phone_number_id"),
    ({"business_account_id": "  "}, "cloud.business_account_id"),
    ({"access_token": ""}, "cloud.access_token"),
    ({"phone_number_id": "12ab34"}, "cloud.phone_number_id"),
    ({"business_account_id": "WABA-1"}, "cloud.business_account_id"),
    ({"app_secret": "two words"}, "cloud.app_secret"),
    ({"verify_token": "line\nbreak"}, "cloud.verify_token"),
    ({"api_version": "23"}, "cloud.api_version"),
    ({"base_url": "file:///etc/passwd"}, "cloud.base_url"),
    ({"base_url": "graph.facebook.com"}, "cloud.base_url"),
    ({"base_url": "http://graph.example.com"}, "cloud.base_url"),  # the token would travel in clear
    ({"base_url": "https://user:pw@graph.example.com"}, "cloud.base_url"),
])
def test_bad_accounts_are_refused_naming_the_field_and_nothing_is_made(z, g, admin, cloud, field):
    before = [x["id"] for x in admin.call("connection.list")]
    with pytest.raises(Invalid) as e:
        admin.call("connection.create", {"name": "Bad", "kind": "cloud",
                                         "cloud": g.cloud_params(phone_number_id=_number(g)) | cloud})
    assert e.value.details["field"] == field, e.value
    assert [x["id"] for x in admin.call("connection.list")] == before
    for secret in (g.token, g.app_secret, "two words"):
        assert secret not in str(e.value)


def test_bad_updates_change_nothing(z, g, admin):
    c = _cloud(admin, g, "Kept")
    before = admin.call("connection.get", {"id": c["id"]})["cloud"]
    for cloud, field in (({"base_url": "ftp://x"}, "cloud.base_url"), ({"access_token": ""}, "cloud.access_token"),
                         ({"phone_number_id": "x1"}, "cloud.phone_number_id")):
        with pytest.raises(Invalid) as e:
            admin.call("connection.update", {"id": c["id"], "name": "Renamed", "cloud": cloud})
        assert e.value.details["field"] == field
    after = admin.call("connection.get", {"id": c["id"]})
    assert after["name"] == "Kept" and after["cloud"]["base_url"] == before["base_url"]
    sim = admin.call("connection.create", {"name": "Sim, not cloud", "kind": "sim"})
    with pytest.raises(Invalid) as e:
        admin.call("connection.update", {"id": sim["id"], "cloud": {"api_version": "v23.0"}})
    assert e.value.details["field"] == "cloud"
    with pytest.raises(Invalid) as e:
        admin.call("connection.create", {"name": "Sim with cloud", "kind": "sim", "cloud": g.cloud_params()})
    assert e.value.details["field"] == "cloud"


def test_a_meta_number_is_one_connection_and_a_business_account_one_tenants(z, g, admin):
    """Numbers on one Meta app share its secret: a webhook must name exactly one connection, so no
    other tenant can name the same number (or business account) and receive its messages."""
    first = _cloud(admin, g, "Once")
    taken = first["cloud"]["phone_number_id"]
    with pytest.raises(Conflict) as e:
        admin.call("connection.create", {"name": "Twice", "kind": "cloud", "cloud": g.cloud_params(
            phone_number_id=taken)})
    assert e.value.details["field"] == "cloud.phone_number_id" and taken in e.value.message
    other = _cloud(admin, g, "Other")
    with pytest.raises(Conflict):
        admin.call("connection.update", {"id": other["id"], "cloud": {"phone_number_id": taken}})
    admin.call("connection.update", {"id": first["id"], "cloud": {"phone_number_id": taken}})  # its own: fine
    with login(z, "bob@bravo.test", "password-123") as bob:
        with pytest.raises(Conflict) as e:
            bob.call("connection.create", {"name": "Bravo's", "kind": "cloud",
                                           "cloud": g.cloud_params(phone_number_id=taken)})
        assert "another company" in e.value.message and "Acme" not in e.value.message
        with pytest.raises(Conflict) as e:  # the same business account, another number of it
            bob.call("connection.create", {"name": "Bravo's", "kind": "cloud",
                                           "cloud": g.cloud_params(phone_number_id="1090000000555")})
        assert e.value.details["field"] == "cloud.business_account_id"
        bravo = bob.call("connection.create", {"name": "Bravo's", "kind": "cloud", "cloud": g.cloud_params(
            phone_number_id="1090000000555", business_account_id="2090000000555")})
        assert bravo["cloud"]["phone_number_id"] == "1090000000555"


def test_cloud_numbers_dont_pair_and_logging_out_forgets_the_token_until_a_new_one(z, g, admin):
    c = _cloud(admin, g, "Leaving")
    _settled(admin, c["id"])
    with pytest.raises(Conflict) as e:
        admin.call("connection.pair", {"id": c["id"]})
    assert e.value.message.startswith("cloud numbers don't pair: they connect with their access token")
    out = admin.call("connection.logout", {"id": c["id"]})
    assert (out["status"], out["running"], out["cloud"]["access_token_hint"]) == ("logged_out", False, "")
    assert out["status_reason"] == "logged out by an admin: zing forgot the access token"
    assert "--access-token -" in out["advice"]
    assert db_rows(z, "SELECT access_token FROM cloud_accounts WHERE connection_id = ?", (c["id"],)) == [
        {"access_token": ""}]
    assert admin.call("audit.list", {"action": "connection.logout", "target_id": c["id"]})
    z.restart()
    with z.client(z.token) as again:
        after = _settled(again, c["id"], "logged_out")
        assert after["cloud"]["access_token_hint"] == ""
        again.call("connection.update", {"id": c["id"], "cloud": {"access_token": g.token}})
        assert _settled(again, c["id"])["running"]


def test_agents_read_admins_change_other_tenants_ids_dont_exist(z, g, admin):
    c = _cloud(admin, g, "Guarded")
    with login(z, "ana@acme.test", "password-123") as ana:
        seen = ana.call("connection.get", {"id": c["id"]})
        assert seen["cloud"]["phone_number_id"] == c["cloud"]["phone_number_id"]
        assert g.token not in repr(ana.call("connection.list"))
        with pytest.raises(Forbidden):
            ana.call("connection.create", {"name": "Mine", "kind": "cloud", "cloud": g.cloud_params(
                phone_number_id=_number(g))})
        with pytest.raises(Forbidden):
            ana.call("connection.update", {"id": c["id"], "cloud": {"access_token": "EAAGstolen-000000"}})
        with pytest.raises(Forbidden):
            ana.call("connection.logout", {"id": c["id"]})
    with login(z, "bob@bravo.test", "password-123") as bob:
        for method, params in (("connection.get", {"id": c["id"]}),
                               ("connection.update", {"id": c["id"], "cloud": {"access_token": "EAAGstolen-000000"}}),
                               ("connection.logout", {"id": c["id"]}), ("connection.pair", {"id": c["id"]})):
            with pytest.raises(NotFound):
                bob.call(method, params)
        assert c["id"] not in {x["id"] for x in bob.call("connection.list")}
    assert admin.call("connection.get", {"id": c["id"]})["cloud"]["access_token_hint"] == "…" + g.token[-4:]


def test_meta_s_quality_webhook_shows_on_the_number_and_is_kept_when_it_stops(z, g, admin):
    c = _cloud(admin, g, "Rated")
    pnid = c["cloud"]["phone_number_id"]
    _settled(admin, c["id"])
    g.numbers[pnid].update(quality_rating="YELLOW", messaging_limit_tier="TIER_250")
    value = g.quality("DOWNGRADE", "TIER_250", old_limit="TIER_1K", phone_number_id=pnid)
    assert g.post_webhook(z.hook, g.envelope(value, field="phone_number_quality_update"))[0] == 200
    rated = wait_for(lambda: (x := admin.call("connection.get", {"id": c["id"]}))["cloud"]["messaging_limit"]
                     == "TIER_250" and x)
    assert rated["cloud"]["quality_rating"] == "YELLOW"
    assert rated["cloud"]["last_notice"]["event"] == "DOWNGRADE"
    listed = next(x for x in admin.call("connection.list") if x["id"] == c["id"])
    assert (listed["cloud"]["quality_rating"], listed["cloud"]["messaging_limit"]) == ("YELLOW", "TIER_250")
    admin.call("connection.logout", {"id": c["id"]})  # not running: Meta's last word is what was stored
    stopped = admin.call("connection.get", {"id": c["id"]})["cloud"]
    assert (stopped["quality_rating"], stopped["messaging_limit"]) == ("YELLOW", "TIER_250")
    assert stopped["display_phone"] == rated["cloud"]["display_phone"] == g.numbers[pnid]["display_phone_number"]
