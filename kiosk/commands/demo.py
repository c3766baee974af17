"""`kiosk demo`: every device simulated plus a local hub on 127.0.0.1, which asks its own
simulator of the provincial 医保信息平台 (start_hub_in_thread's default), and a local service
hall beside it (the queue, the web counter, lobby and rating pad): the kiosk issues its numbers
there, and a demo clerk account is printed so /counter/1 can call them in a browser.

With a display it opens the window (F2 places/removes the ID card, F3 scans an e-voucher,
F4 toggles printer paper). Without one it plays a scripted resident journey offscreen, saves a
screenshot per step in the folder it names, and prints the steps.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from kiosk.config import Config
from kiosk.ui.panel_size import size_argument
from kiosk.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("demo", parents=[common], help="everything simulated plus a local hub")
    parser.add_argument("--out", metavar="DIR", help="folder for data and screenshots (default ./demo-out)")
    parser.add_argument("--script", action="store_true", help="play the scripted journey even with a display")
    parser.add_argument("--size", metavar="WxH", type=size_argument,
                        help="window and screenshot size, e.g. 1080x1920 (default: display.width x display.height)")
    parser.set_defaults(handler=run)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def demo_config(config: Config, out: Path) -> Config:
    """All devices on simulators, data under the demo folder."""
    devices = config.devices
    sim = dataclasses.replace(
        devices,
        idcard=dataclasses.replace(devices.idcard, enabled=True, port="sim://"),
        printer=dataclasses.replace(devices.printer, enabled=True, url="sim://"),
        qrscan=dataclasses.replace(devices.qrscan, enabled=True, port="sim://"),
    )
    data_dir = Path(os.environ["KIOSK_DATA_DIR"]) if os.environ.get("KIOSK_DATA_DIR") else out / "data"
    return dataclasses.replace(config, devices=sim, data_dir=data_dir)


def start_local_hub(config: Config):
    from kiosk.hub.server import start_hub_in_thread

    parsed = urlparse(config.hub.url)
    port = parsed.port or 8765
    if parsed.hostname not in ("127.0.0.1", "localhost") or not _port_free("127.0.0.1", port):
        port = 0  # the configured port is taken: pick a free one and point the kiosk at it
    hub = start_hub_in_thread(f"sqlite:///{config.data_dir / 'hub.sqlite3'}", {config.hub.token: config.kiosk.id}, port=port)
    return hub, dataclasses.replace(config, hub=dataclasses.replace(config.hub, url=hub.url))


DEMO_CLERK = "demo-clerk"


def start_local_hall(config: Config):
    """A hall on 127.0.0.1 next to the hub (reporting to it), a fresh kiosk token and a demo clerk
    with a fresh password; the kiosk's `[hall]` points at it. Returns (handle, config, password)."""
    from kiosk.hall.auth import hash_password
    from kiosk.hall.server import open_hall, start_hall_in_thread

    parts = open_hall(config.data_dir / "hall.sqlite3", config, hub_url=config.hub.url, hub_token=config.hub.token)
    password = secrets.token_urlsafe(9)
    parts.service.store.put_staff(DEMO_CLERK, "clerk", hash_password(password))
    token = secrets.token_urlsafe(24)  # this run's kiosk token: never a published demo value
    from kiosk.commands.hall import DEFAULT_PORT

    port = DEFAULT_PORT if _port_free("127.0.0.1", DEFAULT_PORT) else 0  # the usual address when it is free
    try:
        hall = start_hall_in_thread(parts, {token: config.kiosk.id}, port=port)
    except Exception:
        parts.close()
        raise
    return hall, dataclasses.replace(config, hall=dataclasses.replace(config.hall, url=hall.url, token=token)), password


def start_sscard_simulation(config: Config):
    """The social-security card goes through the real PC/SC stack: pcscd + vpcd (started here
    when none runs) and the card emulator, not yet inserted. Without them the demo goes on and
    the status strip shows the reader as faulty."""
    from drivers.sscard.emulator import start_emulator
    from drivers.sscard.pcscd import PcscdUnavailable, ensure_pcscd

    if not config.devices.sscard.enabled:
        return None, None
    try:
        pcsc = ensure_pcscd()
    except PcscdUnavailable as exc:
        print(f"social-security card simulation off: {exc}")
        return None, None
    return pcsc, start_emulator(config.resolve(config.devices.sscard.sim_profile), port=pcsc.port, insert=False)


def _make_writable_folder(folder: Path, what: str) -> None:
    """The demo's own output folder may be created; one that cannot be is a usage error (exit 2),
    reported before any simulator or hub starts."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("BAD_PATH", f"{what}: 无法创建文件夹 {folder}（{exc.strerror}）",
                         f"{what}: cannot create folder {folder} ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError("BAD_PATH", f"{what}: 无权写入 {folder}", f"{what}: no permission to write in {folder}")


def run(args: argparse.Namespace, config: Config) -> int:
    out = Path(args.out or "demo-out").resolve()
    config = demo_config(config, out)
    if getattr(args, "size", None):  # every step rendered at exactly this size
        width, height = args.size
        config = dataclasses.replace(config, display=dataclasses.replace(config.display, width=width, height=height))
    _make_writable_folder(out, "--out")
    _make_writable_folder(config.data_dir, "data folder")
    headless = args.script or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    hub, config = start_local_hub(config)
    print(f"local hub: {hub.url}   data: {config.data_dir}")
    from kiosk.hub.console.demo import prepare_demo_console  # issue 18: the console, reachable in the demo

    console_user, console_password = prepare_demo_console(hub.store, [config.kiosk.id])
    print(f"hub console: {hub.url}/console/login   login: {console_user} / {console_password}  (this run only)",
          file=sys.stderr, flush=True)
    if hub.platform_sim is not None:  # the hub asks a simulated 医保信息平台 (kiosk hub platform-sim)
        print(f"platform simulator: {hub.platform_sim.url}")
    try:
        hall, config, clerk_password = start_local_hall(config)
    except Exception:
        hub.stop()
        raise
    print(f"local hall: {hall.url}   counter: {hall.url}/counter/1   lobby: {hall.url}/lobby   rating pad: {hall.url}/rate/1")
    print(f"hall clerk login: {DEMO_CLERK} / {clerk_password}")
    pcsc, sscard = start_sscard_simulation(config)
    try:
        from kiosk.devices.simulators import DemoHands
        from kiosk.stations.resident import KioskShell

        shell = KioskShell(config)
        hands = DemoHands(shell.runtime.sims, config, sscard)
        try:
            if headless:
                from kiosk.ui.demo_script import play_demo

                shots = out / time.strftime("shots-%Y%m%d-%H%M%S")
                ok = play_demo(shell, shots, hands)
                print(f"screenshots: {shots}")
                return 0 if ok else 1
            from kiosk.ui.demo_controls import install_demo_controls

            install_demo_controls(shell.window, hands)
            return shell.exec()
        finally:
            shell.close()
    finally:
        if sscard is not None:
            sscard.stop()
        if pcsc is not None:
            pcsc.stop()
        hall.stop()
        hub.stop()
        sys.stdout.flush()
