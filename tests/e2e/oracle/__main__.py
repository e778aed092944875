"""`python -m tests.e2e.oracle`: the oracle's prediction for a plan, summed up, or one
customer's history (`--customer SHOP:ID`), for debugging a comparison."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.simulator.command import Plan
from services.simulator.shops import parse_shops
from tests.e2e.oracle.config import E2E_CONFIG, Loaded, OracleConfig
from tests.e2e.oracle.predict import history, predict
from tests.e2e.oracle.replies import simulator_replies

DEFAULT_SHOPS = "sim-shopify=shopify,sim-segment=segment,sim-native=native"


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.oracle", description=__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--days", type=float, required=True)
    parser.add_argument("--start", type=_time, required=True)
    parser.add_argument("--until", type=_time, help="default: start + days")
    parser.add_argument("--margin-s", type=float, default=0.0, help="simulated seconds")
    parser.add_argument("--shops", default=DEFAULT_SHOPS)
    parser.add_argument("--config", type=Path, default=E2E_CONFIG)
    parser.add_argument("--customer", help="SHOP:ID: print this customer's history")
    args = parser.parse_args(argv)
    plan = Plan(
        seed=args.seed,
        customers=args.customers,
        days=args.days,
        start=args.start,
        shops=tuple(parse_shops(args.shops)),
    )
    until = args.until or args.start + timedelta(days=args.days)
    margin = timedelta(seconds=args.margin_s)
    config = OracleConfig.e2e(args.config)
    if args.customer:
        shop_id, _, customer_id = args.customer.partition(":")
        lines = history(
            plan,
            Loaded.load(config),
            simulator_replies(),
            shop_id,
            customer_id,
            until=until,
            margin=margin,
        )
        print("\n".join(lines))
        return 0
    prediction = predict(plan, config, until=until, margin=margin)
    print(f"events {prediction.events}, until {until.isoformat()}, margin {margin}")
    expected = Counter(
        (e.campaign_id, e.channel, "certain" if e.certain else "uncertain")
        for e in prediction.expected
    )
    print(f"expected {len(prediction.expected)}:")
    for (campaign, channel, certainty), count in sorted(expected.items()):
        print(f"  {campaign:22} {channel:6} {certainty:10} {count}")
    withheld = Counter(
        (w.reason, "certain" if w.certain else "uncertain") for w in prediction.withheld
    )
    print(f"withheld {len(prediction.withheld)}:")
    for (reason, certainty), count in sorted(withheld.items()):
        print(f"  {reason:22} {certainty:10} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
