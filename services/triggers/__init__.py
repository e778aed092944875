"""Triggers: per-customer journey state, durable timers and the campaign catalog as configuration.

Consumes shop events, feedback and segment changes; emits due campaign steps on
`triggers.fired.v1` with deterministic ids.
"""
