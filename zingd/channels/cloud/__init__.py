"""The official WhatsApp Business Cloud API (Meta's Graph API) as a kind of number, beside neonize.

- ``account``: what a cloud connection needs to reach Meta (kept in ``cloud_accounts``).
- ``graph``: the Graph API client (aiohttp): messages, media, templates, the number's health.
- ``channel``: ``CloudChannel``, the ``Channel`` the daemon's outbox and services drive.
- ``payloads``: Meta's webhook JSON into zing's normalized events.
- ``inbound``: webhook changes into committed messages, receipts and notices; files after commit.
- ``webhook``: the routes on zing's HTTP server (GET handshake, signed POSTs).
"""
