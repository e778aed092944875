"""The in-memory projection against the one contract suite."""

from __future__ import annotations

from services.segmenter.api.store import MemoryProjection, ProfileProjection
from tests.support.profile_projection_contract import ProfileProjectionContract


class TestMemoryProjection(ProfileProjectionContract):
    def store(self) -> ProfileProjection:
        return MemoryProjection()
