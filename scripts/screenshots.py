"""Render every screen state in normal and 长辈版 mode to docs/screens/ (zh_CN; English home too),
at exactly the panel size (default: display.width × display.height from config.toml).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--size 1080x1920] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_IM_MODULE", "qtvirtualkeyboard")
os.environ.setdefault("QT_VIRTUALKEYBOARD_DESKTOP_DISABLE", "1")
os.environ.setdefault("QT_QUICK_BACKEND", "software")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from kiosk.config import load_config
    from kiosk.ui.panel_size import size_argument

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", metavar="WxH", type=size_argument, help="panel size (default: from config.toml)")
    parser.add_argument("--out", metavar="DIR", default=str(ROOT / "docs" / "screens"))
    args = parser.parse_args(argv)
    display = load_config(ROOT / "config.toml").display
    size = args.size or (display.width, display.height)

    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from kiosk.services.forms import load_forms
    from kiosk.ui.i18n import set_language
    from kiosk.ui.main_window import MainWindow
    from kiosk.ui.panel import fix_to_panel
    from kiosk.ui.screen_tour import tour

    app = QApplication([])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    catalog = load_forms(ROOT / "forms")
    for elderly, language in ((False, "zh_CN"), (True, "zh_CN"), (False, "en")):
        set_language(language)
        window = MainWindow(catalog.forms, display.dpi, display.font_family, service_point="示范镇医保服务站")
        fix_to_panel(window, size)
        window.show()
        window.set_elderly(elderly)
        window.set_language(language)
        for state in tour(window, catalog):
            if language == "en" and state not in ("home", "identify-person", "review", "done"):
                continue
            name = f"{state}-{'elderly' if elderly else 'normal'}-{language}.png"
            image = window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
            assert (image.width(), image.height()) == size, (name, image.size())
            image.save(str(out / name), "PNG", 0)
            print(out / name)
        window.close()
    set_language("zh_CN")
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
