"""Simulated customers: who they are and how they tend to behave, from (seed, index) alone.

Customer `k` belongs to shop `shops[k % len(shops)]` and is drawn from its own random
stream, seeded with `"{seed}:{shop}:{k}"`: the same customer whatever the population size,
the rate or the time scale, so that a small run is a faithful prefix of a large one and the
oracle can rebuild any one customer on its own.

Contact data stays on reserved ground: addresses at `sim.example.com` (RFC 2606) and phone
numbers from ranges set aside for fiction (NANP 555-0100 to 555-0199 in US and Canadian
area codes; Australia's 02/03/07/08 5550 xxxx and 7010 xxxx), one per customer index, so a
number is never shared within a run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Final

from services.simulator.products import CATEGORIES

MAX_SEED: Final = 99_999
MAX_CUSTOMERS: Final = 9_999_999
"""Seed and index are written into the customer id (`7` + 5 + 7 digits), so ids of
different seeds never collide."""

EMAIL_DOMAIN: Final = "sim.example.com"

_NANP_AREA_CODES: Final = (
    "201202203204205206207208209210212213214215216217218219220223224225226227228229231234235"
    "236239240248249250251252253254256257260262263267269270272273274276279281283289301302303"
    "304305306307308309310312313314315316317318319320321323324325326327329330331332334336337"
    "339341343346347350351352353354360361363364365367368369380382385386401402403404405406407"
    "408409410412413414415416417418419423424425428430431432434435437438440442443445447448450"
    "458463464468469470472474475478479480484500501502503504505506507508509510512513514515516"
    "517518519520521522525526527528529530531532533534539540541544548551557559561562563564566"
    "567570571572573574575577579580581582584585586587588600601602603604605606607608609610612"
    "613614615616617618619620622623626628629630631633636639640641645646647650651656657659660"
    "661662667669672678680681682683686689701702703704705706707708709712713714715716717718719"
    "720724725726727728730731732734737738740742743747748753754757760762763765769770771772773"
    "774775778779780781782785786800801802803804805806807808810812813814815816817818819820821"
    "825826828830831832833835838839840843844845847848850854855856857858859860862863864865866"
    "867870872873877878879888900901902903904905906907908909910912913914915916917918919920925"
    "928929930931934936937938940941942943945947948949951952954956959970971972973975978979980"
    "983984985986989"
)
AREA_CODES: Final[tuple[str, ...]] = tuple(
    code
    for code in (_NANP_AREA_CODES[i : i + 3] for i in range(0, len(_NANP_AREA_CODES), 3))
    if code[1] != code[2]  # not N00, N22...N88: toll-free, personal and service codes
)
"""US and Canadian area codes in which phonenumbers takes 555-01xx as valid (hard-coded, so
that a library update cannot renumber the customers)."""
AU_BLOCKS: Final = ("25550", "27010", "35550", "37010", "75550", "77010", "85550", "87010")
"""Australian fictional ranges (ACMA): +61 followed by the block and four digits."""
PHONE_CAPACITY: Final = len(AREA_CODES) * 100 + len(AU_BLOCKS) * 10_000


def fictional_phone(slot: int) -> str | None:
    """The fictional number in `slot` (one per customer index), None past the ranges."""
    if slot < len(AREA_CODES) * 100:
        area, line = divmod(slot, 100)
        return f"+1{AREA_CODES[area]}55501{line:02d}"
    slot -= len(AREA_CODES) * 100
    block, line = divmod(slot, 10_000)
    if block >= len(AU_BLOCKS):
        return None
    return f"+61{AU_BLOCKS[block]}{line:04d}"


LOCALES: Final[tuple[tuple[str, str, int], ...]] = (
    ("en-US", "America/New_York", 14),
    ("en-US", "America/Chicago", 8),
    ("en-US", "America/Los_Angeles", 10),
    ("en-CA", "America/Toronto", 4),
    ("en-GB", "Europe/London", 12),
    ("de-DE", "Europe/Berlin", 12),
    ("fr-FR", "Europe/Paris", 10),
    ("nl-NL", "Europe/Amsterdam", 10),
    ("es-ES", "Europe/Madrid", 6),
    ("en-AU", "Australia/Sydney", 8),
)
"""(locale, time zone, weight): where the customers live, which sets their waking hours."""

FIRST_NAMES: Final = (
    "Ada", "Ben", "Cleo", "Dev", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kim",
    "Lea", "Malik", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tess", "Umut", "Vera",
    "Wim", "Xenia", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES: Final = (
    "Andersen", "Bakker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito",
    "Jansen", "Kowalski", "Laurent", "Martin", "Nguyen", "Okafor", "Peeters", "Rossi",
    "Schmidt", "Tanaka", "Visser", "Weber", "Young",
)  # fmt: skip


def _fraction(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"mix.{name} must be between 0 and 1, got {value}")


@dataclass(frozen=True)
class Mix:
    """The population's parameters: shares of the population, and the means around which
    each customer's own propensities are drawn (probabilities from a beta distribution of
    concentration `spread`, session rates from a gamma, repeat intervals from a lognormal)."""

    existing_share: float = 0.5
    """Customers the shop had before the simulated window: their first appearance is a
    profile update (customer.updated), not a sign-up, so no welcome series."""
    join_days: float = 7.0
    """New customers sign up at a uniform moment within this many days of the start."""
    email_consent_share: float = 0.7
    phone_share: float = 0.6
    """Customers who gave a phone number."""
    sms_consent_share: float = 0.5
    """Of those with a phone, the share who agreed to marketing texts."""
    birthday_share: float = 0.3
    sessions_per_week: float = 2.5
    sessions_shape: float = 1.5
    """Gamma shape of the per-customer session rate: lower spreads it more."""
    views_per_session: int = 4
    """A session views 1 to this many products."""
    cart_add_probability: float = 0.35
    """A session puts something in the cart."""
    checkout_probability: float = 0.6
    """A session with a filled cart reaches the checkout."""
    abandon_probability: float = 0.35
    """A started checkout is left unpaid."""
    comeback_probability: float = 0.3
    """An unpaid checkout is paid later, 2 to 72 hours on, whatever Nudge sent meanwhile."""
    one_time_buyer_share: float = 0.4
    """Customers with no repeat-purchase rhythm of their own."""
    repeat_interval_days: float = 21.0
    """Mean of the other customers' own interval between a purchase and the next."""
    repeat_interval_sigma: float = 0.5
    quiet_share: float = 0.2
    """Customers who stop coming, at a uniform moment within `quiet_within_days`."""
    quiet_within_days: float = 14.0
    cancel_probability: float = 0.03
    """The shop cancels an order instead of shipping it."""
    stop_reply_probability: float = 0.05
    """Replies STOP to a text it received (services/simulator/replies.py)."""
    survey_answer_probability: float = 0.3
    """Answers a survey a message asks for."""
    click_probability: float = 0.15
    """Follows a link of a message it received."""
    unsubscribe_probability: float = 0.02
    """Unsubscribes in one click from a marketing email it received."""
    bouncing_share: float = 0.02
    """Customers whose address bounces: the harness has the SMTP sink refuse it
    (`replies.bouncing_addresses`)."""
    spread: float = 8.0
    """Beta concentration of per-customer probabilities: lower spreads them more."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith(("_share", "_probability")):
                _fraction(value, f.name)
            elif value <= 0 and f.name != "repeat_interval_sigma":
                raise ValueError(f"mix.{f.name} must be positive, got {value}")
        if self.repeat_interval_sigma < 0:
            raise ValueError("mix.repeat_interval_sigma must not be negative")


@dataclass(frozen=True)
class Customer:
    """One simulated customer: identity, contact data, consent and propensities."""

    seed: int
    shop: str
    index: int
    customer_id: str
    email: str
    phone: str | None
    first_name: str
    last_name: str
    locale: str
    time_zone: str
    birthday: date | None
    email_consent: bool
    sms_consent: bool
    """Only with a phone."""
    joins_after: timedelta | None
    """When the customer signs up, from the start; None: a customer from before the start."""
    favourite_category: str
    sessions_per_week: float
    views_per_session: int
    """At most this many product views a session."""
    cart_add_probability: float
    checkout_probability: float
    abandon_probability: float
    comeback_probability: float
    repeat_interval: timedelta | None
    """Their own rhythm of buying again after an order; None: a one-time buyer."""
    quiet_after: timedelta | None
    """From the start, when they stop coming; None: they never do within the run."""
    cancel_probability: float
    stop_reply_probability: float
    survey_answer_probability: float
    click_probability: float
    bounces: bool
    unsubscribe_probability: float = 0.0
    """Drawn last, after every other field, so that adding it changed no customer."""

    @property
    def key(self) -> str:
        """Unique within a run: the shop and the index."""
        return f"{self.shop}:{self.index}"

    @property
    def purchase_probability(self) -> float:
        """A session's chance to end in an order (cart, checkout, paid), comebacks aside."""
        return (
            self.cart_add_probability * self.checkout_probability * (1.0 - self.abandon_probability)
        )


