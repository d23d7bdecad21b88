"""Password hashing with argon2id, RFC 9106's second recommended option (argon2-cffi's
defaults): 3 passes over 64 MiB with 4 lanes, a 16-byte salt and a 32-byte hash. The parameters
are written out so that a library upgrade cannot change them unnoticed.

``verify`` is constant-time and tells the caller when a stored hash should be refreshed because
the parameters changed, so logins upgrade hashes as they happen.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["dummy_hash", "generate_password", "hash_password", "needs_rehash", "verify_password"]

TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
_dummies: dict[int, str] = {}


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("a password cannot be empty")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def generate_password(nbytes: int = 18) -> str:
    """A random URL-safe password (``nbytes`` of entropy)."""
    return secrets.token_urlsafe(nbytes)


def dummy_hash() -> str:
    """A hash of a random password made with the current parameters: verifying against it
    costs what verifying a real hash costs, so unknown users take as long as known ones."""
    key = id(_hasher)
    if key not in _dummies:
        _dummies[key] = _hasher.hash(secrets.token_urlsafe(16))
    return _dummies[key]
