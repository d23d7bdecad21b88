"""Where the master keys come from, and the one keyring each process keeps.

Two modes, chosen by the settings:

- **env** (production): ``PLATFORM_MASTER_KEY`` (32 bytes, hex or base64) is the primary key.
  ``PLATFORM_MASTER_KEY_PREVIOUS`` (comma-separated, same encodings) lists older keys that
  still *decrypt* during a rotation. Rotating: deploy every process with the new key as
  ``PLATFORM_MASTER_KEY`` and the old one in ``PLATFORM_MASTER_KEY_PREVIOUS``, run
  ``platform secrets rotate-key`` (it re-encrypts every row under the new key and reports the
  previous keys no row uses any more), then drop ``PLATFORM_MASTER_KEY_PREVIOUS``.
- **file** (the embedded default, no setting): the keys live in ``<data dir>/master.keys``,
  ``{"primary": kid, "keys": {kid: base64}}``, generated on first use. The file is created
  atomically with mode ``0600`` (written under an ``O_CREAT|O_EXCL`` temporary name, then
  hard-linked into place, so a concurrent starter never sees half a file), and an existing file
  that group or others may read is refused, naming the file and ``chmod 600``. Rotation adds a
  new primary key to the file first (so a rolled-back rotation loses nothing), re-encrypts, and
  — only after the transaction commits — drops the keys no row uses. Changes to the file are
  serialised with an advisory lock (``master.keys.lock``) and picked up by other processes on
  the same data dir at their next use (the file's identity is checked on every use: a stat).
  A write checks the primary again after its row is flushed and re-seals if a rotation began
  meanwhile, so only a transaction held open across a whole rotation could still commit a row
  under the key that rotation drops: do not rotate while a writer holds a long transaction.
  The file mode is meant for one host; several hosts need ``PLATFORM_MASTER_KEY``.

:func:`key_store` returns the process's :class:`KeyStore`, hung on the runtime as the
``secrets.keyring`` extension.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import secrets as _random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

from platform_sdk.config import Settings, decode_master_key
from platform_sdk.core.runtime import Runtime, runtime_of
from platform_sdk.errors import ConfigError
from platform_sdk.secrets.crypto import KEY_BYTES, Key, Keyring

__all__ = ["CHANNEL", "KEY_FILE", "KeyFile", "KeyStore", "key_store", "parse_keys"]

log = logging.getLogger(__name__)

KEY_FILE = "master.keys"
CHANNEL = "secrets.keyring"
PREVIOUS_VAR = "PLATFORM_MASTER_KEY_PREVIOUS"


def previous_keys_setting(settings: Settings) -> str | None:
    """The raw ``PLATFORM_MASTER_KEY_PREVIOUS``."""
    return settings.master_key_previous


def parse_keys(raw: str, variable: str = PREVIOUS_VAR) -> list[Key]:
    """Comma-separated hex or base64 keys; a bad entry is a ``ConfigError`` (never echoed)."""
    out: list[Key] = []
    for n, part in enumerate((p.strip() for p in raw.split(",")), start=1):
        if not part:
            continue
        material = decode_master_key(part)
        if len(material) != KEY_BYTES:
            raise ConfigError(variable, f"entry {n} must be {KEY_BYTES} bytes, base64 or hex")
        out.append(Key(material))
    return out


class KeyFile:
    """The embedded key file: ``{"primary": kid, "keys": {kid: base64}}``, mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stamp(self) -> tuple[int, int, int] | None:
        """Identity of the file's current content (changes whenever it is replaced)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the advisory lock that serialises changes to the file across processes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if sys.platform == "win32":  # pragma: no cover - no flock: serialised in-process only
            yield
            return
        import fcntl

        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _check_mode(self) -> None:
        if os.name == "nt":  # pragma: no cover - POSIX modes only
            return
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(
                str(self.path),
                f"the master key file is readable by group or others (mode {mode:04o}); "
                f"run `chmod 600 {self.path}` (or set PLATFORM_MASTER_KEY)",
            )

    def read(self) -> tuple[str, dict[str, Key]]:
        """(primary kid, keys by kid); refuses a group/world-readable or malformed file."""
        self._check_mode()
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            primary = doc["primary"]
            keys: dict[str, Key] = {}
            for kid, encoded in doc["keys"].items():
                key = Key(base64.b64decode(encoded, validate=True))
                if key.kid != kid:
                    raise ValueError(f"key {kid} does not match its id")
                keys[kid] = key
            if not isinstance(primary, str) or primary not in keys:
                raise ValueError("the primary key is not among the keys")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise ConfigError(
                str(self.path), f"not a valid master key file ({exc}); restore it from a backup"
            ) from None
        return primary, keys

    def _write_temp(self, primary: str, keys: dict[str, Key]) -> Path:
        doc = {
            "primary": primary,
            "keys": {kid: base64.b64encode(k.material).decode("ascii") for kid, k in keys.items()},
        }
        tmp = self.path.with_name(f".{self.path.name}.{_random.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, json.dumps(doc, indent=2).encode("utf-8") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return tmp

    def create(self) -> bool:
        """Write a file with one new key, unless one exists (False then). Never overwrites."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = Key.generate()
        tmp = self._write_temp(key.kid, {key.kid: key})
        try:
            os.link(tmp, self.path)  # atomic create-if-absent of a complete file
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        log.info("generated a master key file", extra={"path": str(self.path), "key_id": key.kid})
        return True

    def write(self, primary: str, keys: dict[str, Key]) -> None:
        """Replace the file atomically (call while holding :meth:`locked`)."""
        tmp = self._write_temp(primary, keys)
        try:
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)