def _beta(rng: random.Random, mean: float, spread: float) -> float:
    if mean <= 0.0 or mean >= 1.0:
        return mean
    return rng.betavariate(mean * spread, (1.0 - mean) * spread)


def _weighted_locale(rng: random.Random) -> tuple[str, str]:
    total = sum(weight for _, _, weight in LOCALES)
    pick = rng.random() * total
    for locale, zone, weight in LOCALES:
        pick -= weight
        if pick < 0:
            return locale, zone
    return LOCALES[-1][0], LOCALES[-1][1]


def customer_id(seed: int, index: int) -> str:
    """Numeric text, as Shopify's customer ids are; unique per (seed, index)."""
    return f"7{seed:05d}{index:07d}"


def customer(seed: int, shops: tuple[str, ...], index: int, mix: Mix | None = None) -> Customer:
    """Customer `index` of the population of `seed` over `shops`; raises ValueError for a
    seed or index out of range."""
    mix = mix or Mix()
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and {MAX_SEED}")
    if not 0 <= index <= MAX_CUSTOMERS:
        raise ValueError(f"a customer index must be between 0 and {MAX_CUSTOMERS}")
    if not shops:
        raise ValueError("a population needs at least one shop")
    shop = shops[index % len(shops)]
    rng = random.Random(f"{seed}:{shop}:{index}")
    locale, zone = _weighted_locale(rng)
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    has_phone = rng.random() < mix.phone_share
    phone = fictional_phone(index) if has_phone else None
    sms_consent = phone is not None and rng.random() < mix.sms_consent_share
    email_consent = rng.random() < mix.email_consent_share
    birthday = None
    if rng.random() < mix.birthday_share:
        birthday = date(1950, 1, 1) + timedelta(days=rng.randrange(55 * 365))
    existing = rng.random() < mix.existing_share
    joins_after = None if existing else timedelta(days=rng.uniform(0.0, mix.join_days))
    sessions = rng.gammavariate(mix.sessions_shape, mix.sessions_per_week / mix.sessions_shape)
    repeat_interval = None
    if rng.random() >= mix.one_time_buyer_share:
        sigma = mix.repeat_interval_sigma
        mu = math.log(mix.repeat_interval_days) - sigma * sigma / 2
        repeat_interval = timedelta(days=max(2.0, rng.lognormvariate(mu, sigma)))
    quiet_after = None
    if rng.random() < mix.quiet_share:
        quiet_after = timedelta(days=rng.uniform(0.0, mix.quiet_within_days))
    spread = mix.spread
    return Customer(
        seed=seed,
        shop=shop,
        index=index,
        customer_id=customer_id(seed, index),
        email=f"c{index}.s{seed}.{shop}@{EMAIL_DOMAIN}",
        phone=phone,
        first_name=first,
        last_name=last,
        locale=locale,
        time_zone=zone,
        birthday=birthday,
        email_consent=email_consent,
        sms_consent=sms_consent,
        joins_after=joins_after,
        favourite_category=rng.choice(CATEGORIES),
        sessions_per_week=sessions,
        views_per_session=mix.views_per_session,
        cart_add_probability=_beta(rng, mix.cart_add_probability, spread),
        checkout_probability=_beta(rng, mix.checkout_probability, spread),
        abandon_probability=_beta(rng, mix.abandon_probability, spread),
        comeback_probability=_beta(rng, mix.comeback_probability, spread),
        repeat_interval=repeat_interval,
        quiet_after=quiet_after,
        cancel_probability=mix.cancel_probability,
        stop_reply_probability=_beta(rng, mix.stop_reply_probability, spread),
        survey_answer_probability=_beta(rng, mix.survey_answer_probability, spread),
        click_probability=_beta(rng, mix.click_probability, spread),
        bounces=rng.random() < mix.bouncing_share,
        unsubscribe_probability=_beta(rng, mix.unsubscribe_probability, spread),
    )


def population(
    seed: int, shops: tuple[str, ...], size: int, mix: Mix | None = None
) -> list[Customer]:
    """Customers 0 to `size - 1`."""
    if not 0 <= size <= MAX_CUSTOMERS + 1:
        raise ValueError(f"a population holds 0 to {MAX_CUSTOMERS + 1} customers")
    return [customer(seed, shops, index, mix) for index in range(size)]
