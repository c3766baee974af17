"""Issue 19, 零星报销 fully electronic: the clerk station's claim carries each receipt's picture as a
compressed JPEG in the (encrypted) outbox payload, within the hub's request size; the hub's
console shows it on the audited application page, and the hall's counter page too."""
from __future__ import annotations

import base64
import functools
import datetime as dt
import json
import uuid
from pathlib import Path

import cv2
import httpx
import numpy as np

from kiosk.ocr.synth import make_receipt
from kiosk.services.crypto import FieldCipher
from kiosk.services.outbox import OutboxStore
from kiosk.services.receipt_images import IMAGE_BUDGET_BYTES, decode_receipt_image, encode_receipt_image
from kiosk.services.reimbursement import SERVICE_CODE, ClaimBatch

from test_clerk_station import make_station  # noqa: F401  (fixture)
from test_hub_console import HASH, PASSWORD, Clock
from test_reimbursement import RESIDENT, TODAY, receipt


@functools.lru_cache(maxsize=2)
def photo(seed: int) -> np.ndarray:
    return make_receipt(seed).image  # a camera-sized colour picture with its red stamp


def claim_with_pictures(count: int) -> ClaimBatch:
    batch = ClaimBatch(None, TODAY)
    batch.resident = RESIDENT
    for n in range(count):
        picture = photo(3000 + n % 2)
        batch.add(receipt(number=f"36522222{n:02d}"), original=picture)
        batch.confirm(n)
    return batch


def test_each_receipt_travels_as_a_jpeg_within_the_hubs_request_size(tmp_path: Path) -> None:
    for count in (1, 8):
        payload = claim_with_pictures(count).payload()
        images = [r["image"] for r in payload["receipts"]]
        assert len(images) == count and all(i["type"] == "image/jpeg" for i in images)
        jpegs = [decode_receipt_image(i) for i in images]
        assert all(j is not None for j in jpegs) and sum(len(j) for j in jpegs) <= IMAGE_BUDGET_BYTES
        decoded = cv2.imdecode(np.frombuffer(jpegs[0], np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape[1] == images[0]["width"] and max(decoded.shape[:2]) >= 480  # legible size
        wire = json.dumps({"id": str(uuid.uuid4()), "service": SERVICE_CODE, "kind": "submission", "payload": payload})
        assert len(wire) < 1_000_000  # one request to the hub (its body limit)
    # a tampered picture is refused, not shown
    bad = dict(images[0], sha256="0" * 64)
    assert decode_receipt_image(bad) is None and decode_receipt_image({"type": "image/png", "data": ""}) is None
    assert encode_receipt_image(np.zeros((8, 8), np.uint8), 1000) is None
    # without an original, the page OCR read is the picture; without either, no image key
    batch = ClaimBatch(None, TODAY)
    batch.resident = RESIDENT
    r = receipt()
    r.image = np.full((900, 600), 255, np.uint8)
    batch.add(r)
    batch.add(receipt(number="3652222299"))
    receipts = batch.payload()["receipts"]
    assert receipts[0]["image"]["type"] == "image/jpeg" and "image" not in receipts[1]
    # in the outbox the picture is encrypted with the rest of the payload
    outbox = OutboxStore(tmp_path / "outbox.sqlite3", FieldCipher.load_or_create(tmp_path / "keys" / "outbox.key"))
    claim = claim_with_pictures(2)
    entry = claim.submit(outbox, "CLERK-1", str(uuid.uuid4()))
    raw = (tmp_path / "outbox.sqlite3").read_bytes()
    assert claim.payload()["receipts"][0]["image"]["data"][:40].encode() not in raw
    assert entry.id
    outbox.close()


def test_console_shows_the_receipt_pictures_on_the_audited_application_page(tmp_path: Path) -> None:
    from kiosk.hub.console.routes import ConsoleOptions
    from kiosk.hub.console.store import ConsoleStore
    from kiosk.hub.server import start_hub_in_thread

    clock = Clock()
    hub = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {"tok-c": "CLERK-1"}, console=ConsoleOptions(clock=clock),
                              platform=None)
    try:
        console = ConsoleStore(hub.store, clock)
        console.put_staff("bureau", "bureau", None, HASH)
        sid = str(uuid.uuid4())
        payload = claim_with_pictures(2).payload()
        item = {"id": sid, "service": SERVICE_CODE, "kind": "submission",
                "created_at": dt.datetime(2026, 11, 2, 1, tzinfo=dt.timezone.utc).isoformat(), "payload": payload}
        r = httpx.post(hub.url + "/v1/submissions", json={"items": [item]}, headers={"Authorization": "Bearer tok-c"}, timeout=30)
        assert r.json()["results"][0]["result"] == "accepted"
        client = httpx.Client(base_url=hub.url)
        client.post("/console/login", json={"user": "bureau", "password": PASSWORD}).raise_for_status()
        page = client.get(f"/console/applications/CLERK-1/{sid}")
        assert page.status_code == 200 and page.text.count('src="data:image/jpeg;base64,') == 2
        assert payload["receipts"][0]["image"]["data"][:200] in page.text
        assert "img-src 'self' data:" in page.headers["content-security-policy"]
        audit = [(a["action"], a["submission_id"]) for a in console.audit_rows()]
        assert ("view_application", sid) in audit
        (tmp_path / "receipt-page.html").write_text(page.text, encoding="utf-8")
    finally:
        hub.stop()


def test_counter_page_shows_the_pictures(tmp_path: Path) -> None:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from kiosk.hall.app import HERE

    payload = claim_with_pictures(1).payload()
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    source = (HERE / "templates" / "counter.html").read_text(encoding="utf-8")
    assert 'id="receipt-images"' in source
    # the block on its own, with the application as the counter passes it
    start, end = source.index("{#- issue 19"), source.index('</p>\n    {% endif %}', source.index("{#- issue 19")) + len("</p>\n    {% endif %}")
    html = env.from_string(source[start:end]).render(app={"payload": payload})
    assert html.count('src="data:image/jpeg;base64,') == 1 and base64.b64decode(payload["receipts"][0]["image"]["data"])[:3] == b"\xff\xd8\xff"
    assert env.from_string(source[start:end]).render(app={"payload": {"answers": {}}}).strip() == ""


def test_the_clerk_station_submits_the_captured_picture_with_the_claim(make_station, qtbot) -> None:
    """pytest-qt: capture (the simulated document camera) → confirm → submit; the outbox entry's
    receipt carries the captured picture as a JPEG of the camera frame's proportions."""
    from PySide6.QtCore import Qt

    from test_clerk_station import RESIDENT as CLERK_RESIDENT, wait_camera_ready

    window = make_station()
    screen = window.screen
    wait_camera_ready(qtbot, screen)
    qtbot.mouseClick(screen.capture, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(screen.batch.receipts) == 1 and screen.capture.isEnabled(), timeout=10_000)
    frame = screen.batch.receipts[0].original
    assert frame is not None and frame.ndim == 3  # the camera's colour picture, not the page OCR prepared
    screen.set_resident(CLERK_RESIDENT)
    qtbot.mouseClick(screen.confirm, Qt.MouseButton.LeftButton)
    assert screen.submit.isEnabled()
    qtbot.mouseClick(screen.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.submit_message.isVisible(), timeout=10_000)
    entry = window.outbox.get(screen.submission_id)
    image = entry.payload["receipts"][0]["image"]
    jpeg = decode_receipt_image(image)
    assert jpeg is not None
    h, w = frame.shape[:2]
    assert abs(image["width"] / image["height"] - w / h) < 0.02
