"""The drain's test of a live system: every group has read what was written before each
round began, however much is written meanwhile."""

from __future__ import annotations

from tests.e2e.harness.lag import CatchUp

T0 = ("shop.events.v1", 0)
T1 = ("triggers.fired.v1", 0)


def test_a_round_ends_when_every_group_committed_past_the_ends_it_began_with() -> None:
    catch_up = CatchUp(rounds=1)
    assert not catch_up.observe({"triggers": {T0: 5}, "dispatch": {T1: 2}}, {T0: 10, T1: 4})
    # more is written meanwhile (ends 20 and 9): reaching the first ends is enough
    assert not catch_up.observe({"triggers": {T0: 10}, "dispatch": {T1: 3}}, {T0: 20, T1: 9})
    assert catch_up.observe({"triggers": {T0: 12}, "dispatch": {T1: 4}}, {T0: 20, T1: 9})


def test_each_round_takes_the_ends_seen_when_the_previous_one_ended() -> None:
    catch_up = CatchUp(rounds=2)
    assert not catch_up.observe({"triggers": {T0: 0}}, {T0: 10})
    assert not catch_up.observe({"triggers": {T0: 10}}, {T0: 15})  # round 1 done; next: 15
    assert not catch_up.observe({"triggers": {T0: 14}}, {T0: 15})
    assert catch_up.observe({"triggers": {T0: 15}}, {T0: 40})


def test_a_group_that_never_reads_on_holds_the_drain() -> None:
    catch_up = CatchUp(rounds=1)
    catch_up.observe({"triggers": {T0: 0}, "segmenter": {T0: 0}}, {T0: 10})
    for read in (3, 6, 9):
        assert not catch_up.observe({"triggers": {T0: 10}, "segmenter": {T0: read}}, {T0: 10})
