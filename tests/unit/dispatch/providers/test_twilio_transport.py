"""The Twilio adapter's way to Twilio: TLS to a real host name (a loopback aiohttp.web origin
with a certificate for api.twilio.com from a test CA), through an HTTP CONNECT proxy
(proxy.py, with basic auth), the environment's HTTPS_PROXY / NO_PROXY. Whatever the operator
has to fix is a ProviderConfigError; nothing here is ever blamed on the recipient."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from services.dispatch.providers.base import ProviderConfigError, TransientSendError
from services.dispatch.providers.sms import TwilioSms
from tests.support.connect_proxy import ConnectProxy, connect_proxy
from tests.support.ingest_process import free_port
from tests.support.tls_origin import HttpsOrigin, LoopbackNames, TestCa, https_origin
from tests.support.twilio_api import MESSAGES_PATH, created, twilio_settings

HOST = "api.twilio.com"
OTHER_HOST = "sms.twilio.com"
PROXY_USER = "nudge:proxy-secret"
ENV_PROXIES = ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"]


@dataclass(frozen=True)
class Origin:
    server: HttpsOrigin
    ca: TestCa
    stranger: TestCa
    """A CA that signed nothing the origin shows."""
    hosts: list[str]
    """The Host header of every request that reached the origin."""

    def url(self, host: str = HOST) -> str:
        return f"https://{host}:{self.server.port}"


@pytest_asyncio.fixture(scope="module")
async def origin(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Origin]:
    folder = tmp_path_factory.mktemp("tls-origin")
    ca, stranger = TestCa.create(folder / "ca"), TestCa.create(folder / "stranger")
    cert, key = ca.leaf(HOST)
    hosts: list[str] = []

    async def messages(request: web.Request) -> web.StreamResponse:
        hosts.append(request.host)
        await request.read()
        return created()

    app = web.Application()
    app.router.add_post(MESSAGES_PATH, messages)
    async with https_origin(app, cert, key) as server:
        yield Origin(server, ca, stranger, hosts)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectProxy]:
    with connect_proxy(tmp_path_factory.mktemp("proxy"), basic_auth=PROXY_USER) as running:
        yield running


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests set the proxy variables they mean; none leaks in from the machine."""
    for name in ENV_PROXIES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def send(origin: Origin, *, resolver: LoopbackNames | None = None, **settings: Any) -> str:
    """One message through a fresh adapter; the provider id."""
    fields: dict[str, Any] = {"base_url": origin.url(), "ca_file": origin.ca.cert}
    fields.update(settings)
    sms = TwilioSms(twilio_settings(**fields), resolver=resolver)
    try:
        result = await sms.send("+4915112345678", "Hi", idempotency_key="k")
    finally:
        await sms.close()
    return result.provider_id


async def refused(origin: Origin, **options: Any) -> TransientSendError:
    reached = len(origin.hosts)
    with pytest.raises(TransientSendError) as caught:
        await send(origin, **options)
    assert len(origin.hosts) == reached, "nothing may reach the origin"
    assert not caught.value.maybe_sent
    return caught.value


def names() -> LoopbackNames:
    return LoopbackNames({HOST, OTHER_HOST})


async def test_https_to_the_real_name_trusting_the_configured_ca(origin: Origin) -> None:
    resolver = names()
    before = len(origin.server.sni)
    assert (await send(origin, resolver=resolver)).startswith("SM")
    assert origin.server.sni[before:] == [HOST], "SNI names the host"
    assert resolver.asked == [HOST]
    assert origin.hosts[-1] == f"{HOST}:{origin.server.port}"


async def test_a_certificate_for_another_name_is_a_configuration_error(origin: Origin) -> None:
    failure = await refused(origin, resolver=names(), base_url=origin.url(OTHER_HOST))
    assert isinstance(failure, ProviderConfigError)
    assert "certificate" in failure.reason and "NUDGE_TWILIO_BASE_URL" in failure.reason
    assert "match" in failure.reason  # the hostname check, named as such


async def test_a_ca_nobody_configured_is_a_configuration_error(origin: Origin) -> None:
    stranger = await refused(origin, resolver=names(), ca_file=origin.stranger.cert)
    assert isinstance(stranger, ProviderConfigError)
    assert "NUDGE_TWILIO_CA_FILE" in stranger.reason
    system = await refused(origin, resolver=names(), ca_file=None)  # the system's CAs
    assert isinstance(system, ProviderConfigError)
    assert "system" in system.reason


