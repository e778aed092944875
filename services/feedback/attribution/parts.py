"""What attribution works with: every shop's policy and the touch store; built from the
settings (PostgreSQL), or in memory for tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.attribution.policy import AttributionPolicies
from services.feedback.attribution.postgres import PostgresTouchStore
from services.feedback.attribution.store import MemoryTouchStore, TouchLimits, TouchStore
from services.feedback.settings import FeedbackSettings


@dataclass(frozen=True)
class AttributionParts:
    policies: AttributionPolicies
    store: TouchStore

    @classmethod
    def in_memory(cls, policies: AttributionPolicies | None = None) -> AttributionParts:
        policies = policies or AttributionPolicies()
        return cls(policies, MemoryTouchStore(TouchLimits.for_windows(policies.longest)))

    @classmethod
    def from_settings(cls, settings: FeedbackSettings, engine: AsyncEngine) -> AttributionParts:
        """The service's: raises ValueError naming a shop file and field that cannot be used."""
        policies = AttributionPolicies.load(settings.shops_dir)
        limits = TouchLimits.for_windows(policies.longest)
        return cls(policies, PostgresTouchStore(engine, limits))
