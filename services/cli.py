"""`nudge`: one command for every service and operator tool.

nudge ingest                 run the ingest API
nudge worker triggers        run a triggers worker (Faust)
nudge worker segmenter       run a segmenter worker (Faust)
nudge dispatch               run the dispatcher (email and SMS)
nudge feedback               run the feedback service (unsubscribes, replies, callbacks)
nudge segmenter-api          run the segmenter's read API (profiles, segments, members)
nudge topics create|list     create the declared topics / show them on the cluster
nudge tail TOPIC...          print records as they arrive, or from a start, filtered
nudge dlq list|show|replay   read dead letters; publish them to their source again after a fix
nudge shops add|rotate|list  manage shops and their credentials
nudge contacts unsuppress    lift an email address's suppressions (bounces, complaints), audited
nudge reports url SHOP       a signed, expiring link to a shop's (or a campaign's) report page
nudge keys rotate|reseal|retire|list|derive  master keys and the keys derived from them
nudge db migrate             apply the schema migrations
nudge db wait                block until the schema is at this release's migrations (or newer)
nudge schemas export         write the JSON Schemas and the OpenAPI documents
nudge schemas asyncapi       write the AsyncAPI catalog of the topics (docs/asyncapi/)
nudge wait kafka|postgres    block until a dependency answers (init containers, scripts)
nudge simulate               send a seeded population of simulated shoppers to ingest
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from shared.keyring import MasterKeyRing
    from shared.settings import SecretKeySettings
    from shared.tenancy import ShopRegistry

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
topics_app = typer.Typer(no_args_is_help=True, help="Kafka topics declared in shared/topics.py")
shops_app = typer.Typer(no_args_is_help=True, help="Shops, API keys and webhook secrets")
keys_app = typer.Typer(no_args_is_help=True, help="Master keys, their rotation, derived keys")
db_app = typer.Typer(no_args_is_help=True, help="The PostgreSQL schema")
schemas_app = typer.Typer(no_args_is_help=True, help="Published schemas (JSON Schema, OpenAPI)")
wait_app = typer.Typer(no_args_is_help=True, help="Wait for a dependency to answer")
worker_app = typer.Typer(no_args_is_help=True, help="Stream-processing workers")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: read them, replay them")
contacts_app = typer.Typer(no_args_is_help=True, help="Contacts: suppressed email addresses")
reports_app = typer.Typer(no_args_is_help=True, help="Campaign reports (the feedback service)")
app.add_typer(topics_app, name="topics")
app.add_typer(shops_app, name="shops")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(schemas_app, name="schemas")
app.add_typer(wait_app, name="wait")
app.add_typer(worker_app, name="worker")
app.add_typer(dlq_app, name="dlq")
app.add_typer(contacts_app, name="contacts")
app.add_typer(reports_app, name="reports")


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


@app.command()
def feedback() -> None:
    """Run the feedback service (settings: NUDGE_FEEDBACK_*, NUDGE_LINK_KEYS, KAFKA_*, ...)."""
    from services.feedback.server import serve

    serve()


@app.command("segmenter-api")
def segmenter_api() -> None:
    """Run the segmenter's read API (settings: NUDGE_SEGMENTER_API_*, KAFKA_*, DATABASE_URL)."""
    from services.segmenter.api.server import serve

    serve()


@worker_app.command("triggers")
def worker_triggers() -> None:
    """Run a triggers worker (settings: NUDGE_TRIGGERS_*, KAFKA_*)."""
    from services.triggers.settings import TriggersSettings
    from services.triggers.worker import run
    from shared.settings import KafkaSettings

    run(TriggersSettings(), KafkaSettings())


@worker_app.command("segmenter")
def worker_segmenter() -> None:
    """Run a segmenter worker (settings: NUDGE_SEGMENTER_*, KAFKA_*)."""
    from services.segmenter.settings import SegmenterSettings
    from services.segmenter.worker import run
    from shared.settings import KafkaSettings

    run(SegmenterSettings(), KafkaSettings())


