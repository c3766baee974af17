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
        # nonsense numbers: negative, non-finite, absurd
        ("[hub]\ntimeout_s = -1", "hub.timeout_s", "more than 0"),
        ("[hub]\ntimeout_s = inf", "hub.timeout_s", "finite"),
        ("[hub]\ntimeout_s = nan", "hub.timeout_s", "finite"),
        ("[hub]\ntimeout_s = 0", "hub.timeout_s", "more than 0"),
        ("[kiosk]\nidle_timeout_s = -5", "kiosk.idle_timeout_s", "more than 0"),
        ("[outbox]\nbatch_size = 0", "outbox.batch_size", "at least 1"),
        ("[outbox]\nbatch_size = -50", "outbox.batch_size", "at least 1"),
        ("[outbox]\nbackoff_base_s = -1", "outbox.backoff_base_s", "more than 0"),
        ("[outbox]\nbackoff_cap_s = -inf", "outbox.backoff_cap_s", "finite"),
        ("[outbox]\nbackoff_base_s = 10\nbackoff_cap_s = 5", "outbox.backoff_cap_s", "backoff_base_s"),
        ("[privacy]\nmask_head = -1", "privacy.mask_head", "at least 0"),
        ("[privacy]\nmask_tail = -4", "privacy.mask_tail", "at least 0"),
        ("[privacy]\nretention_days = -30", "privacy.retention_days", "at least 0"),
        ("[devices.idcard]\nbaud = -115200", "devices.idcard.baud", "at least 50"),
        ("[devices.printer]\nbaud = 0", "devices.printer.baud", "at least 50"),
        ("[devices.qrscan]\nbaud = 99999999999", "devices.qrscan.baud", "at most 4e+06"),
        ("[queue.minutes_per_ticket]\nA = -5\nB = 8\nC = 10\nD = 6", "queue.minutes_per_ticket.A", "at least 0"),
        ("[queue.minutes_per_ticket]\nA = nan\nB = 8\nC = 10\nD = 6", "queue.minutes_per_ticket.A", "finite"),
        # control characters in ids and text
        ('[kiosk]\nid = "KIOSK\\u0000-1"', "kiosk.id", "control characters"),
        ('[kiosk]\nid = "KIOSK\\n1"', "kiosk.id", "control characters"),
        ('[kiosk]\nid = "KIOSK 1"', "kiosk.id", "without spaces"),
        ('[kiosk]\nservice_point = "镇\\t站"', "kiosk.service_point", "control characters"),
        ('[hub]\ntoken = "tök"', "hub.token", "printable ASCII"),
        ('[hub]\nurl = "http://[::1"', "hub.url", "http://"),
        ('[hub]\nurl = "http://127.0.0.1:70000"', "hub.url", "Port out of range"),
        ('[hub]\nurl = "http://"', "hub.url", "with a host"),
        # forms
        ('[kiosk]\nforms_dir = "/no/such/forms"', "kiosk.forms_dir", "does not exist"),
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


def test_forms_dir_without_any_form_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "forms"
    empty.mkdir()
    (empty / "README.txt").write_text("not a form", encoding="utf-8")
    path = write(tmp_path, f'[kiosk]\nforms_dir = "{empty.as_posix()}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"KIOSK_DATA_DIR": str(tmp_path / "data")})
    assert caught.value.key == "kiosk.forms_dir" and "at least one form" in caught.value.expected


def test_config_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, environ={})
    assert caught.value.path == str(tmp_path) and "is a folder" in caught.value.expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("KIOSK_HUB_URL", "http://[::1", "Invalid IPv6 URL"),
        ("KIOSK_HUB_URL", "ftp://hub", "http://"),
        ("KIOSK_HUB_URL", "http://hub:port", "http://"),
        ("KIOSK_HUB_TOKEN", "tök-en", "printable ASCII"),
        ("KIOSK_HUB_TOKEN", "to ken", "printable ASCII"),
        ("KIOSK_HUB_TOKEN", "tok\r\nX-Evil: 1", "printable ASCII"),
    ],
)
def test_environment_overrides_are_checked_and_named(tmp_path: Path, name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(PROJECT / "config.toml", environ={"KIOSK_DATA_DIR": str(tmp_path), name: value})
    assert (caught.value.path, caught.value.key) == ("environment", name)
    assert expected in caught.value.expected


def test_data_dir_and_key_paths_must_be_a_folder_and_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    for data_dir in (a_file, a_file / "below"):
        with pytest.raises(ConfigError) as caught:
            load_config(PROJECT / "config.toml", environ={"KIOSK_DATA_DIR": str(data_dir)})
        assert (caught.value.path, caught.value.key) == ("environment", "KIOSK_DATA_DIR")
        assert "expected a folder" in caught.value.expected
    keys_folder = tmp_path / "d1"
    (keys_folder / "keys" / "outbox.key").mkdir(parents=True)
    with pytest.raises(ConfigError, match="it is a folder"):
        load_config(PROJECT / "config.toml", environ={"KIOSK_DATA_DIR": str(keys_folder)})
    keys_file = tmp_path / "d2"
    keys_file.mkdir()
    (keys_file / "keys").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file"):
        load_config(PROJECT / "config.toml", environ={"KIOSK_DATA_DIR": str(keys_file)})
    key_file = write(tmp_path, f'[outbox]\nkey_file = "{(tmp_path / "d1" / "keys" / "outbox.key").as_posix()}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(key_file, environ={"KIOSK_DATA_DIR": str(tmp_path / "fresh")})
    assert (caught.value.path, caught.value.key) == (str(key_file), "outbox.key_file")
    assert not (tmp_path / "fresh").exists()  # nothing created while refusing


def test_sensible_values_still_load(tmp_path: Path) -> None:
    path = write(tmp_path, "[privacy]\nretention_days = 0\nmask_head = 0\n[hub]\ntimeout_s = 0.5\n"
                           '[kiosk]\nid = "镇站-01"\n[devices.idcard]\nbaud = 9600\n')
    config = load_config(path, environ={"KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_HUB_URL": "http://[::1]:8765"})
    assert config.privacy.retention_days == 0 and config.hub.timeout_s == 0.5 and config.kiosk.id == "镇站-01"
    assert config.hub.url == "http://[::1]:8765"
