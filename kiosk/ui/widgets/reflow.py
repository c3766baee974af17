"""A grid that picks its column count from the width it gets: five rating buttons sit in one row
on a wide panel and in 3 + 2 on a narrow one, instead of being squeezed until their words are cut.

Items share the width equally (even touch targets) and never get less than their own preferred
width; the layout asks only for the widest item as its minimum, so a fixed-size window is never
pushed wider by it.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget, QWidgetItem


class ReflowGrid(QLayout):
    def __init__(self, parent: QWidget | None = None, spacing: int = 8, max_columns: int = 0) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._max_columns = max_columns
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    # -- QLayout API ------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt API)
        self._items.append(item)

    def add(self, widget: QWidget) -> None:
        self.addChildWidget(widget)
        self.addItem(QWidgetItem(widget))

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt API)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt API)
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 (Qt API)
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt API)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt API)
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        visible = self._visible()
        if not visible:
            return QSize(0, 0)
        cell = self._cell(visible)
        n = len(visible) if not self._max_columns else min(len(visible), self._max_columns)
        m = self.contentsMargins()
        return QSize(n * cell.width() + (n - 1) * self.spacing() + m.left() + m.right(), cell.height() + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt API)
        visible = self._visible()
        if not visible:
            return QSize(0, 0)
        m = self.contentsMargins()
        cell = self._cell(visible)
        return QSize(cell.width() + m.left() + m.right(), cell.height() + m.top() + m.bottom())

    # -- arrangement ------------------------------------------------------------------------
    def _visible(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    @staticmethod
    def _cell(items: list[QLayoutItem]) -> QSize:
        return QSize(max(i.sizeHint().width() for i in items), max(i.sizeHint().height() for i in items))

    def columns_for(self, width: int) -> int:
        visible = self._visible()
        if not visible:
            return 0
        cell, gap = self._cell(visible), self.spacing()
        fits = max(1, (width + gap) // (cell.width() + gap))
        if self._max_columns:
            fits = min(fits, self._max_columns)
        fits = min(fits, len(visible))
        rows = math.ceil(len(visible) / fits)
        return math.ceil(len(visible) / rows)  # balanced: 3 + 2 rather than 4 + 1

    def _arrange(self, rect: QRect, move: bool) -> int:
        visible = self._visible()
        m = self.contentsMargins()
        inner = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        if not visible:
            return 0
        columns = self.columns_for(inner.width())
        gap = self.spacing()
        height = self._cell(visible).height()
        width = (inner.width() - gap * (columns - 1)) // columns
        for index, item in enumerate(visible):
            row, column = divmod(index, columns)
            if move:
                item.setGeometry(QRect(inner.topLeft() + QPoint(column * (width + gap), row * (height + gap)), QSize(width, height)))
        rows = math.ceil(len(visible) / columns)
        return rows * height + (rows - 1) * gap + m.top() + m.bottom()
