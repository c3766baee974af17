"""config.toml → frozen dataclasses.

Every error names the file, the key and what was expected, and stops the command with one
message. The environment overrides `KIOSK_DATA_DIR`, `KIOSK_HUB_URL`, `KIOSK_HUB_TOKEN`,
`KIOSK_HALL_URL` and `KIOSK_HALL_TOKEN`.

A device address of `sim://` means "start this device's simulator and talk to it through the
real transport" (a pty or loopback socket): the driver code path is the one real hardware uses.

`[hall]` (overridden by `KIOSK_HALL_URL` / `KIOSK_HALL_TOKEN`): with a url the service hall on
the LAN issues the queue numbers (`kiosk hall serve`); without one the kiosk keeps its own local
queue, as a single-machine service point needs.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kiosk.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.toml"
SIMULATED = "sim://"


@dataclass(frozen=True)
class KioskSection:
    id: str = "KIOSK-0001"
    service_point: str = "示范镇医保服务站"
    language: str = "zh_CN"
    fullscreen: bool = False
    idle_timeout_s: int = 120
    idle_warning_s: int = 25
    elderly_age: int = 65
    forms_dir: str = "forms"


@dataclass(frozen=True)
class DisplaySection:
    dpi: float = 96.0  # physical pixels per inch of the panel, for millimetre-true touch targets
    font_family: str = "Noto Sans CJK SC"
    theme: str = "standard"  # standard | high_contrast
    # The window is exactly the screen when full screen; otherwise (offscreen, tests, the demo)
    # exactly width × height. It never grows with its content.
    width: int = 1920
    height: int = 1080
    default_mode: str = "standard"  # standard | elderly (长辈版 for every visit by default)
    # Used for the DPI when the screen does not report its physical size (0 = use `dpi`).
    panel_diagonal_in: float = 0.0


@dataclass(frozen=True)
class PrivacySection:
    mask_head: int = 6
    mask_tail: int = 4
    retention_days: int = 30


@dataclass(frozen=True)
class IdCardSection:
    enabled: bool = True
    port: str = SIMULATED  # device path, pyserial URL (socket://host:port) or sim://
    baud: int = 115200
    poll_interval_ms: int = 300
    sim_profile: str = "assets/cards/idcard/resident.json"


@dataclass(frozen=True)
class SsCardSection:
    enabled: bool = True
    reader: str = ""  # substring of the PC/SC reader name; empty = first reader
    sim_profile: str = "assets/cards/sscard/standard.json"


@dataclass(frozen=True)
class PrinterSection:
    enabled: bool = True
    url: str = SIMULATED  # sim://, serial:/dev/ttyUSB0, socket://host:9100 (raw TCP), file:/path, usb:VID:PID
    baud: int = 9600
    profile: str = "TM-T88V"
    width_chars: int = 32


@dataclass(frozen=True)
class A4PrinterSection:
    enabled: bool = True
    url: str = SIMULATED  # cups:QUEUE (cups: = default destination), folder:/path, or sim://
    sim_folder: str = ""  # sim:// files printed PDFs here; empty = <data_dir>/a4-printed


@dataclass(frozen=True)
class QrScanSection:
    enabled: bool = True
    port: str = SIMULATED
    baud: int = 9600


@dataclass(frozen=True)
class CameraSection:
    enabled: bool = True
    source: str = SIMULATED  # sim:// serves images from sim_folder; an int index or a device path otherwise
    sim_folder: str = "assets/receipts"


@dataclass(frozen=True)
class DevicesSection:
    idcard: IdCardSection = field(default_factory=IdCardSection)
    sscard: SsCardSection = field(default_factory=SsCardSection)
    printer: PrinterSection = field(default_factory=PrinterSection)
    a4printer: A4PrinterSection = field(default_factory=A4PrinterSection)
    qrscan: QrScanSection = field(default_factory=QrScanSection)
    camera: CameraSection = field(default_factory=CameraSection)


@dataclass(frozen=True)
class SmsSection:
    """[hub.sms]: the hub's SMS notices of 办结 / 退回补正 (kiosk/hub/notify). sender "" = none."""
    sender: str = ""  # "" (no SMS) | file (JSON lines, phone masked: demo) | aliyun (Dysmsapi SendSms)
    url: str = "https://dysmsapi.aliyuncs.com/"
    keys_file: str = ""  # aliyun: 0600 TOML with access_key_id, access_key_secret (never in config.toml)
    sign_name: str = ""  # the approved 短信签名
    template_done: str = "SMS_KIOSK_DONE"  # approved template codes (variables: name, service)
    template_returned: str = "SMS_KIOSK_RETURNED"
    file: str = ""  # file sender: empty = <data_dir>/sms/sent.jsonl


