"""`[upstream]` config → a ready `PlatformService` (or None when no platform is configured).

Every bad value is one `UpstreamConfigError` line naming the key, checked before the hub starts.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from collections.abc import Callable

from kiosk.hub.upstream.client import PlatformClient, UpstreamSettings
from kiosk.hub.upstream.envelope import REQUEST_FIELDS, Institution, MsgIdSequence
from kiosk.hub.upstream.service import PlatformService
from kiosk.hub.upstream.signing import HmacSha256Signer, NoSigner, Signer, SigningKeyError, load_keys

SIGNERS = ("none", "hmac-sha256")


class UpstreamConfigError(ValueError):
    pass


def _url_ok(url: str) -> bool:
    return bool(re.fullmatch(r"https?://[^\s/]+(/\S*)?", url))


def settings_from_section(section: Any) -> UpstreamSettings | None:
    """None when `upstream.url` is empty (the hub then answers record/voucher queries with 503)."""
    if not section.url:
        return None
    problems = []
    if not _url_ok(section.url):
        problems.append(("upstream.url", "expected an http:// or https:// URL"))
    if section.ec_url and not _url_ok(section.ec_url):
        problems.append(("upstream.ec_url", "expected an http:// or https:// URL"))
    if len(section.fixmedins_code) != 12 or not section.fixmedins_code.isalnum():
        problems.append(("upstream.fixmedins_code", "expected the 12-character 定点医药机构编号"))
    for key in ("mdtrtarea_admvs", "insuplc_admdvs"):
        value = getattr(section, key)
        if (value or key == "mdtrtarea_admvs") and not re.fullmatch(r"\d{6}", value):
            problems.append((f"upstream.{key}", "expected a 6-digit 医保区划 code"))
    for key in ("fixmedins_name", "recer_sys_code", "infver", "opter", "opter_name"):
        if len(getattr(section, key)) > REQUEST_FIELDS[key]:
            problems.append((f"upstream.{key}", f"at most {REQUEST_FIELDS[key]} characters"))
    if section.signing not in SIGNERS:
        problems.append(("upstream.signing", f"expected one of {', '.join(SIGNERS)}"))
    if problems:
        key, what = problems[0]
        raise UpstreamConfigError(f"{key}: {what}")
    institution = Institution(section.fixmedins_code, section.fixmedins_name, section.mdtrtarea_admvs,
                              recer_sys_code=section.recer_sys_code, infver=section.infver, opter=section.opter,
                              opter_name=section.opter_name, signtype="HMACSHA256" if section.signing == "hmac-sha256" else "")
    return UpstreamSettings(section.url, section.ec_url, institution, timeout_s=section.timeout_s, retries=section.retries,
                            insuplc_admdvs=section.insuplc_admdvs)


def signer_from_section(section: Any) -> Signer:
    if section.signing == "none":
        return NoSigner()
    if not section.keys_file:
        raise UpstreamConfigError("upstream.keys_file: required with signing = \"hmac-sha256\"")
    try:
        access, secret = load_keys(section.keys_file)
    except SigningKeyError as exc:
        raise UpstreamConfigError(str(exc)) from None
    return HmacSha256Signer(access, secret)


def msgid_state_path(section: Any, data_dir: Path) -> Path:
    return Path(section.msgid_state_file) if section.msgid_state_file else data_dir / "upstream" / "msgid.state"


def open_platform(settings: UpstreamSettings, state_file: Path, signer: Signer | None = None,
                  idcard_register: Callable[[str], dict[str, str]] | None = None) -> PlatformService:
    msgids = MsgIdSequence(settings.institution.fixmedins_code, state_file)
    return PlatformService(PlatformClient(settings, msgids, signer), idcard_register)


def platform_from_config(config: Any) -> PlatformService | None:
    """The hub's platform from `config.upstream`; None when not configured. `UpstreamConfigError`
    for a bad value."""
    section = config.upstream
    settings = settings_from_section(section)
    if settings is None:
        return None
    return open_platform(settings, msgid_state_path(section, config.data_dir), signer_from_section(section))


def platform_for_simulator(state_dir: Path, seed: int = 0, keys: bool = True, timeout_s: float = 4.0,
                           retries: int = 1) -> tuple[PlatformService, Any]:
    """A platform simulator on 127.0.0.1 and a service talking to it, signed with a fresh key
    pair (0600 file in `state_dir`), as a real deployment would be. For tests and `kiosk demo`."""
    from kiosk.hub import demo
    from kiosk.hub.upstream.simulator import start_platform_sim, write_sim_keys

    state_dir = Path(state_dir)
    key_map = write_sim_keys(state_dir / "upstream" / "platform-sim.keys") if keys else {}
    sim = start_platform_sim(seed=seed, keys=key_map)
    signer: Signer = NoSigner()
    if key_map:
        access, secret = next(iter(key_map.items()))
        signer = HmacSha256Signer(access, secret)
    service = open_platform(sim.settings(timeout_s=timeout_s, retries=retries), state_dir / "upstream" / "msgid.state",
                            signer, idcard_register=demo.card_register)
    return service, sim
