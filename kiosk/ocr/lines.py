"""Group OCR boxes into text lines: boxes whose vertical extents overlap enough are one line,
ordered left to right; lines are ordered top to bottom. Pure, engine-independent."""
from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True)
class TextBox:
    """One piece of recognised text: four corner points (clockwise from top-left) and a score."""

    text: str
    box: tuple[Point, Point, Point, Point]
    confidence: float

    @property
    def left(self) -> float:
        return min(p[0] for p in self.box)

    @property
    def right(self) -> float:
        return max(p[0] for p in self.box)

    @property
    def top(self) -> float:
        return min(p[1] for p in self.box)

    @property
    def bottom(self) -> float:
        return max(p[1] for p in self.box)

    @property
    def center_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def center_y(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def to_json(self) -> dict:
        return {"text": self.text, "box": [[round(x, 1), round(y, 1)] for x, y in self.box],
                "confidence": round(self.confidence, 3)}


@dataclass
class TextLine:
    boxes: list[TextBox] = field(default_factory=list)

    @property
    def top(self) -> float:
        return min(b.top for b in self.boxes)

    @property
    def bottom(self) -> float:
        return max(b.bottom for b in self.boxes)

    @property
    def text(self) -> str:
        return " ".join(b.text for b in self.boxes)


def _overlap(a_top: float, a_bottom: float, b_top: float, b_bottom: float) -> float:
    return max(0.0, min(a_bottom, b_bottom) - max(a_top, b_top))


def group_lines(boxes: list[TextBox], min_overlap: float = 0.5) -> list[TextLine]:
    """A box joins the line it overlaps most, if the overlap is at least `min_overlap` of the
    smaller height (measured against the line's boxes' median centre band, so a tall box does
    not swallow two lines)."""
    lines: list[TextLine] = []
    for box in sorted(boxes, key=lambda b: (b.center_y, b.left)):
        best, best_ratio = None, 0.0
        for line in lines:
            ref = min(line.boxes, key=lambda b: abs(b.center_y - box.center_y))
            ratio = _overlap(box.top, box.bottom, ref.top, ref.bottom) / max(1e-6, min(box.height, ref.height))
            if ratio > best_ratio:
                best, best_ratio = line, ratio
        if best is not None and best_ratio >= min_overlap:
            best.boxes.append(box)
        else:
            lines.append(TextLine([box]))
    for line in lines:
        line.boxes.sort(key=lambda b: b.left)
    lines.sort(key=lambda ln: (ln.top + ln.bottom) / 2)
    return lines
