"""The comparison classifies each message of small hand-made runs as the acceptance reads it:
what is a violation, what a fault excuses or explains, what is only counted."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.compare import Category
from tests.e2e.latency import ORDER_CONFIRMATION
from tests.unit.e2e.small_runs import (
    ANNA,
    BEN,
    Histories,
    email,
    expected,
    fault,
    only,
    run,
    sim,
    sms,
    wall,
    withheld,
)


def test_a_message_received_once_is_matched_and_timed() -> None:
    result = run([expected("m1")], observed=[email("m1", 10.4)])

    assert result.matched == 1
    assert only(result) == {}
    assert result.violations() == []
    confirmation = result.latency[0]
    assert confirmation.row == ORDER_CONFIRMATION
    assert confirmation.overall.count == 1
    assert confirmation.overall.max is not None
    assert abs(confirmation.overall.max - 0.4) < 1e-6
    assert result.campaigns[0].received == 1


def test_a_certain_message_never_received_is_missing_with_its_customers_history() -> None:
    histories = Histories()
    result = run([expected("m1")], history=histories)

    assert only(result) == {Category.MISSING: ["m1"]}
    missing = result.found[Category.MISSING][0]
    assert missing.customer == ANNA
    assert missing.history == ["c1: ordered"]
    assert histories.asked == [("shop-a", "c1")]
    assert result.violations() == ["1 missing: m1"]


def test_a_message_that_expired_during_a_fault_is_excused_not_missing() -> None:
    outage = fault("smtp_outage", "smtp-sink", 5, 65)
    due_before_the_fault = expected("m2", send_after=sim(-40), expires_at=sim(-30))
    expires_long_after = expected("m3", expires_at=sim(200))

    result = run(
        [expected("m1"), due_before_the_fault, expires_long_after],
        faults=[outage],
        recovery_s=30,
    )

    assert only(result) == {Category.EXPIRED: ["m1"], Category.MISSING: ["m2", "m3"]}
    assert result.found[Category.EXPIRED][0].note.startswith("expired during smtp_outage")
    assert result.violations() == ["2 missing: m2, m3"]


def test_an_uncertain_message_not_received_is_counted_not_an_error() -> None:
    maybe = expected("m1", certain=False, why_uncertain="bought within the margin")

    result = run([maybe, expected("m2", certain=False)], observed=[email("m2", 11)])

    assert only(result) == {Category.UNCERTAIN_MISSING: ["m1"]}
    assert result.found[Category.UNCERTAIN_MISSING][0].note == "bought within the margin"
    assert result.matched == 1
    assert result.violations() == []


def test_a_second_sms_is_a_violation_whatever_the_faults() -> None:
    text = expected("s1", channel="sms", campaign_id="shipping_update", step_id="update")
    kill = fault("sigkill", "dispatch", 10, 12)

    result = run([text], observed=[sms("s1", 10.5), sms("s1", 13)], faults=[kill])

    assert only(result) == {Category.SMS_DUPLICATE: ["s1"]}
    assert result.violations() == ["1 duplicate SMS: s1"]
    assert result.matched == 0
    assert result.campaigns[0].duplicates == 1


def test_an_email_duplicate_is_explained_by_a_sigkill_of_the_sender_at_its_first_copy() -> None:
    copies = [email("m1", 10.5), email("m1", 14)]
    kill_sender = fault("sigkill", "dispatch-sender", 11, 12)

    explained = run([expected("m1")], observed=copies, faults=[kill_sender])
    unexplained = run([expected("m1")], observed=copies)
    other_service = run(
        [expected("m1")], observed=copies, faults=[fault("sigkill", "dispatch-intake", 11, 12)]
    )
    long_before = run(
        [expected("m1")], observed=copies, faults=[fault("sigkill", "dispatch", 1, 2)]
    )

    assert only(explained) == {Category.EMAIL_DUPLICATE_EXPLAINED: ["m1"]}
    assert (
        "sigkill of dispatch-sender" in explained.found[Category.EMAIL_DUPLICATE_EXPLAINED][0].note
    )
    assert explained.violations() == []
    for result in (unexplained, other_service, long_before):
        assert only(result) == {Category.EMAIL_DUPLICATE: ["m1"]}
        assert result.violations() == ["1 duplicate email, no fault explains it: m1"]


def test_a_broker_restart_explains_an_email_duplicate_within_its_window() -> None:
    restart = fault("broker_restart", "kafka", 8, 20)

    result = run([expected("m1")], observed=[email("m1", 15), email("m1", 25)], faults=[restart])

    assert only(result) == {Category.EMAIL_DUPLICATE_EXPLAINED: ["m1"]}


def test_marketing_after_an_opt_out_or_a_suppression_is_counted_apart() -> None:
    after_stop = withheld("w1", "opted_out", channel="sms")
    suppressed = withheld("w2", "suppressed")
    no_consent = withheld("w3", "no_consent")
    transactional = withheld("w4", "opted_out", transactional=True)

    result = run(
        withhold=[after_stop, suppressed, no_consent, transactional],
        observed=[sms("w1", 3), email("w2", 4), email("w3", 5), email("w4", 6)],
    )

    assert only(result) == {
        Category.AFTER_OPT_OUT: ["w1", "w2"],
        Category.WITHHELD: ["w3", "w4"],
    }
    assert result.violations() == [
        "2 marketing after an opt-out or a suppression [opted_out: 1, suppressed: 1]: w1, w2",
        "2 withheld (certain) [no_consent: 1, opted_out: 1]: w3, w4",
    ]
    assert sum(t.withheld_sent for t in result.campaigns) == 4


def test_a_fault_between_the_reason_and_the_copy_excuses_all_but_an_opt_out() -> None:
    """The purchase (at 5 s) reached triggers only after the broker came back: its reminder
    went out meanwhile. An opt-out is never excused; a fault after the copy excuses nothing."""
    bought = withheld("w1", "order_placed")
    stopped = withheld("w2", "opted_out", channel="sms")
    later = withheld("w3", "order_placed")
    broker = fault("broker_restart", "kafka", 6, 20)

    result = run(
        withhold=[bought, stopped, later],
        observed=[email("w1", 22), sms("w2", 22), email("w3", 5.5)],
        faults=[broker],
    )

    assert only(result) == {
        Category.WITHHELD_FAULT: ["w1"],
        Category.AFTER_OPT_OUT: ["w2"],
        Category.WITHHELD: ["w3"],
    }
    assert "broker_restart" in result.found[Category.WITHHELD_FAULT][0].note


def test_what_follows_a_fault_in_a_customers_history_is_its_consequence() -> None:
    """Anna's welcome expired in the SMTP outage, so her next email went out as the first,
    not the second, of the series; Ben's loss has no fault behind it. A loss days later is
    no longer the fault's."""
    outage = fault("smtp_outage", "smtp-sink", 5, 65)
    welcome = expected("m1")  # due at 10, expires at 20: during the outage
    next_one = expected("m2", send_after=sim(70), expires_at=sim(300))
    much_later = expected("m4", send_after=sim(70) + timedelta(days=4), expires_at=None)
    bens = expected("m3", customer_id=BEN.customer_id, send_after=sim(70), expires_at=sim(300))

    result = run([welcome, next_one, much_later, bens], faults=[outage], recovery_s=30)

    assert only(result) == {
        Category.EXPIRED: ["m1"],
        Category.FOLLOWS_FAULT: ["m2"],
        Category.MISSING: ["m4", "m3"],
    }
    assert result.found[Category.FOLLOWS_FAULT][0].note.startswith("missing: after expired")


