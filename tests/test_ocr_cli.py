"""`kiosk ocr` as users' scripts call it: a subprocess, JSON lines on stdout, exit code."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import pytest

from kiosk.config import PROJECT_ROOT
from kiosk.ocr.synth import make_receipt


@pytest.mark.slow
def test_cli_reads_images_and_reports_an_unreadable_file(tmp_path):
    receipt = make_receipt(3001)
    good = tmp_path / "收据.jpg"
    cv2.imencode(".jpg", receipt.image)[1].tofile(str(good))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "kiosk", "ocr", "--json", str(good), str(broken)],
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=240)
    assert proc.returncode == 1, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["file"] == str(good)
    assert first["fields"]["bill_number"] == receipt.fields["bill_number"]
    assert first["fields"]["total"] == receipt.fields["total"]
    assert set(first["fields"]) == set(receipt.fields)
    assert all(isinstance(v, bool) or v is None for v in first["checks"].values())
    # masked by default (no --unmasked): the payer's name, the hospital and the line items' names
    assert receipt.fields["payer"] not in proc.stdout and receipt.fields["hospital"] not in proc.stdout
    assert first["fields"]["payer"] is None or "*" in first["fields"]["payer"]
    assert first["items"] and all(set(i["name"]) <= {"*"} for i in first["items"])
    assert second["file"] == str(broken) and "unreadable" in second["error"]


def test_unmasked_switch_is_offered():
    proc = subprocess.run([sys.executable, "-m", "kiosk", "ocr", "--help"], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=60)
    assert proc.returncode == 0 and "--unmasked" in proc.stdout


def test_cli_unknown_engine_is_rejected(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kiosk", "ocr", "--engine", "paddle", "x.jpg"],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60,
                          env={**os.environ, "KIOSK_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "paddle" in proc.stderr


def test_missing_tesseract_language_is_a_clear_error():
    from kiosk.ocr.engines import OcrEngineError, TesseractEngine
    with pytest.raises(OcrEngineError) as missing:
        TesseractEngine(lang="xyz_nope").warm_up()
    assert "xyz_nope" in missing.value.message("en") and "语言包" in missing.value.message("zh_CN")
