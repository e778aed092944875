"""Unit tests of dispatch templates: rendering, sandbox, locales, SMS segments."""
