"""A proxy.py plugin for the test CONNECT proxy (tests/support/connect_proxy.py): every host
name resolves to 127.0.0.1, so the proxy reaches the loopback origin by its real name and
never the network."""

from __future__ import annotations

from proxy.common.types import HostPort
from proxy.http.proxy import HttpProxyBasePlugin


class LoopbackUpstream(HttpProxyBasePlugin):
    def resolve_dns(self, host: str, port: int) -> tuple[str | None, HostPort | None]:
        return "127.0.0.1", None
