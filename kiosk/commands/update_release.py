"""Releases for `kiosk update`: the wheel, the release directories and what the data allow.

A release is `<opt>/<version>/` = `app/` (the wheel unpacked in the checkout's layout: kiosk/,
drivers/, forms/, assets/) + `venv/` (the dependencies; a `.pth` line puts `app/` on the path),
finished by `.installed` (what it was built from) — the layout `scripts/install.sh` makes.
`current` and `previous` are symlinks switched atomically (a temporary link renamed over them).
"""
from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from collections.abc import Callable

from kiosk.services.durable import fsync_dir
from kiosk.commands.update_selfcheck import outbox_files, read_only
from kiosk.errors import UserFacingError

PROJECT = "yibao-kiosk"
INSTALLED = ".installed"
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}$")
_APP_TOP = ("kiosk", "drivers", "forms", "assets")


class UpdateError(UserFacingError):
    """Something the update could not do; nothing was switched unless the message says so."""

    exit_code = 1

    def __init__(self, message_en: str, message_zh: str = "", *, usage: bool = False) -> None:
        super().__init__("UPDATE", message_zh or "更新未完成：" + message_en, message_en)
        if usage:
            self.exit_code = 2


# -- the wheel ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Wheel:
    path: Path
    version: str
    sha256: str
    requires: tuple[str, ...]
    readme: str = ""  # the long description (the project's README.md)


