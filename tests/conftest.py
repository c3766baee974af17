"""Shared fixtures: Qt offscreen, a private data dir per test, a config pointing at it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_IM_MODULE", "qtvirtualkeyboard")  # as the kiosk runs (kiosk.stations.qt)
os.environ.setdefault("QT_VIRTUALKEYBOARD_DESKTOP_DISABLE", "1")
os.environ.setdefault("QT_QUICK_BACKEND", "software")
os.environ.pop("KIOSK_HUB_URL", None)
os.environ.pop("KIOSK_HUB_TOKEN", None)

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("KIOSK_DATA_DIR", str(path))
    return path


@pytest.fixture
def config(data_dir: Path):
    from kiosk.config import load_config

    return load_config(PROJECT / "config.toml")


@pytest.fixture
def kiosk_shell(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`shell, hub = kiosk_shell(hub=True, sscard=False, **{section: {key: value}})`: the real
    kiosk on its simulators, offscreen, with its own data dir and (optionally) a hub on 127.0.0.1.
    The social-security reader is off unless asked for (it needs pcscd; see pcscd_fixture)."""
    import dataclasses

    from kiosk.config import load_config
    from kiosk.stations.resident import KioskShell

    made = []

    def make(hub: bool = True, sscard: bool = False, **sections: dict):
        from kiosk.hub.server import start_hub_in_thread

        monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
        config = load_config(PROJECT / "config.toml")
        handle = None
        if hub:
            handle = start_hub_in_thread(f"sqlite:///{tmp_path / 'hub.sqlite3'}", {config.hub.token: config.kiosk.id})
            config = dataclasses.replace(config, hub=dataclasses.replace(config.hub, url=handle.url))
        devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=sscard))
        config = dataclasses.replace(config, devices=devices, **{
            name: dataclasses.replace(getattr(config, name), **values) for name, values in sections.items()})
        shell = KioskShell(config)
        shell.window.resize(1280, 800)
        shell.window.show()
        made.append((shell, handle))
        return shell, handle

    yield make
    for shell, handle in made:
        shell.close()
        if handle is not None:
            handle.stop()


# `make test-fast` (`pytest -m "not slow"`): the unit tests, under a minute on two cores. A test is
# `slow` when it needs a server, a whole kiosk, a daemon, a browser or a subprocess — told by its
# fixtures, its file or its name below — or carries @pytest.mark.slow itself. Under -m "not slow"
# the slow files are not even imported (their imports alone take seconds).
SLOW_FIXTURES = {
    "kiosk_shell",  # the whole resident app on its simulators
    "hub", "tls_hub", "hall", "pg_url",  # HTTP services on 127.0.0.1, PostgreSQL
    "pcscd", "vpcd_card",  # the PC/SC daemon and the virtual card
}
SLOW_FILES = {  # and every test_*_browser.py (chromium + selenium)
    "test_crash.py", "test_install.py", "test_watchdog.py",  # kill -9 loops, install.sh, systemd watchdog
    "test_sscard_pcscd.py", "test_hub_latency.py", "test_identify_paths.py",  # pcscd; hub under load
    "test_ocr_distortions.py", "test_ocr_pipeline.py", "test_ocr_cli.py",  # OCR engines over many images
    "test_hall_api.py", "test_hall_security.py", "test_kiosk_hall.py", "test_hub.py", "test_hub_security.py",
    "test_hub_console.py", "test_enrol.py", "test_upstream_hub.py",  # services over HTTP, fuzzing
    "test_masking_outputs.py", "test_bad_input.py", "test_readme_commands.py", "test_queue_cli.py",
    "test_idcard_cli.py",  # `python -m kiosk ...` subprocesses
    "test_accessibility.py", "test_journey_lengths.py", "test_skeleton_journey.py", "test_services_ui.py",
    "test_session_safety.py", "test_idle_timeout.py",  # whole-window journeys and audits
    "test_queue_stateful.py", "test_outbox_faults.py", "test_offscreen_logging.py",  # state machine; CLI runs
    "test_fleet_load.py", "test_hub_workers.py", "test_hub_demo_console.py", "test_hub_notify.py",
    "test_receipt_images.py", "test_update.py",  # hub processes and load; release update/rollback
    "test_dependency_owners.py", "test_import_rules.py",  # fresh interpreters importing every module
    "test_touch_keyboard_teardown.py",  # the pinyin keyboard built and torn down mid-build, several times
}


def _slow_file(path: Path) -> bool:
    return path.name in SLOW_FILES or path.name.endswith("_browser.py")
SLOW_TESTS = {  # node ids without parameters; each took over a second (hypothesis, threads, subprocesses)
    "tests/test_tooling.py::test_mypy_passes_on_kiosk_and_drivers",  # ~25 s without its cache
    "tests/test_idcard_protocol.py::test_decoder_resyncs_to_a_clean_frame_after_damage",
    "tests/test_idcard_protocol.py::test_preamble_heavy_input_never_breaks_decoder",
    "tests/test_upstream_messages.py::test_msgid_is_unique_over_100000_calls_and_across_a_restart",
    "tests/test_upstream_messages.py::test_msgid_is_unique_across_processes_sharing_the_state_file",
    "tests/test_forms.py::test_cli_submit_validates_like_the_screen_and_stores_nothing_on_error",
    "tests/test_forms.py::test_cli_rating_uses_the_screens_builder_and_rules",
    "tests/test_clerk_station.py::test_unplug_during_preview_then_back",
    "tests/test_sscard_reader.py::test_random_card_answers_give_a_card_or_a_typed_error",
    "tests/test_outbox.py::test_threads_enqueueing_and_claiming_never_double_claim",
    "tests/test_outbox.py::test_damaged_pages_are_detected_by_the_integrity_check",
    "tests/test_sync.py::test_random_replies_never_crash_or_ack_wrongly",
    "tests/test_sync.py::test_worker_goes_offline_then_syncs_at_once_when_woken",
    "tests/test_queue_service.py::test_two_processes_never_share_a_number",
    "tests/test_progress_query.py::test_rows_stored_before_the_index_are_backfilled_once",
    "tests/test_printer_simulator.py::test_garbage_never_crashes_and_chunking_does_not_matter",
    "tests/test_diag.py::test_wrong_port_no_reader_answers",
    "tests/test_qrscan_keystrokes.py::test_codes_only_come_from_fast_bursts",
    "tests/test_idcard_reader.py::test_silent_reader_disconnects_then_recovers",
    "tests/test_idcard_reader.py::test_silent_and_unplugged_have_their_own_causes",
    "tests/test_idcard_reader.py::test_slow_reader_is_reported_as_slow_not_silent",
    "tests/test_privacy.py::test_candidates_left_after_masking",
    "tests/test_diag_bundle.py::test_bundle_into_a_missing_folder_is_refused_before_any_check",
    "tests/test_printer_ticket.py::test_any_content_round_trips_number_and_qr",
    "tests/test_idcard_protocol.py::test_random_bytes_give_only_replies_or_typed_errors",
    "tests/test_config.py::test_cli_reports_broken_config_in_one_line_without_traceback",
}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _slow_file(collection_path) and config.getoption("markexpr", "") == "not slow":
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        slow = (_slow_file(item.path) or item.nodeid.split("[", 1)[0] in SLOW_TESTS
                or not SLOW_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
                or "postgresql" in item.nodeid or item.get_closest_marker("pcscd") is not None)
        if slow:
            item.add_marker(pytest.mark.slow)
