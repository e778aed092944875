"""The report says the verdict first, shows every count, the latency table and the
discrepancies with their customers' histories, then the figures; the JSON carries the same."""

from __future__ import annotations

import json

from tests.e2e.compare import Category, Comparison
from tests.e2e.report import as_json, render, table
from tests.unit.e2e.small_runs import email, expected, fault, run, sms, withheld


def failing_run() -> Comparison:
    return run(
        [expected("m1"), expected("m2"), expected("m3"), expected("m4")],
        withhold=[withheld("w1", "opted_out", channel="sms")],
        observed=[email("m1", 10.5), email("m2", 10.5), email("m2", 12), sms("w1", 3)],
        faults=[fault("sigkill", "dispatch", 11, 13)],
        histories=1,
        recovery_s=0,
    )


def test_a_clean_run_passes_and_shows_its_latency_and_the_figures() -> None:
    result = run([expected("m1")], observed=[email("m1", 10.25)])

    text = render(result, figures="events/s  1500\n")

    assert "PASS: 0 missing, 0 duplicate SMS, 0 marketing messages after an opt-out" in text
    assert "FAIL" not in text
    latency = text.split("Latency: wall seconds")[1]
    assert "order confirmation  1  0.250  0.250  0.250  0.250" in latency
    assert text.endswith("Figures\n=======\n\nevents/s  1500\n")
    assert "Discrepancies" not in text


def test_a_failing_run_lists_its_failures_and_the_discrepancies_with_histories() -> None:
    text = render(failing_run())

    verdict = text.split("\n\n")[2].splitlines()
    assert verdict == [
        "FAIL: 2 acceptance failures",
        "  - 2 missing: m3, m4",
        "  - 1 marketing after an opt-out or a suppression [opted_out: 1]: w1",
    ]
    discrepancies = text.split("Discrepancies")[1]
    assert "missing (2)\n  m3  order_confirmation/confirmation  email" in discrepancies
    assert "    customer: shop-a/c1 anna@sim.example.com +15550100001" in discrepancies
    assert "    history:\n      c1: ordered" in discrepancies
    assert "  ... and 1 more (the JSON lists them)" in discrepancies
    assert "duplicate email, explained by a fault (1)" in discrepancies
    assert "why: 2 copies; sigkill of dispatch" in discrepancies
    counts = text.split("Counts")[1].split("\n\n")[0]
    explained = next(line for line in counts.splitlines() if "explained by a fault" in line)
    assert explained.endswith(" 1  counted (SMTP cannot prevent it)")
    assert "sigkill  dispatch" in text.split("Faults")[1]


def test_the_json_holds_counts_violations_and_every_discrepancy() -> None:
    data = as_json(failing_run())

    assert json.loads(json.dumps(data)) == data
    assert data["passed"] is False
    assert data["counts"][str(Category.MISSING)] == 2
    assert data["counts"][str(Category.SMS_DUPLICATE)] == 0
    assert data["copies"] == {"smtp": 3, "sms": 1}
    missing = data["discrepancies"][str(Category.MISSING)]
    assert [d["message_id"] for d in missing] == ["m3", "m4"]
    assert missing[0]["history"] == ["c1: ordered"]
    assert missing[1]["history"] is None
    assert data["latency"][0]["overall"]["count"] == 2
    assert (
        as_json(failing_run(), limit=1)["discrepancies"][str(Category.MISSING)][0]["message_id"]
        == "m3"
    )


def test_tables_align_text_left_and_numbers_right() -> None:
    assert table(["name", "n", "p50"], [["a", 1, "-"], ["bbb", 22, "0.5"]]).splitlines() == [
        "  name   n  p50",
        "  ----  --  ---",
        "  a      1    -",
        "  bbb   22  0.5",
    ]
