"""Twilio's request signature (`X-Twilio-Signature`), computed and checked as Twilio does.

Twilio signs each webhook it sends (inbound messages, status callbacks) with the account's
auth token: base64 of HMAC-SHA1 over the full URL it was configured with (scheme, host, port
if any, path, query) followed by every POST parameter sorted by name, each as name + value,
with no separators and nothing URL-encoded. Repeated names contribute each distinct value,
sorted (as twilio-python's `RequestValidator` does). Its libraries accept the URL with and
without the scheme's default port, because a URL configured without one may be signed with
it and the reverse; `url_variants` gives both.

The feedback service checks signatures (services/feedback/routes/sms.py); the local SMS sink
signs the status callbacks it sends (deploy/local/sinks/sms_sink.py), and tests sign requests,
all with this one module, which tests check against Twilio's published example vector.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

HEADER = "X-Twilio-Signature"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def signed_text(url: str, params: Iterable[tuple[str, str]]) -> str:
    """What Twilio signs: the URL, then name + value for each parameter sorted by name."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    parts = [url]
    for name in sorted(values):
        parts.extend(name + value for value in sorted(values[name]))
    return "".join(parts)


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The `X-Twilio-Signature` value Twilio sends for a POST of `params` to `url`."""
    text = signed_text(url, params)
    digest = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """The URL as given, and with its scheme's default port added or removed (443 for https,
    80 for http); a URL with another port, or another scheme, only as given."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:  # not a number: nothing to vary
        return [url]
    if default is None or parts.hostname is None:
        return [url]
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    if port is None:
        other = f"{userinfo}{host}:{default}"
    elif port == default:
        other = userinfo + host.rsplit(":", 1)[0]
    else:
        return [url]
    return [url, urlunsplit(parts._replace(netloc=other))]


def is_valid(
    auth_tokens: Sequence[str],
    url: str,
    params: Sequence[tuple[str, str]],
    signature: str,
) -> bool:
    """Whether `signature` is Twilio's for this request under any of `auth_tokens` (the
    current one, and the previous one during a rotation) and either port form of `url`.

    Constant-time per comparison; every candidate is compared, so the time taken does not say
    which one (nearly) matched.
    """
    given = signature.strip().encode("latin-1", "replace")
    matched = False
    for token in auth_tokens:
        for candidate in url_variants(url):
            expected = compute_signature(token, candidate, params).encode("ascii")
            matched |= hmac.compare_digest(expected, given)
    return matched
