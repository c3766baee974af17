"""`kiosk update WHEEL` and `kiosk update --rollback`: a new release beside the running one, checked
before and after the switch, and the way back taken by itself.

1. The wheel is checked (this project, every member matching its RECORD) and built into
   `<opt>/<version>/` (app + venv, `.installed` last) beside the running release.
2. Refused, with `current` untouched and the new folder removed, when: the new software cannot
   read the stored outbox (its schema is older than the data need); its `kiosk selfcheck` fails
   (imports, config, forms, and the outbox migrated on a copy with every row compared); or, after
   its migration, the running release could no longer read the data — there would be no way back
   (`--one-way` accepts that).
3. `previous` → the running release, `current` → the new one (each a symlink renamed into place),
   the units restart, and within `--health-timeout` each must stay active for `--settle` seconds
   without systemd restarting it (the resident app's watchdog included) and the new release's
   `kiosk selfcheck --live` (diag's core checks) must pass.
4. Otherwise `current` goes back to the previous release and the units restart — unless the data
   were migrated past what that release can read: then it stays, and says so in one line.
5. On success releases beyond `--keep` (besides current and previous) are removed.

Migrations are additive, so pending submissions survive an update and a rollback: each schema
declares in the outbox's `meta` the oldest schema that can still read it (kiosk.services.outbox).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path
from typing import Any

from kiosk.commands.update_release import (
    Deps,
    Layout,
    Stored,
    UpdateError,
    build,
    describe,
    prune,
    read_wheel,
    reader_of,
    release_name,
    remove_unfinished,
    stored_schemas,
    switch,
    unreadable,
)
from kiosk.commands.update_units import (
    NoRestart,
    Systemctl,
    UnitControl,
    UnitError,
    installed_units,
    invocations,
    wait_healthy,
)

SERVICE_USER = "yibao-kiosk"


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("update", parents=[common], help="install a new release from a wheel, roll back if it fails",
                                   description="Install WHEEL beside the running release, switch to it, restart the units "
                                               "and roll back by itself if it is not healthy; or --rollback.")
    parser.add_argument("wheel", nargs="?", metavar="WHEEL", help="yibao_kiosk-VERSION-py3-none-any.whl")
    parser.add_argument("--rollback", action="store_true", help="switch back to the previous release")
    parser.add_argument("--prefix", metavar="DIR", help="the installation's root (as scripts/install.sh --prefix; default /)")
    parser.add_argument("--data-dir", metavar="DIR", help="the services' data dir (default KIOSK_DATA_DIR, else <prefix>/var/lib/yibao-kiosk)")
    deps = parser.add_mutually_exclusive_group()
    deps.add_argument("--wheelhouse", metavar="DIR", help="install dependencies from wheels in DIR only (offline)")
    deps.add_argument("--venv-from", metavar="VENV", help="reuse that virtualenv's packages instead of pip (tests, images)")
    parser.add_argument("--keep", type=int, default=3, metavar="N", help="older releases kept besides current and previous (3)")
    parser.add_argument("--health-timeout", type=float, default=300.0, metavar="S",
                        help="seconds the restarted units have to become healthy (300)")
    parser.add_argument("--settle", type=float, default=30.0, metavar="S",
                        help="seconds each unit must stay active without a restart (30; the watchdog fires within 30)")
    parser.add_argument("--no-restart", action="store_true",
                        help="switch without restarting units (no systemd here); only the live self-check judges health")
    parser.add_argument("--unit", action="append", metavar="NAME", help="units to restart (default: the installed yibao-*.service)")
    parser.add_argument("--one-way", action="store_true",
                        help="accept an update after which the running release could no longer read the data")
    parser.add_argument("--json", action="store_true", help="progress on stderr, one JSON object on stdout")
    parser.set_defaults(handler=run)


class Updater:
    def __init__(self, args: argparse.Namespace, config: Any) -> None:
        root = Path(args.prefix) if args.prefix else Path("/")
        config_path = Path(args.config) if getattr(args, "config", None) else root / "etc/yibao-kiosk/config.toml"
        data = (Path(args.data_dir) if args.data_dir else Path(config.data_dir) if os.environ.get("KIOSK_DATA_DIR")
                else root / "var/lib/yibao-kiosk")
        self.args = args
        self.layout = Layout.under(args.prefix, config_path.absolute(), data.absolute())
        self.control: UnitControl = NoRestart() if args.no_restart else Systemctl()
        self.units = args.unit or installed_units(self.layout.units)
        self.roles = sorted({r for r in (u.removeprefix("yibao-").removesuffix(".service") for u in self.units)
                             if r in ("kiosk", "hall", "hub")})
        self.as_user = self._run_as(args.prefix)
        self.out = sys.stderr if args.json else sys.stdout

    @staticmethod
    def _run_as(prefix: str | None) -> list[str]:
        """As root on the appliance, the new release's checks run as the service user: files they
        touch in the data dir (-wal, -shm) must stay the service's."""
        if prefix or os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return []
        return ["runuser", "-u", SERVICE_USER, "--"]

    def say(self, text: str) -> None:
        print(f"update: {text}", file=self.out, flush=True)

    # -- the new release's own checks ------------------------------------------------------
    def selfcheck(self, release: Path, live: bool = False) -> dict[str, Any]:
        argv = [*self.as_user, "env", f"KIOSK_DATA_DIR={self.layout.data}", str(release / "venv/bin/kiosk"),
                "--config", str(self.layout.config), "selfcheck", "--json", *(["--live"] if live else []),
                *[a for r in self.roles for a in ("--role", r)]]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return {"status": "error", "problem": "its self-check did not finish in 300 s"}
        try:
            report = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            return {"status": "error", "problem": f"its self-check did not run: {last[:300]}"}
        if report.get("status") != "ok":
            bad = [c for c in report.get("checks", []) if c.get("status") == "error"]
            report["problem"] = bad[0]["detail"] if bad else "its self-check failed"
        return report

    def healthy(self, release: Path) -> tuple[bool, str]:
        old = invocations(self.control, self.units)
        try:
            self.control.restart(self.units)
        except UnitError as exc:
            return False, str(exc)
        if not isinstance(self.control, NoRestart) and self.units:
            self.say(f"restarted {', '.join(self.units)}; waiting up to {self.args.health_timeout:.0f} s for them to settle")
        health = wait_healthy(self.control, self.units, self.args.health_timeout, self.args.settle, old=old)
        if not health.ok:
            return False, health.problem
        live = self.selfcheck(release, live=True)
        if live["status"] != "ok":
            return False, live.get("problem", "its live self-check failed")
        return True, ""

    # -- update ----------------------------------------------------------------------------
    def update(self) -> dict[str, Any]:
        layout = self.layout
        current = self._current()
        wheel = read_wheel(self.args.wheel)
        name, built = release_name(layout, wheel)
        if name == current:
            self.say(f"{name} is already running; nothing changed")
            return {"result": "unchanged", "current": name}
        rel = layout.opt / name
        made = False
        if built:
            self.say(f"{name} was built before; using {rel}")
        else:
            self.say(f"building {name} from {wheel.path.name}")
            remove_unfinished(layout, name)
            try:
                build(layout, wheel, name, self._deps(), self.say)
            except BaseException:
                remove_unfinished(layout, name)
                raise
            made = True
        try:
            self._check_before_switch(rel, current)
        except UpdateError:
            if made:
                remove_unfinished(layout, name)
            raise
        switch(layout, "previous", current)
        switch(layout, "current", name)
        self.say(f"current -> {name} (previous {current})")
        ok, problem = self.healthy(rel)
        if ok:
            removed = prune(layout, max(0, self.args.keep), self.say)
            self.say(f"{name} is running and healthy")
            return {"result": "updated", "current": name, "previous": current, "removed": removed}
        self.say(f"{name} is not healthy: {problem}; rolling back to {current}")
        self._back_to(current, failed=name, reason=problem)
        raise UpdateError(f"{name} failed its health check ({problem}); rolled back to {current}",
                          f"新版本 {name} 启动检查未通过，已自动回退到 {current}")

    def _current(self) -> str:
        current = self.layout.link("current")
        if not current or not (self.layout.opt / current / "venv/bin/kiosk").exists():
            raise UpdateError(f"no installed release under {self.layout.opt} (run scripts/install.sh first)", usage=True)
        return current

    def _deps(self) -> Deps:
        venv_from = Path(self.args.venv_from).absolute() if self.args.venv_from else None
        wheelhouse = Path(self.args.wheelhouse).absolute() if self.args.wheelhouse else None
        return Deps(venv_from=venv_from, wheelhouse=wheelhouse)

    def _check_before_switch(self, rel: Path, current: str) -> None:
        stored = stored_schemas(self.layout.data)
        bad = unreadable(reader_of(rel), stored)
        if bad:
            raise UpdateError(f"refused: {describe(rel.name, reader_of(rel), bad)}; {current} keeps running",
                              f"拒绝更新：{rel.name} 无法读取本机已存数据，继续运行 {current}")
        self.say(f"self-check of {rel.name} (outbox migrated on a copy)")
        report = self.selfcheck(rel)
        if report["status"] != "ok":
            raise UpdateError(f"refused: {rel.name} failed its self-check: {report['problem']}; {current} keeps running",
                              f"拒绝更新：{rel.name} 自检未通过，继续运行 {current}")
        for box in report.get("outboxes", []):
            self.say(f"{Path(box['path']).name}: {box.get('rows', 0)} rows ({box.get('pending', 0)} pending) "
                     f"read by {rel.name} after migrating a copy to schema {box.get('schema_after')}")
        after = [Stored(Path(b["path"]), int(b["schema_after"]), b.get("min_reader")) for b in report.get("outboxes", [])
                 if b.get("schema_after") is not None]
        old = reader_of(self.layout.opt / current)
        bad = unreadable(old, after)
        if bad and not self.args.one_way:
            raise UpdateError(f"refused: after it, {describe(current, old, bad)}, so there would be no way back; "
                              "--one-way accepts that", f"拒绝更新：更新后 {current} 将无法读取数据，无法回退")
        if bad:
            self.say(f"--one-way: {current} will not be able to read the data after this update")

    # -- rollback --------------------------------------------------------------------------
    def _back_to(self, target: str, failed: str | None, reason: str = "") -> None:
        layout = self.layout
        reader = reader_of(layout.opt / target)
        bad = unreadable(reader, stored_schemas(layout.data))
        if bad:
            staying = failed or layout.link("current") or "?"
            raise UpdateError(f"{failed + ' failed its health check (' + reason + '); ' if failed else ''}"
                              f"cannot roll back: {describe(target, reader, bad)}; staying on {staying}",
                              f"无法回退：{target} 无法读取已迁移的数据，继续使用 {staying}")
        running = layout.link("current")
        switch(layout, "current", target)
        if failed:
            try:
                (layout.opt / "previous").unlink()  # no way "back" to the release that just failed
            except FileNotFoundError:
                pass
        elif running:
            switch(layout, "previous", running)
        self.say(f"current -> {target}")
        ok, problem = self.healthy(layout.opt / target)
        if not ok:
            raise UpdateError(f"{failed + ' failed (' + reason + '); ' if failed else ''}rolled back to {target}, "
                              f"which is not healthy either: {problem}", f"已回退到 {target}，但其检查也未通过")

    def rollback(self) -> dict[str, Any]:
        current = self._current()
        target = self.layout.link("previous")
        if not target or not (self.layout.opt / target / "venv/bin/kiosk").exists():
            raise UpdateError(f"no previous release to roll back to under {self.layout.opt}")
        self._back_to(target, failed=None)
        self.say(f"{target} is running and healthy (previous {current})")
        return {"result": "rolled_back", "current": target, "previous": current}


def run(args: argparse.Namespace, config: Any) -> int:
    if bool(args.wheel) == bool(args.rollback):
        raise UpdateError("give a WHEEL to install, or --rollback", usage=True)
    updater = Updater(args, config)
    if not updater.layout.opt.is_dir():
        raise UpdateError(f"no installation under {updater.layout.opt} (run scripts/install.sh first)", usage=True)
    lock_path = updater.layout.opt / ".update.lock"
    try:
        lock = open(lock_path, "a")  # noqa: SIM115 — held for the whole update
    except OSError as exc:
        raise UpdateError(f"cannot lock {lock_path}: {exc.strerror} (run as root)") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateError("another `kiosk update` is running") from None
        result = updater.rollback() if args.rollback else updater.update()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0
