"""scripts/install.sh into a temporary prefix: layout, modes, idempotency, `systemd-analyze verify`
on every unit, and the installed commands started from the units' own ExecStart= lines
(the resident app offscreen on its simulators, `kiosk diag --json`, the hub, the hall) with a
submission going end to end; the resident app under Xvfb with no window manager fills the screen.

No network: the release venv reuses this checkout's .venv (`--venv-from`). Servers bind 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "scripts" / "install.sh"
VENV = Path(sys.prefix)  # the venv running the tests
VERSION = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
UNITS = ("yibao-kiosk.service", "yibao-hall.service", "yibao-hub.service")
SAMPLE_UNITS = ("hub/yibao-hub-backup.service", "hub/yibao-hub-backup.timer")

pytestmark = pytest.mark.timeout(300)


_SOURCE: list[Path] = []


def frozen_source() -> Path:
    """A copy of the checkout taken once: install.sh hashes its source, and a tree being edited
    meanwhile would (rightly) be installed again."""
    if not _SOURCE:
        import tempfile

        copy = Path(tempfile.mkdtemp(prefix="install-source-"))
        for name in ("kiosk", "drivers", "forms", "assets", "scripts"):
            shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in ("config.toml", "pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, copy / name)
        _SOURCE.append(copy)
    return _SOURCE[0]


@pytest.fixture(scope="module", autouse=True)
def _remove_frozen_source():
    yield
    while _SOURCE:
        shutil.rmtree(_SOURCE.pop(), ignore_errors=True)


def install(prefix: Path, *args: str) -> subprocess.CompletedProcess:
    script = frozen_source() / "scripts/install.sh"
    result = subprocess.run(["bash", str(script), "--prefix", str(prefix), "--venv-from", str(VENV), *args],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return result


def snapshot(prefix: Path) -> dict[str, tuple]:
    """Everything install.sh could change: type, mode, content hash/link target, mtime."""
    state = {}
    for path in sorted(prefix.rglob("*")):
        st = path.lstat()
        what = os.readlink(path) if path.is_symlink() else (st.st_size, st.st_mtime_ns) if path.is_file() else "dir"
        state[str(path.relative_to(prefix))] = (st.st_mode, what)
    return state


@dataclass
class Installed:
    prefix: Path

    @property
    def units(self) -> Path:
        return self.prefix / "etc/systemd/system"

    @property
    def etc(self) -> Path:
        return self.prefix / "etc/yibao-kiosk"

    @property
    def data(self) -> Path:
        return self.prefix / "var/lib/yibao-kiosk"

    def unit(self, name: str) -> str:
        return (self.units / name).read_text()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    prefix = tmp_path_factory.mktemp("root")
    started = time.monotonic()
    install(prefix, "kiosk", "hall", "hub")
    assert time.monotonic() - started < 60  # no download, no build
    return Installed(prefix)


# --- the unit file as systemd reads it: environment and ExecStart= -------------------------------

def unit_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def unit_command(installed: Installed, name: str, runtime_dir: Path) -> tuple[list[str], dict[str, str]]:
    """ExecStart= split into argv with %t and $VAR expanded, and the unit's environment."""
    text = installed.unit(name)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(runtime_dir), "LANG": "C.UTF-8"}
    for line in unit_values(text, "EnvironmentFile"):
        for entry in Path(line.lstrip("-")).read_text().splitlines():
            if entry.strip() and not entry.lstrip().startswith("#"):
                key, value = entry.split("=", 1)
                env[key.strip()] = value.strip()
    for line in unit_values(text, "Environment"):
        env.update(item.split("=", 1) for item in shlex.split(line))
    (command,) = unit_values(text, "ExecStart")
    argv: list[str] = []
    for word in shlex.split(command.replace("%t", str(runtime_dir))):
        argv += env.get(word[1:], "").split() if word.startswith("$") else [word]
    return argv, env


