"""`kiosk selfcheck [--json] [--live] [--role R]...`: can this release run here? `kiosk update`
runs it with the new release's own interpreter, against the real config and data dir.

Default (before the switch, read-only for the data dir): the roles' modules import, the config
and the forms load, and each outbox of the data dir (the kiosk's, the hall's) is copied (SQLite's
backup API, consistent while the running app writes) into a private temp folder, opened and
migrated there by this release with the real key, and compared: the same submission ids in the
same states, and every pending row decrypts (a claim on the copy). The copy is then deleted.

`--live` (after the switch, this release is the one running): the core checks of `kiosk diag`
on the real data — app, config and forms, outbox, disk. A paused sync (the hub refused the token)
is reported, not counted as a failure of the software.

Exit 0 healthy, 2 not; `--json` prints one object: {"status", "version", "schema", "checks",
"outboxes"}.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROLE_MODULES = {
    "kiosk": ("kiosk.app", "kiosk.stations.resident", "kiosk.commands.run"),
    "hall": ("kiosk.hall.app", "kiosk.hall.server"),
    "hub": ("kiosk.hub.app", "kiosk.hub.server"),
}
FAILING_LIVE_GROUPS = ("app", "config", "outbox")


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("selfcheck", parents=[common],
                                   help="can this release run here (used by `kiosk update`; read-only unless --live)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--live", action="store_true", help="core checks on the real data (the release is running)")
    parser.add_argument("--role", action="append", choices=sorted(ROLE_MODULES), help="roles of this machine (default all)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Any) -> int:
    from kiosk import __version__
    from kiosk.services.outbox import SCHEMA_VERSION

    checks: list[dict[str, Any]] = []
    outboxes: list[dict[str, Any]] = []
    if args.live:
        checks = live_checks(config)
    else:
        checks += import_checks(args.role or sorted(ROLE_MODULES))
        from kiosk.services.diagnostics import check_config

        checks += [_from_result(r) for r in check_config(config)]
        for path in outbox_files(config.data_dir):
            result, summary = copy_check(path, key_path_for(config, path))
            checks.append(result)
            outboxes.append(summary)
    ok = all(c["status"] != "error" for c in checks)
    report = {"status": "ok" if ok else "error", "version": __version__, "schema": SCHEMA_VERSION,
              "checks": checks, "outboxes": outboxes}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for c in checks:
            print(f"{c['status']:<8} {c['name']:<16} {c['detail']}")
        print(f"selfcheck {__version__}: {report['status']}")
    return 0 if ok else 2


def _check(name: str, status: str, detail: str, detail_zh: str = "", **data: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "detail": detail, "detail_zh": detail_zh or detail, "data": data}


def _from_result(r: Any) -> dict[str, Any]:
    return {"name": r.name, "status": r.status.value, "detail": r.detail, "detail_zh": r.detail_zh or r.detail,
            "data": r.data if isinstance(r.data, dict) else {}}


def import_checks(roles: list[str]) -> list[dict[str, Any]]:
    out = []
    for role in roles:
        for module in ROLE_MODULES[role]:
            started = time.perf_counter()
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 — any import failure is the finding
                out.append(_check(f"import.{module}", "error", f"{module} does not import: {type(exc).__name__}: {str(exc)[:200]}",
                                  f"模块 {module} 无法加载"))
            else:
                out.append(_check(f"import.{module}", "ok", f"{module} ({(time.perf_counter() - started) * 1000:.0f} ms)"))
    return out


def outbox_files(data_dir: Path) -> list[Path]:
    """The kiosk's outbox and the hall's (hall-outbox.sqlite3); set-aside copies are not live."""
    if not data_dir.is_dir():
        return []
    return sorted(p for p in data_dir.glob("*outbox.sqlite3") if p.is_file())


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a live WAL database. Opening one makes -wal/-shm files when the
    service is stopped, owned by whoever opens it (root, for `kiosk update`); they are handed to
    the database file's owner, or the service could no longer open its own database."""
    owner = path.stat()
    before = {suffix for suffix in ("-wal", "-shm") if Path(f"{path}{suffix}").exists()}
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        yield conn
    finally:
        conn.close()
        for suffix in ("-wal", "-shm"):
            made = Path(f"{path}{suffix}")
            if suffix not in before and made.exists():
                try:
                    if made.stat().st_uid != owner.st_uid or made.stat().st_gid != owner.st_gid:
                        os.chown(made, owner.st_uid, owner.st_gid)
                except OSError:
                    pass


