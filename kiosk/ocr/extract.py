"""Text lines → receipt fields, driven by layout templates (TOML files in `templates/`).

A template is chosen by keywords found in the text. Each field is anchored on one of its labels
and its value runs to the next known label on the same line (or, if empty, the text under the
label on the next line). Values are then parsed by kind: digits, code, date, amount, words, text.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from kiosk.ocr.lines import TextBox, TextLine
from kiosk.ocr.normalize import (clean_text, format_amount, parse_amount, parse_date, parse_hex,
                                 parse_digits, to_halfwidth)

TEMPLATE_DIR = Path(__file__).with_name("templates")
FIELD_NAMES = ("bill_code", "bill_number", "check_code", "issue_date", "payer", "hospital", "insurance",
               "total", "total_in_words", "fund_paid", "personal_account_paid", "personal_cash_paid")
KINDS = ("digits", "hex", "code", "date", "amount", "words", "text")
_NUMERIC_RUN = re.compile(r"[¥\d][\d.,¥OolISB]*\d|\d")
_WORD_CHARS = re.compile(r"[^零壹贰叁肆伍陆柒捌玖拾佰仟万亿元圆角分整正]")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    labels: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    keywords: tuple[str, ...]
    excludes: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    stop_labels: tuple[str, ...]
    item_header: tuple[str, ...]
    item_amount_header: tuple[str, ...]
    item_end: tuple[str, ...]

    def score(self, text: str) -> int:
        return sum(k in text for k in self.keywords) - 2 * sum(k in text for k in self.excludes)

    def all_labels(self) -> list[tuple[str, str | None]]:
        """(label, field name or None for a stop label)."""
        return [(label, f.name) for f in self.fields for label in f.labels] + [(s, None) for s in self.stop_labels]


class TemplateError(ValueError):
    """A template file is malformed; the message names the file and the key."""


def load_template(path: Path) -> Template:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"{path}: {exc}") from None
    try:
        fields = []
        for name, spec in raw["fields"].items():
            if name not in FIELD_NAMES:
                raise TemplateError(f"{path}: fields.{name}: unknown field; expected one of {', '.join(FIELD_NAMES)}")
            if spec["kind"] not in KINDS:
                raise TemplateError(f"{path}: fields.{name}.kind: expected one of {', '.join(KINDS)}")
            fields.append(FieldSpec(name, tuple(to_halfwidth(x) for x in spec["labels"]), spec["kind"]))
        items = raw.get("items", {})
        return Template(
            name=raw["name"], title=raw.get("title", raw["name"]),
            keywords=tuple(to_halfwidth(k) for k in raw.get("keywords", [])),
            excludes=tuple(to_halfwidth(k) for k in raw.get("excludes", [])),
            fields=tuple(fields),
            stop_labels=tuple(to_halfwidth(s) for s in raw.get("stop_labels", [])),
            item_header=tuple(to_halfwidth(s) for s in items.get("header", [])),
            item_amount_header=tuple(to_halfwidth(s) for s in items.get("amount_header", [])),
            item_end=tuple(to_halfwidth(s) for s in items.get("end", [])),
        )
    except KeyError as exc:
        raise TemplateError(f"{path}: missing key {exc}") from None


def load_templates(folder: Path = TEMPLATE_DIR) -> list[Template]:
    return [load_template(p) for p in sorted(folder.glob("*.toml"))]


def choose_template(lines: list[TextLine], templates: list[Template]) -> Template:
    text = to_halfwidth("".join(line.text for line in lines))
    return max(templates, key=lambda t: t.score(text))  # ties: first in file order


@dataclass
class FieldValue:
    value: str | None
    confidence: float = 0.0
    raw: str = ""


@dataclass
class Extraction:
    template: str
    fields: dict[str, FieldValue] = field(default_factory=dict)
    items: list[dict] = field(default_factory=list)  # {"name", "amount", "confidence"}


@dataclass
class _Span:
    """A line's text with, for every character, the box it came from."""

    text: str
    owner: list[int]
    boxes: list[TextBox]

    @classmethod
    def of(cls, line: TextLine) -> _Span:
        text, owner = [], []
        for i, box in enumerate(line.boxes):
            if i:
                text.append(" ")
                owner.append(-1)
            t = to_halfwidth(box.text)
            text.append(t)
            owner.extend([i] * len(t))
        return cls("".join(text), owner, line.boxes)

    def confidence(self, start: int, end: int) -> float:
        idx = {self.owner[k] for k in range(start, end) if self.owner[k] >= 0}
        return min((self.boxes[i].confidence for i in idx), default=0.0)

    def x_of(self, pos: int) -> float:
        """Estimated x of character `pos` (boxes are spread evenly over their width)."""
        i = self.owner[pos] if self.owner[pos] >= 0 else self.owner[max(0, pos - 1)]
        box = self.boxes[i]
        first = self.owner.index(i)
        n = self.owner.count(i)
        return box.left + (pos - first + 0.5) / max(1, n) * (box.right - box.left)