def app_argv(argv: list[str]) -> list[str]:
    """The part of the kiosk unit's command line that cage (or xinit) runs."""
    return argv[argv.index("--") + 1:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    def done() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: process exited {process.returncode}: {process.stderr.read() if process.stderr else ''}")
        return bool(predicate())

    wait_until(done, timeout, 0.05, what)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


class NotifyListener:
    """Stands in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


# --- layout, modes, idempotency -------------------------------------------------------------------

def test_layout_and_modes(installed):
    opt = installed.prefix / "opt/yibao-kiosk"
    assert os.readlink(opt / "current") == VERSION
    assert (opt / VERSION / "venv/bin/kiosk").stat().st_mode & 0o111
    assert (opt / VERSION / "app/forms").is_dir()  # the app keeps the checkout's layout
    assert installed.data.stat().st_mode & 0o777 == 0o700
    assert (installed.etc / "config.toml").stat().st_mode & 0o777 == 0o640  # it holds the hub token
    assert "fullscreen = true" in (installed.etc / "config.toml").read_text()
    for name in UNITS:
        assert (installed.units / name).stat().st_mode & 0o777 == 0o644
    assert (installed.units / "graphical.target.wants/yibao-kiosk.service").is_symlink()
    assert (installed.units / "multi-user.target.wants/yibao-hub.service").is_symlink()
    assert (installed.units / "multi-user.target.wants/yibao-hall.service").is_symlink()
    assert os.readlink(installed.units / "ctrl-alt-del.target") == "/dev/null"
    assert os.readlink(installed.units / "default.target").endswith("graphical.target")
    assert "consoleblank=0" in (installed.prefix / "etc/kernel/cmdline.d/yibao-kiosk.conf").read_text()
    version = subprocess.run([str(installed.prefix / "usr/local/bin/kiosk"), "--version"],
                             capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert version.stdout.strip() == f"kiosk {VERSION}", version.stderr


def test_second_run_changes_nothing_and_keeps_edits(tmp_path):
    install(tmp_path, "kiosk", "hall", "hub")
    config = tmp_path / "etc/yibao-kiosk/config.toml"
    config.write_text(config.read_text().replace('id = "KIOSK-0001"', 'id = "KIOSK-0042"'))  # the technician's edit
    (tmp_path / "var/lib/yibao-kiosk").chmod(0o755)
    repaired = install(tmp_path, "kiosk", "hall", "hub")
    assert "mode 0700" in repaired.stdout and 'KIOSK-0042' in config.read_text()
    before = snapshot(tmp_path)
    again = install(tmp_path, "kiosk", "hall", "hub")
    assert again.stdout.strip() == "install: nothing changed"
    assert snapshot(tmp_path) == before


def test_changed_sources_of_the_same_version_go_beside_the_running_release(tmp_path):
    prefix = tmp_path / "root"
    install(prefix, "hub")
    opt = prefix / "opt/yibao-kiosk"
    first = (opt / VERSION / ".installed").read_text()
    source = tmp_path / "source"
    shutil.copytree(frozen_source(), source)
    with (source / "kiosk/__init__.py").open("a") as f:
        f.write("# a fix, same version number\n")
    run = lambda: subprocess.run(["bash", str(source / "scripts/install.sh"), "--prefix", str(prefix),  # noqa: E731
                                  "--venv-from", str(VENV), "hub"], capture_output=True, text=True, timeout=180)
    assert run().returncode == 0
    release = os.readlink(opt / "current")
    assert release.startswith(f"{VERSION}-") and release != VERSION
    assert (opt / VERSION / ".installed").read_text() == first  # the running release was not touched
    assert "a fix" in (opt / release / "app/kiosk/__init__.py").read_text()
    assert run().stdout.strip() == "install: nothing changed"
    install(prefix, "hub")  # the first sources again: back to the first release
    assert os.readlink(opt / "current") == VERSION


def test_rotation_and_x11_alternative(tmp_path):
    getty = tmp_path / "etc/systemd/system/getty.target.wants/getty@tty1.service"  # Debian enables it
    getty.parent.mkdir(parents=True)
    getty.symlink_to("/lib/systemd/system/getty@.service")
    install(tmp_path, "--rotate", "90", "--x11", "kiosk")
    assert not getty.is_symlink()  # no login prompt racing the kiosk for tty1
    env = (tmp_path / "etc/yibao-kiosk/kiosk.env").read_text()
    assert "CAGE_FLAGS=-r\n" in env and "XRANDR_ROTATE=right" in env
    rules = (tmp_path / "etc/udev/rules.d/99-yibao-kiosk-touch.rules").read_text()
    assert 'LIBINPUT_CALIBRATION_MATRIX}="0 1 0 -1 0 1"' in rules
    unit = (tmp_path / "etc/systemd/system/yibao-kiosk.service").read_text()
    assert "/usr/bin/xinit" in unit and "-novtswitch" in unit and "WatchdogSec=" in unit
    assert '"DontVTSwitch" "true"' in (tmp_path / "etc/X11/xorg.conf.d/10-yibao-kiosk.conf").read_text()
    assert "xset s off" in (tmp_path / "etc/yibao-kiosk/xinitrc").read_text()
    install(tmp_path, "kiosk")  # back to cage, upright
    assert not (tmp_path / "etc/udev/rules.d/99-yibao-kiosk-touch.rules").exists()
    assert not (tmp_path / "etc/yibao-kiosk/xinitrc").exists()
    assert "/usr/bin/cage" in (tmp_path / "etc/systemd/system/yibao-kiosk.service").read_text()


def test_make_install_runs_the_script(tmp_path):
    shutil.copy(ROOT / "Makefile", frozen_source() / "Makefile")
    result = subprocess.run(["make", "-s", "-C", str(frozen_source()), "install", f"PREFIX={tmp_path}", "ROLES=hub hall",
                             f"VENV_FROM={VENV}"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "etc/systemd/system/yibao-hub.service").exists()
    assert (tmp_path / "etc/systemd/system/yibao-hall.service").exists()
    assert not (tmp_path / "etc/systemd/system/yibao-kiosk.service").exists()


def test_bad_arguments_are_one_line_and_exit_2(tmp_path):
    for args in (["--prefix", str(tmp_path), "desk"], ["--prefix", str(tmp_path)], ["--prefix", str(tmp_path), "--rotate", "45", "kiosk"]):
        result = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=30)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
    assert not (tmp_path / "opt").exists()


# --- units: hardening and systemd-analyze verify -------------------------------------------------

def test_units_are_hardened_and_restart(installed):
    data = str(installed.data)
    for name in UNITS:
        text = installed.unit(name)
        assert unit_values(text, "Restart") == ["always"], name
        assert unit_values(text, "ProtectSystem") == ["strict"], name
        assert unit_values(text, "PrivateTmp") == ["yes"], name
        assert unit_values(text, "NoNewPrivileges") == ["yes"], name
        assert unit_values(text, "ReadWritePaths") == [data], name  # the data dir only
    kiosk = installed.unit("yibao-kiosk.service")
    assert unit_values(kiosk, "Type") == ["notify"] and unit_values(kiosk, "NotifyAccess") == ["all"]
    assert int(unit_values(kiosk, "WatchdogSec")[0]) > 0
    assert unit_values(kiosk, "TTYPath") == ["/dev/tty1"] and unit_values(kiosk, "Conflicts") == ["getty@tty1.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (Debian package systemd)")
def test_systemd_analyze_verify_every_unit(installed, tmp_path):
    samples = []
    for sample in SAMPLE_UNITS:  # copied as they are by the technician
        samples.append(tmp_path / Path(sample).name)
        shutil.copy(ROOT / "scripts/deploy" / sample, samples[-1])
    x11 = tmp_path / "x11"
    install(x11, "--x11", "kiosk")
    units = [installed.units / name for name in UNITS] + samples + [x11 / "etc/systemd/system/yibao-kiosk.service"]
    for unit in units:
        result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"})
        # verify exits 0 on unknown keys or bad values but names them: any output is a finding
        assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (unit, result.stderr)
    # verify checks the first word only: a program started through /usr/bin/env must exist too
    for unit in units:
        for command in unit_values(unit.read_text(), "ExecStart"):
            words = shlex.split(command)
            if words[0] == "/usr/bin/env":
                program = next(w for w in words[1:] if "=" not in w)
                assert os.access(program, os.X_OK), (unit, program)


# --- the installed commands, started from their units --------------------------------------------

def test_resident_app_from_its_unit_is_ready_and_pings(installed, tmp_path):
    argv, env = unit_command(installed, "yibao-kiosk.service", tmp_path)
    assert argv[:4] == ["/usr/bin/env", f"XDG_RUNTIME_DIR={tmp_path}/yibao-kiosk", "/usr/bin/cage", "-d"]
    listener = NotifyListener(tmp_path / "notify")
    env.update(QT_QPA_PLATFORM="offscreen", NOTIFY_SOCKET=str(listener.path), WATCHDOG_USEC="1000000")
    app = subprocess.Popen(app_argv(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: listener.messages.count("WATCHDOG=1") >= 2, 120, "READY=1 and pings", app)
        assert listener.messages[0].startswith("READY=1")
    finally:
        code = stop(app)
        listener.close()
    assert code == 0
    assert (installed.data / "outbox.sqlite3").exists()  # it wrote where the unit lets it write


ENROL = {"name": "张三", "id_number": "11010519491231002X", "insurance_type": "resident", "phone": "13812345678"}
HUB_TOKEN = "install-test-token-7f3a9c"


@contextlib.contextmanager
def running_hub(installed: Installed, runtime_dir: Path):
    """The hub started from its unit (on a free port), with a stored token for KIOSK-0001.
    Yields its base URL and a function running the installed `kiosk` CLI as the kiosk unit would."""
    port = free_port()
    (installed.etc / "hub.env").write_text(f"HUB_FLAGS=--host 127.0.0.1 --port {port}\n")
    hub_argv, hub_env = unit_command(installed, "yibao-hub.service", runtime_dir)
    kiosk_argv, kiosk_env = unit_command(installed, "yibao-kiosk.service", runtime_dir)
    cli = app_argv(kiosk_argv)[:-1]  # kiosk --config …/config.toml
    assert hub_argv[:3] == cli

    def kiosk(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *args], env={**kiosk_env, "QT_QPA_PLATFORM": "offscreen", **extra},
                              capture_output=True, text=True, timeout=120)

    added = subprocess.run([*cli, "hub", "add-token", "KIOSK-0001", "--token", HUB_TOKEN], env=hub_env,
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    hub = subprocess.Popen(hub_argv, env=hub_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ok(f"{base}/v1/health"), 60, "hub health", hub)
        yield base, kiosk
    finally:
        assert stop(hub) in (0, -signal.SIGTERM)  # systemd counts an end by SIGTERM as a clean stop


def submit_and_sync(kiosk, hub_url: str, check_base: str) -> None:
    """A submission from the installed kiosk reaches the hub and leaves nothing pending."""
    submitted = kiosk("submit", "--service", "enrol", "--data", json.dumps(ENROL))
    assert submitted.returncode == 0, submitted.stderr
    submission_id = json.loads(submitted.stdout)["id"]
    synced = kiosk("sync", "--once", KIOSK_HUB_URL=hub_url, KIOSK_HUB_TOKEN=HUB_TOKEN)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["status"]["pending"] == 0
    stored = httpx.get(f"{check_base}/v1/submissions/{submission_id}", headers={"Authorization": f"Bearer {HUB_TOKEN}"})
    assert stored.status_code == 200, stored.text


def test_hub_and_kiosk_from_their_units_end_to_end(installed, tmp_path):
    with running_hub(installed, tmp_path) as (base, kiosk):
        submit_and_sync(kiosk, base, base)
        diag = kiosk("diag", "--json", KIOSK_HUB_URL=base, KIOSK_HUB_TOKEN=HUB_TOKEN)
        checks = {c["name"]: c["status"] for c in json.loads(diag.stdout)["checks"]}
        for name in ("config.forms", "idcard.sam_status", "printer.status", "qrscan.port", "outbox.db", "hub.reachable"):
            assert checks[name] == "ok", (name, checks)


@pytest.mark.skipif(shutil.which("caddy") is None, reason="needs caddy (Debian package caddy)")
def test_kiosk_syncs_through_the_caddy_sample_over_tls(installed, tmp_path):
    """The shipped Caddyfile as it is, with the test's ports and name: TLS by Caddy's internal CA,
    the kiosk verifying it through [hub] ca_file."""
    with running_hub(installed, tmp_path) as (base, kiosk):
        https_port = free_port()
        sample = (ROOT / "scripts/deploy/hub/Caddyfile").read_text()
        assert "hub.example.org {" in sample and "reverse_proxy 127.0.0.1:8765" in sample
        caddyfile = tmp_path / "Caddyfile"
        caddyfile.write_text(  # test-only globals: loopback, free ports, leave the system trust store alone
            f"{{\n\tskip_install_trust\n\tadmin off\n\tdefault_bind 127.0.0.1\n\thttp_port {free_port()}\n"
            f"\thttps_port {https_port}\n}}\n"
            + sample.replace("hub.example.org {", "localhost {").replace("127.0.0.1:8765", base.removeprefix("http://")))
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
               "XDG_CONFIG_HOME": str(tmp_path / "config")}
        caddy = subprocess.Popen(["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        root_ca = tmp_path / "data/caddy/pki/authorities/local/root.crt"
        url = f"https://localhost:{https_port}"
        try:
            wait_for(lambda: root_ca.exists() and _ok(f"{url}/v1/health", verify=ssl.create_default_context(cafile=root_ca)), 60, "caddy → hub", caddy)
            config = installed.etc / "config.toml"
            original = config.read_text()
            config.write_text(original.replace('[hub]\n', f'[hub]\nca_file = "{root_ca}"\n', 1))  # the technician's step
            try:
                submit_and_sync(kiosk, url, base)
            finally:
                config.write_text(original)
        finally:
            stop(caddy)


def test_hall_from_its_unit(installed, tmp_path):
    argv, env = unit_command(installed, "yibao-hall.service", tmp_path)
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)  # 8780 may be taken on a shared machine
    (installed.etc / "hall-tokens").write_text("KIOSK-0001 install-test-hall-token-51c2\n")
    hall = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _ok(f"http://127.0.0.1:{port}/api/health"), 60, "hall health", hall)
    finally:
        stop(hall)
    assert (installed.data / "hall.sqlite3").exists()


def _ok(url: str, verify: ssl.SSLContext | bool = True) -> bool:
    try:
        return httpx.get(url, timeout=2, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


# --- the resident app on a real X server with no window manager ---------------------------------

def xwd_to_image(data: bytes):
    """XWD (what `xwd -root` writes) → PIL image; ZPixmap, 24/32-bit TrueColor only."""
    from PIL import Image

    header = struct.unpack(">25I", data[:100])
    header_size, width, height, byte_order, bits_per_pixel, bytes_per_line, ncolors = (
        header[0], header[4], header[5], header[7], header[11], header[12], header[19])
    assert bits_per_pixel == 32, bits_per_pixel
    offset = header_size + ncolors * 12
    raw = "BGRX" if byte_order == 0 else "XRGB"
    return Image.frombytes("RGB", (width, height), data[offset:offset + bytes_per_line * height], "raw", raw, bytes_per_line)


def black_pixels(image) -> int:
    return dict((color, count) for count, color in image.getcolors(image.width * image.height)).get((0, 0, 0), 0)


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xwd")), reason="needs Xvfb and xwd (Debian xvfb, x11-apps)")
@pytest.mark.parametrize("size", [(1080, 1920)])
def test_resident_app_fills_the_screen_without_a_window_manager(installed, tmp_path, size):
    width, height = size
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
                             "-nolisten", "tcp", "-br"], pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            display = f":{pipe.readline().strip()}"
        argv, env = unit_command(installed, "yibao-kiosk.service", tmp_path)
        listener = NotifyListener(tmp_path / "notify")
        assert env["QT_QPA_PLATFORM"] == "xcb"  # as under cage (Xwayland): the unit's own platform
        env.update(DISPLAY=display, NOTIFY_SOCKET=str(listener.path))
        app = subprocess.Popen(app_argv(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: any(m.startswith("READY=1") for m in listener.messages), 120, "READY=1", app)
            # READY=1 is sent on the first loop turn after show(); let X paint a frame or two
            shot = tmp_path / "screen.xwd"

            def painted() -> bool:
                subprocess.run(["xwd", "-root", "-silent", "-display", display, "-out", str(shot)], check=True, timeout=30)
                image = xwd_to_image(shot.read_bytes())
                return image.getpixel((width // 2, height // 2)) != (0, 0, 0)

            wait_for(painted, 30, "the window painted")
        finally:
            assert stop(app) == 0
            listener.close()
    finally:
        xvfb.terminate()
        xvfb.wait(10)
    image = xwd_to_image(shot.read_bytes())
    out = Path(os.environ.get("KIOSK_SCREENSHOT_OUT", tmp_path)) / "resident-xvfb.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    assert image.size == size
    # The root window is black (-br): any black band at an edge means the window does not fill the screen.
    for name, box in {"top": (0, 0, width, 4), "bottom": (0, height - 4, width, height),
                      "left": (0, 0, 4, height), "right": (width - 4, 0, width, height)}.items():
        strip = image.crop(box)
        black = black_pixels(strip)
        assert black < 0.5 * strip.width * strip.height, (name, black, out)
    black_total = black_pixels(image)
    assert black_total < 0.02 * width * height, (black_total, out)
