"""config.toml → frozen dataclasses; broken configs stop with one message naming file and key."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import load_config
from kiosk.errors import ConfigError

PROJECT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_config_is_all_simulated_local_hub_zh(tmp_path: Path) -> None:
    config = load_config(PROJECT / "config.toml", environ={"KIOSK_DATA_DIR": str(tmp_path)})
    assert config.devices.idcard.port == "sim://"
    assert config.devices.printer.url == "sim://"
    assert config.hub.url.startswith("http://127.0.0.1")
    assert config.kiosk.language == "zh_CN"
    assert config.data_dir == tmp_path
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.kiosk.id = "x"  # type: ignore[misc]


def test_environment_overrides_hub_and_data_dir(tmp_path: Path) -> None:
    env = {"KIOSK_DATA_DIR": str(tmp_path / "d"), "KIOSK_HUB_URL": "http://127.0.0.1:9999", "KIOSK_HUB_TOKEN": "t0k"}
    config = load_config(PROJECT / "config.toml", environ=env)
    assert (config.data_dir, config.hub.url, config.hub.token) == (tmp_path / "d", "http://127.0.0.1:9999", "t0k")
    assert config.outbox_key_path == tmp_path / "d" / "keys" / "outbox.key"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[kiosk\nid = 1", "", "invalid TOML"),
        ("[kiosk]\nidd = 'x'", "kiosk.idd", "unknown key"),
        ("[nonsense]\na = 1", "nonsense", "unknown section"),
        ("[kiosk]\nidle_timeout_s = 'soon'", "kiosk.idle_timeout_s", "expected an integer"),
        ("[kiosk]\nfullscreen = 'yes'", "kiosk.fullscreen", "true or false"),
        ("[devices.idcard]\nport = ''", "devices.idcard.port", "must not be empty"),
        ("[devices.idcard]\nbaud = 1.5", "devices.idcard.baud", "expected an integer"),
        ("[kiosk]\nlanguage = 'fr'", "kiosk.language", "zh_CN, en"),
        ("[hub]\nurl = 'ftp://x'", "hub.url", "http://"),
        ("[display]\ndpi = 10", "display.dpi", "DPI"),
        ("[queue]\npriority_ratio = [1]", "queue.priority_ratio", "two positive"),
    ],
)
def test_broken_config_names_file_key_and_expectation(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.path == str(path)
    assert caught.value.key == key
    assert expected in caught.value.expected


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_cli_reports_broken_config_in_one_line_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[kiosk]\nelderly_age = 'old'\n")
    result = subprocess.run([sys.executable, "-m", "kiosk", "diag", "--config", str(path)],
                            capture_output=True, text=True, timeout=60, env={"KIOSK_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert "kiosk.elderly_age" in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_every_contract_subcommand() -> None:
    result = subprocess.run([sys.executable, "-m", "kiosk", "--help"], capture_output=True, text=True, timeout=60)
    for name in ("run", "demo", "diag", "read-id", "read-sscard", "ocr", "ticket", "queue", "submit", "outbox", "sync", "hub"):
        assert f"    {name}" in result.stdout
