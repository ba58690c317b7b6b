"""A real WhatsApp (neonize) connection inside the daemon, on a machine that can't reach
WhatsApp: it keeps retrying with backoff, reports why, and never takes the daemon down."""

from tests.helpers import wait_for
from tests.integration.desk import make_desk


def test_whatsapp_connection_lifecycle_without_network(tmp_path):
    d = make_desk(tmp_path)
    try:
        c = d.admin.call("connection.create", {"name": "Real", "kind": "whatsapp"})
        assert c["status"] == "pairing" and c["running"] is False
        d.admin.call("connection.pair", {"id": c["id"]})
        health = wait_for(lambda: (h := d.admin.call("connection.get", {"id": c["id"]})["health"])
                          and "could not connect" in h["reason"] and h, timeout=30)  # Go's first start is slow
        assert health["state"] == "disconnected" and "retrying" in health["reason"]
        events = d.admin.call("audit.list", {"action": "connection.*"})
        assert [e["action"] for e in events] == ["connection.create", "connection.create"]
        assert d.admin.call("connection.restart", {"id": c["id"]})["running"] is True
        assert d.admin.call("connection.logout", {"id": c["id"]})["status"] == "logged_out"
        # the sim number beside it kept working throughout
        d.say("5511950000001", "still here?")
        assert d.ticket_of("5511950000001")["status"] == "pending"
        assert d.z.stop() == 0
    finally:
        d.close()
        d.z.kill()
