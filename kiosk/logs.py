"""Logging: a rotating file under <data_dir>/logs plus stderr, every handler masking personal data."""
from __future__ import annotations

import logging
import logging.handlers

from kiosk.config import Config
from kiosk.privacy import MaskingLogFilter

FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def setup_logging(config: Config, verbose: bool = False) -> None:
    root = logging.getLogger()
    if getattr(root, "_kiosk_configured", False):
        return
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    handlers[0].setLevel(logging.DEBUG if verbose else logging.WARNING)
    try:
        log_dir = config.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(log_dir / "kiosk.log", maxBytes=5_000_000, backupCount=5, encoding="utf-8"))
    except OSError as exc:  # a read-only data dir must not stop the kiosk
        logging.getLogger(__name__).warning("file logging disabled: %s", exc)
    handlers[-1].setLevel(logging.DEBUG if verbose else logging.INFO)  # a live trace must not flood the file
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(MaskingLogFilter())
        root.addHandler(handler)
    root._kiosk_configured = True  # type: ignore[attr-defined]  # a marker on the root logger: configured once per process