@dataclass(frozen=True)
class HubSection:
    url: str = "http://127.0.0.1:8765"
    token: str = "demo-token-0001"
    timeout_s: float = 10.0
    db: str = ""  # hub serve default database; empty = <data_dir>/hub.sqlite3
    tokens_file: str = ""
    key_file: str = ""  # hub serve: payload key ring; empty = <data_dir>/keys/hub.key (never in the database)
    ca_file: str = ""  # kiosk side: CA bundle that signed the hub's certificate (private CA); empty = system CAs
    sms: SmsSection = field(default_factory=SmsSection)  # hub serve: SMS notices to residents (issue 18)


@dataclass(frozen=True)
class HallSection:
    """The service hall's LAN service (kiosk/hall). Empty url = no hall: the kiosk's own queue."""
    url: str = ""  # e.g. https://hall.local:8780
    token: str = ""  # this kiosk's line in the hall's --tokens file
    ca_file: str = ""  # CA bundle that signed the hall's certificate (private CA); empty = system CAs
    timeout_s: float = 5.0  # the resident waits on the done screen for the number: keep it short


@dataclass(frozen=True)
class UpstreamSection:
    """The provincial 医保信息平台 the hub asks (kiosk/hub/upstream). Empty url = not connected:
    the hub answers record and e-voucher queries with 503 upstream_not_configured."""
    url: str = ""  # the transaction endpoint (every infno is POSTed here)
    ec_url: str = ""  # the 电子凭证 decode (ec.query) endpoint
    fixmedins_code: str = ""  # 定点医药机构编号, 12 characters
    fixmedins_name: str = ""
    mdtrtarea_admvs: str = ""  # 就医地医保区划, 6 digits
    insuplc_admdvs: str = ""  # 参保地 sent before 1101 has told it (usually empty)
    recer_sys_code: str = "YBKIOSK"
    infver: str = "V1.0"
    opter: str = "KIOSK-HUB"  # 经办人/终端编号 (opter_type is 2 = 自助终端)
    opter_name: str = "医保自助终端"
    signing: str = "none"  # none | hmac-sha256
    keys_file: str = ""  # 0600 TOML file: access_key, secret_key (never in config.toml)
    msgid_state_file: str = ""  # empty = <data_dir>/upstream/msgid.state
    timeout_s: float = 4.0
    retries: int = 1  # extra attempts for queries only


@dataclass(frozen=True)
class OutboxSection:
    key_file: str = ""  # empty = <data_dir>/keys/outbox.key (never inside config.toml)
    batch_size: int = 200  # measured (bench_sync): fewer round trips; bounded by bytes too (max_batch_bytes)
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0


@dataclass(frozen=True)
class QueueSection:
    minutes_per_ticket: dict[str, float] = field(default_factory=lambda: {"A": 5.0, "B": 8.0, "C": 10.0, "D": 6.0})
    band_names: dict[str, str] = field(default_factory=lambda: {"A": "参保登记", "B": "待遇报销", "C": "备案认定", "D": "综合咨询"})
    priority_ratio: list[int] = field(default_factory=lambda: [1, 2])  # 1 priority : 2 normal


