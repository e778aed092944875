"""Dispatch: consent, channel choice, rendering and exactly-once sending (not built yet)."""
