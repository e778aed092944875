"""`nudge`: one command for every service and operator tool.

nudge ingest                 run the ingest API
nudge worker triggers        run a triggers worker (Faust)
nudge dispatch               run the dispatcher (email and SMS)
nudge topics create|list     create the declared topics / show them
nudge tail TOPIC             print records as they arrive
nudge shops add|rotate|list  manage shops and their credentials
nudge db migrate             apply the schema migrations
nudge schemas export         write the JSON Schemas and the OpenAPI document
nudge wait kafka|postgres    block until a dependency answers (init containers, scripts)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from shared.tenancy import ShopRegistry

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
topics_app = typer.Typer(no_args_is_help=True, help="Kafka topics declared in shared/topics.py")
shops_app = typer.Typer(no_args_is_help=True, help="Shops, API keys and webhook secrets")
db_app = typer.Typer(no_args_is_help=True, help="The PostgreSQL schema")
schemas_app = typer.Typer(no_args_is_help=True, help="Published schemas (JSON Schema, OpenAPI)")
wait_app = typer.Typer(no_args_is_help=True, help="Wait for a dependency to answer")
worker_app = typer.Typer(no_args_is_help=True, help="Stream-processing workers")
app.add_typer(topics_app, name="topics")
app.add_typer(shops_app, name="shops")
app.add_typer(db_app, name="db")
app.add_typer(schemas_app, name="schemas")
app.add_typer(wait_app, name="wait")
app.add_typer(worker_app, name="worker")


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(1)


@app.command()
def ingest(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
) -> None:
    """Run the ingest API (settings: NUDGE_INGEST_*, KAFKA_*, DATABASE_URL)."""
    from services.ingest.server import serve
    from services.ingest.settings import IngestSettings

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    serve(IngestSettings(**overrides))  # type: ignore[arg-type]


@app.command()
def dispatch() -> None:
    """Run the dispatcher (settings: NUDGE_DISPATCH_*, NUDGE_SMTP_*, NUDGE_TWILIO_*, ...)."""
    from services.dispatch.service import run

    run()


@worker_app.command("triggers")
def worker_triggers() -> None:
    """Run a triggers worker (settings: NUDGE_TRIGGERS_*, KAFKA_*)."""
    from services.triggers.settings import TriggersSettings
    from services.triggers.worker import run
    from shared.settings import KafkaSettings

    run(TriggersSettings(), KafkaSettings())


@topics_app.command("create")
def topics_create(
    partitions: Annotated[
        int | None, typer.Option(help="override every topic's partition count")
    ] = None,
    replication_factor: Annotated[int, typer.Option()] = 1,
) -> None:
    """Create every declared topic that does not exist yet."""
    from shared.kafka import create_topics
    from shared.settings import KafkaSettings

    for outcome in create_topics(
        KafkaSettings(), partitions=partitions, replication_factor=replication_factor
    ):
        verb = "created" if outcome.created else "kept"
        typer.echo(f"{verb:8} {outcome.name} ({outcome.detail})")


@topics_app.command("list")
def topics_list() -> None:
    """Show the declared topics with their settings and keys."""
    from shared.topics import ALL_TOPICS

    for spec in ALL_TOPICS:
        typer.echo(
            f"{spec.name:24} {spec.partitions:3}p {spec.cleanup_policy:8} {spec.description}"
        )


@app.command()
def tail(
    topics: Annotated[list[str], typer.Argument(help="one or more topic names")],
    from_beginning: Annotated[bool, typer.Option(help="start at the oldest record")] = False,
    limit: Annotated[int | None, typer.Option(help="stop after this many records")] = None,
    raw: Annotated[bool, typer.Option(help="print the record values unchanged")] = False,
) -> None:
    """Print records of TOPICS as they arrive (no consumer group: offsets stay untouched)."""
    from services.record_summary import describe
    from shared.kafka import tail as tail_records
    from shared.settings import KafkaSettings
    from shared.topics import topic_by_name

    try:
        for topic in topics:
            topic_by_name(topic)
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None

    async def run() -> None:
        seen = 0
        async for topic, partition, offset, key, value in tail_records(
            KafkaSettings(), topics, from_beginning=from_beginning
        ):
            where = f"{topic}/{partition}@{offset}" if len(topics) > 1 else f"p{partition}@{offset}"
            text = (value or b"").decode(errors="replace")
            typer.echo(text if raw else describe(where, key, value))
            seen += 1
            if limit is not None and seen >= limit:
                return

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def _registry() -> tuple[AsyncEngine, ShopRegistry]:
    from shared.credentials import SecretBox
    from shared.db.engine import make_engine
    from shared.settings import DatabaseSettings, SecretKeySettings
    from shared.tenancy import ShopRegistry

    try:
        box = SecretBox(SecretKeySettings().key())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    engine = make_engine(DatabaseSettings())
    return engine, ShopRegistry(engine, box)


@shops_app.command("add")
def shops_add(
    shop_id: str,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    shopify_domain: Annotated[
        str | None, typer.Option(help="the shop's myshopify.com domain, for webhooks")
    ] = None,
    rate_limit: Annotated[int, typer.Option(help="events per second")] = 5000,
    require_signature: Annotated[
        bool, typer.Option(help="refuse native requests without a Nudge-Signature")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print credentials as JSON")] = False,
) -> None:
    """Register a shop; prints its API key and webhook secret once (only hashes are kept)."""
    from shared.tenancy import ShopError

    async def run() -> None:
        engine, registry = _registry()
        try:
            creds = await registry.add(
                shop_id,
                name or shop_id,
                shopify_domain=shopify_domain,
                rate_limit_per_s=rate_limit,
                require_signature=require_signature,
            )
        except ShopError as exc:
            raise _fail(str(exc)) from None
        finally:
            await engine.dispose()
        _print_credentials(creds.shop_id, creds.api_key, creds.webhook_secret, as_json)

    asyncio.run(run())


@shops_app.command("rotate")
def shops_rotate(
    shop_id: str,
    grace_minutes: Annotated[
        int, typer.Option(help="how long the old key and secret keep working")
    ] = 60,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issue a new API key and webhook secret; the old ones expire after the grace period."""
    from shared.tenancy import ShopError

    async def run() -> None:
        engine, registry = _registry()
        try:
            creds = await registry.rotate(shop_id, grace=timedelta(minutes=grace_minutes))
        except ShopError as exc:
            raise _fail(str(exc)) from None
        finally:
            await engine.dispose()
        _print_credentials(creds.shop_id, creds.api_key, creds.webhook_secret, as_json)

    asyncio.run(run())