def test_a_message_dispatch_skipped_as_capped_after_a_fault_delayed_it_is_the_faults() -> None:
    outage = fault("smtp_outage", "smtp-sink", 5, 65)
    capped = expected("m1", expires_at=sim(400))  # due during the outage, retried, capped
    lost = expected("m2", customer_id=BEN.customer_id, expires_at=sim(400))
    rendered = expected("m3", customer_id=BEN.customer_id, send_after=sim(200), expires_at=None)
    skipped = {
        "t-m1": "frequency_cap: 1 marketing email message(s) per 16 h already sent",
        "t-m3": "render_error: 3 SMS parts",
    }

    result = run([capped, lost, rendered], faults=[outage], recovery_s=30, skipped=skipped)

    assert only(result) == {Category.FOLLOWS_FAULT: ["m1"], Category.MISSING: ["m2", "m3"]}
    assert result.found[Category.MISSING][1].note == "dispatch: render_error: 3 SMS parts"


def test_an_opt_out_the_customer_never_made_is_no_broken_promise() -> None:
    """The oracle expected Anna to unsubscribe from a welcome that never reached her: the
    next email is then a plain discrepancy, not marketing after an opt-out. Ben did text STOP."""
    anna_next = withheld("w1", "opted_out")
    ben_sms = withheld("w2", "opted_out", customer_id=BEN.customer_id, channel="sms")
    made = {(BEN.shop_id, BEN.customer_id): [("sms", wall(1))]}

    result = run(
        withhold=[anna_next, ben_sms],
        observed=[email("w1", 8), sms("w2", 8, to="+15550100002")],
        opt_outs=made,
    )

    assert only(result)[Category.AFTER_OPT_OUT] == ["w2"]
    assert only(result)[Category.WITHHELD] == ["w1"]
    assert result.found[Category.WITHHELD][0].note == "opted_out (never made)"


