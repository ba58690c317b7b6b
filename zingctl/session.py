"""Which daemon this invocation talks to, and as whom.

The root command builds one ``Session`` from --socket / --token (or the stored
token) and puts it on the context; commands ``call`` through one lazily opened
``SyncClient``, closed when the invocation ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zingd.rpc.client import SyncClient

PEER_UID = "none: peer-uid login"
FROM_FLAG, FROM_ENV = "--token", "ZING_TOKEN"


class _Clear:
    def __repr__(self) -> str:
        return "CLEAR"


CLEAR = _Clear()
"""A param value that is sent as null: what clears a field in a daemon's patch (``--no-auto-close``)."""


@dataclass
class Session:
    socket: Path
    token: str | None = None
    token_location: str = PEER_UID  # where the token came from, for `zingctl status`
    _client: SyncClient | None = None

    @property
    def stored(self) -> bool:
        """The token came from the keyring or the credentials file (not --token / ZING_TOKEN)."""
        return self.token is not None and self.token_location not in (FROM_FLAG, FROM_ENV)

    def client(self) -> SyncClient:
        """The invocation's connection, logged in with the token if there is one."""
        if self._client is None:
            self._client = SyncClient(self.socket, token=self.token)
        return self._client

    def anonymous(self) -> SyncClient:
        """A fresh connection that sends no token (to log in, bootstrap, or inspect a bad token)."""
        return SyncClient(self.socket)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call a daemon method as this invocation's user, leaving out None params.

        An option the user did not give is None, and must not override the daemon's default (nor,
        in a patch, the current value); ``CLEAR`` is sent as null, which clears a field.
        `zingctl rpc` sends params exactly as given, through ``client().call``.
        """
        return self.client().call(method, {k: None if v is CLEAR else v for k, v in (params or {}).items()
                                           if v is not None})

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
