"""The sealing format and the key store, without a database."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from platform_sdk.config import load_settings
from platform_sdk.errors import ConfigError
from platform_sdk.secrets.crypto import (
    FORMAT_VERSION,
    DecryptionFailed,
    Key,
    Keyring,
    UnknownKey,
    key_id_of,
)
from platform_sdk.secrets.keyring import KEY_FILE, KeyFile, KeyStore, parse_keys

AAD = b"secret/global/TOKEN/1/all"
PLAIN = b"hunter2-very-secret"


def test_round_trip_and_layout() -> None:
    ring = Keyring(Key.generate())
    blob = ring.encrypt(PLAIN, AAD)
    assert ring.decrypt(blob, AAD) == PLAIN
    assert blob[0] == FORMAT_VERSION
    assert blob[1:9].hex() == ring.primary.kid == key_id_of(blob)
    assert len(blob) == 1 + 8 + 12 + len(PLAIN) + 16
    assert PLAIN not in blob


def test_nonces_are_random() -> None:
    ring = Keyring(Key.generate())
    a, b = ring.encrypt(PLAIN, AAD), ring.encrypt(PLAIN, AAD)
    assert a != b
    assert a[9:21] != b[9:21]


def test_key_id_is_stable_and_repr_hides_the_key() -> None:
    material = bytes(range(32))
    assert Key(material).kid == Key(material).kid
    assert len(Key(material).kid) == 16
    assert Key(material).kid != Key.generate().kid
    assert material.hex() not in repr(Key(material))
    with pytest.raises(ValueError, match="32 bytes"):
        Key(b"short")


def test_other_aad_fails_cleanly() -> None:
    ring = Keyring(Key.generate())
    blob = ring.encrypt(PLAIN, AAD)
    with pytest.raises(DecryptionFailed) as err:
        ring.decrypt(blob, b"secret/global/OTHER/1/all")
    assert PLAIN.decode() not in str(err.value)
    assert err.value.status == 500
    assert err.value.message == (
        "sealed value failed authentication: it was altered, or it belongs to another secret row"
    )
    assert err.value.details == {"key_id": ring.primary.kid}


def test_an_empty_value_round_trips() -> None:
    # the shortest sealed value there is: header, nonce and tag, no ciphertext
    ring = Keyring(Key.generate())
    blob = ring.encrypt(b"", AAD)
    assert len(blob) == 1 + 8 + 12 + 16
    assert key_id_of(blob) == ring.primary.kid
    assert ring.decrypt(blob, AAD) == b""


def test_keyring_repr_names_key_ids_never_material() -> None:
    old, new = Key(bytes(range(32))), Key(bytes(range(1, 33)))
    ring = Keyring(new, [old])
    assert repr(ring) == f"<Keyring primary={new.kid} keys={sorted([old.kid, new.kid])}>"
    assert old.material.hex() not in repr(ring)


@pytest.mark.parametrize("position", [12, 25, -1])  # nonce, ciphertext, tag
def test_any_flipped_bit_fails(position: int) -> None:
    ring = Keyring(Key.generate())
    blob = bytearray(ring.encrypt(PLAIN, AAD))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionFailed):
        ring.decrypt(bytes(blob), AAD)


def test_truncated_or_unknown_format_fails() -> None:
    ring = Keyring(Key.generate())
    blob = ring.encrypt(PLAIN, AAD)
    malformed = r"^sealed value is malformed \(unknown format or truncated\)$"
    with pytest.raises(DecryptionFailed, match=malformed):
        ring.decrypt(blob[:20], AAD)
    with pytest.raises(DecryptionFailed, match=malformed):
        ring.decrypt(b"\x02" + blob[1:], AAD)


def test_unknown_key_names_the_key_and_the_fix() -> None:
    old = Keyring(Key.generate())
    blob = old.encrypt(PLAIN, AAD)
    with pytest.raises(UnknownKey) as err:
        Keyring(Key.generate()).decrypt(blob, AAD)
    assert old.primary.kid in err.value.message
    assert "PLATFORM_MASTER_KEY_PREVIOUS" in err.value.message
    assert "rotate-key" in err.value.message
    assert err.value.details["key_id"] == old.primary.kid
    # the whole message: it is the operator's only guide back to readable secrets
    assert err.value.message == (
        f"PLATFORM_MASTER_KEY_PREVIOUS: a secret is sealed with master key {old.primary.kid}, "
        "which is not loaded. Add that key to PLATFORM_MASTER_KEY_PREVIOUS (comma-separated) "
        "— or restore the key file master.keys in the data dir that held it — then run "
        "`platform secrets rotate-key` to re-encrypt everything under the current key"
    )
    assert err.value.variable == "PLATFORM_MASTER_KEY_PREVIOUS"
    assert err.value.kid == old.primary.kid


def test_older_keys_still_decrypt() -> None:
    old, new = Key.generate(), Key.generate()
    blob = Keyring(old).encrypt(PLAIN, AAD)
    ring = Keyring(new, [old])
    assert ring.decrypt(blob, AAD) == PLAIN
    assert key_id_of(ring.encrypt(PLAIN, AAD)) == new.kid


def test_header_naming_another_held_key_fails() -> None:
    a, b = Key.generate(), Key.generate()
    ring = Keyring(a, [b])
    blob = bytearray(ring.encrypt(PLAIN, AAD))
    blob[1:9] = bytes.fromhex(b.kid)
    with pytest.raises(DecryptionFailed):
        ring.decrypt(bytes(blob), AAD)


# -- key store ---------------------------------------------------------------------------------


def test_key_file_is_created_0600_on_first_use(tmp_path: Path) -> None:
    store = KeyStore(load_settings(data_dir=tmp_path / "data"))
    path = tmp_path / "data" / KEY_FILE
    assert not path.exists()  # nothing until a secret is used
    ring = store.keyring()
    assert store.mode == "file"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["primary"] == ring.primary.kid
    assert base64.b64decode(doc["keys"][ring.primary.kid]) == ring.primary.material
    # a second store (another process) reads the same key
    assert KeyStore(load_settings(data_dir=tmp_path / "data")).keyring().primary == ring.primary
    assert not list(path.parent.glob("*.tmp"))


def test_key_file_is_never_overwritten(tmp_path: Path) -> None:
    kf = KeyFile(tmp_path / KEY_FILE)
    assert kf.create() is True
    before = kf.path.read_bytes()
    assert kf.create() is False
    assert kf.path.read_bytes() == before


def test_a_readable_key_file_is_refused(tmp_path: Path) -> None:
    store = KeyStore(load_settings(data_dir=tmp_path))
    store.keyring()
    path = tmp_path / KEY_FILE
    path.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        KeyStore(load_settings(data_dir=tmp_path)).keyring()
    assert str(path) in err.value.message
    assert f"chmod 600 {path}" in err.value.message
    assert "0644" in err.value.message


def test_a_malformed_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, b'{"primary": "nope", "keys": {}}')
    os.close(fd)
    with pytest.raises(ConfigError, match="not a valid master key file"):
        KeyStore(load_settings(data_dir=tmp_path)).keyring()


def test_other_processes_see_a_new_primary(tmp_path: Path) -> None:
    a = KeyStore(load_settings(data_dir=tmp_path))
    b = KeyStore(load_settings(data_dir=tmp_path))
    first = a.keyring().primary
    assert b.keyring().primary == first
    second = a.new_primary()
    assert second != first
    ring = b.keyring()
    assert ring.primary == second
    assert first.kid in ring  # the old key still decrypts until it is dropped
    assert a.drop([first.kid]) == [first.kid]
    assert first.kid not in b.keyring()
    assert a.drop([second.kid]) == []  # never the primary


def test_master_key_from_settings_and_previous_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, old1, old2 = os.urandom(32), os.urandom(32), os.urandom(32)
    monkeypatch.setenv(
        "PLATFORM_MASTER_KEY_PREVIOUS",
        f"{old1.hex()}, {base64.urlsafe_b64encode(old2).decode()}",
    )
    store = KeyStore(load_settings(data_dir=tmp_path, master_key=primary.hex()))
    ring = store.keyring()
    assert store.mode == "env"
    assert ring.primary.material == primary
    assert {Key(old1).kid, Key(old2).kid} <= set(ring.keys)
    assert not (tmp_path / KEY_FILE).exists()
    assert store.new_primary() == ring.primary  # env mode: the operator rotates the variable


def test_a_bad_previous_key_names_the_variable_not_the_value() -> None:
    good = os.urandom(32).hex()
    with pytest.raises(ConfigError) as err:
        parse_keys(f"{good},not-a-key-at-all")
    assert err.value.variable == "PLATFORM_MASTER_KEY_PREVIOUS"
    assert "entry 2" in err.value.message
    assert "not-a-key-at-all" not in err.value.message
    assert good not in err.value.message
