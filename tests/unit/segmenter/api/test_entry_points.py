"""`nudge segmenter-api` and `python -m services.segmenter.api` both start the read API."""

from __future__ import annotations

import runpy
from unittest import mock

from typer.testing import CliRunner

from services.cli import app


def test_nudge_segmenter_api_serves_with_the_settings_from_the_environment() -> None:
    with mock.patch("services.segmenter.api.server.serve") as serve:
        result = CliRunner().invoke(app, ["segmenter-api"])
    assert result.exit_code == 0, result.output
    serve.assert_called_once_with()


def test_the_module_serves_too() -> None:
    with mock.patch("services.segmenter.api.server.serve") as serve:
        runpy.run_module("services.segmenter.api", run_name="__main__")
    serve.assert_called_once_with()
