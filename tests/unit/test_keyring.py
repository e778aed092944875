"""The master key ring and its derived keys: HKDF as RFC 5869 defines it, one key per purpose,
key ids, the ring and link-key formats, and the settings that read them."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.keyring import (
    SINGLE_KEY_KID,
    LinkKeys,
    MasterKey,
    MasterKeyRing,
    Purpose,
    default_kid,
    hkdf_sha256,
    read_ring_file,
    write_ring_file,
)
from shared.settings import LinkKeySettings, SecretKeySettings

OLD = "old-master-key-0123456789abcdefghijkl"
NEW = "new-master-key-0123456789abcdefghijkl"
ENV = ("NUDGE_SECRET_KEY", "NUDGE_SECRET_KEY_FILE", "NUDGE_SECRET_KEYS_FILE", "NUDGE_LINK_KEYS")


@pytest.fixture(autouse=True)
def no_keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make` exports NUDGE_SECRET_KEY_FILE; each test states the keys it means."""
    for name in (*ENV, "NUDGE_LINK_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)


def ring(*entries: tuple[str, str]) -> MasterKeyRing:
    return MasterKeyRing(tuple(MasterKey(k, SecretStr(v)) for k, v in entries), "test ring")


def test_our_hkdf_call_gives_rfc_5869_test_case_1() -> None:
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm == bytes.fromhex(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_each_purpose_gets_its_own_key_and_the_labels_never_change() -> None:
    """Pinned: a changed label would make every sealed secret and every link unreadable."""
    key = MasterKey("k0", SecretStr("pinned-master-key-0123456789abcdefghij"))
    assert key.derive(Purpose.WEBHOOK_SECRETS).hex() == (
        "1dc407bbf400be96ec7876bf1372a06f00313e869165fe9e1bf46759640f7c5b"
    )
    assert key.derive(Purpose.LINKS).hex() == (
        "b6a812e29515b7651d2926c04c4abb933117d3b9cdb45be954b6d9a8114b1848"
    )
    other = MasterKey("k0", SecretStr(OLD))
    assert other.derive(Purpose.LINKS) != key.derive(Purpose.LINKS)
    assert {p.label for p in Purpose} == {b"nudge/webhook-secrets/v1", b"nudge/links/v1"}


def test_a_ring_file_lists_the_active_key_first_and_skips_comments() -> None:
    parsed = MasterKeyRing.parse(f"# rotated today\n\nk2 {NEW}\n  k1 {OLD}  \n", "file")
    assert parsed.kids == ("k2", "k1")
    assert parsed.active.kid == "k2"
    assert parsed.get("k1") == MasterKey("k1", SecretStr(OLD))
    assert parsed.get("k3") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"K1 {OLD}", "line 1: key id 'K1' must be"),
        (f"k1 {OLD}\nk.2 {NEW}", "line 2: key id 'k.2' must be"),
        ("k1 short-secret", "key 'k1' must be at least 32 characters"),
        (f"k1 {OLD}\nk1 {NEW}", "key id 'k1' appears twice"),
        (f"k1 {OLD}\nk2 {OLD}", "key 'k2' repeats another key's secret"),
        ("k1", "line 1: expected `<kid> <key>`"),
        ("# nothing\n", "no keys"),
    ],
)
def test_a_bad_ring_is_refused_naming_the_setting_and_never_the_secret(
    text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=r"^NUDGE_SECRET_KEYS_FILE") as refused:
        MasterKeyRing.parse(text, "NUDGE_SECRET_KEYS_FILE")
    assert message in str(refused.value)
    assert OLD not in str(refused.value) and "short-secret" not in str(refused.value)


def test_rotating_puts_a_new_key_first_and_keeps_the_old_ones() -> None:
    before = ring(("k1", OLD))
    after = before.rotated(MasterKey.generate("k2"))
    assert after.kids == ("k2", "k1")
    assert len(after.active.secret.get_secret_value()) >= 32
    assert after.get("k1") == before.get("k1")
    with pytest.raises(ValueError, match="appears twice"):
        after.rotated(MasterKey.generate("k1"))


def test_retiring_removes_an_old_key_but_never_the_active_one() -> None:
    both = ring(("k2", NEW), ("k1", OLD))
    assert both.without("k1").kids == ("k2",)
    with pytest.raises(ValueError, match="'k2' is the active key"):
        both.without("k2")
    with pytest.raises(ValueError, match="no key 'k9'"):
        both.without("k9")


