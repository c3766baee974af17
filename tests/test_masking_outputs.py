"""Every command's output for the simulator cards and synthetic receipts, fed through one checker.

Without `--unmasked` no output may hold a full ID number (or any number that passes the ID check),
a full name, a phone number, a full birth date, a card's validity dates, card/pass numbers,
health data, or a masked ID number that other fields of the same output narrow down to fewer
than `MIN_CANDIDATES` real numbers. With `--unmasked` (or `outbox list --reveal`) the values
do appear — so the checker is known to look at the right places.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivers.idcard.idnumber import id_number_is_valid
from drivers.idcard.simulator import IdCardSimulator, load_profile
from kiosk.privacy import id_candidates
from pcscd_fixture import pcscd, vpcd_card  # noqa: F401

PROJECT = Path(__file__).resolve().parent.parent
ID_CARDS = sorted((PROJECT / "assets" / "cards" / "idcard").glob("*.json"))
SS_CARDS = sorted((PROJECT / "assets" / "cards" / "sscard").glob("*.json"))
MIN_CANDIDATES = 10  # an attacker holding a masked output must still guess among at least this many

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MASKED_ID = re.compile(r"(?<![0-9A-Za-z*])[0-9*]{17}[0-9Xx*](?![0-9A-Za-z*])")
MASKED_PERMIT = re.compile(r"(?<![0-9A-Za-z*])[A-Z]{3}[0-9*]{12}(?![0-9A-Za-z*])")


@dataclass
class Secrets:
    """What one output must not show in clear."""

    names: list[str] = field(default_factory=list)
    id_numbers: list[str] = field(default_factory=list)
    birth_dates: list[dt.date] = field(default_factory=list)
    other: dict[str, str] = field(default_factory=dict)  # label → value (card numbers, dates, health data …)

    def values(self) -> list[str]:
        return [*self.names, *self.id_numbers, *(d.isoformat() for d in self.birth_dates), *self.other.values()]


def date_forms(day: dt.date) -> list[str]:
    return [day.isoformat(), day.strftime("%Y%m%d"), f"{day.year}年{day.month}月{day.day}日", day.strftime("%Y/%m/%d")]


def leaks(text: str, secrets: Secrets) -> list[str]:
    """Everything personal `text` gives away; empty when it is safely masked."""
    found = []
    upper = text.upper()
    for number in secrets.id_numbers:
        if number.upper() in upper:
            found.append("a full ID number")
    for token in ID_SHAPED.findall(text):
        if id_number_is_valid(token):
            found.append("a number that passes the ID check")
    for name in secrets.names:
        if name and name in text:
            found.append(f"a full name ({len(name)} characters)")
    if PHONE.search(text):
        found.append("a phone number")
    for day in secrets.birth_dates:
        if any(form in text for form in date_forms(day)):
            found.append("a full birth date")
    for label, value in secrets.other.items():
        if value and value in text:
            found.append(label)
    years = {d.year for d in secrets.birth_dates if str(d.year) in text}
    for token in MASKED_ID.findall(text):
        if "*" in token:
            count = id_candidates(token.upper(), min(years) if len(years) == 1 else None, limit=MIN_CANDIDATES)
            if count < MIN_CANDIDATES:
                found.append(f"a derivable ID number ({count} candidates)")
    for token in MASKED_PERMIT.findall(text):
        if "*" in token and "*" * 6 not in token[7:13]:
            found.append("a permit number showing birth-date digits")
    return found


def kiosk(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=PROJECT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"KIOSK_DATA_DIR": str(tmp_path / "data")}


def test_the_checker_catches_what_it_should():
    s = Secrets(["张三"], ["110105195003070019"], [dt.date(1950, 3, 7)], {"a card number": "A01234567"})
    assert leaks('{"name": "张*", "id_number": "110105********0019", "birth_date": "1950-**-**"}', s) == []
    assert "a full name (2 characters)" in leaks("张三", s)
    assert "a number that passes the ID check" in leaks("11010519491231002X", s)
    assert "a phone number" in leaks("call 13812345678", s)
    assert "a full birth date" in leaks("1950年3月7日", s)
    assert "a card number" in leaks("A01234567", s)
    assert any("derivable" in x for x in leaks("11010519500307**19", s))  # only two serial digits hidden
    assert leaks("USA110*******01", s) == [] and leaks("USA11008001****", s)


# --- read-id: every simulator card type ------------------------------------------------------------


def id_card_secrets(path: Path) -> Secrets:
    f = json.loads(path.read_text(encoding="utf-8"))["fields"]
    names = [n for n in (f.get("name"), f.get("chinese_name"), f.get("english_name")) if n]
    other = {"the full address": f.get("address", ""), "the pass number": f.get("pass_number", ""),
             "the card's first validity date": f.get("valid_from", ""), "the card's expiry date": f.get("valid_until", "")}
    other = {k: v for k, v in other.items() if v and v != "长期"}
    return Secrets(names, [f["id_number"]], [dt.date.fromisoformat(f["birth_date"])], other)


@pytest.mark.parametrize("card", ID_CARDS, ids=lambda p: p.stem)
def test_read_id_output_is_masked_unless_unmasked(env, card):
    secrets = id_card_secrets(card)
    with IdCardSimulator(load_profile(card)) as sim:
        url = sim.start_pty()
        outputs = {}
        for mode in ("--json", "--text", "--unmasked"):
            args = {"--json": ["--json"], "--text": [], "--unmasked": ["--json", "--unmasked"]}[mode]
            result = kiosk(env, "read-id", "--port", url, "--timeout", "15", *args)
            assert result.returncode == 0, result.stderr
            outputs[mode] = result.stdout + result.stderr
            sim.lift_and_replace()
    assert leaks(outputs["--json"], secrets) == []
    assert leaks(outputs["--text"], secrets) == []
    shown = json.loads(outputs["--unmasked"])
    assert shown["id_number"] == secrets.id_numbers[0] and shown["name"] in secrets.names
    assert shown["birth_date"] == secrets.birth_dates[0].isoformat()
    assert "a full ID number" in leaks(outputs["--unmasked"], secrets)


# --- read-sscard through pcscd + vpcd ------------------------------------------------------------


@pytest.mark.parametrize("card", SS_CARDS, ids=lambda p: p.stem)
def test_read_sscard_output_is_masked_unless_unmasked(env, pcscd, vpcd_card, card):  # noqa: F811
    c = json.loads(card.read_text(encoding="utf-8"))["card"]
    secrets = Secrets([c["name"]], [c["id_number"]], [dt.date.fromisoformat(c["birth_date"])],
                      {"the card number": c["card_number"], "the card id": c["card_id"],
                       "the card's issue date": c["issue_date"], "the card's expiry date": c["expiry_date"]})
    vpcd_card(card)
    masked = kiosk(env, "read-sscard", "--reader", pcscd.reader, "--timeout", "10")
    clear = kiosk(env, "read-sscard", "--reader", pcscd.reader, "--timeout", "10", "--unmasked")
    assert masked.returncode == 0 and clear.returncode == 0, masked.stderr + clear.stderr
    assert leaks(masked.stdout + masked.stderr, secrets) == []
    shown = json.loads(clear.stdout)
    assert (shown["id_number"], shown["name"], shown["card_number"]) == (c["id_number"], c["name"], c["card_number"])


# --- ocr on synthetic receipts --------------------------------------------------------------------


@pytest.mark.slow
def test_ocr_output_is_masked_unless_unmasked(env, tmp_path):
    import cv2

    from kiosk.ocr.synth import make_receipt

    paths = []
    for seed in (3001, 3102):
        receipt = make_receipt(seed)
        path = tmp_path / f"receipt_{seed}.jpg"
        cv2.imencode(".jpg", receipt.image)[1].tofile(str(path))
        paths.append(str(path))
    clear = kiosk(env, "ocr", "--json", "--unmasked", *paths, timeout=300)
    masked = kiosk(env, "ocr", "--json", *paths, timeout=300)
    text = kiosk(env, "ocr", paths[0], timeout=300)
    assert clear.returncode == masked.returncode == text.returncode == 0, clear.stderr + masked.stderr + text.stderr
    for shown, hidden in zip(map(json.loads, clear.stdout.splitlines()), map(json.loads, masked.stdout.splitlines())):
        f = shown["fields"]
        assert f["payer"] and f["hospital"] and shown["items"]  # what --unmasked shows (as OCR read it) …
        secrets = Secrets([f["payer"]], [], [], {"the hospital": f["hospital"], "the check code": f["check_code"] or "",
                                                 **{f"line item {i['name']}": i["name"] for i in shown["items"] if len(i["name"]) >= 2}})
        assert leaks(json.dumps(hidden, ensure_ascii=False), secrets) == []  # … the default hides
        if shown["file"] == paths[0]:  # the readable summary was printed for the first receipt
            assert leaks(text.stdout, secrets) == [] and f["total"] in text.stdout
        # what is not personal stays readable
        assert hidden["fields"]["total"] == f["total"] and hidden["fields"]["bill_number"] == f["bill_number"]
        assert [i["amount"] for i in hidden["items"]] == [i["amount"] for i in shown["items"]]
        assert hidden["checks"] == shown["checks"]


# --- submit, outbox list, diag --json, diag bundle -----------------------------------------------


def test_submit_outbox_and_diag_outputs_hold_no_personal_data(env, tmp_path):
    answers = {"disease": "uremia_dialysis", "hospitals": ["h_city_first"], "phone": "13812345678"}
    newborn = {"relationship": "father", "baby_name": "欧阳小宝", "baby_birth_date": "2025-01-02", "consent": True}
    secrets = Secrets(["欧阳小宝"], [], [dt.date(2025, 1, 2)],
                      {"the disease": "uremia_dialysis", "the disease label": "尿毒症", "the hospital": "h_city_first"})
    outputs = []
    for service, data in (("chronic_disease", answers), ("newborn", newborn)):
        result = kiosk(env, "submit", "--service", service, "--data", json.dumps(data, ensure_ascii=False))
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    listing = kiosk(env, "outbox", "list")
    assert listing.returncode == 0 and len(json.loads(listing.stdout)["items"]) == 2, listing.stderr
    outputs.append(listing.stdout + listing.stderr)
    diag = kiosk(env, "diag", "--json", timeout=180)
    assert json.loads(diag.stdout), diag.stderr
    outputs.append(diag.stdout + diag.stderr)
    bundle = tmp_path / "bundle.zip"
    made = kiosk(env, "diag", "--bundle", str(bundle), timeout=180)
    assert bundle.exists(), made.stderr
    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes())) as zf:
        outputs += [zf.read(name).decode("utf-8", errors="replace") for name in zf.namelist()]
    for output in outputs:
        assert leaks(output, secrets) == [], output[:400]

    revealed = kiosk(env, "outbox", "list", "--reveal")  # the outbox's explicit unmasked switch
    assert "13812345678" in revealed.stdout and "欧阳小宝" in revealed.stdout
    assert "a phone number" in leaks(revealed.stdout, secrets)