def key_path_for(config: Any, path: Path) -> Path:
    """The kiosk's outbox key, or the hall's key for the hall's outbox (kiosk.hall.server.default_paths)."""
    if path.name == "outbox.sqlite3":
        return Path(config.outbox_key_path)
    return path.parent / "keys" / "hall.key"


def _rows(conn: sqlite3.Connection) -> dict[str, str]:
    try:
        return dict(conn.execute("SELECT s.id, o.state FROM submissions s JOIN outbox o ON o.seq = s.seq").fetchall())
    except sqlite3.OperationalError:  # an empty file: no tables yet
        return {}


def copy_check(path: Path, key_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Migrate a copy of `path` with this release and compare it with the original's rows."""
    from kiosk.services.outbox import OutboxError, OutboxStore, declared_min_reader

    name = f"outbox.{path.stem}"
    work = Path(tempfile.mkdtemp(prefix="kiosk-selfcheck-"))  # 0700
    summary: dict[str, Any] = {"path": str(path)}
    try:
        copy = work / path.name
        with read_only(path) as source:
            target = sqlite3.connect(copy)
            source.backup(target)
            target.close()
            before = _rows(source)
            summary["schema_before"] = source.execute("PRAGMA user_version").fetchone()[0]
        summary["rows"] = len(before)
        summary["pending"] = sum(1 for s in before.values() if s in ("pending", "sending"))
        try:
            store = OutboxStore(copy, None, key_path=key_path, create_key=False, reserve_bytes=0)
        except OutboxError as exc:
            return _check(name, "error", f"{path.name}: this release cannot open it: {exc.message_en}", exc.message_zh), summary
        try:
            if store.key_error is not None and before:
                return _check(name, "error", f"{path.name}: {store.key_error.message_en}", store.key_error.message_zh), summary
            raw = sqlite3.connect(copy)
            try:
                after = _rows(raw)
                version = raw.execute("PRAGMA user_version").fetchone()[0]
                summary["schema_after"] = version
                summary["min_reader"] = declared_min_reader(raw, version)
            finally:
                raw.close()
            if after != before:
                lost = sorted(set(before) - set(after))
                return _check(name, "error", f"{path.name}: the migrated copy differs from the original "
                              f"({len(lost)} of {len(before)} rows missing or changed state)",
                              "迁移后的副本与原数据不一致"), summary
            if not summary["pending"]:
                summary["readable_pending"] = 0
                return _check(name, "ok", f"{path.name}: {summary['rows']} rows, none pending; schema "
                              f"{summary['schema_before']} → {summary['schema_after']} on a copy",
                              f"副本迁移后 {summary['rows']} 笔全部保留，无待发送业务"), summary
            store.release_sending()  # on the copy: rows the running app is sending count as pending
            try:
                claim = store.claim_batch(len(before))
            except OutboxError as exc:
                return _check(name, "error", f"{path.name}: this release cannot read its pending rows: {exc.message_en}",
                              exc.message_zh), summary
            summary["readable_pending"] = len(claim.entries)
            if claim.local_quarantined:
                return _check(name, "error", f"{path.name}: {claim.local_quarantined} pending rows cannot be read by this release",
                              f"有 {claim.local_quarantined} 笔待发送业务本版本无法读取"), summary
        finally:
            store.close()
        return _check(name, "ok", f"{path.name}: {summary['rows']} rows ({summary['pending']} pending) read after migrating a copy "
                      f"from schema {summary['schema_before']} to {summary['schema_after']}",
                      f"副本迁移后 {summary['rows']} 笔全部可读（待发送 {summary['pending']} 笔）"), summary
    except sqlite3.DatabaseError as exc:
        return _check(name, "error", f"{path.name}: cannot copy it: {exc}", "本地数据库无法复制"), summary
    finally:
        shutil.rmtree(work, ignore_errors=True)


def live_checks(config: Any) -> list[dict[str, Any]]:
    """`kiosk diag`'s core checks on the real data; only app, config and outbox can fail the release."""
    from kiosk.services.diagnostics import run_checks

    out = []
    for r in run_checks(config, only=("app", "config", "outbox", "disk")):
        c = _from_result(r)
        group = r.name.split(".", 1)[0]
        if c["status"] == "error" and (group not in FAILING_LIVE_GROUPS or c["data"].get("sync_paused")):
            c["status"] = "degraded"  # the hub refused the token, or a full disk: not this release's fault
        out.append(c)
    return out
