"""Adapters of dispatch's state ports (ports.py): PostgreSQL, and memory for tests."""
