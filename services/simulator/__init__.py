"""The shop simulator behind `nudge simulate`: seeded customers, their timelines, and the
requests that tell ingest about them in Shopify, Segment and native formats.

Everything up to the HTTP requests is a pure function of the seed (population.py,
behaviour.py, formats.py), so the oracle of the end-to-end tests can compute, from the very
same timeline, which messages Nudge must send. Only sender.py does I/O. docs/SIMULATOR.md
describes the model.
"""
