"""Personal data never leaves in clear: masks on screen, and a log filter as a safety net."""
from __future__ import annotations

import logging

from kiosk.privacy import MaskingLogFilter, mask_id_number, mask_name, mask_phone, scrub


def test_masks() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("11010519491231002X", 3, 2) == "110*************2X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_phone("13812345678") == "138****5678"


def test_scrub_hides_id_and_phone_inside_text() -> None:
    text = scrub("read 360426199101010071 ok; call 13812345678")
    assert "360426199101010071" not in text and "13812345678" not in text
    assert "360426********0071" in text


def test_log_filter_masks_arguments_and_tracebacks(caplog) -> None:
    logger = logging.getLogger("test.privacy")
    handler = caplog.handler
    handler.addFilter(MaskingLogFilter())
    try:
        logger.warning("card %s read", "11010519491231002X")
        try:
            raise ValueError("bad id 11010519491231002X")
        except ValueError:
            logger.exception("failed")
    finally:
        handler.removeFilter(handler.filters[-1])
    assert "11010519491231002X" not in caplog.text
    assert "110105********002X" in caplog.text
