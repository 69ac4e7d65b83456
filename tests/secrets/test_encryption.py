"""The Fernet key: generated once and kept private, validated, never silently absent."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from airflow_sc.secrets import (
    DecryptionError,
    FernetKeyError,
    SecretsCipher,
    generate_fernet_key,
    load_or_create_fernet_key,
)
from airflow_sc.secrets.encryption import FERNET_KEY_FILE


def test_first_start_generates_a_private_key_file_and_later_starts_reuse_it(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    key = load_or_create_fernet_key(home, None)
    path = home / FERNET_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_fernet_key(home, None) == key
    assert SecretsCipher(key).decrypt(SecretsCipher(key).encrypt("x")) == "x"


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_or_create_fernet_key(tmp_path, None))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [FERNET_KEY_FILE]


def test_a_configured_key_wins_over_the_file(tmp_path: Path) -> None:
    configured = generate_fernet_key()
    assert load_or_create_fernet_key(tmp_path, configured) == configured
    assert not (tmp_path / FERNET_KEY_FILE).exists()


def test_a_malformed_configured_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FernetKeyError, match="key #2 is malformed"):
        load_or_create_fernet_key(tmp_path, f"{generate_fernet_key()},not-a-key")


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_or_create_fernet_key(tmp_path, None)
    (tmp_path / FERNET_KEY_FILE).chmod(0o644)
    with pytest.raises(FernetKeyError, match="chmod 600"):
        load_or_create_fernet_key(tmp_path, None)


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(FernetKeyError, match="empty"):
        SecretsCipher(" , ")


def test_a_wrong_key_is_an_error_not_garbage() -> None:
    token = SecretsCipher(generate_fernet_key()).encrypt("s3cret")
    with pytest.raises(DecryptionError, match="connection 'db' password"):
        SecretsCipher(generate_fernet_key()).decrypt(token, what="connection 'db' password")


def test_old_keys_decrypt_and_rotate_moves_tokens_to_the_new_key() -> None:
    old, new = generate_fernet_key(), generate_fernet_key()
    token = SecretsCipher(old).encrypt("s3cret")
    both = SecretsCipher(f"{new},{old}")
    assert both.decrypt(token) == "s3cret"
    rotated = both.rotate(token)
    assert SecretsCipher(new).decrypt(rotated) == "s3cret"
    with pytest.raises(DecryptionError):
        SecretsCipher(new).decrypt(token)
