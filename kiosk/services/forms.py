"""Business services as data: load `forms/*.toml`, prefill from the card, validate, build the payload.

A broken form file is reported by name (and line, for TOML syntax errors) and only that service
is hidden; the others load. Adding a service is adding a file.
"""
from __future__ import annotations

import datetime as dt
import re
import string
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from drivers.idcard.idnumber import id_number_is_valid  # GB 11643 check; also used by the controller
from kiosk.services.identity import Person

FIELD_TYPES = ("text", "id_number", "phone", "date", "choice", "multichoice", "amount", "integer", "consent")
# "form": questions, review, submission (and a ticket unless instant). "ticket_only": no questions,
# no submission — the tile issues a queue ticket for the form's band (取号/综合咨询). "progress": no
# questions, no submission — after the card, the done screen lists the person's applications and
# their states from the hub (办理进度查询, kiosk/services/progress.py).
# "info": no questions, nothing submitted — the guide itself is the service (step-by-step help with
# QR codes from config, e.g. 医保电子凭证激活, 参保缴费, 大病保险), with an optional 取号 for help at
# a counter (`ticket = true`).
FORM_KINDS = ("form", "ticket_only", "progress", "info")
# What a guide's text may name in braces; filled from config [signage] at display time.
GUIDE_PLACEHOLDERS = ("phone", "service_point", "contribution_year", "contribution_yuan")
PREFILL_SOURCES = ("card.", "visit.")  # the card read now; an answer given earlier in this visit
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


@dataclass(frozen=True)
class Text:
    zh_CN: str  # noqa: N815 (the locale's own spelling, as in the forms' TOML)
    en: str

    def get(self, language: str) -> str:
        return self.zh_CN if language.startswith("zh") else (self.en or self.zh_CN)


@dataclass(frozen=True)
class Option:
    value: str
    label: Text


@dataclass(frozen=True)
class QrRef:
    key: str  # a key of config [signage.qr]: the URL lives in config, the words here
    label: Text


@dataclass(frozen=True)
class Guide:
    """一次性告知 / 办事指南: everything a resident needs to know before starting, shown on one
    screen before the form, spoken in voice mode and printed on the ticket as a checklist."""
    who: Text  # who can apply
    materials: tuple[Text, ...]  # what to bring (the ticket's checklist)
    days: int  # time limit in working days; 0 = 即时办结
    result: Text  # where the result comes from
    sample: tuple[Text, ...] = ()  # a filled sample: a few example answers
    steps: tuple[Text, ...] = ()  # step-by-step (information services)
    qr: tuple[QrRef, ...] = ()

    def time_limit(self, language: str) -> str:
        zh = language.startswith("zh")
        if self.days == 0:
            return "即时办结" if zh else "Done on the spot"
        return f"{self.days} 个工作日内办结" if zh else f"Within {self.days} working days"


def fill_placeholders(text: str, values: dict[str, Any]) -> str:
    """A guide text with {phone} etc. filled; an unknown or missing value leaves the braces out."""
    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(text):
        out.append(literal)
        if name is not None:
            out.append(str(values.get(name, "")))
    return "".join(out)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    label: Text
    help: Text | None = None
    required: bool = True
    prefill: str = ""  # e.g. "card.name"
    readonly: bool = False
    options: tuple[Option, ...] = ()
    max_choices: int = 1
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_length: int = 60
    allow_future: bool = False
    sensitive: bool = True  # personal data: masked on screen in review, encrypted in the outbox
    page: str = ""  # fields sharing a page name are asked on one screen (consecutive fields only)


@dataclass(frozen=True)
class FormSpec:
    code: str
    title: Text
    description: Text
    band: str
    instant: bool
    fields: tuple[FieldSpec, ...]
    icon: str = ""
    audience: tuple[str, ...] = ("resident",)
    attachments: tuple[str, ...] = ()
    order: int = 100
    kind: str = "form"  # one of FORM_KINDS
    source: Path | None = None
    guide: Guide | None = None  # required by the loader; None only for specs built in code
    ticket: bool = False  # an information service offers 取号 for help at a counter

    @property
    def info(self) -> bool:
        return self.kind == "info"

    @property
    def ticket_only(self) -> bool:
        return self.kind == "ticket_only"

    @property
    def progress(self) -> bool:
        return self.kind == "progress"


