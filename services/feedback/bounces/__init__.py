"""Email bounces and complaints: Amazon SES notifications delivered by SNS over HTTPS.

`sns` reads and verifies the SNS envelope (the string SNS signs, its RSA signature) and checks
every URL a message names before anything is fetched; `certificates` finds the signing
certificate in an allow-listed place only; `ses` reads the SES notification inside; `rules`
decides, purely, which contacts a notification concerns and what to publish; `store` keeps the
suppressions, transient-bounce counts and the audit of clearings (PostgreSQL, or memory for
tests); `unsuppress` is what `nudge contacts unsuppress` does.
"""
