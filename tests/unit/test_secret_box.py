"""Webhook secrets at rest: sealed under the active key with its id, opened with the key the id
names, values sealed before key ids still open, and a key taken away is a clear error."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from shared.credentials import SecretBox
from shared.keyring import MasterKey, MasterKeyRing

LEGACY_KEY = "legacy-master-key-0123456789abcdefghij"
LEGACY_SEALED = (
    "gAAAAABrFhqHcoL_rtJSEnJ__me7NtyC2IGyPUT3XTFURTkfCMas03brq3QStK94kZcPfHt6PmAYlW2VaBYSVLRDCgvr"
    "rTyqDup6CSOqJhto9Da7eliO4JE="
)
"""`whsec_sealed-before-key-ids` as the SecretBox before key ids sealed it under LEGACY_KEY."""
NEW_KEY = "new-master-key-0123456789abcdefghijkl"
SECRET = SecretStr("whsec_0123456789")


def ring(*entries: tuple[str, str]) -> MasterKeyRing:
    return MasterKeyRing(tuple(MasterKey(k, SecretStr(v)) for k, v in entries), "the ring")


def test_a_sealed_secret_names_the_active_key_and_opens_again() -> None:
    box = SecretBox(ring(("k1", LEGACY_KEY)))
    sealed = box.seal(SECRET)
    assert sealed.startswith("k1:")
    assert SECRET.get_secret_value() not in sealed
    assert box.open(sealed) == SECRET
    assert box.sealed_with(sealed) == "k1" and box.is_current(sealed)


def test_a_value_sealed_before_key_ids_still_opens() -> None:
    box = SecretBox(MasterKeyRing.single(SecretStr(LEGACY_KEY), "NUDGE_SECRET_KEY"))
    assert box.open(LEGACY_SEALED).get_secret_value() == "whsec_sealed-before-key-ids"
    assert box.sealed_with(LEGACY_SEALED) == "k0"
    assert not box.is_current(LEGACY_SEALED)  # reseal rewrites it with the key id


def test_after_rotation_old_values_open_and_new_ones_use_the_new_key() -> None:
    before = ring(("k1", LEGACY_KEY))
    old = SecretBox(before).seal(SECRET)
    after = SecretBox(before.rotated(MasterKey("k2", SecretStr(NEW_KEY))))
    assert after.open(old) == SECRET
    assert after.open(LEGACY_SEALED).get_secret_value() == "whsec_sealed-before-key-ids"
    assert after.sealed_with(LEGACY_SEALED) == "k1"  # the old key was the legacy master key
    new = after.seal(SECRET)
    assert new.startswith("k2:") and after.is_current(new) and not after.is_current(old)
    assert after.open(new) == SECRET


def test_a_value_whose_key_left_the_ring_is_a_clear_error() -> None:
    old = SecretBox(ring(("k1", LEGACY_KEY))).seal(SECRET)
    retired = SecretBox(ring(("k2", NEW_KEY)))
    with pytest.raises(ValueError, match=r"sealed with key 'k1', which is not in the ring"):
        retired.open(old)
    with pytest.raises(ValueError, match="no key in the ring is the master key"):
        retired.open(LEGACY_SEALED)


def test_a_key_id_with_another_secret_behind_it_is_refused() -> None:
    sealed = SecretBox(ring(("k1", LEGACY_KEY))).seal(SECRET)
    impostor = SecretBox(ring(("k1", NEW_KEY)))
    with pytest.raises(ValueError, match="cannot decrypt a value sealed with key 'k1'"):
        impostor.open(sealed)


def test_purposes_do_not_mix_a_link_key_opens_no_secret() -> None:
    """The webhook-secret key is not the link key dispatch holds (nor the master key)."""
    keys = ring(("k1", LEGACY_KEY))
    sealed = SecretBox(keys).seal(SECRET)
    link_key = keys.link_keys().active.key
    with pytest.raises(InvalidToken):
        Fernet(base64.urlsafe_b64encode(link_key)).decrypt(sealed.partition(":")[2])
