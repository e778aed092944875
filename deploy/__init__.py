"""Deployment material; a package only so that `python -m deploy.local.sinks.<sink>` works."""
