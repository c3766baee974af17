"""The hub's payload key ring: AES-256-GCM keys kept in a file outside the database.

File (text, mode 0600): one key per line, `KEY_ID BASE64(32 bytes)`; blank lines and `#`
comments ignored. The LAST line is the current key: new rows are sealed with it. Every row stores
the id of the key that sealed it, so each listed key still opens its own rows — rotation is
`kiosk hub rotate-key` (appends a line) and a restart; a line is never removed while rows still
name it (the store refuses to start when a row's key is missing, instead of losing those rows).

Sealing reuses the kiosk's `FieldCipher` (kiosk/services/crypto.py): one AES-GCM wrapper in the
project. Duplicate detection uses an HMAC of the content under a sub-key of the row's key, so the
database holds no plain hash a guess could be checked against.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.services.durable import fsync_dir
from kiosk.services.crypto import KEY_BYTES, DecryptError, FieldCipher, canonical_json

KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class HubKeyError(Exception):
    """The hub key file is missing, unreadable or does not match the database (message is safe to print)."""


@dataclass(frozen=True)
class HubKeyring:
    path: Path
    keys: dict[str, bytes]  # in file order; the last one is current

    @property
    def current_id(self) -> str:
        return next(reversed(self.keys))

    def seal(self, data: dict[str, Any], associated_data: str) -> tuple[str, bytes]:
        key_id = self.current_id
        return key_id, FieldCipher(self.keys[key_id]).encrypt(data, associated_data)

    def open(self, key_id: str, blob: bytes, associated_data: str) -> dict[str, Any]:
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptError(f"hub key {key_id!r} is not in {self.path}")
        return FieldCipher(key).decrypt(blob, associated_data)

    def content_mac(self, key_id: str, content: Any) -> str:
        sub_key = hmac.new(self.keys[key_id], b"kiosk-hub content hash v1", hashlib.sha256).digest()
        return hmac.new(sub_key, canonical_json(content), hashlib.sha256).hexdigest()

    # -- the file ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HubKeyring:
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
                raw = fh.read(1_000_000)
        except FileNotFoundError:
            raise
        except IsADirectoryError:
            raise HubKeyError(f"hub key file {path} is a folder") from None
        except OSError as exc:
            raise HubKeyError(f"cannot read hub key file {path}: {exc.strerror or exc}") from None
        if mode & 0o077:
            try:
                path.chmod(0o600)  # a key readable by others is tightened, not trusted as is
            except OSError as exc:
                raise HubKeyError(f"hub key file {path} is readable by others (mode {mode:o}) and cannot be restricted: {exc}") from None
        keys: dict[str, bytes] = {}
        for n, line in enumerate(raw.decode("ascii", errors="replace").splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            key = _decode_key(parts[1]) if len(parts) == 2 and KEY_ID.match(parts[0]) else None
            if key is None:
                raise HubKeyError(f"{path}:{n}: expected 'KEY_ID BASE64_KEY' ({KEY_BYTES}-byte key)")
            if parts[0] in keys:
                raise HubKeyError(f"{path}:{n}: key id {parts[0]} listed twice")
            keys[parts[0]] = key
        if not keys:
            raise HubKeyError(f"hub key file {path} holds no key")
        return cls(path, keys)

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> HubKeyring:
        """A new key file with one key; refuses to overwrite an existing file."""
        path = Path(path)
        _private_dir(path.parent)
        line = _key_line()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise HubKeyError(f"hub key file {path} already exists") from None
        except OSError as exc:
            raise HubKeyError(f"cannot create hub key file {path}: {exc.strerror or exc}") from None
        try:
            os.write(fd, b"# kiosk hub payload keys: KEY_ID BASE64; the last line is current. Back this file up.\n" + line)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(path.parent)
        return cls.load(path)

    @classmethod
    def rotate(cls, path: str | os.PathLike[str]) -> HubKeyring:
        """Append a new current key; older keys stay so their rows still open."""
        path = Path(path)
        cls.load(path)  # refuse to append to a file we cannot read back
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, _key_line())
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls.load(path)


def _key_line() -> bytes:
    key_id = "k" + secrets.token_hex(4)
    return f"{key_id} {base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}\n".encode()


def _decode_key(text: str) -> bytes | None:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


def _private_dir(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise HubKeyError(f"cannot create key folder {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise HubKeyError(f"key folder {directory} is not a folder")


