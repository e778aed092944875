"""What segment rules look at: one customer's profile with the figures derived from it at `now`.

Built by the worker for each evaluation (order facts from `profiles.facts.order_facts`, the stage
from `lifecycle.stage_of`, the scores from the RFM book), so that every rule of the shop reads
the same derived values and none of them is computed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.segmenter.lifecycle import Stage
from services.segmenter.profiles.facts import OrderFacts
from services.segmenter.profiles.model import Profile
from services.segmenter.rfm.scores import RfmScores


@dataclass(frozen=True, slots=True)
class Subject:
    profile: Profile
    orders: OrderFacts
    stage: Stage
    stage_changes_at: float | None
    """When the stage next changes by time alone (None: only an event changes it)."""
    rfm: RfmScores | None
    """None while the customer has no scores (no order yet, or not scored yet)."""
    rfm_changes_at: float | None
    """When the scores may next change without an event of this customer (the next refresh of
    the shop's quantiles, or a recency boundary); None: only an event changes them."""
