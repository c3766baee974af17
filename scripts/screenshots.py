"""Render every screen state in normal and 长辈版 mode to docs/screens/ (zh_CN; English home too).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_IM_MODULE", "qtvirtualkeyboard")
os.environ.setdefault("QT_VIRTUALKEYBOARD_DESKTOP_DISABLE", "1")
os.environ.setdefault("QT_QUICK_BACKEND", "software")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from kiosk.services.forms import load_forms
    from kiosk.ui.main_window import MainWindow
    from kiosk.ui.screen_tour import tour

    app = QApplication([])
    out = ROOT / "docs" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    catalog = load_forms(ROOT / "forms")
    for elderly, language in ((False, "zh_CN"), (True, "zh_CN"), (False, "en")):
        window = MainWindow(catalog.forms, 96, "Noto Sans CJK SC", service_point="示范镇医保服务站")
        window.resize(1280, 800)
        window.show()
        window.set_elderly(elderly)
        window.set_language(language)
        for state in tour(window, catalog):
            if language == "en" and state not in ("home", "identify-person", "review", "done"):
                continue
            name = f"{state}-{'elderly' if elderly else 'normal'}-{language}.png"
            image = window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
            image.scaledToWidth(image.width() * 3 // 4, Qt.TransformationMode.SmoothTransformation).save(str(out / name), "PNG", 0)
            print(out / name)
        window.close()
    app.quit()


if __name__ == "__main__":
    main()