@dataclass(frozen=True)
class PrioritySection:
    """Self-declared priority a resident may choose on identify, beyond the age rule (issue 19):
    any of disabled (残疾人), pregnant (孕妇), military (军人), other (其他). Served like the green channel."""
    reasons: list[str] = field(default_factory=lambda: ["disabled", "pregnant", "military"])


@dataclass(frozen=True)
class SignageSection:
    """What the service point shows and prints (issue 19): its name, the CHS logo and slogan, the
    public consultation/complaint phone, the policy-publicity QR on home and the lobby, the QR codes
    the service guides point to (`qr`: name → URL, e.g. the e-voucher app, payment channels) and this
    year's residents' contribution standard (the 参保缴费 guide)."""
    name: str = ""  # empty = kiosk.service_point
    logo: str = "assets/chs_logo.png"  # PNG (or SVG), relative to the project root
    slogan: str = "医保服务 贴心为民"
    slogan_en: str = "Medical insurance, close to you"
    phone: str = "12393"  # 医疗保障服务热线 (consultation and complaints)
    policy_qr_url: str = "https://www.nhsa.gov.cn/"
    contribution_year: int = 2027
    contribution_yuan: int = 400  # residents' individual contribution per person for that year
    qr: dict[str, str] = field(default_factory=lambda: {
        "voucher_app": "https://fuwu.nhsa.gov.cn/", "pay_wechat": "https://fuwu.nhsa.gov.cn/",
        "pay_alipay": "https://fuwu.nhsa.gov.cn/", "pay_app": "https://fuwu.nhsa.gov.cn/"})


@dataclass(frozen=True)
class OcrSection:
    engine: str = "rapidocr"  # rapidocr | tesseract


@dataclass(frozen=True)
class VoiceSection:
    enabled: bool = True  # spoken prompts for each step and for errors (offline espeak-ng)
    muted: bool = False  # start muted; residents can switch it on from the header
    speed: int = 150
    volume: int = 120