async def test_through_the_proxy_with_its_credentials_in_the_url(
    origin: Origin, proxy: ConnectProxy
) -> None:
    before, tunnels = len(origin.server.sni), len(proxy.tunnels())
    assert (await send(origin, proxy_url=proxy.url(PROXY_USER))).startswith("SM")
    assert proxy.tunnels_after(tunnels) == [f"{HOST}:{origin.server.port}"]
    assert origin.server.sni[before:] == [HOST], "TLS runs end to end, inside the tunnel"


async def test_through_the_proxy_named_by_https_proxy(
    origin: Origin, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url(PROXY_USER))
    tunnels = len(proxy.tunnels())
    assert (await send(origin)).startswith("SM")  # no resolver: only the proxy knows the name
    assert proxy.tunnels_after(tunnels) == [f"{HOST}:{origin.server.port}"]


@pytest.mark.parametrize("credentials", [None, "nudge:wrong"])
async def test_a_proxy_wanting_credentials_is_a_configuration_error(
    origin: Origin, proxy: ConnectProxy, credentials: str | None
) -> None:
    failure = await refused(origin, proxy_url=proxy.url(credentials))
    assert isinstance(failure, ProviderConfigError)
    assert failure.http_status == 407
    assert "407" in failure.reason and "NUDGE_TWILIO_PROXY_URL" in failure.reason
    assert ("refused the credentials" in failure.reason) is (credentials is not None)
    assert "wrong" not in failure.reason, "never the proxy's password"


async def test_the_environments_proxy_wanting_credentials_is_named_as_such(
    origin: Origin, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", proxy.url())
    failure = await refused(origin)
    assert isinstance(failure, ProviderConfigError)
    assert "HTTPS_PROXY" in failure.reason


async def test_no_proxy_for_the_host_goes_direct(
    origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing there
    not_there = await refused(origin, resolver=names())
    assert "HTTPS_PROXY" in not_there.reason and not isinstance(not_there, ProviderConfigError)
    monkeypatch.setenv("NO_PROXY", "localhost,.twilio.com")
    assert (await send(origin, resolver=names())).startswith("SM")


async def test_the_explicit_proxy_wins_over_no_proxy(
    origin: Origin, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", HOST)
    tunnels = len(proxy.tunnels())
    await send(origin, proxy_url=proxy.url(PROXY_USER))
    assert proxy.tunnels_after(tunnels) == [f"{HOST}:{origin.server.port}"]


async def test_a_tls_handshake_that_never_ends_was_not_sent(origin: Origin) -> None:
    """Connecting, TLS included, is capped at a third of the timeout; until it is done nothing
    can have reached Twilio."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # the ClientHello is never answered

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        failure = await refused(
            origin, resolver=names(), base_url=f"https://{HOST}:{port}", timeout_s=0.6
        )
    finally:
        server.close()
    assert not isinstance(failure, ProviderConfigError)
    assert failure.reason.startswith("connection") and "ConnectionTimeoutError" in failure.reason


@pytest.mark.parametrize(
    ("status", "config"), [(403, True), (405, True), (502, False), (503, False)]
)
async def test_a_proxy_refusing_connect(origin: Origin, status: int, config: bool) -> None:
    """Refused by policy: the operator must act; the proxy failing upstream: retry later."""

    async def refuse(request: web.BaseRequest) -> web.StreamResponse:
        assert request.method == "CONNECT"
        return web.Response(status=status, text="no")

    port = free_port()
    server = await asyncio.get_running_loop().create_server(web.Server(refuse), "127.0.0.1", port)
    try:
        failure = await refused(origin, proxy_url=f"http://127.0.0.1:{port}")
    finally:
        server.close()
    assert isinstance(failure, ProviderConfigError) is config
    assert failure.http_status == status
    assert "proxy 127.0.0.1" in failure.reason


def test_leaf_certificates_name_their_hosts(tmp_path: Path) -> None:
    """(The support code itself: a leaf for two names is one certificate for both.)"""
    from cryptography import x509

    cert, _ = TestCa.create(tmp_path).leaf(HOST, OTHER_HOST)
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    alternative = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert alternative.value.get_values_for_type(x509.DNSName) == [HOST, OTHER_HOST]