def read_wheel(path: str | os.PathLike[str]) -> Wheel:
    """Check the file is this project's wheel and every member matches its RECORD hash."""
    path = Path(path)
    if not path.is_file():
        raise UpdateError(f"{path}: no such wheel file", f"找不到安装包 {path}", usage=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            infos = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
            if len(infos) != 1:
                raise UpdateError(f"{path.name}: not a wheel (no single *.dist-info)", usage=True)
            (info,) = infos
            meta = email.parser.Parser().parsestr(zf.read(f"{info}/METADATA").decode("utf-8"))
            name = re.sub(r"[-_.]+", "-", str(meta.get("Name", ""))).lower()
            version = str(meta.get("Version", ""))
            if name != PROJECT:
                raise UpdateError(f"{path.name} is {name or 'no project'}, not {PROJECT}", usage=True)
            if not _VERSION.match(version):
                raise UpdateError(f"{path.name}: version {version!r} is not usable as a folder name", usage=True)
            for member in names:
                _safe_member(member, path)
            _check_record(zf, f"{info}/RECORD", path)
    except zipfile.BadZipFile:
        raise UpdateError(f"{path.name}: not a wheel (not a zip file)", usage=True) from None
    except KeyError as exc:
        raise UpdateError(f"{path.name}: not a wheel ({exc.args[0]} missing)", usage=True) from None
    requires = tuple(str(r) for r in meta.get_all("Requires-Dist") or ())
    readme = meta.get_payload()
    return Wheel(path, version, digest, requires, readme if isinstance(readme, str) else "")


def _safe_member(member: str, wheel: Path) -> None:
    parts = PurePosixPath(member).parts
    if member.startswith("/") or ".." in parts or "\\" in member:
        raise UpdateError(f"{wheel.name}: unsafe path {member!r} in the wheel", usage=True)


def _check_record(zf: zipfile.ZipFile, record: str, wheel: Path) -> None:
    rows = {row[0]: row[1] for row in csv.reader(io.StringIO(zf.read(record).decode("utf-8"))) if row}
    for member in zf.namelist():
        if member.endswith("/") or member == record:
            continue
        want = rows.get(member)
        if not want or not want.startswith("sha256="):
            raise UpdateError(f"{wheel.name}: {member} is not in its RECORD", usage=True)
        got = base64.urlsafe_b64encode(hashlib.sha256(zf.read(member)).digest()).rstrip(b"=").decode()
        if got != want.split("=", 1)[1]:
            raise UpdateError(f"{wheel.name}: {member} does not match its RECORD (damaged download?)", usage=True)


def unpack(wheel: Wheel, app: Path) -> None:
    """The wheel's pure and platform libraries into `app/` (the checkout's layout)."""
    with zipfile.ZipFile(wheel.path) as zf:
        for member in zf.infolist():
            parts = PurePosixPath(member.filename).parts
            if parts and parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: the release has its own bin/kiosk
                parts = parts[2:]
            if member.is_dir() or not parts:
                continue
            dest = app.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
    if wheel.readme and not (app / "README.md").exists():  # the units' Documentation= points at it
        (app / "README.md").write_text(wheel.readme, encoding="utf-8")
    missing = [top for top in _APP_TOP if not (app / top).is_dir()]
    if missing:
        raise UpdateError(f"{wheel.path.name} lacks {', '.join(missing)}/ (built from an incomplete checkout?)", usage=True)


# -- release directories -----------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Where an installation lives: <prefix>/opt/yibao-kiosk, its units, config and data."""

    opt: Path
    units: Path
    config: Path
    data: Path

    @classmethod
    def under(cls, prefix: str | os.PathLike[str] | None, config: Path, data: Path) -> Layout:
        root = Path(prefix) if prefix else Path("/")
        return cls(root / "opt" / PROJECT, root / "etc/systemd/system", config, data)

    def link(self, name: str) -> str | None:
        try:
            return os.readlink(self.opt / name)
        except OSError:
            return None

    def releases(self) -> list[str]:
        """Finished releases, oldest first."""
        if not self.opt.is_dir():
            return []
        found = [p for p in self.opt.iterdir() if p.is_dir() and not p.is_symlink() and (p / INSTALLED).is_file()]
        return [p.name for p in sorted(found, key=lambda p: (p / INSTALLED).stat().st_mtime)]


def switch(layout: Layout, name: str, release: str) -> None:
    """Point `name` (current, previous) at `release` atomically: a new link renamed over the old."""
    tmp = layout.opt / f".{name}.new"
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    os.symlink(release, tmp)
    os.replace(tmp, layout.opt / name)
    fsync_dir(layout.opt)


def release_name(layout: Layout, wheel: Wheel) -> tuple[str, bool]:
    """(folder name, already built). The same version from another wheel goes beside it as
    <version>-<hash>: a release is never rebuilt in place (it may be the one running)."""
    stamp = f"wheel sha256:{wheel.sha256}"
    for name in (wheel.version, f"{wheel.version}-{wheel.sha256[:8]}"):
        done = layout.opt / name / INSTALLED
        if not done.is_file():
            return name, False
        if done.read_text().strip() == stamp:
            return name, True
    raise UpdateError(f"{layout.opt / wheel.version} exists from other sources twice; remove an unused one")


def build(layout: Layout, wheel: Wheel, name: str, deps: Deps, log: Callable[[str], None]) -> Path:
    """App + venv for `wheel` in <opt>/<name>; `.installed` is written last, so a folder without
    it is an unfinished build and is removed before building again."""
    rel = layout.opt / name
    if rel.exists():
        shutil.rmtree(rel)
    (rel / "app").mkdir(parents=True)
    unpack(wheel, rel / "app")
    python = deps.python or sys.executable
    venv = rel / "venv"
    started = time.monotonic()
    _run([python, "-m", "venv", *(["--without-pip"] if deps.venv_from else []), str(venv)], "make the virtualenv", 300)
    site = Path(_run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     "ask the virtualenv", 60).strip())
    if deps.venv_from:
        theirs = _run([str(Path(deps.venv_from) / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                      f"read {deps.venv_from}", 60).strip()
        (site / "00-yibao-deps.pth").write_text(theirs + "\n")
    elif wheel.requires:
        index = ["--no-index", "--find-links", str(deps.wheelhouse)] if deps.wheelhouse else []
        _run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", *index, *wheel.requires],
             "install the dependencies (pip)", 1800)
    (site / "yibao-kiosk.pth").write_text(f"{rel / 'app'}\n")
    script = venv / "bin/kiosk"
    script.write_text(f"#!{venv / 'bin/python'}\nimport sys\nfrom kiosk.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    # units cannot write __pycache__ (ProtectSystem=strict)
    _run([str(venv / "bin/python"), "-m", "compileall", "-q", str(rel / "app")], "compile the app", 600)
    (rel / INSTALLED).write_text(f"wheel sha256:{wheel.sha256}\n")
    log(f"built {name} in {rel} ({time.monotonic() - started:.0f} s)")
    return rel


@dataclass(frozen=True)
class Deps:
    """Where the new virtualenv's dependencies come from."""

    venv_from: Path | None = None  # reuse that venv's packages (a path line), no pip
    wheelhouse: Path | None = None  # pip --no-index --find-links DIR
    python: str | None = None  # the interpreter for the new venv (default: this one)


def _run(argv: list[str], what: str, timeout: float) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UpdateError(f"could not {what}: no answer in {timeout:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise UpdateError(f"could not {what}: {last[:300]}")
    return done.stdout


def prune(layout: Layout, keep: int, log: Callable[[str], None]) -> list[str]:
    """Remove finished releases beyond the newest `keep` besides current and previous."""
    protected = {layout.link("current"), layout.link("previous")}
    others = [r for r in layout.releases() if r not in protected]
    removed = others[: max(0, len(others) - keep)]
    for name in removed:
        shutil.rmtree(layout.opt / name, ignore_errors=True)
        log(f"removed old release {name}")
    return removed


def remove_unfinished(layout: Layout, name: str) -> None:
    rel = layout.opt / name
    if rel.is_dir() and not rel.is_symlink() and name not in (layout.link("current"), layout.link("previous")):
        shutil.rmtree(rel, ignore_errors=True)


# -- what the data allow -----------------------------------------------------------------------

@dataclass(frozen=True)
class Reader:
    """What a release's software reads: its outbox schema and whether it honours newer schemas'
    `min_reader_version` (releases before that refuse any newer schema)."""

    schema: int
    reads_newer: bool


@dataclass(frozen=True)
class Stored:
    path: Path
    schema: int
    min_reader: int | None


_PROBE = ("import json, kiosk.services.outbox as o; "
          "print(json.dumps({'schema': o.SCHEMA_VERSION, 'reads_newer': hasattr(o, 'declared_min_reader')}))")


def reader_of(release: Path) -> Reader:
    out = _run([str(release / "venv/bin/python"), "-c", _PROBE], f"ask {release.name} which outbox schema it reads", 120)
    data = json.loads(out.strip().splitlines()[-1])
    return Reader(int(data["schema"]), bool(data["reads_newer"]))


def stored_schemas(data_dir: Path) -> list[Stored]:
    found = []
    for path in outbox_files(data_dir):
        from kiosk.services.outbox import declared_min_reader

        try:
            with read_only(path) as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                found.append(Stored(path, int(version), declared_min_reader(conn, version)))
        except sqlite3.DatabaseError as exc:
            raise UpdateError(f"cannot read {path}: {exc}") from None
    return found


def unreadable(reader: Reader, stored: list[Stored]) -> list[Stored]:
    """The databases software of `reader` could not open."""
    return [s for s in stored if s.schema > reader.schema
            and not (reader.reads_newer and s.min_reader is not None and s.min_reader <= reader.schema)]


def describe(release: str, reader: Reader, bad: list[Stored]) -> str:
    s = bad[0]
    need = s.min_reader if s.min_reader is not None else s.schema
    return (f"{release} cannot read {s.path.name} (outbox schema {s.schema}, readable from schema {need} on; "
            f"{release} reads up to {reader.schema})")


def main(argv: list[str]) -> int:
    """`python -m kiosk.commands.update_release DATA_DIR` (scripts/install.sh, before it switches
    `current`): exit 1 with one line when this software cannot read the outboxes stored there."""
    from kiosk import __version__
    from kiosk.services.outbox import SCHEMA_VERSION

    if len(argv) != 1:
        print("usage: python -m kiosk.commands.update_release DATA_DIR", file=sys.stderr)
        return 2
    try:
        bad = unreadable(Reader(SCHEMA_VERSION, True), stored_schemas(Path(argv[0])))
    except UpdateError as exc:
        print(exc.message("en"), file=sys.stderr)
        return 1
    if bad:
        print(f"refused: {describe(__version__, Reader(SCHEMA_VERSION, True), bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