@dataclass(frozen=True)
class FormLoadError:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}{f':{self.line}' if self.line else ''}: {self.message}"


@dataclass
class FormCatalog:
    forms: list[FormSpec] = field(default_factory=list)
    errors: list[FormLoadError] = field(default_factory=list)

    def by_code(self, code: str) -> FormSpec | None:
        return next((f for f in self.forms if f.code == code), None)


class FormError(ValueError):
    pass


def load_forms(folder: Path) -> FormCatalog:
    catalog = FormCatalog()
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            catalog.forms.append(load_form(path))
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
            catalog.errors.append(FormLoadError(path.name, line, f"invalid TOML: {exc}"))
        except (FormError, OSError, UnicodeDecodeError) as exc:
            catalog.errors.append(FormLoadError(path.name, None, str(exc)))
    seen: set[str] = set()
    for form in list(catalog.forms):
        if form.code in seen:
            catalog.forms.remove(form)
            catalog.errors.append(FormLoadError(form.source.name if form.source else form.code, None, f"duplicate code {form.code!r}"))
        seen.add(form.code)
    catalog.forms.sort(key=lambda f: (f.order, f.code))
    return catalog


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _text(raw: Any, where: str) -> Text:
    if isinstance(raw, str):
        return Text(raw, raw)
    if isinstance(raw, dict) and isinstance(raw.get("zh_CN"), str):
        return Text(raw["zh_CN"], str(raw.get("en", "")))
    raise FormError(f"{where}: expected a string or a table with zh_CN and en")


def load_form(path: Path) -> FormSpec:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    code = raw.get("code")
    if not isinstance(code, str) or not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", code):
        raise FormError("code: expected a short lowercase ASCII name such as 'enrol'")
    band = raw.get("band", "D")
    if not isinstance(band, str) or not re.fullmatch(r"[A-Z]", band):
        raise FormError("band: expected one capital letter")
    fields = tuple(_field(item, i) for i, item in enumerate(raw.get("fields", [])))
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise FormError("fields: duplicate field name")
    kind = raw.get("kind", "form")
    if kind not in FORM_KINDS:
        raise FormError(f"kind: expected one of {', '.join(FORM_KINDS)}, got {kind!r}")
    if kind == "ticket_only" and (fields or raw.get("instant", False)):
        raise FormError("kind = \"ticket_only\": a ticket-only service has no fields and is not instant")
    if kind == "progress" and fields:
        raise FormError("kind = \"progress\": a progress query has no fields (the card identifies the resident)")
    if kind == "info" and fields:
        raise FormError("kind = \"info\": an information service has no fields (its [guide] steps are the content)")
    if "guide" not in raw:
        raise FormError("[guide]: every service needs a 办事指南 (who, materials, days, result) so residents "
                        "know everything before they start; add a [guide] table")
    guide = _guide(raw["guide"])
    if kind == "info" and not guide.steps:
        raise FormError("guide.steps: an information service needs its step-by-step help")
    pages = [f.page for f in fields if f.page]
    for page in set(pages):  # a page is one screen: its fields must follow each other
        at = [i for i, f in enumerate(fields) if f.page == page]
        if at != list(range(at[0], at[-1] + 1)):
            raise FormError(f"fields: the fields of page {page!r} must be consecutive")
    return FormSpec(
        code=code,
        title=_text(raw.get("title"), "title"),
        description=_text(raw.get("description", ""), "description"),
        band=band,
        instant=bool(raw.get("instant", False)),
        fields=fields,
        icon=str(raw.get("icon", "")),
        audience=tuple(raw.get("audience", ["resident"])),
        attachments=tuple(raw.get("attachments", [])),
        order=int(raw.get("order", 100)),
        kind=kind,
        source=path,
        guide=guide,
        ticket=bool(raw.get("ticket", False)),
    )


def _guide_text(raw: Any, where: str) -> Text:
    text = _text(raw, where)
    for value in (text.zh_CN, text.en):
        try:
            names = [name for _lit, name, _spec, _conv in string.Formatter().parse(value) if name is not None]
        except ValueError:
            raise FormError(f"{where}: unbalanced braces (write {{{{ and }}}} for a literal brace)") from None
        for name in names:
            if name not in GUIDE_PLACEHOLDERS:
                raise FormError(f"{where}: unknown placeholder {{{name}}}; expected one of {', '.join(GUIDE_PLACEHOLDERS)}")
    if not text.zh_CN.strip() or not text.en.strip():
        raise FormError(f"{where}: expected both zh_CN and en text")
    return text


