"""TwilioSettings refuse what would leak credentials or could never work, naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.dispatch.providers.sms import TwilioSettings
from tests.support.tls_origin import TestCa
from tests.support.twilio_api import ACCOUNT, API_KEY, SERVICE, twilio_settings


def test_exactly_one_sender() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        twilio_settings(messaging_service_sid=SERVICE)
    with pytest.raises(ValueError, match="exactly one"):
        twilio_settings(from_number=None)


def test_the_account_sid_is_twilios_shape() -> None:
    for wrong in ["not-a-sid", "SK" + "1" * 32, "AC" + "1" * 31, "AC" + "g" * 32]:
        with pytest.raises(ValueError, match="NUDGE_TWILIO_ACCOUNT_SID"):
            twilio_settings(account_sid=wrong)


@pytest.mark.parametrize(
    "url",
    [
        "api.twilio.com",
        "ftp://api.twilio.com",
        "https://AC1:token@api.twilio.com",  # credentials go in their own settings
        "https://api.twilio.com/?x=1",
    ],
)
def test_base_url_is_an_origin_and_nothing_else(url: str) -> None:
    with pytest.raises(ValueError, match="NUDGE_TWILIO_BASE_URL"):
        twilio_settings(base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.twilio.com",
        "http://10.0.0.7:8080",
        "http://192.168.1.5",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://[2001:db8::1]",
    ],
)
def test_cleartext_http_is_refused_except_to_loopback(url: str) -> None:
    with pytest.raises(ValueError, match=r"NUDGE_TWILIO_BASE_URL: http:// .* cleartext"):
        twilio_settings(base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:10088",
        "http://127.3.4.5",
        "http://[::1]:8080",
        "http://localhost:10088",
        "https://api.twilio.com",
        "https://eu1.twilio.example:8443/prefix",
    ],
)
def test_https_or_loopback_http_is_fine(url: str) -> None:
    assert twilio_settings(base_url=url).base_url == url


def test_authenticate_with_the_token_or_an_api_key_not_both_not_neither() -> None:
    with pytest.raises(ValueError, match="one way"):
        twilio_settings(auth_token=None)
    with pytest.raises(ValueError, match="one way"):
        twilio_settings(api_key_sid=API_KEY, api_key_secret="s")
    with pytest.raises(ValueError, match="both NUDGE_TWILIO_API_KEY_SID"):
        twilio_settings(auth_token=None, api_key_sid=API_KEY)
    with pytest.raises(ValueError, match="both NUDGE_TWILIO_API_KEY_SID"):
        twilio_settings(auth_token=None, api_key_secret="s")
    with pytest.raises(ValueError, match="NUDGE_TWILIO_API_KEY_SID must look like SK"):
        twilio_settings(auth_token=None, api_key_sid="AC" + "3" * 32, api_key_secret="s")
    keyed = twilio_settings(auth_token=None, api_key_sid=API_KEY, api_key_secret="s")
    assert keyed.api_key_sid == API_KEY


@pytest.mark.parametrize(
    "url", ["https://proxy.corp:3128", "proxy.corp:3128", "http://proxy.corp:3128/path"]
)
def test_the_proxy_is_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="NUDGE_TWILIO_PROXY_URL"):
        twilio_settings(proxy_url=url)


def test_the_proxy_url_keeps_its_password_out_of_sight() -> None:
    settings = twilio_settings(proxy_url="http://me:hunter2@proxy.corp:3128")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)


def test_the_ca_file_must_be_a_pem_bundle(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NUDGE_TWILIO_CA_FILE"):
        twilio_settings(ca_file=tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ValueError, match="NUDGE_TWILIO_CA_FILE"):
        twilio_settings(ca_file=garbage)
    ca = TestCa.create(tmp_path / "ca")
    assert twilio_settings(ca_file=ca.cert).ca_file == ca.cert


def test_settings_read_the_nudge_twilio_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("NUDGE_TWILIO_API_KEY_SID", API_KEY)
    monkeypatch.setenv("NUDGE_TWILIO_API_KEY_SECRET", "secret-key")
    monkeypatch.setenv("NUDGE_TWILIO_MESSAGING_SERVICE_SID", SERVICE)
    monkeypatch.setenv("NUDGE_TWILIO_BASE_URL", "http://127.0.0.1:10088")
    monkeypatch.setenv("NUDGE_TWILIO_PROXY_URL", "http://u:proxy-pass@proxy.corp:3128")
    loaded = TwilioSettings()
    assert loaded.base_url == "http://127.0.0.1:10088"
    assert loaded.messaging_service_sid == SERVICE
    assert loaded.api_key_sid == API_KEY and loaded.auth_token is None
    assert "secret-key" not in repr(loaded) and "proxy-pass" not in repr(loaded)