@dataclass(frozen=True)
class TechnicianSection:
    pin_hash: str = ""  # scrypt$salt$hash; empty = technician mode disabled


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = field(default_factory=KioskSection)
    display: DisplaySection = field(default_factory=DisplaySection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
    devices: DevicesSection = field(default_factory=DevicesSection)
    hub: HubSection = field(default_factory=HubSection)
    hall: HallSection = field(default_factory=HallSection)
    upstream: UpstreamSection = field(default_factory=UpstreamSection)
    outbox: OutboxSection = field(default_factory=OutboxSection)
    queue: QueueSection = field(default_factory=QueueSection)
    priority: PrioritySection = field(default_factory=PrioritySection)
    signage: SignageSection = field(default_factory=SignageSection)
    ocr: OcrSection = field(default_factory=OcrSection)
    voice: VoiceSection = field(default_factory=VoiceSection)
    technician: TechnicianSection = field(default_factory=TechnicianSection)
    # Not from the file: where databases, keys and logs live, and where the file was.
    data_dir: Path = Path(".")
    source: Path = DEFAULT_CONFIG

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the project root (assets, forms)."""
        path = Path(relative)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def outbox_key_path(self) -> Path:
        return Path(self.outbox.key_file) if self.outbox.key_file else self.data_dir / "keys" / "outbox.key"


DECLARED_PRIORITY_REASONS = ("disabled", "pregnant", "military", "other")  # [priority] reasons
_ALLOWED_CHOICES = {
    "kiosk.language": ("zh_CN", "en"),
    "display.theme": ("standard", "high_contrast"),
    "display.default_mode": ("standard", "elderly"),
    "ocr.engine": ("rapidocr", "tesseract"),
}
_REQUIRED_NONEMPTY = ("devices.idcard.port", "devices.printer.url", "devices.qrscan.port", "hub.url", "kiosk.id")


def default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "yibao-kiosk"


def load_config(path: str | os.PathLike[str] | None = None, environ: typing.Mapping[str, str] | None = None) -> Config:
    """Load and validate; raise `ConfigError` naming file, key and expectation."""
    environ = os.environ if environ is None else environ
    config_path = Path(path) if path else DEFAULT_CONFIG
    where = str(config_path)
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(where, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(where, "", "is a folder; expected a config file such as config.toml") from None
    except OSError as exc:
        raise ConfigError(where, "", f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ConfigError(where, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, "", f"invalid TOML ({exc})") from None
    sections = {f.name: _build(f.type, raw.get(f.name, {}), f.name, where) for f in _file_fields(Config)}
    unknown = set(raw) - set(sections)
    if unknown:
        raise ConfigError(where, sorted(unknown)[0], f"unknown section; expected one of {', '.join(sorted(sections))}")
    config = Config(**sections, data_dir=Path(environ.get("KIOSK_DATA_DIR") or default_data_dir()), source=config_path)
    _check_environment(environ)
    hub_overrides: dict[str, typing.Any] = {k: environ[e] for k, e in (("url", "KIOSK_HUB_URL"), ("token", "KIOSK_HUB_TOKEN")) if environ.get(e)}
    if hub_overrides:
        config = dataclasses.replace(config, hub=dataclasses.replace(config.hub, **hub_overrides))
    hall_overrides: dict[str, typing.Any] = {k: environ[e] for k, e in (("url", "KIOSK_HALL_URL"), ("token", "KIOSK_HALL_TOKEN")) if environ.get(e)}
    if hall_overrides:
        config = dataclasses.replace(config, hall=dataclasses.replace(config.hall, **hall_overrides))
    config = _enrolled_hub(config, raw.get("hub"), environ)
    _check_ranges(config, where)  # first: a negative timeout is named as such, not as a bad pair
    _check_semantics(config, where)
    _check_paths(config, where, from_environment="KIOSK_DATA_DIR" in environ and bool(environ["KIOSK_DATA_DIR"]))
    return config


HUB_TOKEN_FILE = Path("keys") / "hub.token"  # under the data dir; written by `kiosk enrol`
HUB_PIN_FILE = Path("keys") / "hub-cert.pem"  # the hub's certificate as seen at enrolment (TOFU pin)


def _enrolled_hub(config: Config, raw_hub: typing.Any, environ: typing.Mapping[str, str]) -> Config:
    """What `kiosk enrol` wrote: the token when neither KIOSK_HUB_TOKEN nor the file's `[hub] token`
    gives a real one (empty, absent, or the public demo token that config.toml ships with); the pinned
    certificate as `ca_file` when none is configured (a configured ca_file wins) and the hub is
    reached over https://."""
    in_file = raw_hub.get("token") if isinstance(raw_hub, dict) else None
    given = environ.get("KIOSK_HUB_TOKEN") or (in_file if in_file != HubSection.token else None)
    changes: dict[str, typing.Any] = {}  # str values; Any for dataclasses.replace(**changes)
    if not given:
        try:
            token = (config.data_dir / HUB_TOKEN_FILE).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            token = ""
        if token:
            changes["token"] = token
    pin = config.data_dir / HUB_PIN_FILE
    if not config.hub.ca_file and config.hub.url.startswith("https://") and pin.is_file():
        changes["ca_file"] = str(pin)
    return dataclasses.replace(config, hub=dataclasses.replace(config.hub, **changes)) if changes else config


def _file_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.name not in ("data_dir", "source")]


