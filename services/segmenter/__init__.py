"""Segmenter: customer profiles, lifecycle stage, RFM and segment rules (not built yet)."""
