"""[hub.sms] → NotifyOptions (or None: no SMS). `NotifyConfigError` carries one printable line."""
from __future__ import annotations

import stat
import tomllib
from pathlib import Path
from typing import Any

from kiosk.hub.notify.sender import AliyunSmsSender, FileSender
from kiosk.hub.notify.worker import NotifyOptions

SENDERS = ("", "none", "file", "aliyun")


class NotifyConfigError(ValueError):
    pass


def notify_from_config(config: Any) -> NotifyOptions | None:
    section = config.hub.sms
    templates = {"done": section.template_done, "returned": section.template_returned}
    if section.sender not in SENDERS:
        raise NotifyConfigError(f"hub.sms.sender: expected one of file, aliyun (or empty for none), got {section.sender!r}")
    if section.sender in ("", "none"):
        return None
    if not all(templates.values()):
        raise NotifyConfigError("hub.sms.template_done and hub.sms.template_returned: the approved template codes")
    if section.sender == "file":
        path = Path(section.file) if section.file else Path(config.data_dir) / "sms" / "sent.jsonl"
        return NotifyOptions(FileSender(path), templates)
    if not section.url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise NotifyConfigError(f"hub.sms.url: expected an https:// URL (plain http only on loopback), got {section.url!r}")
    if not section.sign_name:
        raise NotifyConfigError("hub.sms.sign_name: the approved 短信签名 is required for the aliyun sender")
    if not section.keys_file:
        raise NotifyConfigError("hub.sms.keys_file: a 0600 TOML file with access_key_id and access_key_secret is required")
    path = Path(section.keys_file)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        keys = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotifyConfigError(f"hub.sms.keys_file {path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotifyConfigError(f"hub.sms.keys_file {path}: cannot read it ({type(exc).__name__})") from None
    if mode & 0o077:
        raise NotifyConfigError(f"hub.sms.keys_file {path}: readable by others (chmod 600 it)")
    key_id, secret = keys.get("access_key_id"), keys.get("access_key_secret")
    if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) or not secret:
        raise NotifyConfigError(f"hub.sms.keys_file {path}: expected access_key_id and access_key_secret")
    return NotifyOptions(AliyunSmsSender(section.url, key_id, secret, section.sign_name), templates)