@topics_app.command("create")
def topics_create(
    partitions: Annotated[
        int | None, typer.Option(help="override every topic's partition count")
    ] = None,
    replication_factor: Annotated[int, typer.Option()] = 1,
) -> None:
    """Create every declared topic that does not exist yet, and bring the declared settings
    of those that exist in line (partition counts are reported, never changed)."""
    from shared.kafka import create_topics
    from shared.settings import KafkaSettings

    failed = False
    for outcome in create_topics(
        KafkaSettings(), partitions=partitions, replication_factor=replication_factor
    ):
        verb = "created" if outcome.created else "updated" if outcome.changes else "kept"
        typer.echo(f"{verb:8} {outcome.name} ({outcome.detail})")
        for change in outcome.changes:
            typer.echo(f"{'':8}   {change.name}: {change.was} -> {change.now}")
        if outcome.mismatch:
            typer.secho(f"{'':8}   partitions: {outcome.mismatch}", fg=typer.colors.YELLOW)
        if outcome.error:
            typer.secho(f"{'':8}   {outcome.error}", fg=typer.colors.RED, err=True)
            failed = True
    if failed:
        raise typer.Exit(1)


class OutputFormat(StrEnum):
    """How `tail` and `topics list` print: lines for people, or JSON Lines for programs."""

    TEXT = "text"
    JSON = "json"


def _bad(option: str, message: str) -> typer.BadParameter:
    """A refused value: click prints it naming the option and exits with status 2."""
    return typer.BadParameter(message, param_hint=f"'{option}'")


@topics_app.command("list")
def topics_list(
    sample: Annotated[
        float,
        typer.Option(
            min=0, max=60, help="seconds between the two end-offset samples of the rate (0: skip)"
        ),
    ] = 1.0,
    output: Annotated[OutputFormat, typer.Option(help="text, or json (JSON Lines)")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """Every declared topic as the cluster has it: partitions, cleanup policy, retention, the
    sum of the end offsets and the current rate; marks a topic that is missing, or whose
    partitions or settings differ from shared/topics.py (KAFKA_* settings, as the services)."""
    from kafka.errors import KafkaError

    from services.analyst.topic_stats import inspect, json_row, text_rows
    from shared.settings import KafkaSettings

    try:
        rows = inspect(KafkaSettings(), sample_s=sample)
    except KafkaError as exc:
        raise _fail(f"the cluster did not answer: {exc!r}") from None
    if output is OutputFormat.JSON:
        for row in rows:
            typer.echo(json.dumps(json_row(row), separators=(",", ":")))
        return
    for line in text_rows(rows):
        typer.echo(line)


@app.command()
def tail(
    topics: Annotated[
        list[str], typer.Argument(metavar="TOPIC", help="one or more declared topic names")
    ],
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="WHERE",
            help="beginning, latest (the default), a time (ISO 8601, UTC without an offset) "
            "or an age such as 15m, 2h, 1d",
        ),
    ] = None,
    shop: Annotated[
        list[str] | None, typer.Option(help="only this shop's records (repeatable)")
    ] = None,
    customer: Annotated[
        list[str] | None,
        typer.Option(help="only this customer's records: the id, or anon:<visitor> (repeatable)"),
    ] = None,
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="only these event types; globs such as order.* (repeatable)"),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option(help="text (one summary line), or json (JSON Lines)")
    ] = OutputFormat.TEXT,
    limit: Annotated[
        int | None, typer.Option(min=1, help="stop after this many records (after filters)")
    ] = None,
    until_end: Annotated[
        bool, typer.Option(help="stop at the end offsets as of the start instead of following")
    ] = False,
    raw: Annotated[bool, typer.Option(help="text output: the record values unchanged")] = False,
    from_beginning: Annotated[
        bool, typer.Option(hidden=True, help="deprecated: --from beginning")
    ] = False,
) -> None:
    """Print records of TOPICS as they arrive, or from --from on (no consumer group: no
    offsets move). Shop and customer are matched on the record key, so other records are
    skipped unparsed. Connects with the KAFKA_* settings, as the services do."""
    from datetime import UTC, datetime

    from kafka.errors import KafkaError

    from services.analyst.errors import BadOption
    from services.analyst.filters import build_filter
    from services.analyst.records import json_line, select
    from services.analyst.start import StartPosition, parse_start
    from services.record_summary import describe, describe_parsed
    from shared.kafka import TopicNotOnCluster
    from shared.kafka import tail as tail_records
    from shared.settings import KafkaSettings
    from shared.topics import topic_by_name

    try:
        for topic in topics:
            topic_by_name(topic)
    except KeyError as exc:
        raise _bad("TOPIC", str(exc.args[0])) from None
    if from_beginning:
        if start is not None:
            raise _bad("--from-beginning", "give --from beginning alone (it replaces this)")
        typer.secho("--from-beginning is deprecated: use --from beginning", err=True)
    if raw and output is OutputFormat.JSON:
        raise _bad("--raw", "prints values as text: leave it out with --output json")
    try:
        position = (
            StartPosition("beginning")
            if from_beginning
            else parse_start(start or "latest", datetime.now(UTC))
        )
        wanted = build_filter(shop or (), customer or (), event_type or ())
    except BadOption as exc:
        raise _bad(exc.option, exc.message) from None

    records = tail_records(KafkaSettings(), topics, start=position.for_tail(), until_end=until_end)
    seen = 0
    try:
        for record, decoded in select(records, wanted):
            if output is OutputFormat.JSON:
                typer.echo(json_line(record, decoded))
            elif raw:
                typer.echo((record.value or b"").decode(errors="replace"))
            else:
                where = (
                    f"{record.topic}/{record.partition}@{record.offset}"
                    if len(topics) > 1
                    else f"p{record.partition}@{record.offset}"
                )
                typer.echo(
                    describe_parsed(where, record.key, record.value, decoded.value)
                    if decoded.is_json
                    else describe(where, record.key, record.value)
                )
            seen += 1
            if limit is not None and seen >= limit:
                break
    except TopicNotOnCluster as exc:
        raise _bad(
            "TOPIC", f"{exc.topic} is not on the cluster, or not visible with these credentials"
        ) from None
    except KafkaError as exc:
        raise _fail(f"the cluster did not answer: {exc!r}") from None
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # a reader such as `head` went away: stop quietly
        with contextlib.suppress(OSError, ValueError):  # no second error flushing at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        records.close()


