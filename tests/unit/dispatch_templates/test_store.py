"""Store behaviour: strictness, sandbox, locale chain, shop overrides, load-time checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.dispatch.templates import (
    RecipientView,
    RenderError,
    TemplateLoadError,
    TemplateStore,
)
from tests.unit.dispatch_templates.builders import SHOP, variables


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _email(
    prefix: str, text: str, html: str = "<p>hi</p>", subject: str = "Hello"
) -> dict[str, str]:
    return {
        f"{prefix}.subject.j2": subject,
        f"{prefix}.html.j2": html,
        f"{prefix}.text.j2": text,
    }


def test_undefined_variable_is_a_render_error_naming_it(store: TemplateStore) -> None:
    v = variables("cart/reminder-1")
    del v["cart"]
    with pytest.raises(RenderError) as caught:
        store.render_email(SHOP, "cart/reminder-1", "en", v)
    assert caught.value.reason.startswith("cart/reminder-1.email: 'cart' is undefined")
    assert "builtin/en/cart/reminder-1" in caught.value.reason


def test_unknown_variable_in_a_shop_template(tmp_path: Path) -> None:
    _write(tmp_path, {"acme/en/promo.sms.j2": "Hi {{ nickname }}!"})
    store = TemplateStore.load(tmp_path)
    with pytest.raises(RenderError) as caught:
        store.render_sms("acme", "promo", "en", {})
    assert caught.value.reason == "promo.sms: 'nickname' is undefined (acme/en/promo.sms.j2:1)"
    assert caught.value.template_id == "promo" and caught.value.channel == "sms"


def test_missing_first_name_reads_hi_there(tmp_path: Path) -> None:
    _write(tmp_path, {"acme/en/hi.sms.j2": 'Hi {{ first_name | default("there") }}!'})
    store = TemplateStore.load(tmp_path)
    assert store.render_sms("acme", "hi", "en", {"first_name": None}).body == "Hi there!"
    assert store.render_sms("acme", "hi", "en", {}).body == "Hi there!"
    assert store.render_sms("acme", "hi", "en", {"first_name": "Bo"}).body == "Hi Bo!"


def test_printing_none_is_a_render_error(tmp_path: Path) -> None:
    _write(tmp_path, {"acme/en/n.sms.j2": "Order {{ order_number }}"})
    store = TemplateStore.load(tmp_path)
    with pytest.raises(RenderError, match="is None"):
        store.render_sms("acme", "n", "en", {"order_number": None})


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__",
        "''.__class__.__mro__[1].__subclasses__()",
        "shop.__class__",
        "cycler.__init__.__globals__",
        "shop.update(name='x')",
        "items.append(1)",
    ],
)
def test_sandbox_blocks_internals_and_mutation(tmp_path: Path, expression: str) -> None:
    _write(tmp_path, {"acme/en/evil.sms.j2": "{{ " + expression + " }}"})
    store = TemplateStore.load(tmp_path)
    with pytest.raises(RenderError) as caught:
        store.render_sms("acme", "evil", "en", {"shop": {"name": "A"}, "items": []})
    assert "evil.sms:" in caught.value.reason


@pytest.mark.parametrize("expression", ["m._body_stream", "m.__dict__", "m.hi._func.__globals__"])
def test_sandbox_blocks_the_internals_of_an_imported_module(
    tmp_path: Path, expression: str
) -> None:
    macros = "{% macro hi(name) %}Hi {{ name }}{% endmacro %}"
    evil = '{% import "_m.j2" as m %}' + "{{ " + expression + " }}"
    _write(tmp_path, {"acme/en/_m.j2": macros, "acme/en/evil.sms.j2": evil})
    store = TemplateStore.load(tmp_path)
    with pytest.raises(RenderError) as caught:
        store.render_sms("acme", "evil", "en", {})
    assert "evil.sms:" in caught.value.reason


def test_imported_macros_render(tmp_path: Path) -> None:
    macros = "{% macro hi(name) %}Hi {{ name }} ({{ shop.name }}){% endmacro %}"
    uses = '{% import "_m.j2" as m with context %}{{ m.hi("Bo") }}!'
    _write(tmp_path, {"acme/en/_m.j2": macros, "acme/en/hi.sms.j2": uses})
    store = TemplateStore.load(tmp_path)
    assert store.render_sms("acme", "hi", "en", {"shop": {"name": "A"}}).body == "Hi Bo (A)!"
    assert store.render_sms("acme", "hi", "en", {"shop": {"name": "B"}}).body == "Hi Bo (B)!"


def test_html_escapes_customer_input_and_text_does_not(store: TemplateStore) -> None:
    v = variables("cart/reminder-1", RecipientView(first_name="<script>alert(1)</script>"))
    email = store.render_email(SHOP, "cart/reminder-1", "en", v)
    assert "<script>" not in email.html
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;," in email.html
    assert "Hi <script>alert(1)</script>," in email.text


@pytest.mark.parametrize(
    ("requested", "used"),
    [("nl-NL", "nl"), ("nl_BE", "nl"), ("NL", "nl"), ("nl", "nl"), ("fr-FR", "en"), (None, "en")],
)
def test_locale_fallback_chain(store: TemplateStore, requested: str | None, used: str) -> None:
    v = variables("cart/reminder-1")
    assert store.render_email(SHOP, "cart/reminder-1", requested, v).locale_used == used


def test_dutch_without_a_dutch_template_falls_back_to_english(store: TemplateStore) -> None:
    v = variables("win-back/offer")
    email = store.render_email(SHOP, "win-back/offer", "nl-NL", v)
    assert email.locale_used == "en" and "We miss you" in email.subject


def test_fallback_locale_is_configurable(tmp_path: Path) -> None:
    store = TemplateStore.load(None, fallback_locale="nl")
    v = variables("cart/reminder-1")
    assert store.render_email(SHOP, "cart/reminder-1", "fr", v).locale_used == "nl"
    assert (
        store.render_email(SHOP, "win-back/offer", "fr", variables("win-back/offer")).locale_used
        == "en"
    )


def test_shop_override_wins_for_that_shop_only(tmp_path: Path) -> None:
    _write(tmp_path, {"acme-coffee/en/cart/reminder-2.sms.j2": "Acme: cart {{ cart.url }}"})
    store = TemplateStore.load(tmp_path)
    v = variables("cart/reminder-2")
    assert store.render_sms(SHOP, "cart/reminder-2", "en", v).body.startswith("Acme: cart https")
    assert "STOP" in store.render_sms("other-shop", "cart/reminder-2", "en", v).body
    # the specified order: shop + fallback locale comes before the built-in Dutch template
    assert store.render_sms(SHOP, "cart/reminder-2", "nl", v).body.startswith("Acme: cart")


def test_shop_language_override_beats_builtin_locale(tmp_path: Path) -> None:
    _write(tmp_path, {"acme-coffee/nl/cart/reminder-2.sms.j2": "Eigen tekst {{ cart.url }}"})
    store = TemplateStore.load(tmp_path)
    sms = store.render_sms(SHOP, "cart/reminder-2", "nl-NL", variables("cart/reminder-2"))
    assert sms.body.startswith("Eigen tekst") and sms.locale_used == "nl"


def test_shop_partial_override_applies_to_builtin_templates(tmp_path: Path) -> None:
    _write(tmp_path, {"acme-coffee/en/_partials/help.text.j2": "Call Ria on 020 555 0101."})
    store = TemplateStore.load(tmp_path)
    v = variables("cart/reminder-1")
    assert "Call Ria" in store.render_email(SHOP, "cart/reminder-1", "en", v).text
    assert "Call Ria" not in store.render_email("other-shop", "cart/reminder-1", "en", v).text


def test_load_reports_every_problem_with_file_names(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "acme/en/only-html.html.j2": "<p>hi</p>",
            "acme/en/broken.sms.j2": "Hi {{ first_name ",
            "acme/nl/layout.sms.j2": '{% include "_nope.j2" %}',
            "acme/en/limits.sms.j2": "---\nmax_segments: 40\n---\nHi",
            "acme/english/x.sms.j2": "Hi",
        },
    )
    with pytest.raises(TemplateLoadError) as caught:
        TemplateStore.load(tmp_path)
    text = "\n".join(caught.value.problems)
    assert (
        "acme/en/only-html: an email needs subject, html and text parts; missing subject, text"
        in text
    )
    assert "acme/en/broken.sms.j2:1:" in text
    assert "acme/nl/layout.sms.j2: '_nope.j2' not found" in text
    assert "acme/en/limits.sms.j2: max_segments must be a whole number from 1 to 10" in text
    assert "english: not a locale folder" in text
    assert len(caught.value.problems) == 5


def test_has(tmp_path: Path) -> None:
    _write(tmp_path, {"acme/nl/promo.sms.j2": "Hoi"})
    store = TemplateStore.load(tmp_path)
    assert store.has("acme", "promo", "sms")
    assert not store.has("acme", "promo", "email")
    assert not store.has("other", "promo", "sms")
    assert store.has("other", "cart/reminder-2", "sms")
    assert not store.has("other", "cart/reminder-1", "sms")
    assert store.has("acme", "promo", "sms", locale="nl-BE")
    assert not store.has("acme", "promo", "sms", locale="en")


def test_unknown_template_is_a_render_error(store: TemplateStore) -> None:
    with pytest.raises(RenderError, match=r"^nope/x.email: no email template"):
        store.render_email(SHOP, "nope/x", "en", {})


def test_sms_over_its_maximum_is_a_render_error(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "acme/en/long.sms.j2": "{{ 'x' * n }}",
            "acme/en/longer.sms.j2": "---\nmax_segments: 3\n---\n{{ 'x' * n }}",
            "acme/en/empty.sms.j2": "{% if false %}x{% endif %}",
        },
    )
    store = TemplateStore.load(tmp_path)
    assert store.render_sms("acme", "long", "en", {"n": 306}).segments == 2
    with pytest.raises(RenderError) as caught:
        store.render_sms("acme", "long", "en", {"n": 307})
    assert "3 SMS parts (GSM-7, 307 units) is over the maximum of 2" in caught.value.reason
    assert store.render_sms("acme", "longer", "en", {"n": 307}).segments == 3
    with pytest.raises(RenderError, match="empty"):
        store.render_sms("acme", "empty", "en", {})


def test_unicode_sms_is_measured_as_ucs2(tmp_path: Path) -> None:
    _write(tmp_path, {"acme/en/hi.sms.j2": "Hi {{ name }} 🎉"})
    store = TemplateStore.load(tmp_path)
    sms = store.render_sms("acme", "hi", "en", {"name": "Zoë"})
    assert (sms.encoding, sms.segments) == ("UCS-2", 1)


def test_gsm_filter_keeps_names_in_gsm7(store: TemplateStore) -> None:
    v = variables("cart/reminder-2", RecipientView(first_name="Zoë"))
    sms = store.render_sms(SHOP, "cart/reminder-2", "en", v)
    assert "Hi Zoe," in sms.body and sms.encoding == "GSM-7"


def test_templates_mounted_from_a_configmap_volume_load(tmp_path: Path) -> None:
    """A ConfigMap volume holds its files under `..data` (and a timestamped `..<date>`
    folder) and links to them by name: the hidden folders are not shops or locales."""
    _write(tmp_path / "..2026_12_07", {"acme-coffee/en/cart/reminder-2.sms.j2": "Acme: {{ 1 }}"})
    (tmp_path / "..data").symlink_to("..2026_12_07")
    (tmp_path / "acme-coffee").symlink_to("..data/acme-coffee")
    store = TemplateStore.load(tmp_path)
    v = variables("cart/reminder-2")
    assert store.render_sms(SHOP, "cart/reminder-2", "en", v).body.startswith("Acme: 1")
