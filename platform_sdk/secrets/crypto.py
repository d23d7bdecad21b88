"""Sealing secret values: AES-256-GCM under a rotatable master key.

Every value is encrypted with AES-256-GCM (``cryptography``'s ``AESGCM``) under the keyring's
*primary* key with a fresh random 96-bit nonce, so the same value never seals to the same bytes
twice. A sealed blob is self-describing::

    +---------+---------------------+------------------+----------------------------------+
    | version | key id              | nonce            | AES-GCM ciphertext || 16-byte tag |
    | 1 byte  | 8 bytes (16 hex)    | 12 bytes, random | len(plaintext) + 16 bytes        |
    +---------+---------------------+------------------+----------------------------------+

- **version** (``0x01``) lets the layout change later without guessing.
- **key id** is the first 8 bytes of SHA-256 of the key (shown as 16 hex characters): stable,
  reveals nothing useful about the key, and says which key opens the blob, so the master key can
  rotate while older blobs stay readable (the keyring keeps older keys by id for decryption).
- **associated data** is ``header || aad``: the header (version and key id) plus the caller's
  ``aad``, which the secrets service sets to the row's identity (project, name, version,
  scope). GCM authenticates it without storing it, so a ciphertext copied into another row, a
  header edited to name another key, or a single flipped bit all fail to decrypt — cleanly, with
  :class:`DecryptionFailed`, never with garbage or the plaintext in a message.

A 96-bit random nonce under one key is safe for far more than 2**32 encryptions before the
collision bound matters; rotation (``platform secrets rotate-key``) resets the count anyway.
"""

from __future__ import annotations

import hashlib
import secrets as _random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from platform_sdk.errors import ConfigError, PlatformError

__all__ = [
    "FORMAT_VERSION",
    "DecryptionFailed",
    "Key",
    "Keyring",
    "UnknownKey",
    "key_id_of",
]

FORMAT_VERSION = 1
KEY_BYTES = 32
KID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 1 + KID_BYTES
MIN_BLOB = HEADER_BYTES + NONCE_BYTES + TAG_BYTES


class DecryptionFailed(PlatformError):
    """A sealed value did not authenticate: tampered, truncated, or bound to another row.

    Keeps the ``internal`` code (HTTP 500): it means stored data is damaged, not bad input.
    """


class UnknownKey(ConfigError):
    """A sealed value names a master key this process does not hold."""

    def __init__(self, kid: str) -> None:
        super().__init__(
            "PLATFORM_MASTER_KEY_PREVIOUS",
            f"a secret is sealed with master key {kid}, which is not loaded. Add that key to "
            "PLATFORM_MASTER_KEY_PREVIOUS (comma-separated) — or restore the key file "
            "master.keys in the data dir that held it — then run `platform secrets rotate-key` "
            "to re-encrypt everything under the current key",
        )
        self.kid = kid
        self.details["key_id"] = kid


def kid_for(material: bytes) -> str:
    """The stable id of a key: the first 16 hex characters of its SHA-256."""
    return hashlib.sha256(material).hexdigest()[: KID_BYTES * 2]


@dataclass(frozen=True)
class Key:
    """One 256-bit master key and its id. ``repr`` never shows the key bytes."""

    material: bytes = field(repr=False)
    kid: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise ValueError(f"a master key is {KEY_BYTES} bytes, not {len(self.material)}")
        object.__setattr__(self, "kid", kid_for(self.material))

    @classmethod
    def generate(cls) -> Key:
        """A new random key from the operating system's CSPRNG."""
        return cls(AESGCM.generate_key(bit_length=KEY_BYTES * 8))


def key_id_of(blob: bytes) -> str:
    """The id of the key that sealed ``blob`` (without decrypting it)."""
    if len(blob) < MIN_BLOB or blob[0] != FORMAT_VERSION:
        raise DecryptionFailed("sealed value is malformed (unknown format or truncated)")
    return blob[1:HEADER_BYTES].hex()


class Keyring:
    """The primary key (encrypts) and older keys by id (still decrypt, during rotation)."""

    def __init__(self, primary: Key, others: Iterable[Key] = ()) -> None:
        self.primary = primary
        self._keys: dict[str, Key] = {k.kid: k for k in others}
        self._keys[primary.kid] = primary

    @property
    def keys(self) -> Mapping[str, Key]:
        return dict(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __repr__(self) -> str:
        return f"<Keyring primary={self.primary.kid} keys={sorted(self._keys)}>"

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """Seal ``plaintext`` under the primary key, bound to ``aad``."""
        header = bytes([FORMAT_VERSION]) + bytes.fromhex(self.primary.kid)
        nonce = _random.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.primary.material).encrypt(nonce, plaintext, header + aad)
        return header + nonce + sealed

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Open ``blob``; ``UnknownKey`` if its key is not held, ``DecryptionFailed`` if it does
        not authenticate with ``aad``."""
        kid = key_id_of(blob)
        key = self._keys.get(kid)
        if key is None:
            raise UnknownKey(kid)
        header = blob[:HEADER_BYTES]
        nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            return AESGCM(key.material).decrypt(
                nonce, blob[HEADER_BYTES + NONCE_BYTES :], header + aad
            )
        except InvalidTag:
            raise DecryptionFailed(
                "sealed value failed authentication: it was altered, or it belongs to another "
                "secret row",
                details={"key_id": kid},
            ) from None
