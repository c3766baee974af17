"""Field encryption for the outbox: AES-256-GCM with a key file kept outside config.toml.

Each record gets a fresh 96-bit nonce; the submission id is the associated data, so a
ciphertext copied onto another row fails to decrypt instead of silently swapping payloads.
Blob layout: version byte (1) | nonce (12) | ciphertext+tag.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk.errors import UserFacingError

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_V1 = b"\x01"


class KeyFileError(UserFacingError):
    """The outbox key file exists but is unusable; never replaced silently (that would lose data)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__("OUTBOX_KEY", f"加密密钥文件不可用：{path}：{problem}", f"outbox key file unusable: {path}: {problem}")
        self.path = path


class DecryptError(Exception):
    """A record does not decrypt with this key (wrong key, tampered row, or swapped id)."""


def canonical_json(data: Any) -> bytes:
    """One byte form per value, so equal content compares equal (idempotency, hub hashes)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


class FieldCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"AES-256-GCM key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, key_path: str | os.PathLike[str]) -> FieldCipher:
        """The existing key; FileNotFoundError when there is none (never creates one)."""
        path = Path(key_path)
        try:
            return cls(_read_key(path))
        except (FileNotFoundError, KeyFileError):
            raise
        except OSError as exc:  # a folder where the key should be, no permission, I/O error
            raise KeyFileError(path, exc.strerror or str(exc)) from None

    @classmethod
    def load_or_create(cls, key_path: str | os.PathLike[str]) -> FieldCipher:
        """Only for an outbox with no rows yet: callers that hold rows use `load` (a new key
        would make every stored submission unreadable)."""
        path = Path(key_path)
        try:
            _ensure_private_dir(path.parent)
            try:
                return cls.load(path)
            except FileNotFoundError:
                pass
            _create_key_atomically(path)
            return cls.load(path)
        except (FileNotFoundError, KeyFileError):
            raise
        except OSError as exc:  # disk full while writing the key, keys/ is a file, read-only mount
            raise KeyFileError(path, exc.strerror or str(exc)) from None

    def encrypt(self, data: dict[str, Any], associated_data: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, canonical_json(data), associated_data.encode("utf-8"))

    def decrypt(self, blob: bytes, associated_data: str) -> dict[str, Any]:
        blob = bytes(blob)
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
            raise DecryptError("not an outbox ciphertext")
        nonce, body = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, body, associated_data.encode("utf-8"))
        except InvalidTag:
            raise DecryptError("authentication failed (wrong key or tampered record)") from None
        return json.loads(plain)


def _ensure_private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
        try:
            directory.chmod(0o700)
        except OSError as exc:  # e.g. a shared mount: keep working, but say so
            log.warning("cannot restrict key directory %s: %s", directory, exc)


def _read_key(path: Path) -> bytes:
    with open(path, "rb") as fh:
        mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
        key = fh.read(KEY_BYTES + 1)
    if len(key) != KEY_BYTES:
        raise KeyFileError(path, f"expected {KEY_BYTES} bytes, found {len(key)}{'+' if len(key) > KEY_BYTES else ''}")
    if mode & 0o077:
        log.warning("outbox key %s was readable by others (mode %o); tightening to 0600", path, mode)
        path.chmod(0o600)
    return key


def _create_key_atomically(path: Path) -> None:
    """Write to a private temp file, fsync, then hard-link into place: readers see no key or a
    whole key, and two processes racing end up sharing the one that was linked first."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # someone else created it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    log.info("created outbox key %s", path)
