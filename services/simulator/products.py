"""The simulated shops' catalog: a few products in the categories the default campaigns know.

Replenishment reminders are timed per category (services/triggers/campaigns/default.yaml:
coffee, tea, pet-food, skincare), so the catalog draws from those, plus equipment, which is
bought once. Every shop sells the same products; their links name the shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

CURRENCY: Final = "EUR"


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    """Numeric text, as Shopify's 64-bit product ids are."""
    variant_id: str
    sku: str
    title: str
    category: str
    brand: str
    price: Decimal
    handle: str

    def url(self, shop: str) -> str:
        return f"https://{shop}.example.com/products/{self.handle}"

    def image_url(self, shop: str) -> str:
        return f"https://{shop}.example.com/images/{self.handle}.jpg"


def _product(n: int, sku: str, title: str, category: str, price: str, handle: str) -> Product:
    return Product(
        product_id=str(8_100_000_000_000 + n),
        variant_id=str(44_100_000_000_000 + n),
        sku=sku,
        title=title,
        category=category,
        brand="Sim Roasters" if category in ("coffee", "tea", "equipment") else "Sim Goods",
        price=Decimal(price),
        handle=handle,
    )


CATALOG: Final[tuple[Product, ...]] = (
    _product(1, "COF-ETH-250", "Ethiopia Yirgacheffe, 250 g", "coffee", "14.50", "ethiopia"),
    _product(2, "COF-COL-250", "Colombia Huila, 250 g", "coffee", "12.90", "colombia"),
    _product(3, "COF-ESP-1000", "House Espresso, 1 kg", "coffee", "32.00", "espresso"),
    _product(4, "COF-DEC-250", "Decaf Peru, 250 g", "coffee", "13.50", "decaf"),
    _product(5, "TEA-SEN-100", "Sencha, 100 g", "tea", "9.80", "sencha"),
    _product(6, "TEA-ASS-200", "Assam Breakfast, 200 g", "tea", "8.40", "assam"),
    _product(7, "TEA-ROO-100", "Rooibos Vanilla, 100 g", "tea", "7.60", "rooibos"),
    _product(8, "PET-DRY-2000", "Grain-free Dog Food, 2 kg", "pet-food", "24.90", "dog-food"),
    _product(9, "PET-CAT-1500", "Salmon Cat Food, 1.5 kg", "pet-food", "19.90", "cat-food"),
    _product(10, "SKN-CRM-50", "Day Cream, 50 ml", "skincare", "29.00", "day-cream"),
    _product(11, "SKN-SER-30", "Vitamin C Serum, 30 ml", "skincare", "34.50", "serum"),
    _product(12, "EQP-GRD-1", "Hand Grinder", "equipment", "59.00", "grinder"),
    _product(13, "EQP-KTL-1", "Gooseneck Kettle", "equipment", "45.00", "kettle"),
    _product(14, "EQP-FIL-100", "Paper Filters, 100", "equipment", "4.90", "filters"),
)

CATEGORIES: Final[tuple[str, ...]] = tuple(dict.fromkeys(p.category for p in CATALOG))

BY_CATEGORY: Final[dict[str, tuple[Product, ...]]] = {
    category: tuple(p for p in CATALOG if p.category == category) for category in CATEGORIES
}
