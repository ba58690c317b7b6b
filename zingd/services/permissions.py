"""The one permission table: which role may call which RPC method.

Every RPC method has exactly one row in PERMISSIONS (the registry refuses a
method without one): the lowest role allowed to call it, or ``public`` for the
few that work before authentication. A deprecated name in ALIASES gets the row
of the method it stands for. Tenancy is enforced below this, in every
query: a user of one tenant gets ``not_found`` for another tenant's ids.

Which role may call a method is not all: AGENT_SCOPE says, per method an agent may call, what
of the tenant's an agent may touch with it (supervisors and up may touch everything of their
tenant). The services enforce each rule where the object is read, with one notion per object:
tickets ``zingd.store.tickets.visibility`` (own ones, pending ones of own queues or still in the
menu; ``services.tickets.require_visible``), schedules their author (``services.schedules._mine``),
contacts ``services.contacts.may_change``, tags ``services.tags.attachable``. What an agent can't
see is ``not_found`` in the words of an id that never existed: no name, status or text of it.
tests/security/test_object_rules.py walks every row as an agent with a colleague's, an invisible
and another tenant's ids, and fails for an agent-callable method without a row.
"""

from __future__ import annotations

PUBLIC = "public"

PERMISSIONS: dict[str, str] = {
    "rpc.hello": PUBLIC,
    "rpc.discover": PUBLIC,
    "auth.login": PUBLIC,
    "auth.token": PUBLIC,
    "auth.bootstrap": PUBLIC,
    "auth.whoami": "agent",
    "auth.logout": "agent",
    "daemon.status": "agent",
    "tenant.list": "superadmin",
    "tenant.create": "superadmin",
    "tenant.get": "admin",
    "tenant.update": "superadmin",
    "user.list": "supervisor",
    "user.get": "agent",
    "user.create": "admin",
    "user.update": "admin",
    "user.set_status": "agent",
    "user.directory": "agent",
    "connection.list": "agent",
    "connection.get": "agent",
    "connection.create": "admin",
    "connection.update": "admin",
    "connection.delete": "admin",
    "connection.restart": "admin",
    "connection.pair": "admin",
    "connection.logout": "admin",
    "contact.list": "agent",
    "contact.get": "agent",
    "contact.update": "agent",
    "ticket.list": "agent",
    "ticket.get": "agent",
    "ticket.accept": "agent",
    "ticket.transfer": "agent",
    "ticket.close": "agent",
    "ticket.reopen": "agent",
    "message.list": "agent",
    "message.send": "agent",
    "message.retry": "agent",
    "message.search": "agent",
    "media.upload": "agent",
    "media.discard": "agent",
    "media.fetch": "agent",
    "sim.say": "admin",
    "sim.customers": "agent",
    "sim.fault": "admin",
    "sim.journal": "admin",
    "events.subscribe": "agent",
    "events.unsubscribe": "agent",
    "user.update_me": "agent",
    "tenant.update_settings": "admin",
    "queue.list": "agent",
    "queue.create": "admin",
    "queue.update": "admin",
    "queue.delete": "admin",
    "queue.set_members": "admin",
    "connection.set_queues": "admin",
    "tag.list": "agent",
    "tag.create": "supervisor",
    "tag.delete": "admin",
    "ticket.set_tags": "agent",
    "ticket.history": "agent",
    "contact.set_tags": "agent",
    "contact.create": "agent",
    "contact.import": "admin",
    "contact.export": "supervisor",
    "contact.merge": "supervisor",
    "contact.delete": "admin",
    "note.create": "agent",
    "note.list": "agent",
    "quickreply.list": "agent",
    "quickreply.create": "agent",
    "quickreply.update": "agent",
    "quickreply.delete": "agent",
    "message.read": "agent",
    "message.typing": "agent",
    "token.create": "agent",
    "token.list": "agent",
    "token.revoke": "agent",
    "audit.list": "admin",
    "report.summary": "supervisor",
    "campaign.create": "supervisor",
    "campaign.list": "supervisor",
    "campaign.get": "supervisor",
    "campaign.start": "supervisor",
    "campaign.pause": "supervisor",
    "campaign.cancel": "supervisor",
    "campaign.recipients": "supervisor",
    "schedule.create": "agent",
    "schedule.list": "agent",
    "schedule.update": "agent",
    "schedule.cancel": "agent",
    "webhook.create": "admin",
    "webhook.list": "admin",
    "webhook.delete": "admin",
    "webhook.update": "admin",
    "webhook.get": "admin",
    "webhook.dead_letters": "admin",
    "webhook.replay": "admin",
    "message.send_to": "agent",
    "daemon.backup": "superadmin",
}

