"""`kiosk diag [--json] [--bundle FILE.zip]`: self-test of every configured device, the outbox,
the hub, disk and OCR. Runs without a display (no Qt widgets imported here).

Exit code: 0 all ok, 1 something degraded or missing, 2 something broken.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.config import Config

SYMBOLS = {"ok": "●", "degraded": "▲", "missing": "○", "error": "✖"}


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("diag", parents=[common], help="self-test of devices, outbox, hub, disk and OCR")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--bundle", metavar="FILE.zip", help="also write a support bundle (personal data masked)")
    parser.add_argument("--lang", choices=("en", "zh_CN"), default="en", help="language of the table (default en)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from kiosk.services.diagnostics import check_bundle_path, overall_exit_code, report_json, run_checks, write_bundle

    if getattr(args, "bundle", None):
        check_bundle_path(args.bundle)  # refused before anything runs (exit 2), no folder is made
    results = run_checks(config)
    if getattr(args, "json", False):
        print(json.dumps(report_json(results), ensure_ascii=False))
    else:
        print(format_table(results, getattr(args, "lang", "en")))
    if getattr(args, "bundle", None):
        path = write_bundle(config, args.bundle, results)
        print(f"bundle written: {path}", file=sys.stderr)
    return overall_exit_code(results)


def format_table(results: list, language: str = "en") -> str:
    from kiosk.services.diagnostics import overall_status

    rows = []
    width = max((len(r.name) for r in results), default=10)
    for r in results:
        status = r.status.value
        detail = r.detail_zh if language.startswith("zh") and r.detail_zh else r.detail
        rows.append(f"{SYMBOLS[status]} {status:<8} {r.name:<{width}}  {detail}")
    overall = overall_status(results)
    rows.append(f"overall: {SYMBOLS['error' if overall == 'error' else overall]} {overall}")
    return "\n".join(rows)
