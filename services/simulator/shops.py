"""The simulated shops: which format each speaks, and credentials ingest knows them by.

`nudge simulate` registers its shops through the same registry as `nudge shops add`. Nudge
keeps only a hash of an API key, so credentials of a shop registered earlier are taken from
a credentials file when one is given (and written to it when they are new); without one, an
existing shop gets fresh credentials by rotation, its old ones kept for a grace period.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from services.simulator.formats import Format, ShopKeys
from shared.tenancy import SHOP_ID_PATTERN, ShopRegistry

DEFAULT_SHOPS: Final = "sim-shopify=shopify,sim-segment=segment,sim-native=native"
ROTATION_GRACE: Final = timedelta(hours=1)
RATE_LIMIT_PER_S: Final = 100_000
"""Ingest's per-shop limit for the shops the simulator registers: high, so that `--rate`
decides the pace (a shop registered by hand keeps its own)."""


class ShopsError(ValueError):
    """A `--shops` list or credentials file that cannot be used; says which and why."""


@dataclass(frozen=True)
class Registered:
    keys: dict[str, ShopKeys]
    added: tuple[str, ...] = ()
    rotated: tuple[str, ...] = ()


def parse_shops(text: str) -> tuple[tuple[str, Format], ...]:
    """`id=format,...` (formats: shopify, segment, native) as (shop id, format) pairs."""
    found: dict[str, Format] = {}
    formats = ", ".join(f.value for f in Format)
    for entry in text.split(","):
        shop_id, sep, name = entry.strip().partition("=")
        shop_id = shop_id.strip()
        if not sep or not shop_id:
            raise ShopsError(f"--shops: {entry.strip()!r} is not SHOP_ID=FORMAT")
        if not SHOP_ID_PATTERN.match(shop_id):
            raise ShopsError(
                f"--shops: {shop_id!r} is not a shop id (2-63 characters: lower-case letters,"
                " digits, '-' or '_')"
            )
        try:
            found[shop_id] = Format(name.strip().lower())
        except ValueError:
            raise ShopsError(
                f"--shops: {name.strip()!r} is not a format; one of {formats}"
            ) from None
    if not found:
        raise ShopsError("--shops: name at least one shop")
    return tuple(found.items())


def read_credentials(path: Path) -> dict[str, tuple[str, str]]:
    """shop id -> (API key, webhook secret) from `{"shops": [{shop_id, api_key,
    webhook_secret}]}`, or from JSON Lines as `nudge shops add --json` prints them."""
    text = path.read_text()
    try:
        document = json.loads(text)
        entries: list[Any] = document["shops"] if isinstance(document, dict) else []
    except (json.JSONDecodeError, KeyError):
        try:
            entries = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ShopsError(f"{path}: not JSON ({exc})") from None
    found: dict[str, tuple[str, str]] = {}
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("shop_id", "api_key", "webhook_secret")
        ):
            raise ShopsError(
                f"{path}: entry {number} needs text fields shop_id, api_key, webhook_secret"
            )
        found[entry["shop_id"]] = (entry["api_key"], entry["webhook_secret"])
    return found


def write_credentials(path: Path, keys: Iterable[ShopKeys]) -> None:
    """The credentials file, readable by its owner only (it holds live API keys)."""
    shops = [
        {"shop_id": k.shop_id, "api_key": k.api_key, "webhook_secret": k.webhook_secret}
        for k in keys
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"shops": shops}, out, indent=2)
        out.write("\n")


async def register(
    registry: ShopRegistry,
    wanted: tuple[tuple[str, Format], ...],
    known: Mapping[str, tuple[str, str]],
) -> Registered:
    """Credentials for every wanted shop: `known` ones as given, the others added to the
    registry, or rotated when the shop exists already."""
    existing = {shop.shop_id: shop for shop in await registry.list()}
    for shop_id, fmt in wanted:
        summary = existing.get(shop_id)
        if summary is None:
            continue
        if summary.require_signature and fmt is not Format.SHOPIFY:
            raise ShopsError(
                f"shop {shop_id} requires a Nudge-Signature, which the simulator does not send;"
                " name another shop in --shops"
            )
        if fmt is Format.SHOPIFY and summary.shopify_domain != f"{shop_id}.myshopify.com":
            raise ShopsError(
                f"shop {shop_id} exists without the Shopify domain {shop_id}.myshopify.com that"
                " the simulator's webhooks name; name another shop in --shops"
            )
    keys: dict[str, ShopKeys] = {}
    added: list[str] = []
    rotated: list[str] = []
    for shop_id, fmt in wanted:
        if shop_id in known:
            api_key, secret = known[shop_id]
            keys[shop_id] = ShopKeys(shop_id, fmt, api_key, secret)
            continue
        if shop_id in existing:
            creds = await registry.rotate(shop_id, grace=ROTATION_GRACE)
            rotated.append(shop_id)
        else:
            domain = f"{shop_id}.myshopify.com" if fmt is Format.SHOPIFY else None
            creds = await registry.add(
                shop_id,
                f"Simulated {fmt.value} shop",
                shopify_domain=domain,
                rate_limit_per_s=RATE_LIMIT_PER_S,
            )
            added.append(shop_id)
        keys[shop_id] = ShopKeys(
            shop_id, fmt, creds.api_key.get_secret_value(), creds.webhook_secret.get_secret_value()
        )
    return Registered(keys, tuple(added), tuple(rotated))
