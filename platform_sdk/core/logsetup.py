"""Structured logging controlled by ``PLATFORM_LOG`` (``LEVEL`` or ``LEVEL:FORMAT``).

``text`` is for people at a terminal; ``json`` writes one object per line (timestamp, level,
logger, message and any ``extra=`` fields) for log shippers — and for the platform's own
OTLP ingest later. Uvicorn's loggers are routed through the same handler.

No log line can be forged from input: request paths, headers and messages reach the log with
their control characters escaped (:func:`escape_control`: CR, LF, NUL, ESC, the other C0 and C1
controls and the Unicode line separators). ``json`` gets that from JSON string escaping; ``text``
escapes the message and each ``key=value``, and indents the lines of a traceback, so every line
that starts at column 0 is a record the server wrote.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from platform_sdk.config import LogSettings

__all__ = ["JsonFormatter", "TextFormatter", "configure_logging", "escape_control"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
_ESCAPES = {
    code: _NAMED.get(chr(code), f"\\x{code:02x}") for code in (*range(0x20), *range(0x7F, 0xA0))
} | {0x2028: "\\u2028", 0x2029: "\\u2029"}


def escape_control(text: object) -> str:
    """``text`` with each control character written as an escape (``\\n``, ``\\x1b``…)."""
    return str(text).translate(_ESCAPES)


_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record; extra fields are kept as top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value …``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        escaped = logging.makeLogRecord(record.__dict__)
        escaped.message = escape_control(record.message)
        return self._style.format(escaped)

    def formatException(self, ei: Any) -> str:
        text = super().formatException(ei)
        return "\n".join("    " + escape_control(part) for part in text.split("\n"))

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("    " + escape_control(part) for part in stack_info.split("\n"))

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            extra = " ".join(f"{escape_control(k)}={escape_control(v)}" for k, v in extras.items())
            if record.exc_info or record.exc_text or record.stack_info:
                head, sep, tail = line.partition("\n")
                return f"{head} {extra}{sep}{tail}"
            line += " " + extra
        return line


def configure_logging(spec: str | LogSettings) -> None:
    """Install one stderr handler on the root logger (and uvicorn's) per ``PLATFORM_LOG``."""
    settings = spec if isinstance(spec, LogSettings) else LogSettings(spec)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level_number)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # The access log middleware logs requests with fields; uvicorn's own access line is noise.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Alembic announces its dialect on every schema check (each /readyz): keep that quiet.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, settings.level_number))