DlqTopic = Annotated[
    str, typer.Argument(help="a dead-letter topic, or the topic whose dead letters to read")
]


@dlq_app.command("list")
def dlq_list(
    topic: DlqTopic,
    service: Annotated[str | None, typer.Option(help="only letters this service parked")] = None,
    since: Annotated[
        str | None, typer.Option(help="parked at or after: a time (ISO 8601) or an age (2h, 7d)")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="at most this many (oldest first)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """One line per letter, oldest first: position, parked at, service, source, key, reason.

    Reads the topic from its beginning to its current end, without a consumer group."""
    from services import dead_letter_tool as dlq
    from shared.settings import KafkaSettings

    try:
        name = dlq.resolve_topic(topic)
        after = dlq.parse_since(since) if since is not None else None
        letters = dlq.select(dlq.read_letters(KafkaSettings(), name), service=service, since=after)
    except dlq.DeadLetterToolError as exc:
        raise _fail(str(exc)) from None
    for stored in dlq.by_time(letters)[:limit]:
        typer.echo(json.dumps(dlq.as_json(stored)) if as_json else dlq.list_line(stored))


@dlq_app.command("show")
def dlq_show(
    topic: DlqTopic,
    position: Annotated[str, typer.Argument(metavar="PARTITION:OFFSET")],
    as_json: Annotated[bool, typer.Option("--json", help="the letter as JSON")] = False,
) -> None:
    """The whole letter; its payload decoded, and pretty-printed when it is JSON."""
    from services import dead_letter_tool as dlq
    from shared.settings import KafkaSettings

    try:
        name = dlq.resolve_topic(topic)
        partition, offset = dlq.parse_position(position)
        stored = dlq.read_letter(KafkaSettings(), name, partition, offset)
    except dlq.DeadLetterToolError as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps(dlq.as_json(stored), indent=2) if as_json else dlq.describe(name, stored))


@dlq_app.command("replay")
def dlq_replay(
    topic: DlqTopic,
    positions: Annotated[
        list[str] | None, typer.Argument(metavar="PARTITION:OFFSET", show_default=False)
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="every letter of the topic")] = False,
    service: Annotated[str | None, typer.Option(help="with --all: this service's only")] = None,
    since: Annotated[str | None, typer.Option(help="with --all: parked at or after")] = None,
    dry_run: Annotated[
        bool, typer.Option(help="say what would be replayed, publish nothing")
    ] = False,
) -> None:
    """Publish letters' original bytes, with their original keys, to their source topics.

    Each record keeps its id, so consumers take a replay as the same event: replaying twice is
    harmless. Letters stay on the topic; a record that is still bad is parked again."""
    from services import dead_letter_tool as dlq
    from shared.settings import KafkaSettings

    if bool(positions) == replay_all:
        raise _fail("name the letters to replay (PARTITION:OFFSET ...) or give --all, not both")
    if not replay_all and (service is not None or since is not None):
        raise _fail("--service and --since choose among all letters: use them with --all")
    kafka = KafkaSettings()
    try:
        name = dlq.resolve_topic(topic)
        dlq.check_replayable_topic(name)
        if replay_all:
            after = dlq.parse_since(since) if since is not None else None
            letters = dlq.select(dlq.read_letters(kafka, name), service=service, since=after)
        else:
            wanted = [dlq.parse_position(p) for p in positions or ()]
            letters = [dlq.read_letter(kafka, name, p, o) for p, o in dict.fromkeys(wanted)]
    except dlq.DeadLetterToolError as exc:
        raise _fail(str(exc)) from None
    outcomes = dlq.replay(kafka, letters, dry_run=dry_run)
    for outcome in outcomes:
        typer.echo(dlq.replay_line(outcome))
    typer.echo(dlq.replay_summary(name, outcomes, dry_run=dry_run))
    if any(outcome.status in dlq.FAILURES for outcome in outcomes):
        raise typer.Exit(1)


def _registry() -> tuple[AsyncEngine, ShopRegistry]:
    from shared.credentials import SecretBox
    from shared.db.engine import make_engine
    from shared.settings import DatabaseSettings, SecretKeySettings
    from shared.tenancy import ShopRegistry

    try:
        box = SecretBox(SecretKeySettings().ring())
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


def _master_keys() -> tuple[SecretKeySettings, MasterKeyRing]:
    from shared.settings import SecretKeySettings

    settings = SecretKeySettings()
    try:
        return settings, settings.ring()
    except ValueError as exc:
        raise _fail(str(exc)) from None


@keys_app.command("list")
def keys_list(
    sealed: Annotated[
        bool, typer.Option(help="also count the stored secrets sealed with each key")
    ] = False,
) -> None:
    """Show the master key ids, the active one first (never the keys)."""
    _settings, ring = _master_keys()
    counts: dict[str, int] = {}
    if sealed:

        async def count() -> dict[str, int]:
            engine, registry = _registry()
            try:
                return await registry.sealed_with()
            except ValueError as exc:
                raise _fail(str(exc)) from None
            finally:
                await engine.dispose()

        counts = asyncio.run(count())
    typer.echo(f"master keys from {ring.source}:")
    for n, key in enumerate(ring.keys):
        role = "active: seals and signs" if n == 0 else "opens and verifies"
        extra = f"  {counts.get(key.kid, 0)} secrets sealed" if sealed else ""
        typer.echo(f"  {key.kid:32} {role}{extra}")


@keys_app.command("rotate")
def keys_rotate(
    kid: Annotated[str | None, typer.Option(help="the new key's id (default k<yyyymmdd>)")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="the ring file to write (default: NUDGE_SECRET_KEYS_FILE, in place)"),
    ] = None,
) -> None:
    """Add a new active master key to the ring; the old ones stay to open and verify.

    Roll the new ring out to every service that holds it before sealing anything with it
    (`nudge keys reseal`, `nudge shops add|rotate`), and the new link keys to the services
    that verify links before those that sign them (README, "Rotating keys").
    """
    from shared.keyring import MasterKey, default_kid, write_ring_file

    settings, ring = _master_keys()
    target = out or settings.secret_keys_file
    if target is None:
        raise _fail(
            f"the master key comes from {ring.source}, not a ring file: name the file to "
            "write with --out, then set NUDGE_SECRET_KEYS_FILE to it"
        )
    current = settings.secret_keys_file
    if target.exists() and (current is None or target.resolve() != current.resolve()):
        raise _fail(f"{target} exists and is not NUDGE_SECRET_KEYS_FILE: not overwriting it")
    try:
        rotated = ring.rotated(MasterKey.generate(kid or default_kid(ring.kids)))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    write_ring_file(target, rotated)
    typer.echo(
        f"{rotated.active.kid} is the active key in {target} (keys: {', '.join(rotated.kids)})"
    )
    typer.echo(
        "Next: roll the ring out to every service, then `nudge keys reseal`; "
        "`nudge keys derive links` prints dispatch's NUDGE_LINK_KEYS."
    )


@keys_app.command("reseal")
def keys_reseal() -> None:
    """Seal every shop's stored secrets again under the active key (safe to repeat)."""

    async def run() -> None:
        engine, registry = _registry()
        try:
            report = await registry.reseal()
        except ValueError as exc:
            raise _fail(str(exc)) from None
        finally:
            await engine.dispose()
        typer.echo(
            f"resealed {report.resealed} of {report.total} secrets ({report.shops} shops); "
            f"all are sealed with {report.kid}"
        )

    asyncio.run(run())


@keys_app.command("retire")
def keys_retire(kid: str) -> None:
    """Remove an old master key from the ring file, once no stored secret is sealed with it.

    Links signed with it stop verifying once the services get the new ring.
    """
    from shared.keyring import write_ring_file

    settings, ring = _master_keys()
    if settings.secret_keys_file is None:
        raise _fail(f"the master key comes from {ring.source}: there is no ring file to edit")
    try:
        remaining = ring.without(kid)
    except ValueError as exc:
        raise _fail(str(exc)) from None

    async def count() -> int:
        engine, registry = _registry()
        try:
            return (await registry.sealed_with()).get(kid, 0)
        except ValueError as exc:
            raise _fail(str(exc)) from None
        finally:
            await engine.dispose()

    in_use = asyncio.run(count())
    if in_use:
        raise _fail(
            f"{in_use} stored secrets are still sealed with {kid}: run `nudge keys reseal` "
            "first (after the ring with the new active key is rolled out everywhere)"
        )
    write_ring_file(settings.secret_keys_file, remaining)
    typer.echo(
        f"retired {kid} from {settings.secret_keys_file} (keys: "
        f"{', '.join(remaining.kids)}); roll the ring out, and dispatch's link keys "
        "(`nudge keys derive links`): links signed with it no longer verify"
    )


class Derivable(StrEnum):
    """Purposes whose keys may leave the master ring (never the webhook-secret keys)."""

    LINKS = "links"


@keys_app.command("derive")
def keys_derive(
    purpose: Annotated[
        Derivable, typer.Argument(help="links: dispatch's and feedback's NUDGE_LINK_KEYS")
    ],
) -> None:
    """Print the keys derived from the master keys for PURPOSE, as NUDGE_LINK_KEYS takes them."""
    _settings, ring = _master_keys()
    typer.echo(ring.link_keys().to_text(), nl=False)


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contacts_app.command("unsuppress")
def contacts_unsuppress(
    shop_id: str,
    address: Annotated[
        str | None, typer.Argument(help="the email address to let through again")
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="instead of an address: this customer's")
    ] = None,
    reason: Annotated[str, typer.Option(help="why it is cleared (kept in the audit)")] = "",
    by: Annotated[str | None, typer.Option(help="who clears it (default: your login)")] = None,
) -> None:
    """Lift every suppression (hard or repeated soft bounces, complaints) of an address in one
    shop: publishes `address.unsuppressed` for each customer holding it, then records who,
    when and why in the audit (feedback_suppression_audit)."""
    from sqlalchemy.exc import SQLAlchemyError

    from services.feedback.bounces.unsuppress import (
        CannotUnsuppress,
        Request,
        unsuppress_with_settings,
    )
    from shared.publisher import BrokerUnavailable

    if not reason.strip():
        raise _fail("say why with --reason (it is kept in the audit)")
    request = Request(shop_id, by or _login(), reason, address=address, customer_id=customer)
    try:
        cleared = asyncio.run(unsuppress_with_settings(request))
    except (CannotUnsuppress, BrokerUnavailable) as exc:
        raise _fail(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(f"the database did not answer: {exc}") from None
    for item in cleared:
        typer.echo(
            f"{item.shop_id} {item.customer_id} {item.address}: cleared ({item.cleared}) "
            f"by {item.actor} at {item.at.isoformat()}"
        )


@reports_app.command("url")
def reports_url(
    shop_id: str,
    campaign: Annotated[
        str | None, typer.Option(help="only this campaign's report (default: every campaign)")
    ] = None,
    days: Annotated[float, typer.Option(help="how long the link works, in days (at most 31)")] = 7,
) -> None:
    """Print a signed, expiring, read-only link to the shop's report page (for a browser: the
    API key, which writes events, never goes in a URL). Signed with the link keys
    (NUDGE_LINK_KEYS, else derived from the master keys); the address is
    NUDGE_FEEDBACK_PUBLIC_URL's."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import SQLAlchemyError

    from services.feedback.reports import links
    from services.feedback.reports.report import CAMPAIGN_ID, CAMPAIGN_RULE
    from services.feedback.settings import FeedbackSettings
    from shared.db.engine import make_engine
    from shared.settings import DatabaseSettings, LinkKeySettings
    from shared.tenancy import load_api_keys

    if campaign is not None and not CAMPAIGN_ID.fullmatch(campaign):
        raise _fail(f"--campaign {CAMPAIGN_RULE}")
    try:
        keys = LinkKeySettings().keys()
    except ValueError:
        keys = _master_keys()[1].link_keys()

    async def known() -> bool:
        engine = make_engine(DatabaseSettings())
        try:
            return shop_id in (await load_api_keys(engine)).shop_names
        finally:
            await engine.dispose()

    try:
        if not asyncio.run(known()):
            raise _fail(f"unknown shop {shop_id!r} (`nudge shops list`)")
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(f"the database did not answer: {exc}") from None
    try:
        token = links.mint(keys, shop_id, campaign, datetime.now(UTC), timedelta(days=days))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{FeedbackSettings().public_url}/reports/{token}")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply all schema migrations to DATABASE_URL."""
    from shared.db.migrate import upgrade_to_head

    upgrade_to_head()
    typer.echo("database schema is up to date")


@db_app.command("wait")
def db_wait(timeout: Annotated[float, typer.Option(help="seconds", min=0)] = 300.0) -> None:
    """Wait until DATABASE_URL's schema is ready for this release: at its migrations, or at a
    newer release's (a rollback, an old pod restarting mid-rollout). The init container of
    every service that uses PostgreSQL: it starts once the migration Job has run."""
    from shared.db.migrate import wait_for_head
    from shared.settings import DatabaseSettings

    try:
        status = asyncio.run(wait_for_head(DatabaseSettings(), timeout))
    except TimeoutError as exc:
        raise _fail(str(exc)) from None
    typer.echo(status)


@schemas_app.command("export")
def schemas_export(
    check: Annotated[bool, typer.Option(help="fail if the committed files differ")] = False,
) -> None:
    """Write the topics' JSON Schemas and the OpenAPI documents (ingest, feedback, segmenter)."""
    from services.schema_docs import published_documents, write_or_check

    stale = write_or_check(published_documents(), check=check, echo=typer.echo)
    if stale:
        names = ", ".join(str(p) for p in stale)
        raise _fail(f"out of date (run `nudge schemas export`): {names}")


@schemas_app.command("asyncapi")
def schemas_asyncapi(
    check: Annotated[bool, typer.Option(help="fail if the committed files differ")] = False,
) -> None:
    """Write the AsyncAPI catalog of the topics and its HTML page (docs/asyncapi/)."""
    from services.catalog.asyncapi import export

    stale = export(check=check, echo=typer.echo)
    if stale:
        names = ", ".join(str(path) for path in stale)
        raise _fail(f"out of date (run `nudge schemas asyncapi`): {names}")


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


@app.command()
def simulate(
    seed: Annotated[int, typer.Option(help="the population's seed (0-99999)")] = 7,
    customers: Annotated[int, typer.Option(help="population size")] = 1000,
    days: Annotated[float, typer.Option(help="simulated days")] = 7.0,
    time_scale: Annotated[
        float,
        typer.Option(
            envvar=["NUDGE_SIMULATE_TIME_SCALE", "NUDGE_TRIGGERS_TIME_SCALE"],
            help="how much faster than the wall clock simulated time runs (as the services')",
        ),
    ] = 1.0,
    clock_origin: Annotated[
        float | None,
        typer.Option(
            envvar=["NUDGE_SIMULATE_CLOCK_ORIGIN", "NUDGE_TRIGGERS_CLOCK_ORIGIN"],
            help="unix time where simulated and wall time meet (as the services'; default now)",
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="simulated start, ISO 8601 (default: now on the clock)")
    ] = None,
    rate: Annotated[float, typer.Option(help="requests per second, at most")] = 500.0,
    concurrency: Annotated[int, typer.Option(help="requests in flight, at most")] = 64,
    ingest_url: Annotated[
        str, typer.Option(envvar="NUDGE_SIMULATE_INGEST_URL", help="the ingest API's address")
    ] = "http://127.0.0.1:8080",
    shops: Annotated[
        str, typer.Option(help="SHOP_ID=FORMAT,... (formats: shopify, segment, native)")
    ] = "sim-shopify=shopify,sim-segment=segment,sim-native=native",
    credentials: Annotated[
        Path | None,
        typer.Option(help="JSON file of the shops' credentials: read, and written when new"),
    ] = None,
    duplicate_rate: Annotated[
        float, typer.Option(help="share of requests delivered twice (0-1)")
    ] = 0.0,
    settle: Annotated[
        float, typer.Option(help="seconds to wait after rotating a shop's credentials")
    ] = 6.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the timeline as JSON Lines and exit")
    ] = False,
    output: Annotated[OutputFormat, typer.Option(help="text, or json (one object)")] = (
        OutputFormat.TEXT
    ),
    smtp_log: Annotated[
        Path | None,
        typer.Option(help="the SMTP sink's log: the customers read their email there and reply"),
    ] = None,
    sms_log: Annotated[
        Path | None,
        typer.Option(help="the SMS sink's log: the customers read their texts there and reply"),
    ] = None,
    feedback_url: Annotated[
        str,
        typer.Option(
            envvar="NUDGE_FEEDBACK_PUBLIC_URL",
            help="the feedback service's public URL, where replies go (and Twilio signs)",
        ),
    ] = "http://127.0.0.1:8083",
    replies_log: Annotated[
        Path | None, typer.Option(help="append every reply performed here as a JSON line")
    ] = None,
    twilio_auth_token: Annotated[
        str | None,
        typer.Option(
            envvar="NUDGE_FEEDBACK_TWILIO_AUTH_TOKEN",
            help="signs the texts customers send back, as Twilio does (the first of a list)",
            show_default=False,
        ),
    ] = None,
    linger: Annotated[
        float, typer.Option(help="seconds to keep replying after the last action was sent")
    ] = 30.0,
) -> None:
    """Send a seeded population of simulated customers to ingest in Shopify, Segment and
    native formats, on the services' clock; print what ingest answered (docs/SIMULATOR.md).
    With --smtp-log / --sms-log, the customers also answer what they receive."""
    from services.simulator.command import Options, ReplyOptions, run

    replies = None
    if smtp_log is not None or sms_log is not None:
        token = (twilio_auth_token or "").split(",")[0].strip() or None
        try:
            replies = ReplyOptions(feedback_url, smtp_log, sms_log, replies_log, token, linger)
        except ValueError as exc:
            typer.echo(f"nudge simulate: {exc}", err=True)
            raise typer.Exit(2) from None

    options = Options(
        seed=seed,
        customers=customers,
        days=days,
        time_scale=time_scale,
        clock_origin=clock_origin,
        start=start,
        rate=rate,
        concurrency=concurrency,
        ingest_url=ingest_url,
        shops=shops,
        credentials=credentials,
        duplicate_rate=duplicate_rate,
        dry_run=dry_run,
        as_json=output is OutputFormat.JSON,
        settle_s=settle,
        replies=replies,
    )
    status = run(options, _registry)
    if status:
        raise typer.Exit(status)


def main() -> None:
    app(prog_name="nudge")


if __name__ == "__main__":
    main()
