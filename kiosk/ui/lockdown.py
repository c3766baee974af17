"""No way out of the resident app through a menu: every context menu (right click, a long press on
a touch panel, the copy/paste menu of a text field) is swallowed app-wide. The compositor side
(no VT switching, no desktop) is the unit's business: scripts/deploy/."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject


class NoContextMenus(QObject):
    """Install on the QApplication: filters every object's events before they arrive."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        return event.type() == QEvent.Type.ContextMenu
