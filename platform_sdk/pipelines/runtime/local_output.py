"""A step's merged stdout/stderr as masked text lines, read in a thread without blocking.

:class:`LineSplitter` turns the byte stream into lines: split at ``\\n`` (a trailing ``\\r`` is
dropped), decoded as UTF-8 with replacement, each line passed through
:class:`~platform_sdk.pipelines.runtime.base.Masker`. A line longer than :data:`LINE_LIMIT`
bytes is cut into pieces of at most that size, so a step printing megabytes without a newline
neither blocks the log nor grows memory without bound.

Secrets and the cut: a secret value that would straddle a cut is kept whole in the next piece
(the cut moves back to where the value starts), because masking works per line. For that the
splitter looks up to ``len(longest secret) - 1`` bytes past the cut before cutting. The limit:
a secret longer than :data:`LINE_LIMIT` itself cannot fit in one piece and may show partly at
a cut; and, as in every CI, a secret the step transforms (base64, reversed, split by the step
itself over lines) is not recognised.

:class:`PipeReader` runs the splitter over a pipe in a daemon thread and hands lines to a
queue, so the thread that supervises the process (and calls ``io.log``) never blocks on a read.
It polls the pipe and can be told to stop, which matters when a process the runtime could not
kill still holds the pipe open: the supervisor drains briefly and then stops reading.
"""

from __future__ import annotations

import os
import queue
import select
import threading
from collections.abc import Mapping
from typing import IO

from platform_sdk.pipelines.runtime.base import Masker

__all__ = ["EOF", "LINE_LIMIT", "LineSplitter", "PipeReader"]

LINE_LIMIT = 64 * 1024
"""Bytes after which a line without a newline is cut into a new log line."""

EOF = None
"""Put on the queue after the last line."""

_READ_SIZE = 64 * 1024
_POLL_MS = 100


class LineSplitter:
    """Feed bytes, get complete masked lines; :meth:`flush` returns the unterminated rest."""

    def __init__(self, secrets: Mapping[str, str], limit: int = LINE_LIMIT) -> None:
        self._mask = Masker(dict(secrets))
        self._limit = limit
        texts = {v for v in secrets.values() if len(v) >= 3}
        texts |= {part for v in texts for part in v.splitlines() if len(part) >= 3}
        self._needles = sorted({t.encode() for t in texts}, key=len, reverse=True)
        self._lookahead = max((len(n) for n in self._needles), default=1) - 1
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        return self._take(final=False)

    def flush(self) -> list[str]:
        lines = self._take(final=True)
        if self._buf:
            lines.append(self._emit(bytes(self._buf)))
            self._buf.clear()
        return lines

    def _take(self, *, final: bool) -> list[str]:
        out: list[str] = []
        while self._buf:
            newline = self._buf.find(b"\n")
            if newline != -1 and newline <= self._limit:
                out.append(self._emit(bytes(self._buf[:newline])))
                del self._buf[: newline + 1]
                continue
            line_end = newline if newline != -1 else len(self._buf)
            complete = newline != -1 or final or line_end >= self._limit + self._lookahead
            if line_end <= self._limit or not complete:
                break
            cut = self._cut_point(bytes(self._buf[:line_end]))
            out.append(self._emit(bytes(self._buf[:cut])))
            del self._buf[:cut]
        return out

    def _cut_point(self, line: bytes) -> int:
        """Where to cut a too-long line: at the limit, moved back before a secret that would
        straddle it and off the middle of a UTF-8 character."""
        cut = self._limit
        moved = True
        while moved:
            moved = False
            for needle in self._needles:
                start = line.find(needle, max(0, cut - len(needle) + 1), cut + len(needle) - 1)
                if 0 < start < cut < start + len(needle):
                    cut, moved = start, True
        limit_cut = cut
        while cut > 0 and (line[cut] & 0xC0) == 0x80:  # a UTF-8 continuation byte
            cut -= 1
        return cut if cut > 0 else limit_cut

    def _emit(self, raw: bytes) -> str:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        return self._mask(text)


class PipeReader:
    """Reads a pipe in a daemon thread; lines (then :data:`EOF`) arrive on :attr:`lines`."""

    def __init__(self, pipe: IO[bytes], splitter: LineSplitter) -> None:
        self._pipe = pipe
        self._splitter = splitter
        self._stop = threading.Event()
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="step-output", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop reading (within one poll interval) even though the pipe is still open."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        fd = self._pipe.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while not self._stop.is_set():
                if not poller.poll(_POLL_MS):
                    continue
                data = os.read(fd, _READ_SIZE)
                if not data:
                    break
                for line in self._splitter.feed(data):
                    self.lines.put(line)
        except OSError:
            pass  # the pipe was closed under us: nothing more to read
        finally:
            for line in self._splitter.flush():
                self.lines.put(line)
            self.lines.put(EOF)
