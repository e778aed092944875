"""The segmenter's read side: an HTTP API over a PostgreSQL projection of
`customer.profiles.v1` (`nudge segmenter-api`, its own process; the worker never imports it).

Decision (issue 21, "Read side"): the API serves from a projection, not from the workers' Faust
tables through key routing. A segment's size and a page of its members span every partition,
so from the tables each such request would be a scatter-gather over all workers; the
projection answers them with one indexed query (store.py, postgres.py). It also keeps the Faust
workers free of HTTP load and of the shops' API keys, and lets the API scale on its own. The
price: the API is a moment behind the segmenter (the consumer's lag), and it knows memberships,
not rules (an empty segment and an unknown one both have size 0).

consumer.py fills the projection (its own consumer group, at least once, bad records parked on
`customer.profiles.dlq.v1`); routes.py serves it for the shop's API key.
"""