def test_a_new_key_id_is_todays_date_made_unique() -> None:
    day = datetime(2026, 11, 25, tzinfo=UTC)
    assert default_kid(("k0",), day) == "k20261125"
    assert default_kid(("k20261125", "k20261125-2"), day) == "k20261125-3"


def test_a_ring_file_is_written_for_its_owner_only_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ring"
    write_ring_file(path, ring(("k2", NEW), ("k1", OLD)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = read_ring_file(path, "NUDGE_SECRET_KEYS_FILE")
    assert again.kids == ("k2", "k1")
    assert again.get("k1") == MasterKey("k1", SecretStr(OLD))
    assert [p.name for p in path.parent.iterdir()] == ["ring"]  # no temporary file left


def test_one_key_as_before_is_a_ring_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_SECRET_KEY", OLD)
    single = SecretKeySettings().ring()
    assert single.kids == (SINGLE_KEY_KID,)
    assert single.active.secret.get_secret_value() == OLD


def test_the_key_file_as_the_local_stack_writes_it_still_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "secret.key").write_text(OLD + "\n")
    monkeypatch.setenv("NUDGE_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    assert SecretKeySettings().ring().active == MasterKey(SINGLE_KEY_KID, SecretStr(OLD))


def test_the_ring_file_wins_over_a_single_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "ring").write_text(f"k2 {NEW}\nk0 {OLD}\n")
    monkeypatch.setenv("NUDGE_SECRET_KEY", OLD)
    monkeypatch.setenv("NUDGE_SECRET_KEYS_FILE", str(tmp_path / "ring"))
    assert SecretKeySettings().ring().kids == ("k2", "k0")


def test_missing_or_short_master_keys_are_start_errors_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="set NUDGE_SECRET_KEYS_FILE"):
        SecretKeySettings().ring()
    monkeypatch.setenv("NUDGE_SECRET_KEY", "too-short")
    with pytest.raises(ValueError, match=r"^NUDGE_SECRET_KEY: key 'k0' must be at least 32"):
        SecretKeySettings().ring()
    monkeypatch.setenv("NUDGE_SECRET_KEYS_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match=r"^NUDGE_SECRET_KEYS_FILE .*cannot read"):
        SecretKeySettings().ring()


def test_link_keys_print_and_read_back_as_dispatch_takes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    links = ring(("k2", NEW), ("k1", OLD)).link_keys()
    text = links.to_text()
    assert text.splitlines()[0].startswith("k2 ") and OLD not in text and NEW not in text
    assert LinkKeys.parse(text, "x") == links
    assert LinkKeys.parse(text.replace("\n", ",").rstrip(","), "x") == links
    monkeypatch.setenv("NUDGE_LINK_KEYS", text)
    assert LinkKeySettings().keys() == links


def test_link_keys_are_not_the_master_keys_nor_the_webhook_secret_keys() -> None:
    master = ring(("k1", OLD))
    link = master.link_keys().active.key
    assert link != master.active.derive(Purpose.WEBHOOK_SECRETS)
    assert link not in OLD.encode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1 not-base64-at-all!", "key 'k1' is not a 32-byte key"),
        ("k1 AAAA", "key 'k1' is not a 32-byte key"),
        (f"k1 {OLD}", "key 'k1' is not a 32-byte key"),  # a master key where a link key goes
        ("Bad-Kid AAAA", "key id 'Bad-Kid' must be"),
        ("", "no keys"),
    ],
)
def test_bad_link_keys_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setenv("NUDGE_LINK_KEYS", text)
    with pytest.raises(ValueError, match=r"^NUDGE_LINK_KEYS") as refused:
        LinkKeySettings().keys()
    assert message in str(refused.value)


def test_link_keys_duplicated_ids_are_refused() -> None:
    text = ring(("k1", OLD)).link_keys().to_text()
    with pytest.raises(ValueError, match="appears twice"):
        LinkKeys.parse(text + text, "NUDGE_LINK_KEYS")


def test_no_link_keys_is_an_error_that_says_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"NUDGE_LINK_KEYS.*nudge keys derive links"):
        LinkKeySettings().keys()
    monkeypatch.setenv("NUDGE_LINK_KEYS_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match=r"^NUDGE_LINK_KEYS_FILE .*cannot read"):
        LinkKeySettings().keys()
