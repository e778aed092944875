"""Twilio's delivery error codes: which condemn the number, which only the attempt.

A status callback for an undelivered or failed message carries Twilio's `ErrorCode`. A
permanent code says the number cannot take our texts (it does not exist, is a landline, has
opted out at Twilio, or blocks us): dispatch marks it unusable (`sms.delivery_failed` with
`permanent: true`) and stops choosing SMS for that customer until the shop gives another
number. Anything else, an unknown code and no code included, is recorded
(`permanent: false`) and the number kept: a handset switched off today takes texts tomorrow,
and a problem of our own account or content must not cost customers their channel.
Descriptions: https://www.twilio.com/docs/api/errors/<code>.
"""

from __future__ import annotations

from typing import Final

PERMANENT: Final[dict[str, str]] = {
    "21211": "invalid 'To' phone number",
    "21214": "'To' phone number cannot be reached",
    "21217": "phone number does not appear to be valid",
    "21610": "the recipient opted out (replied STOP) at Twilio",
    "21612": "'To' number not reachable via SMS from our sender",
    "21614": "'To' number is not a mobile number",
    "30004": "message blocked by the recipient or their carrier",
    "30005": "unknown destination handset: the number is not in service",
    "30006": "landline or unreachable carrier",
}
"""The number cannot take our texts: marked unusable."""

TRANSIENT: Final[dict[str, str]] = {
    "21408": "sending to this region is not enabled on our account",
    "30001": "queue overflow",
    "30002": "our account is suspended",
    "30003": "unreachable handset: switched off or out of coverage",
    "30007": "filtered by the carrier as spam (the content, not the number)",
    "30008": "unknown error",
    "30009": "missing segment",
    "30010": "price exceeds our maximum price",
    "30017": "carrier network congestion",
    "30018": "the carrier requires our sender ID to be registered",
    "30022": "A2P 10DLC throughput exceeded",
    "30023": "A2P 10DLC daily cap reached",
    "30024": "our numeric sender ID is not provisioned with the carrier",
    "30032": "our toll-free number is not verified",
    "30034": "our number is not registered for A2P 10DLC",
}
"""Recorded, the number kept (listed for the operator; any unlisted code is treated so)."""

OPTED_OUT_CODE: Final = "21610"
"""Permanent because the customer opted out at Twilio: a new opt-in (START) lifts it."""


def is_permanent(error_code: str | None) -> bool:
    """Whether this code condemns the number; None and unknown codes do not."""
    return error_code is not None and error_code in PERMANENT


def describe(error_code: str | None) -> str:
    if error_code is None:
        return "no error code"
    found = PERMANENT.get(error_code) or TRANSIENT.get(error_code) or "not in Nudge's table"
    return f"{error_code}: {found}"
