"""The local stack (shell scripts, the demo storyline, the sinks)."""