def _find_labels(text: str, labels: list[tuple[str, str | None]]) -> list[tuple[int, int, str | None]]:
    """Non-overlapping label hits (start, end, field) preferring the longest label."""
    hits = []
    for label, name in labels:
        for m in re.finditer(re.escape(label), text):
            hits.append((m.start(), m.end(), name))
    hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
    chosen: list[tuple[int, int, str | None]] = []
    for h in hits:
        if all(h[1] <= c[0] or h[0] >= c[1] for c in chosen):
            chosen.append(h)
    return sorted(chosen)


def parse_value(kind: str, raw: str) -> str | None:
    raw = raw.strip(" :;,")
    if kind == "digits":
        return parse_digits(raw)
    if kind == "code":
        value = re.sub(r"[^0-9A-Za-z]", "", to_halfwidth(raw))
        return value or None
    if kind == "hex":
        return parse_hex(raw)
    if kind == "date":
        return parse_date(raw)
    if kind == "amount":
        return format_amount(parse_amount(raw))
    if kind == "words":
        value = _WORD_CHARS.sub("", to_halfwidth(raw))
        return value or None
    return clean_text(raw)


def extract(lines: list[TextLine], template: Template) -> Extraction:
    labels = template.all_labels()
    spans = [_Span.of(line) for line in lines]
    result = Extraction(template.name)
    for li, span in enumerate(spans):
        hits = _find_labels(span.text, labels)
        for k, (start, end, name) in enumerate(hits):
            if name is None or name in result.fields:
                continue
            stop = hits[k + 1][0] if k + 1 < len(hits) else len(span.text)
            raw = span.text[end:stop]
            conf = span.confidence(end, stop)
            if not raw.strip(" :;,") and li + 1 < len(spans):
                raw, conf = _value_below(span, start, end, spans[li + 1], labels)
            spec = next(f for f in template.fields if f.name == name)
            if spec.kind == "text":
                raw = cut_misread_label(raw, labels)
            result.fields[name] = FieldValue(parse_value(spec.kind, raw), conf, raw.strip())
    for spec in template.fields:
        result.fields.setdefault(spec.name, FieldValue(None, 0.0, ""))
    result.items = _extract_items(spans, template)
    return result


_CJK_TAIL = re.compile(r"[\u4e00-\u9fff()]+$")


def cut_misread_label(raw: str, labels: list[tuple[str, str | None]]) -> str:
    """A name or a hospital never holds a colon: when one follows, the engine ran the value into
    the next label and misread that label (blurred '校验码:' as '模轴码:'), so it was not found.
    Cut off the label-sized tail before the colon that looks most like a known label (at least
    one character in place); if none does, the value is left as read."""
    head = re.split(r"[:;]", raw, maxsplit=1)
    if len(head) < 2:
        return raw
    before = head[0].rstrip()
    tail = _CJK_TAIL.search(before)
    if not tail:
        return raw
    best, best_share = 0, 0.0
    for label, _ in labels:
        n = len(label)
        if n < 2 or n >= len(tail.group()):
            continue
        share = sum(a == b for a, b in zip(before[-n:], label, strict=False)) / n
        if share > best_share or (share == best_share and share and n < best):  # tie: cut less
            best, best_share = n, share
    return before[:-best] if best_share else raw


def _value_below(span: _Span, start: int, end: int, below: _Span, labels) -> tuple[str, float]:
    """Text on the next line under the label (forms that print the value beneath)."""
    left, right = span.x_of(start), span.x_of(end - 1)
    hits = _find_labels(below.text, labels)
    for i, box in enumerate(below.boxes):
        if box.right >= left and box.left <= right + box.height * 4:
            first = below.owner.index(i)
            last = first + len(to_halfwidth(box.text))
            if any(h[0] < last and h[1] > first for h in hits):
                return "", 0.0
            return below.text[first:last], box.confidence
    return "", 0.0


def _extract_items(spans: list[_Span], template: Template) -> list[dict]:
    if not template.item_header:
        return []
    header_at = next((i for i, s in enumerate(spans) if any(h in s.text for h in template.item_header)), None)
    if header_at is None:
        return []
    header = spans[header_at]
    amount_x = None
    for label in template.item_amount_header:
        pos = header.text.find(label)
        if pos >= 0:
            amount_x = (header.x_of(pos) + header.x_of(pos + len(label) - 1)) / 2
            break
    items = []
    for span in spans[header_at + 1:]:
        if any(e in span.text for e in template.item_end):
            break
        runs = [(m.start(), m.end()) for m in _NUMERIC_RUN.finditer(span.text)]
        if not runs:
            continue
        run = min(runs, key=lambda r: _distance_from(span, r, amount_x))
        amount = parse_amount(span.text[run[0]:run[1]])
        name_end = runs[0][0]
        name = clean_text(re.sub(r"[\d.,¥]+$", "", span.text[:name_end]).strip())
        if amount is None or not name:
            continue
        items.append({"name": name, "amount": format_amount(amount),
                      "confidence": min(span.confidence(0, name_end), span.confidence(*run))})
    return items


def _distance_from(span: _Span, run: tuple[int, int], amount_x: float | None) -> float:
    """How far a numeric run lies from the amount column (rightmost first without a column)."""
    x = (span.x_of(run[0]) + span.x_of(run[1] - 1)) / 2
    return abs(x - amount_x) if amount_x is not None else -x


def amounts_of(items: list[dict]) -> list[Decimal]:
    return [Decimal(i["amount"]) for i in items]
