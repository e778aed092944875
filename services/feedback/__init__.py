"""Feedback: replies, opt-outs, surveys, bounces and attribution (not built yet)."""