def _build(cls: typing.Any, value: typing.Any, key: str, where: str) -> typing.Any:
    if isinstance(cls, str):
        cls = typing.get_type_hints(Config)[key.split(".")[-1]]
    if not isinstance(value, dict):
        raise ConfigError(where, key, "expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for name in value:
        if name not in names:
            raise ConfigError(where, f"{key}.{name}", f"unknown key; expected one of {', '.join(sorted(names))}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in value:
            continue
        hint, item, item_key = hints[f.name], value[f.name], f"{key}.{f.name}"
        if dataclasses.is_dataclass(hint):
            kwargs[f.name] = _build(hint, item, item_key, where)
        else:
            kwargs[f.name] = _coerce(hint, item, item_key, where)
    return cls(**kwargs)


def _coerce(hint: typing.Any, value: typing.Any, key: str, where: str) -> typing.Any:
    origin = typing.get_origin(hint)
    if origin is dict:
        _, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(where, key, "expected a table")
        return {str(k): _coerce(value_type, v, f"{key}.{k}", where) for k, v in value.items()}
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(where, key, f"expected a list of {item_type.__name__}")
        return [_coerce(item_type, v, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        hint = typing.get_args(hint)[0]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(where, key, f"expected a finite number, got {value!r}")
    if hint is str and isinstance(value, str) and _has_control(value):
        raise ConfigError(where, key, "expected text without control characters (tabs, line breaks, NUL)")
    if hint is float and isinstance(value, float):
        return value
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(where, key, f"expected true or false, got {value!r}")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(where, key, f"expected an integer, got {value!r}")
    if not isinstance(value, hint):
        raise ConfigError(where, key, f"expected {_type_word(hint)}, got {value!r}")
    return value


def _type_word(hint: type) -> str:
    return {str: "a string", float: "a number", int: "an integer", bool: "true or false"}.get(hint, hint.__name__)


def _get(config: Config, dotted: str) -> typing.Any:
    obj: typing.Any = config
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _check_semantics(config: Config, where: str) -> None:
    for key, choices in _ALLOWED_CHOICES.items():
        if _get(config, key) not in choices:
            raise ConfigError(where, key, f"expected one of {', '.join(choices)}, got {_get(config, key)!r}")
    for key in _REQUIRED_NONEMPTY:
        if not str(_get(config, key)).strip():
            raise ConfigError(where, key, "must not be empty (a device path, a URL such as socket://host:port, or sim://)")
    if not config.hub.url.startswith(("http://", "https://")):
        raise ConfigError(where, "hub.url", f"expected an http:// or https:// URL, got {config.hub.url!r}")
    if config.kiosk.idle_warning_s < 20 or config.kiosk.idle_warning_s >= config.kiosk.idle_timeout_s:
        raise ConfigError(where, "kiosk.idle_warning_s", "expected at least 20 seconds and less than kiosk.idle_timeout_s")
    if not 60 <= config.display.dpi <= 600:
        raise ConfigError(where, "display.dpi", f"expected the panel's DPI between 60 and 600, got {config.display.dpi}")
    for key in ("display.width", "display.height"):
        if not 480 <= _get(config, key) <= 8192:
            raise ConfigError(where, key, f"expected the panel's size in pixels between 480 and 8192, got {_get(config, key)}")
    if config.display.panel_diagonal_in and not 7 <= config.display.panel_diagonal_in <= 100:
        raise ConfigError(where, "display.panel_diagonal_in",
                          f"expected the panel's diagonal in inches between 7 and 100 (or 0), got {config.display.panel_diagonal_in}")
    ratio = config.queue.priority_ratio
    if len(ratio) != 2 or min(ratio) < 1:
        raise ConfigError(where, "queue.priority_ratio", "expected two positive integers, e.g. [1, 2]")
    declared = config.priority.reasons
    if any(r not in DECLARED_PRIORITY_REASONS for r in declared) or len(set(declared)) != len(declared):
        raise ConfigError(where, "priority.reasons", f"expected distinct reasons from {', '.join(DECLARED_PRIORITY_REASONS)}")
    if config.queue.minutes_per_ticket.keys() != config.queue.band_names.keys():
        raise ConfigError(where, "queue.minutes_per_ticket", "expected the same band letters as queue.band_names")


# Nonsense numbers: (lowest, highest, lowest itself allowed). Types are checked by _coerce and
# floats are finite by then; these say what a sensible value is.
_RANGES: dict[str, tuple[float, float, bool]] = {
    "kiosk.idle_timeout_s": (0, 86_400, False),
    "kiosk.elderly_age": (0, 150, True),
    "privacy.mask_head": (0, 18, True),
    "privacy.mask_tail": (0, 18, True),
    "privacy.retention_days": (0, 36_500, True),
    "devices.idcard.baud": (50, 4_000_000, True),
    "devices.idcard.poll_interval_ms": (0, 60_000, False),
    "devices.printer.baud": (50, 4_000_000, True),
    "devices.printer.width_chars": (16, 80, True),
    "devices.qrscan.baud": (50, 4_000_000, True),
    "hub.timeout_s": (0, 3_600, False),
    "hall.timeout_s": (0, 600, False),
    "upstream.timeout_s": (0, 60, False),
    "upstream.retries": (0, 5, True),
    "outbox.batch_size": (1, 1_000, True),  # the hub takes at most 1000 items per request
    "outbox.backoff_base_s": (0, 3_600, False),
    "outbox.backoff_cap_s": (0, 86_400, False),
    "voice.speed": (1, 1_000, True),
    "voice.volume": (0, 200, True),
}
_KIOSK_ID = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]{1,64}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")  # an HTTP header value: printable ASCII, no spaces


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def _range_problem(value: float, low: float, high: float, low_ok: bool) -> str | None:
    if (value >= low if low_ok else value > low) and value <= high:
        return None
    return f"expected {'at least' if low_ok else 'more than'} {low:g} and at most {high:g}, got {value!r}"


def _url_problem(url: str) -> str | None:
    """None when `url` is a usable http(s) URL with a host (and a valid port if it has one)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a port that is not a number in 0..65535
    except ValueError as exc:
        return f"expected an http:// or https:// URL, got {url!r} ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http:// or https:// URL with a host, got {url!r}"
    if _has_control(url) or " " in url:
        return "expected a URL without spaces or control characters"
    return None


def _token_problem(token: str) -> str | None:
    if _TOKEN.fullmatch(token):
        return None
    return "expected printable ASCII without spaces (it is sent in an HTTP header), at most 512 characters"


def _check_environment(environ: typing.Mapping[str, str]) -> None:
    """The environment overrides are named as such: the config file is not where the fix is."""
    checks = (("KIOSK_HUB_URL", _url_problem), ("KIOSK_HUB_TOKEN", _token_problem),
              ("KIOSK_HALL_URL", _url_problem), ("KIOSK_HALL_TOKEN", _token_problem))
    for name, problem_of in checks:
        value = environ.get(name)
        problem = problem_of(value) if value else None
        if problem:
            raise ConfigError("environment", name, problem)


def _check_ranges(config: Config, where: str) -> None:
    for key, (low, high, low_ok) in _RANGES.items():
        problem = _range_problem(_get(config, key), low, high, low_ok)
        if problem:
            raise ConfigError(where, key, problem)
    if config.outbox.backoff_cap_s < config.outbox.backoff_base_s:
        raise ConfigError(where, "outbox.backoff_cap_s", "expected at least outbox.backoff_base_s")
    for band, minutes in config.queue.minutes_per_ticket.items():
        problem = _range_problem(minutes, 0, 1_440, True)
        if problem:
            raise ConfigError(where, f"queue.minutes_per_ticket.{band}", problem)
    if not _KIOSK_ID.fullmatch(config.kiosk.id):
        raise ConfigError(where, "kiosk.id", f"expected 1 to 64 characters without spaces or control characters, got {config.kiosk.id!r}")
    for band in config.queue.band_names:
        if not re.fullmatch(r"[A-Z]", band):
            raise ConfigError(where, f"queue.band_names.{band}", "expected one capital letter as the band")
    problem = _url_problem(config.hub.url)
    if problem:
        raise ConfigError(where, "hub.url", problem)
    problem = _token_problem(config.hub.token)
    if problem:
        raise ConfigError(where, "hub.token", problem)
    if config.hall.url:  # no hall is fine (the local queue); a hall needs a usable url and token
        problem = _url_problem(config.hall.url)
        if problem:
            raise ConfigError(where, "hall.url", problem)
        if not config.hall.token:
            raise ConfigError(where, "hall.token", "must not be empty when hall.url is set (this kiosk's token in the hall's --tokens file)")
    if config.hall.token and (problem := _token_problem(config.hall.token)):
        raise ConfigError(where, "hall.token", problem)
    _check_signage(config, where)
    forms = config.resolve(config.kiosk.forms_dir)
    if not forms.is_dir():
        raise ConfigError(where, "kiosk.forms_dir", f"expected a folder of form files (*.toml); {forms} does not exist or is not a folder")
    if not any(forms.glob("*.toml")):
        raise ConfigError(where, "kiosk.forms_dir", f"expected at least one form file (*.toml) in {forms}")


_PHONE = re.compile(r"[0-9][0-9-]{2,19}")
_QR_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _check_signage(config: Config, where: str) -> None:
    s = config.signage
    if not _PHONE.fullmatch(s.phone):
        raise ConfigError(where, "signage.phone", f"expected a phone number of digits and dashes such as 12393, got {s.phone!r}")
    for key, text, most in (("signage.name", s.name, 40), ("signage.slogan", s.slogan, 40), ("signage.slogan_en", s.slogan_en, 80)):
        if len(text) > most:
            raise ConfigError(where, key, f"expected at most {most} characters (it is printed on the ticket), got {len(text)}")
    logo = config.resolve(s.logo)
    if logo.suffix.lower() not in (".png", ".svg") or not logo.is_file():
        raise ConfigError(where, "signage.logo", f"expected a PNG or SVG file; {logo} does not exist or is not one")
    if (problem := _url_problem(s.policy_qr_url)):
        raise ConfigError(where, "signage.policy_qr_url", problem)
    for name, url in s.qr.items():
        if not _QR_KEY.fullmatch(name):
            raise ConfigError(where, f"signage.qr.{name}", "expected a short lowercase name such as pay_wechat")
        if (problem := _url_problem(url)):
            raise ConfigError(where, f"signage.qr.{name}", problem)
    if not 2000 <= s.contribution_year <= 2100:
        raise ConfigError(where, "signage.contribution_year", f"expected a year such as 2027, got {s.contribution_year}")
    if not 0 <= s.contribution_yuan <= 100_000:
        raise ConfigError(where, "signage.contribution_yuan", f"expected yuan per person between 0 and 100000, got {s.contribution_yuan}")


def _first_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _check_paths(config: Config, where: str, from_environment: bool) -> None:
    """The data folder and the outbox key must be usable as a folder and a file; say which is
    wrong before anything is opened (nothing is created here)."""
    source, key = ("environment", "KIOSK_DATA_DIR") if from_environment else (where, "data folder (default)")
    data_dir = config.data_dir
    existing = _first_existing(data_dir)
    if existing.exists() and not existing.is_dir():
        inside = "" if existing == data_dir else f" (its parent {existing} is a file)"
        raise ConfigError(source, key, f"expected a folder, but {data_dir} is not one{inside}")
    key_path = config.outbox_key_path
    key_source, key_name = (where, "outbox.key_file") if config.outbox.key_file else (source, "outbox key (<data dir>/keys/outbox.key)")
    if key_path.is_dir():
        raise ConfigError(key_source, key_name, f"expected the key file at {key_path}, but it is a folder")
    existing = _first_existing(key_path.parent)
    if existing.exists() and not existing.is_dir():
        raise ConfigError(key_source, key_name, f"expected {key_path.parent} to be a folder for the key, but {existing} is a file")
