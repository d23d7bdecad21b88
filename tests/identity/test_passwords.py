"""The production argon2 parameters, in a fresh interpreter (tests/conftest.py installs a cheap
hasher in this one): pinned, so weakening them fails here, and exercised end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "type": "argon2id",
    "version": 19,
    "time_cost": 3,
    "memory_cost": 64 * 1024,
    "parallelism": 4,
    "hash_len": 32,
    "salt_len": 16,
}

PROBE = """
import json, sys
sys.path.insert(0, {repo!r})
from argon2 import PasswordHasher, extract_parameters
from platform_sdk.identity import passwords

def params(h):
    p = extract_parameters(h)
    return {{"type": "argon2" + p.type.name.lower(), "version": p.version,
             "time_cost": p.time_cost, "memory_cost": p.memory_cost,
             "parallelism": p.parallelism, "hash_len": p.hash_len, "salt_len": p.salt_len}}

h = passwords._hasher
stored = passwords.hash_password("correct horse")
weaker = PasswordHasher(time_cost=2, memory_cost=64 * 1024, parallelism=4).hash("correct horse")
print(json.dumps({{
    "hasher": {{"type": "argon2" + h.type.name.lower(), "version": 19,
               "time_cost": h.time_cost, "memory_cost": h.memory_cost,
               "parallelism": h.parallelism, "hash_len": h.hash_len, "salt_len": h.salt_len}},
    "stored": params(stored),
    "dummy": params(passwords.dummy_hash()),
    "verifies": passwords.verify_password(stored, "correct horse"),
    "wrong_verifies": passwords.verify_password(stored, "correct h0rse"),
    "stored_needs_rehash": passwords.needs_rehash(stored),
    "weaker_verifies": passwords.verify_password(weaker, "correct horse"),
    "weaker_needs_rehash": passwords.needs_rehash(weaker),
}}))
"""


def _probe() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(repo=str(REPO))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def test_production_parameters_are_pinned_and_work() -> None:
    out = _probe()
    assert out["hasher"] == PRODUCTION
    assert out["stored"] == PRODUCTION  # what lands in the database
    assert out["dummy"] == PRODUCTION  # unknown users cost what known ones cost
    assert out["verifies"] is True
    assert out["wrong_verifies"] is False
    assert out["stored_needs_rehash"] is False
    # a hash stored with one pass fewer still logs in, and is upgraded at that login
    assert out["weaker_verifies"] is True
    assert out["weaker_needs_rehash"] is True


# -- in this interpreter (the cheap hasher of tests/conftest.py) -------------------------------


def test_an_empty_password_is_refused_by_name() -> None:
    from platform_sdk.identity import passwords

    with pytest.raises(ValueError, match=r"^a password cannot be empty$"):
        passwords.hash_password("")


def test_generated_passwords_carry_18_random_bytes() -> None:
    from platform_sdk.identity import passwords

    first, second = passwords.generate_password(), passwords.generate_password()
    assert len(first) == 24  # 18 bytes, URL-safe base64
    assert first != second
    assert len(passwords.generate_password(32)) == 43


def test_the_dummy_hash_follows_the_current_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    # unknown users must cost what known ones cost: a dummy made with old parameters would not
    from argon2 import PasswordHasher

    from platform_sdk.identity import passwords

    cheap = passwords.dummy_hash()
    assert not passwords.needs_rehash(cheap)
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    )
    dummy = passwords.dummy_hash()
    assert dummy != cheap
    assert not passwords.needs_rehash(dummy)
    assert passwords.dummy_hash() == dummy  # made once per set of parameters