def _guide_list(raw: Any, where: str, required: bool) -> tuple[Text, ...]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise FormError(f"{where}: expected a list")
    if required and not raw:
        raise FormError(f"{where}: expected at least one entry")
    return tuple(_guide_text(item, f"{where}[{i}]") for i, item in enumerate(raw))


def _guide(raw: Any) -> Guide:
    if not isinstance(raw, dict):
        raise FormError("[guide]: expected a table")
    known = {"who", "materials", "days", "result", "sample", "steps", "qr"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise FormError(f"guide.{unknown[0]}: unknown key; expected one of {', '.join(sorted(known))}")
    for key in ("who", "materials", "days", "result"):
        if key not in raw:
            raise FormError(f"guide.{key}: missing (who can apply, materials to bring, days, where the result comes from)")
    days = raw["days"]
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 365:
        raise FormError("guide.days: expected the time limit in working days (0 = 即时办结), 0 to 365")
    qr = []
    for i, item in enumerate(raw.get("qr", [])):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not re.fullmatch(r"[a-z][a-z0-9_]*", item["key"]):
            raise FormError(f"guide.qr[{i}]: expected a table with key (a [signage.qr] name) and label")
        qr.append(QrRef(item["key"], _guide_text(item.get("label"), f"guide.qr[{i}].label")))
    return Guide(
        who=_guide_text(raw["who"], "guide.who"),
        materials=_guide_list(raw["materials"], "guide.materials", required=True),
        days=days,
        result=_guide_text(raw["result"], "guide.result"),
        sample=_guide_list(raw.get("sample"), "guide.sample", required=False),
        steps=_guide_list(raw.get("steps"), "guide.steps", required=False),
        qr=tuple(qr),
    )


def _decimal(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise FormError(f"{where}: expected a number") from None


def _field(raw: Any, index: int) -> FieldSpec:
    where = f"fields[{index}]"
    if not isinstance(raw, dict):
        raise FormError(f"{where}: expected a table")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise FormError(f"{where}.name: expected a lowercase identifier")
    kind = raw.get("type", "text")
    if kind not in FIELD_TYPES:
        raise FormError(f"{where}.type: expected one of {', '.join(FIELD_TYPES)}, got {kind!r}")
    options = tuple(
        Option(str(o["value"]), _text(o.get("label", o["value"]), f"{where}.options"))
        for o in raw.get("options", [])
        if isinstance(o, dict) and "value" in o
    )
    if kind in ("choice", "multichoice") and not options:
        raise FormError(f"{where}.options: a {kind} field needs options")
    return FieldSpec(
        name=name,
        type=kind,
        label=_text(raw.get("label", name), f"{where}.label"),
        help=_text(raw["help"], f"{where}.help") if "help" in raw else None,
        required=bool(raw.get("required", True)),
        prefill=_prefill(raw.get("prefill", ""), where),
        readonly=bool(raw.get("readonly", False)),
        options=options,
        max_choices=int(raw.get("max_choices", 1 if kind == "choice" else len(options) or 1)),
        min_value=_decimal(raw.get("min"), f"{where}.min"),
        max_value=_decimal(raw.get("max"), f"{where}.max"),
        max_length=int(raw.get("max_length", 60)),
        allow_future=bool(raw.get("allow_future", False)),
        sensitive=bool(raw.get("sensitive", True)),
        page=_page(raw.get("page", ""), where),
    )


def _page(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or (raw and not re.fullmatch(r"[a-z][a-z0-9_]*", raw)):
        raise FormError(f"{where}.page: expected a lowercase identifier")
    return raw


def _prefill(raw: Any, where: str) -> str:
    text = str(raw)
    if text and not text.startswith(PREFILL_SOURCES):
        raise FormError(f"{where}.prefill: expected card.<field> or visit.<field>, got {text!r}")
    return text


def prefill(spec: FormSpec, person: Person | None, visit: dict[str, Any] | None = None) -> dict[str, Any]:
    """Answers known before the form starts: from the card just read (`card.*`) and from what the
    resident gave earlier in this same visit (`visit.*`, e.g. the phone number: asked once per
    visit). Nothing is carried from one visit to the next."""
    answers: dict[str, Any] = {}
    for f in spec.fields:
        value: Any = None
        if person is not None and f.prefill.startswith("card."):
            value = person.field(f.prefill.removeprefix("card."))
        elif visit and f.prefill.startswith("visit."):
            value = visit.get(f.prefill.removeprefix("visit."))
        if value:
            answers[f.name] = value
    return answers


def visit_answers(spec: FormSpec, answers: dict[str, Any]) -> dict[str, Any]:
    """What a completed form gives the rest of the visit: each `visit.*` field's valid answer."""
    given = {}
    for f in spec.fields:
        value = answers.get(f.name)
        if f.prefill.startswith("visit.") and value and validate_field(f, value) is None:
            given[f.prefill.removeprefix("visit.")] = value
    return given


def validate_field(f: FieldSpec, value: Any, today: dt.date | None = None) -> Text | None:
    """One message (zh/en) or None. Never raises on bad input."""
    today = today or dt.date.today()
    empty = value is None or value == "" or value == [] or value is False
    if empty:
        if f.required:
            return Text("请填写此项" if f.type != "consent" else "请阅读并勾选同意", "This is required" if f.type != "consent" else "Please read and agree")
        return None
    text = str(value).strip() if not isinstance(value, list) else ""
    if f.type == "id_number":
        if not id_number_is_valid(text.upper()):
            return Text("身份证号码不正确，请核对（18 位，最后一位可能是 X）", "ID number is not valid (18 characters, the last may be X)")
    elif f.type == "phone":
        if not PHONE.fullmatch(text.replace(" ", "")):
            return Text("请输入 11 位手机号码或带区号的座机号码", "Enter an 11-digit mobile number or a landline with area code")
    elif f.type == "date":
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return Text("日期格式应为 年-月-日", "Date must be YYYY-MM-DD")
        if day > today and not f.allow_future:
            return Text("日期不能晚于今天", "Date cannot be in the future")
        if day.year < 1900:
            return Text("日期不正确", "Date is not valid")
    elif f.type in ("amount", "integer"):
        try:
            number = Decimal(text)
        except InvalidOperation:
            return Text("请输入数字", "Enter a number")
        if not number.is_finite() or (f.type == "integer" and number != number.to_integral_value()):
            return Text("请输入整数", "Enter a whole number")
        exponent = number.as_tuple().exponent  # an int for a finite number (checked above)
        if f.type == "amount" and isinstance(exponent, int) and exponent < -2:
            return Text("金额最多保留两位小数", "Amounts have at most two decimals")
        if f.min_value is not None and number < f.min_value:
            return Text(f"不能小于 {f.min_value}", f"Must be at least {f.min_value}")
        if f.max_value is not None and number > f.max_value:
            return Text(f"不能大于 {f.max_value}", f"Must be at most {f.max_value}")
    elif f.type == "choice":
        if text not in {o.value for o in f.options}:
            return Text("请选择一项", "Choose one option")
    elif f.type == "multichoice":
        chosen = value if isinstance(value, list) else [value]
        valid = {o.value for o in f.options}
        if any(c not in valid for c in chosen):
            return Text("请从列表中选择", "Choose from the list")
        if len(chosen) > f.max_choices:
            return Text(f"最多选择 {f.max_choices} 项", f"Choose at most {f.max_choices}")
    elif f.type == "text" and len(text) > f.max_length:
        return Text(f"最多 {f.max_length} 个字", f"At most {f.max_length} characters")
    return None


def validate(spec: FormSpec, answers: dict[str, Any], today: dt.date | None = None) -> dict[str, Text]:
    errors = {}
    for f in spec.fields:
        message = validate_field(f, answers.get(f.name), today)
        if message is not None:
            errors[f.name] = message
    return errors


# What each field's editor hands over on the form screen (kiosk/ui/widgets/editors.py): text
# for typed and keypad fields and dates, one option value (or nothing) for a choice, a list of
# option values for a multichoice, true/false for a consent.
_NOT_TEXT = Text("应为文字（JSON 字符串）", "expected text (a JSON string)")
_NOT_CHOICE = Text("应为一个选项值（JSON 字符串）", "expected one option value (a JSON string)")
_NOT_LIST = Text("应为选项值列表（JSON 数组）", "expected a list of option values (a JSON array of strings)")
_NOT_CONSENT = Text("应为 true 或 false", "expected true or false")
_NOT_A_FIELD = Text("本表单没有此项", "not a field of this form")


def collect_answer(f: FieldSpec, value: Any) -> tuple[Any, Text | None]:
    """A JSON value as the field's editor would have collected it (text stripped), or a message
    when no editor could have produced it."""
    if f.type == "consent":
        return (value, None) if isinstance(value, bool) or value is None else (None, _NOT_CONSENT)
    if f.type == "multichoice":
        if value is None:
            return [], None
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return (list(value), None) if ok else (None, _NOT_LIST)
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, _NOT_CHOICE if f.type == "choice" else _NOT_TEXT
    return (value if f.type == "choice" else value.strip()), None


def collect_answers(spec: FormSpec, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Text]]:
    """Answers keyed by field name (as the form screen collects them) from a JSON object, and a
    message per key that is not a field or holds a value no editor produces."""
    answers: dict[str, Any] = {}
    errors: dict[str, Text] = {}
    names = {f.name: f for f in spec.fields}
    for key in data:
        if key not in names:
            errors[str(key)] = _NOT_A_FIELD
    for f in spec.fields:
        if f.name in data:
            value, problem = collect_answer(f, data[f.name])
            if problem is not None:
                errors[f.name] = problem
            else:
                answers[f.name] = value
    return answers, errors


class AnswersInvalid(ValueError):
    """Some answers break the form's rules: one zh/en message per field name."""

    def __init__(self, errors: dict[str, Text]) -> None:
        super().__init__("; ".join(f"{name}: {text.en}" for name, text in errors.items()))
        self.errors = errors


def submission_payload(spec: FormSpec, person: Person | None, data: dict[str, Any],
                       today: dt.date | None = None) -> dict[str, Any]:
    """Validate answers given by field name with the form engine's rules and build the payload
    with `build_payload`, the function the kiosk screen uses; raise AnswersInvalid otherwise."""
    if spec.progress:
        raise AnswersInvalid({"service": Text(f"{spec.code} 是查询，不提交表单", f"{spec.code} is a query, nothing to submit")})
    if spec.info:
        raise AnswersInvalid({"service": Text(f"{spec.code} 是办事指南，不提交表单", f"{spec.code} is information only, nothing to submit")})
    if spec.ticket_only:  # nothing is submitted for it on the kiosk either
        raise AnswersInvalid({"service": Text(f"{spec.code} 只取号、不提交表单，请用 kiosk ticket --service {spec.code}",
                                              f"{spec.code} is ticket-only, nothing to submit: use kiosk ticket --service {spec.code}")})
    answers, errors = collect_answers(spec, data)
    for name, message in validate(spec, answers, today).items():
        errors.setdefault(name, message)
    if errors:
        position = {f.name: i for i, f in enumerate(spec.fields)}  # the screen's order; unknown keys last
        raise AnswersInvalid({name: errors[name] for name in sorted(errors, key=lambda k: position.get(k, len(position)))})
    return build_payload(spec, person, answers)


def build_payload(spec: FormSpec, person: Person | None, answers: dict[str, Any]) -> dict[str, Any]:
    """The submission body the outbox encrypts and the hub stores."""
    return {
        "service": spec.code,
        "form_version": 1,
        "applicant": None if person is None else {
            "name": person.name,
            "id_number": person.id_number,
            "source": person.source,
            "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        },
        "answers": {f.name: answers.get(f.name) for f in spec.fields if f.name in answers},
    }


def display_value(f: FieldSpec, value: Any, language: str) -> str:
    """How an answer reads on the review screen (option labels, not codes)."""
    if value is None or value == "":
        return "—"
    if f.type in ("choice", "multichoice"):
        labels = {o.value: o.label.get(language) for o in f.options}
        values = value if isinstance(value, list) else [value]
        return "、".join(labels.get(v, str(v)) for v in values)
    if f.type == "consent":
        return "已同意" if language.startswith("zh") else "Agreed"
    return str(value)
