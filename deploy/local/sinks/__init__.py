"""Local stand-ins for the providers dispatch sends through, for `make run` and the tests.

- `sms_sink`: speaks Twilio's Messages API on aiohttp (`python -m deploy.local.sinks.sms_sink`).
- `smtp_sink`: an SMTP server built on aiosmtpd (`python -m deploy.local.sinks.smtp_sink`).

Both record every message in memory (`GET /messages` on their HTTP port) and as JSON lines
in a file, deliver a repeat as the real providers do (neither Twilio nor a relay deduplicates;
both count repeats so that tests can), and can be told to fail, answer slowly or, for SMS,
limit concurrency as Twilio does (`POST /control`), which is how outage, exactly-once and
benchmark runs are driven. Their CPU does not matter; their fidelity to the real providers
does.
"""
