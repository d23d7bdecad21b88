"""No log line can be forged: control characters from requests reach the log escaped."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from platform_sdk.core.logsetup import JsonFormatter, TextFormatter, escape_control

FORGED = "2026-01-01 00:00:00,000 INFO    platform.access: GET /api/admin 200"
CONTROLS = ("\r", "\n", "\x00", "\x1b", "\x85", "\u2028", "\u2029")


def _lines(text: str) -> list[str]:
    # splitlines() breaks on every character a terminal or log viewer may treat as a newline
    return text.splitlines()


def _assert_one_record(text: str) -> None:
    lines = _lines(text)
    assert len(lines) == 1, lines
    assert not any(c in text for c in CONTROLS)


def test_a_path_with_cr_lf_nul_is_logged_as_one_escaped_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="platform.access"):
        r = client.get("/nowhere%0D%0A" + FORGED.replace(" ", "%20") + "%00%1B[2J")
    assert r.status_code == 404
    records = [rec for rec in caplog.records if rec.name == "platform.access"]
    assert len(records) == 1
    record = records[0]
    # The field keeps the exact path; what is written never has the raw characters.
    assert "\r\n" in record.path  # type: ignore[attr-defined]
    text = TextFormatter().format(record)
    _assert_one_record(text)
    assert "/nowhere\\r\\n2026-01-01" in text
    assert "\\0\\x1b[2J" in text
    entry = JsonFormatter().format(record)
    _assert_one_record(entry)
    assert json.loads(entry)["path"] == record.path  # type: ignore[attr-defined]
    # the message itself is escaped, for handlers without these formatters too
    _assert_one_record(record.getMessage())


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "platform.test", "levelname": "INFO", "msg": msg})
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("control", CONTROLS)
def test_the_text_formatter_escapes_messages_and_fields(control: str) -> None:
    record = _record(f"user said {control}{FORGED}", note=f"a{control}b", **{f"k{control}": 1})
    text = TextFormatter().format(record)
    _assert_one_record(text)
    assert escape_control(control) in text
    assert f"note=a{escape_control(control)}b" in text


def test_a_traceback_cannot_start_a_line_of_its_own() -> None:
    try:
        raise ValueError(f"bad input\n{FORGED}\r\n{FORGED}")
    except ValueError:
        import sys

        record = _record("request failed", request_id="r1")
        record.exc_info = sys.exc_info()
    text = TextFormatter().format(record)
    first, *rest = text.split("\n")
    assert first.endswith("request failed request_id=r1")
    assert rest
    # every further line is indented: only the record's own first line starts at column 0
    assert all(line.startswith("    ") for line in rest), rest
    assert "\r" not in text
    assert not any(line.startswith(FORGED) for line in text.split("\n"))


def test_escape_control_leaves_ordinary_text_alone() -> None:
    assert (
        escape_control("GET /api/projects/dev/app?q=ü 200") == "GET /api/projects/dev/app?q=ü 200"
    )
    assert escape_control("a\tb\x7fc") == "a\\tb\\x7fc"
