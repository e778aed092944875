"""Each shop's SMS profile: its name and support contact, its own sender number if it has one,
and the texts that answer STOP, START and HELP.

Read from the `sms:` section of `<shop_id>.yaml` in NUDGE_FEEDBACK_SHOPS_DIR (other sections
of the file belong to other parts of the feedback service and are left to them), validated
when the service starts; every field is optional:

    sms:
      brand: Demo Coffee Roasters           # default: NUDGE_FEEDBACK_SMS_BRAND
      support: help@demo-coffee.example     # email, phone or URL; default: ..._SMS_SUPPORT
      sender: "+15005550007"                # the shop's own number, when it has one
      stop: "$brand: you will receive no more texts from us. Reply START to resubscribe."
      start: "..."
      help: "..."

`$brand` and `$support` are filled in. The defaults meet the carriers' rules (CTIA): the
brand in every answer, "Reply START to resubscribe" after STOP, and for HELP the rates
notice, how to stop and whom to ask. Texts are kept short (two SMS segments at most).
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.feedback.sms.keywords import Keyword
from shared.events.types import PhoneE164

MAX_TEXT_CHARS = 306
"""Two GSM-7 segments: a confirmation longer than that costs the shop more per STOP."""
_PLACEHOLDERS = ("brand", "support")

DEFAULT_TEXTS: dict[Keyword, str] = {
    Keyword.STOP: (
        "$brand: You are unsubscribed and will receive no more texts from us. "
        "Reply START to resubscribe."
    ),
    Keyword.START: (
        "$brand: You are subscribed to our texts again. Msg frequency varies. "
        "Msg&data rates may apply. Reply HELP for help, STOP to unsubscribe."
    ),
    Keyword.HELP: (
        "$brand: Msg frequency varies. Msg&data rates may apply. "
        "Reply STOP to unsubscribe. Help: $support"
    ),
}
HELP_WITHOUT_SUPPORT = (
    "$brand: Msg frequency varies. Msg&data rates may apply. Reply STOP to unsubscribe."
)
"""For a profile without any support contact (set one: carriers expect it in HELP)."""


def _check_plain(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in value):
        raise ValueError("control characters are not allowed")
    return value


def _check_text(value: str) -> str:
    _check_plain(value)
    try:
        filled = string.Template(value).substitute(dict.fromkeys(_PLACEHOLDERS, ""))
    except KeyError as exc:
        raise ValueError(f"unknown placeholder ${exc.args[0]} (use $brand, $support)") from None
    except ValueError as exc:
        raise ValueError(f"invalid placeholder: {exc} (write $$ for a dollar sign)") from None
    if not filled.strip():
        raise ValueError("the text is empty")
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
Name = Annotated[str, Field(min_length=1, max_length=60)]


class SmsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    brand: Name | None = None
    support: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    sender: PhoneE164 | None = None
    stop: Text | None = None
    start: Text | None = None
    help: Text | None = None

    @field_validator("brand", "support")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return None if value is None else _check_plain(value)

    @field_validator("stop", "start", "help")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else _check_text(value)


class ShopFile(BaseModel):
    """A feedback shop file; only its `sms` section is read here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sms: SmsSection = SmsSection()


@dataclass(frozen=True)
class SmsProfile:
    """What answers a shop's customers' texts."""

    brand: str
    support: str | None = None
    sender: str | None = None
    texts: Mapping[Keyword, str] = field(default_factory=dict)

    def answer(self, keyword: Keyword) -> str:
        """The text for `keyword`, placeholders filled in."""
        template = self.texts.get(keyword)
        if template is None:
            template = DEFAULT_TEXTS[keyword]
            if keyword is Keyword.HELP and self.support is None:
                template = HELP_WITHOUT_SUPPORT
        values = {"brand": self.brand, "support": self.support or ""}
        return string.Template(template).substitute(values).strip()


@dataclass(frozen=True)
class SmsProfiles:
    """Every shop's profile, and the deployment's for texts that concern no one shop."""

    deployment: SmsProfile = SmsProfile(brand="Nudge")
    shops: Mapping[str, SmsProfile] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None, brand: str, support: str | None) -> SmsProfiles:
        """Read every `<shop_id>.yaml`; raise ValueError naming every broken file and every
        sender number two shops claim."""
        deployment = SmsProfile(brand=_check_plain(brand), support=support)
        shops: dict[str, SmsProfile] = {}
        problems: list[str] = []
        for path in sorted(directory.glob("*.yaml")) if directory else []:
            try:
                parsed = ShopFile.model_validate(yaml.safe_load(path.read_text()) or {})
            except (ValidationError, yaml.YAMLError, OSError) as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            section = parsed.sms
            texts = {
                keyword: text
                for keyword, text in (
                    (Keyword.STOP, section.stop),
                    (Keyword.START, section.start),
                    (Keyword.HELP, section.help),
                )
                if text is not None
            }
            shops[path.stem] = SmsProfile(
                brand=section.brand or deployment.brand,
                support=section.support or deployment.support,
                sender=section.sender,
                texts=texts,
            )
        claimed: dict[str, str] = {}
        for shop_id, profile in sorted(shops.items()):
            if profile.sender is None:
                continue
            if profile.sender in claimed:
                problems.append(
                    f"{shop_id}.yaml: sms.sender {profile.sender} is already "
                    f"{claimed[profile.sender]}'s; a number belongs to one shop"
                )
            claimed.setdefault(profile.sender, shop_id)
        if problems:
            raise ValueError("invalid feedback shop files:\n" + "\n".join(problems))
        return cls(deployment, shops)

    def for_shop(self, shop_id: str) -> SmsProfile:
        """The shop's profile; a shop without a file answers under the deployment's name."""
        return self.shops.get(shop_id, self.deployment)

    def owner_of(self, number: str) -> str | None:
        """The shop whose own sender number this is, if any."""
        for shop_id, profile in self.shops.items():
            if profile.sender == number:
                return shop_id
        return None

    def has_own_number(self, shop_id: str) -> bool:
        profile = self.shops.get(shop_id)
        return profile is not None and profile.sender is not None
