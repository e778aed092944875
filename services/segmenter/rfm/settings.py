"""A shop's RFM settings (`rfm:` in its segment file)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Bounds4 = Annotated[list[float], Field(min_length=4, max_length=4)]


class RfmSettings(BaseModel):
    """Scores come from the shop's own quantiles once `min_customers` buyers are known to the
    worker; below that, from these fixed boundaries (each list: the lower bounds of scores
    2, 3, 4 and 5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_customers: Annotated[int, Field(ge=5, le=1_000_000)] = 50
    recency_days: Bounds4 = [365, 180, 90, 30]
    """Days since the last order under which a score holds: 2 under 365, 5 under 30 (an order
    exactly 30 days old has dropped to 4: the score changes at that instant)."""
    frequency_orders: Bounds4 = [2, 3, 5, 8]
    monetary: Annotated[list[Decimal], Field(min_length=4, max_length=4)] = [
        Decimal(50),
        Decimal(150),
        Decimal(400),
        Decimal(1000),
    ]
    """Net revenue in the shop's currency from which a score is reached."""

    @model_validator(mode="after")
    def _monotonic(self) -> Self:
        if self.recency_days != sorted(self.recency_days, reverse=True):
            raise ValueError("recency_days must decrease (365, 180, 90, 30)")
        for name in ("frequency_orders", "monetary"):
            values = getattr(self, name)
            if values != sorted(values):
                raise ValueError(f"{name} must increase")
        return self