# Old names, kept working for one release: the same handler under the same permission row;
# rpc.discover lists them with "deprecated": true. Remove them in the release after.
ALIASES: dict[str, str] = {
    "campaign.show": "campaign.get",
    "webhook.enable": "webhook.update",
    "webhook.deliveries": "webhook.dead_letters",
    "tenant.settings": "tenant.update_settings",
    "ticket.tag": "ticket.set_tags",
    "contact.tag": "contact.set_tags",
}
PERMISSIONS.update({old: PERMISSIONS[new] for old, new in ALIASES.items()})

VISIBLE = "visible tickets only: own, or pending in own queues or the menu"

# What an agent may touch, per method an agent may call (see the module docstring).
AGENT_SCOPE: dict[str, str] = {
    "auth.whoami": "the caller's own session",
    "auth.logout": "the caller's own session",
    "daemon.status": "the daemon's state, as much as the caller's role may see; no tenant objects",
    "user.get": "any user of the tenant (the directory: names, roles, queues)",
    "user.set_status": "the caller themselves",
    "user.directory": "the tenant's users, names and presence",
    "user.update_me": "the caller themselves",
    "connection.list": "the tenant's numbers, read only",
    "connection.get": "the tenant's numbers, read only",
    "queue.list": "the tenant's queues, read only",
    "tag.list": "the tenant's tags, read only",
    "sim.customers": "the sim's scripted customers; no tenant objects",
    "contact.list": "any contact of the tenant (the address book)",
    "contact.get": f"any contact of the tenant; its tickets: {VISIBLE}",
    "contact.update": "any contact's name, email, fields; opted_out only to true; owner_user_id only to "
                      "themselves or null, and not of a contact in a colleague's wallet",
    "contact.create": "a new contact; tags existing ones only (a supervisor creates tags)",
    "contact.set_tags": "any contact; existing tags only (a supervisor creates tags)",
    "ticket.list": VISIBLE,
    "ticket.get": VISIBLE,
    "ticket.history": VISIBLE,
    "ticket.accept": f"{VISIBLE}; taken ones are no longer visible",
    "ticket.transfer": f"{VISIBLE}, and not held by someone else",
    "ticket.close": f"{VISIBLE}, and not held by someone else",
    "ticket.reopen": f"{VISIBLE} (a closed one: own); the contact's active one elsewhere is not named",
    "ticket.set_tags": f"{VISIBLE}; existing tags only (a supervisor creates tags)",
    "note.create": VISIBLE,
    "note.list": VISIBLE,
    "message.list": f"{VISIBLE} (by contact: their messages in those tickets)",
    "message.search": f"messages of {VISIBLE}",
    "message.send": f"{VISIBLE}, and not held by someone else (a pending one becomes theirs)",
    "message.retry": f"failed messages of {VISIBLE}, and not held by someone else",
    "message.read": VISIBLE,
    "message.typing": VISIBLE,
    "media.upload": "own uploads only: an upload_id is its uploader's",
    "media.discard": "own uploads only",
    "media.fetch": f"received files of {VISIBLE}",
    "message.send_to": "any number; the customer's active ticket there only if visible and not held by "
                       "someone else (else refused, its holder unnamed), or a new one of their own",
    "schedule.create": "in a visible ticket not held by someone else, or to a contact whose active "
                       "ticket (if any) is such",
    "schedule.list": "own schedules only",
    "schedule.update": "own schedules only",
    "schedule.cancel": "own schedules only",
    "quickreply.list": "own personal and the tenant's quick replies",
    "quickreply.create": "own personal quick replies (tenant-wide ones: a supervisor)",
    "quickreply.update": "own personal quick replies",
    "quickreply.delete": "own personal quick replies",
    "token.create": "own API tokens, at most the caller's role",
    "token.list": "own API tokens",
    "token.revoke": "own API tokens",
    "events.subscribe": f"events of {VISIBLE} (and of the tenant, not about tickets)",
    "events.unsubscribe": "the caller's own subscriptions",
}
AGENT_SCOPE.update({old: AGENT_SCOPE[new] for old, new in ALIASES.items() if new in AGENT_SCOPE})
