"""API keys as ingest and feedback's reports check them: Bearer or Basic, constant-time against
the registry's hashes, from a snapshot refreshed in the background and reloaded on a miss."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pytest
from starlette.requests import Request

from shared.credentials import issue_api_key
from shared.http.api_keys import CredentialCache, key_owner, presented_key
from shared.http.problems import Problem


@dataclass
class Snapshot:
    key_hashes: dict[str, tuple[str, str]] = field(default_factory=dict)


def request(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "headers": headers})


def test_the_key_comes_as_bearer_or_as_basic_user_name() -> None:
    assert presented_key(request("Bearer nk_abc")) == "nk_abc"
    basic = base64.b64encode(b"nk_abc:ignored").decode()
    assert presented_key(request(f"Basic {basic}")) == "nk_abc"
    for bad in (
        None,
        "Bearer ",
        "Token nk_abc",
        "Basic %%%",
        f"Basic {base64.b64encode(b':x').decode()}",
    ):
        with pytest.raises(Problem) as refused:
            presented_key(request(bad))
        assert refused.value.status == 401, bad


def test_a_key_is_its_shops_only_when_its_hash_matches() -> None:
    issued = issue_api_key()
    key = issued.key.get_secret_value()
    hashes = {issued.key_id: ("acme", issued.key_hash)}
    assert key_owner(key, hashes) == "acme"
    assert key_owner(key + "x", hashes) is None
    assert key_owner(key, {}) is None
    assert key_owner("nk_short", hashes) is None


async def test_an_unknown_key_reloads_the_snapshot_once_and_is_then_known() -> None:
    issued = issue_api_key()
    held = Snapshot()
    loads = 0

    async def load() -> Snapshot:
        nonlocal loads
        loads += 1
        return Snapshot(dict(held.key_hashes))

    cache: CredentialCache[Snapshot] = CredentialCache(load, refresh_s=60)
    with pytest.raises(Problem) as refused:
        cache.current()
    assert refused.value.status == 503  # nothing loaded yet
    await cache.refresh()
    held.key_hashes[issued.key_id] = ("acme", issued.key_hash)
    _snapshot, shop = await cache.owner_of(issued.key.get_secret_value())
    assert shop == "acme" and loads == 2
    await cache.owner_of(issued.key.get_secret_value())
    assert loads == 2  # known now: no reload
