"""`kiosk ocr IMAGE... [--json] [--unmasked] [--engine rapidocr|tesseract]`: receipt images to
fields and checks.

One JSON object per image per line on stdout (`--json`), or a short readable summary. An
unreadable image gets `{"file", "error"}` and the others still run; exit 1 if any failed.
Masked by default through kiosk.privacy: the payer's name, the hospital and the line items'
names (what was treated is health data) and the e-receipt check code (it opens the receipt
online); amounts, dates, bill numbers and checks stay readable. `--unmasked` shows all.
"""
from __future__ import annotations

import argparse
import json
import sys

from kiosk.ocr.engines import ENGINE_NAMES


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("ocr", parents=[common], help="receipt images to fields and checks")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="receipt photo or scan (JPEG, PNG …)")
    parser.add_argument("--json", action="store_true", help="one JSON object per image per line")
    parser.add_argument("--unmasked", action="store_true", help="print the payer, hospital, items and check code in clear")
    parser.add_argument("--engine", choices=ENGINE_NAMES, default=None, help="OCR engine (default: config ocr.engine)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config) -> int:
    from kiosk.ocr.checks import SqliteClaimedReceipts
    from kiosk.ocr.pipeline import ReceiptReader
    from kiosk.privacy import MaskPolicy, mask_fields

    claimed_path = config.data_dir / "ocr" / "claimed_receipts.sqlite3"
    claimed = SqliteClaimedReceipts(claimed_path) if claimed_path.exists() else None
    reader = ReceiptReader(args.engine or config.ocr.engine, claimed=claimed)
    failures = 0
    for path in args.images:
        result = reader.read(path)
        failures += result.error is not None
        data = result.to_json() if args.unmasked else mask_fields(result.to_json(), MaskPolicy.from_config(config))
        if args.json:
            print(json.dumps(data, ensure_ascii=False), flush=True)
        elif result.error:
            print(f"{path}: {result.error}", file=sys.stderr)
        else:
            _print_summary(data, result.template)
    return 1 if failures else 0


def _print_summary(data: dict, template: str) -> None:
    print(f"== {data['file']}  ({template}, {data['elapsed_ms'] / 1000:.2f} s)")
    for name, value in data["fields"].items():
        mark = "  ← 请核对 check" if name in data["needs_review"] else ""
        print(f"  {name:22} {value if value is not None else '-'}{mark}")
    for item in data["items"]:
        print(f"  · {item['name']:12} {item['amount']:>10}")
    failed = [k for k, v in data["checks"].items() if v is False]
    print(f"  checks: {'all passed' if not failed else 'FAILED ' + ', '.join(failed)}")
    problem = data.get("image_problem")
    if problem:  # the image is why review is needed (issue 23): say so before anyone types
        print(f"  ⚠ {problem['zh']} / {problem['en']}")