def _print_credentials(shop_id: str, api_key: object, secret: object, as_json: bool) -> None:
    key = api_key.get_secret_value()  # type: ignore[attr-defined]
    whsec = secret.get_secret_value()  # type: ignore[attr-defined]
    if as_json:
        typer.echo(json.dumps({"shop_id": shop_id, "api_key": key, "webhook_secret": whsec}))
        return
    typer.echo(f"shop:           {shop_id}")
    typer.echo(f"api key:        {key}")
    typer.echo(f"webhook secret: {whsec}")
    typer.echo("Store both now: Nudge keeps only a hash of the key and an encrypted secret.")


@shops_app.command("set-shopify-secret")
def shops_set_shopify_secret(shop_id: str) -> None:
    """Store the secret Shopify signs the shop's webhooks with, read from standard input.

    That is the app's client secret, or the key shown under Settings > Notifications >
    Webhooks in the shop's admin. Read from stdin so it stays out of shell history.
    """
    from pydantic import SecretStr

    from shared.tenancy import ShopError

    if sys.stdin.isatty():
        secret = typer.prompt("Shopify webhook secret", hide_input=True)
    else:
        secret = sys.stdin.readline().strip()

    async def run() -> None:
        engine, registry = _registry()
        try:
            await registry.set_shopify_secret(shop_id, SecretStr(secret))
        except ShopError as exc:
            raise _fail(str(exc)) from None
        finally:
            await engine.dispose()
        typer.echo(f"Shopify webhooks of {shop_id} are now verified with the stored secret")

    asyncio.run(run())


@shops_app.command("list")
def shops_list() -> None:
    """Show the shops (never their credentials)."""

    async def run() -> None:
        engine, registry = _registry()
        try:
            shops = await registry.list()
        finally:
            await engine.dispose()
        for s in shops:
            signed = "signed" if s.require_signature else "-"
            typer.echo(
                f"{s.shop_id:20} {s.name:24} {s.shopify_domain or '-':32} "
                f"{s.rate_limit_per_s:>6}/s keys={s.active_keys} {signed}"
            )

    asyncio.run(run())


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply all schema migrations to DATABASE_URL."""
    from shared.db.migrate import upgrade_to_head

    upgrade_to_head()
    typer.echo("database schema is up to date")


@schemas_app.command("export")
def schemas_export(
    check: Annotated[bool, typer.Option(help="fail if the committed files differ")] = False,
) -> None:
    """Write the topics' JSON Schemas and the ingest OpenAPI document into the tree."""
    from services.schema_docs import published_documents

    stale = []
    for path, text in published_documents().items():
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            typer.echo(f"wrote {path}")
    if stale:
        names = ", ".join(str(p) for p in stale)
        raise _fail(f"out of date (run `nudge schemas export`): {names}")


@wait_app.command("kafka")
def wait_kafka(timeout: Annotated[float, typer.Option(help="seconds")] = 60.0) -> None:
    """Wait until the broker answers a metadata request."""
    from shared.readiness import wait_for_kafka
    from shared.settings import KafkaSettings

    try:
        wait_for_kafka(KafkaSettings().bootstrap_servers, timeout)
    except TimeoutError as exc:
        raise _fail(str(exc)) from None


@wait_app.command("postgres")
def wait_postgres(timeout: Annotated[float, typer.Option(help="seconds")] = 60.0) -> None:
    """Wait until PostgreSQL accepts a connection and answers a query."""
    from shared.readiness import wait_for_postgres
    from shared.settings import DatabaseSettings

    url = DatabaseSettings().url.get_secret_value().replace("+asyncpg", "")
    try:
        wait_for_postgres(url, timeout)
    except TimeoutError as exc:
        raise _fail(str(exc)) from None


def main() -> None:
    app(prog_name="nudge")


if __name__ == "__main__":
    main()