def test_marketing_after_an_opt_out_the_customer_made_breaks_the_promise_anyway() -> None:
    """Whatever the oracle expected: Anna unsubscribed at 10 s, a marketing email came at
    60 s (the margin is 30 simulated seconds); a confirmation may still come."""
    reminder = expected("m1", campaign_id="abandoned_cart", transactional=False)
    confirmation = expected("m2")
    made = {(ANNA.shop_id, ANNA.customer_id): [("email", wall(10))]}

    result = run(
        [reminder, confirmation],
        observed=[email("m1", 60), email("m2", 60)],
        opt_outs=made,
    )

    assert only(result)[Category.AFTER_OPT_OUT] == ["m1"]
    assert result.found[Category.AFTER_OPT_OUT][0].note == "after the customer's own opt-out"


def test_a_withheld_message_the_oracle_was_unsure_of_is_tolerated() -> None:
    close_call = withheld("w1", "bought", certain=False, why_uncertain="bought within the margin")

    result = run(withhold=[close_call], observed=[email("w1", 3)])

    assert only(result) == {Category.WITHHELD_UNCERTAIN: ["w1"]}
    assert result.violations() == []


def test_a_copy_no_prediction_knows_is_unknown_and_found_by_its_address() -> None:
    result = run(observed=[email("zz", 3, to="BEN@sim.example.com"), sms(None, 4, to="+1999")])

    assert only(result) == {Category.UNKNOWN: ["zz", None]}
    stranger, anonymous = result.found[Category.UNKNOWN]
    assert stranger.customer == BEN
    assert stranger.channel == "email"
    assert anonymous.customer is None
    assert anonymous.note == "no message id"
    assert result.violations() == ["2 unknown: zz, (no id, to +1999)"]


def test_a_copy_sent_to_someone_else_is_a_violation() -> None:
    result = run([expected("m1")], observed=[email("m1", 11, to="ben@sim.example.com")])

    assert only(result) == {Category.MISADDRESSED: ["m1"]}
    assert result.found[Category.MISADDRESSED][0].note == "to ben@sim.example.com"
    assert result.matched == 1  # received once all the same


def test_a_copy_before_its_send_after_beyond_the_margin_is_early() -> None:
    after_quiet_hours = expected("m1", send_after=sim(100), expires_at=sim(200))
    within_the_margin = expected("m2", send_after=sim(100), expires_at=sim(200))

    result = run(
        [after_quiet_hours, within_the_margin],
        observed=[email("m1", 90), email("m2", 99.8)],
    )

    assert only(result) == {Category.EARLY: ["m1"]}
    assert result.found[Category.EARLY][0].note.startswith("10.0 s before")


def test_histories_are_looked_up_for_the_first_of_each_category_only() -> None:
    histories = Histories()

    result = run([expected(f"m{n}") for n in range(5)], history=histories, histories=2)

    assert result.count(Category.MISSING) == 5
    assert [d.history is not None for d in result.found[Category.MISSING]] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert len(histories.asked) == 2
    assert result.violations() == ["5 missing: m0, m1, m2, ..."]


def test_latency_is_split_between_faults_and_calm() -> None:
    slow = fault("slow_consumer", "dispatch", 30, 40)
    calm = expected("m1")
    during = expected("m2", send_after=sim(35), expires_at=sim(90))
    recovering = expected("m3", send_after=sim(45), expires_at=sim(90))

    result = run(
        [calm, during, recovering],
        observed=[email("m1", 10.2), email("m2", 38), email("m3", 45.5)],
        faults=[slow],
        recovery_s=10,
    )

    row = result.latency[0]
    assert (row.during_faults.count, row.outside_faults.count) == (2, 1)
    assert row.during_faults.max is not None
    assert abs(row.during_faults.max - 3.0) < 1e-6
