"""Everything the processor asks about a shop's segments, in one place: the segment files, the
lifecycle rules, the RFM book, and the analyst's view of a profile.

`evaluate` derives a profile's figures once (order facts, stage, RFM scores) and answers every
rule of the shop with them; the processor then decides entries and exits (membership.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.segmenter.lifecycle import Stage, stage_of
from services.segmenter.profiles.facts import OrderFacts, order_facts
from services.segmenter.profiles.model import Profile
from services.segmenter.publication import view
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rfm.scores import RfmScores
from services.segmenter.rules.evaluate import Verdict
from services.segmenter.rules.loader import SegmentCatalog, ShopSegments
from services.segmenter.rules.subject import Subject
from services.segmenter.settings import SegmenterSettings


@dataclass(frozen=True, slots=True)
class Evaluation:
    facts: OrderFacts
    stage: Stage
    stage_changes_at: float | None
    rfm: RfmScores | None
    rfm_changes_at: float | None
    verdicts: dict[str, Verdict]
    versions: dict[str, int]
    fingerprint: str


class Evaluator:
    def __init__(self, catalog: SegmentCatalog, book: RfmBook, rebuild_every_s: float) -> None:
        self.catalog = catalog
        self.book = book
        self.rebuild_every_s = rebuild_every_s
        self._last_rebuild: float | None = None
        self._fresh: Any = None

    @classmethod
    def load(cls, settings: SegmenterSettings) -> Evaluator:
        """Read the segment files (raising SegmentConfigError naming file, line and field)."""
        return cls(SegmentCatalog.load(settings.segments_dir), RfmBook(), settings.rfm_rebuild_s)

    def shop(self, shop_id: str) -> ShopSegments:
        return self.catalog.for_shop(shop_id)

    def fingerprint(self, shop_id: str) -> str:
        return self.catalog.for_shop(shop_id).fingerprint

    def evaluate(self, profile: Profile, now: float, before: Profile | None = None) -> Evaluation:
        """Every rule's answer for `profile` at `now`; `before` (the profile before the event
        being handled) keeps the RFM book's count of buyers right."""
        shop = self.catalog.for_shop(profile.shop_id)
        facts = order_facts(profile, shop.currency)
        previous = None if before is None else order_facts(before, shop.currency)
        self.book.observe(profile.shop_id, facts, previous)
        stage, stage_at = stage_of(facts, now, shop.lifecycle)
        rfm, rfm_at = self.book.scores(profile.shop_id, facts, now, shop.rfm)
        subject = Subject(profile, facts, stage, stage_at, rfm, rfm_at)
        answers = shop.evaluate(subject, now, profile.segments)
        return Evaluation(
            facts,
            stage,
            stage_at,
            rfm,
            rfm_at,
            answers.verdicts,
            answers.versions,
            shop.fingerprint,
        )

    def view(self, profile: Profile, evaluation: Evaluation) -> dict[str, Any]:
        return view(profile, evaluation.facts, evaluation.stage, evaluation.rfm)

    def rebuild_due(self, now: float) -> bool:
        return self._last_rebuild is None or now - self._last_rebuild >= self.rebuild_every_s

    def begin_rebuild(self) -> None:
        self._fresh = self.book.begin_rebuild()

    def abandon_rebuild(self) -> None:
        self.book.abandon_rebuild()
        self._fresh = None

    def observe_for_rebuild(self, profile: Profile) -> None:
        shop = self.catalog.for_shop(profile.shop_id)
        self._fresh.observe(profile.shop_id, order_facts(profile, shop.currency))

    def finish_rebuild(self, now: float) -> None:
        self.book.finish_rebuild()
        self._fresh = None
        self._last_rebuild = now
