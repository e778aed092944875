"""Tags for free text (survey comments, SMS and email replies): a per-shop, per-language
keyword and phrase dictionary, matched on Snowball stems.

`Tagger.tags(shop_id, language, text)` is what the routes call (`parts.tagger`); the shipped
dictionary is `default.yaml`, a shop's feedback file may extend or replace it (README.md).
"""

from services.feedback.tagging.loader import ShopTagging, TagConfigError
from services.feedback.tagging.tagger import Tagger
from shared.yaml_source import ConfigIssue

__all__ = ["ConfigIssue", "ShopTagging", "TagConfigError", "Tagger"]
