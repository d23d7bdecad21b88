"""Secrets are masked in step logs in the forms a step is likely to print them: as they are,
line by line, and base64 (both alphabets, every alignment), hex and URL-encoded."""

from __future__ import annotations

import base64
import subprocess
import urllib.parse

import pytest

from platform_sdk.pipelines.runtime.base import MASK, Masker, encoded_forms

SECRET = "s3cr3t/T0ken+value?&="


def _encodings(prefix: str, suffix: str) -> dict[str, str]:
    raw = (prefix + SECRET + suffix).encode()
    return {
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "url": urllib.parse.quote(prefix + SECRET + suffix, safe=""),
        "url+": urllib.parse.quote_plus(prefix + SECRET + suffix),
    }


@pytest.mark.parametrize("prefix", ["", "u", "us", "user:", "Basic x"])
@pytest.mark.parametrize("suffix", ["", "\n", "@host"])
def test_every_encoded_form_is_masked_wherever_the_secret_sits(prefix: str, suffix: str) -> None:
    mask = Masker({"TOKEN": SECRET})
    for kind, text in _encodings(prefix, suffix).items():
        line = mask(f"Authorization: {text}")
        assert MASK in line, kind
        # what is left cannot be decoded back to the secret
        rest = line.removeprefix("Authorization: ")
        assert SECRET not in rest, kind
        for form in encoded_forms(SECRET):
            assert form not in rest, (kind, form)


def test_what_coreutils_base64_prints_is_masked() -> None:
    for prefix in ("", "x", "xy", "admin:"):
        out = subprocess.run(
            ["base64", "-w0"], input=(prefix + SECRET).encode(), capture_output=True, check=True
        ).stdout.decode()
        assert MASK in Masker([SECRET])(out)


def test_ordinary_text_and_short_secrets_are_left_alone() -> None:
    mask = Masker({"A": "ab", "B": "xyz", "C": SECRET})
    line = "build 42 passed in 3.1 s: ab cd"
    assert mask(line) == line
    assert mask("value xyz here") == f"value {MASK} here"
    assert all(len(f) >= 6 for f in encoded_forms("xyz1"))  # short forms would hit ordinary text