class KeyStore:
    """The keyring of this process, loaded on first use and reloaded when the key file changes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mode: Literal["env", "file"] = "env" if settings.master_key else "file"
        self.file = KeyFile(Path(settings.data_dir) / KEY_FILE)
        self._lock = threading.RLock()
        self._ring: Keyring | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._attached = False

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> KeyStore:
        return cls(runtime.settings)

    def attach(self, runtime: Runtime) -> None:
        """Listen for rotations committed in this process (once; outside the runtime's lock,
        which is held while extensions are made)."""
        with self._lock:
            if self._attached:
                return
            self._attached = True
        runtime.on(CHANNEL, self.on_event)

    def keyring(self) -> Keyring:
        """The current keyring (in file mode, re-read if another process changed the file)."""
        with self._lock:
            if self._ring is None or (self.mode == "file" and self.file.stamp() != self._stamp):
                self._ring = self._load()
            return self._ring

    def reload(self) -> Keyring:
        with self._lock:
            self._ring = None
            return self.keyring()

    def _load(self) -> Keyring:
        if self.mode == "env":
            assert self.settings.master_key is not None
            primary = Key(decode_master_key(self.settings.master_key))
            previous = previous_keys_setting(self.settings)
            return Keyring(primary, parse_keys(previous) if previous else ())
        if self.file.stamp() is None:
            self.file.create()
        self._stamp = self.file.stamp()
        primary_kid, keys = self.file.read()
        return Keyring(keys[primary_kid], keys.values())

    def new_primary(self) -> Key:
        """File mode: add a fresh key as the primary (old keys stay). Env mode: the env key."""
        if self.mode == "env":
            return self.keyring().primary
        with self._lock, self.file.locked():
            self.keyring()  # creates the file if needed
            _, keys = self.file.read()
            key = Key.generate()
            keys[key.kid] = key
            self.file.write(key.kid, keys)
            self._ring = None
            log.info("new primary master key", extra={"key_id": key.kid})
            return self.keyring().primary

    def droppable(self, in_use: set[str]) -> list[str]:
        """Keys that no row uses: removable from the file, or from the environment."""
        ring = self.keyring()
        return sorted(k for k in ring.keys if k not in in_use and k != ring.primary.kid)

    def drop(self, kids: list[str]) -> list[str]:
        """File mode: remove ``kids`` (never the primary) from the key file; the ids removed."""
        if self.mode == "env" or not kids:
            return []
        with self._lock, self.file.locked():
            primary, keys = self.file.read()
            gone = [k for k in kids if k in keys and k != primary]
            if gone:
                self.file.write(primary, {k: v for k, v in keys.items() if k not in gone})
                log.info("dropped retired master keys", extra={"key_ids": gone})
            self._ring = None
            return gone

    def on_event(self, payload: dict[str, Any]) -> None:
        """After a rotation commits: drop the keys it retired (this process holds the file)."""
        if payload.get("action") == "rotated":
            self.drop([str(k) for k in payload.get("retired", [])])
        else:
            with self._lock:
                self._ring = None

    def close(self) -> None:
        with self._lock:
            self._ring = None


def key_store(db: Session) -> KeyStore:
    """The key store of the platform that made ``db`` (one per process)."""
    runtime = runtime_of(db)
    store = runtime.extension("secrets.keyring", KeyStore.for_runtime)
    store.attach(runtime)
    return store
