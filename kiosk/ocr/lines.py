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


def text_slope(boxes: list[TextBox]) -> float:
    """Median slope (dy/dx) of the top edges of wide boxes: the page's residual tilt."""
    slopes = sorted((b.box[1][1] - b.box[0][1]) / (b.box[1][0] - b.box[0][0]) for b in boxes
                    if b.box[1][0] - b.box[0][0] > 2 * max(1.0, b.height))
    return slopes[len(slopes) // 2] if slopes else 0.0


def group_lines(boxes: list[TextBox], min_overlap: float = 0.5) -> list[TextLine]:
    """A box joins the line whose nearest box it overlaps most vertically, if the overlap is at
    least `min_overlap` of the smaller height. Vertical positions are first corrected for the
    page's residual tilt, so on a slightly rotated page neighbouring rows do not merge."""
    slope = text_slope(boxes)

    def band(b: TextBox) -> tuple[float, float]:
        shift = slope * b.center_x
        return b.top - shift, b.bottom - shift

    lines: list[tuple[TextLine, list[tuple[float, float]]]] = []
    for box in sorted(boxes, key=lambda b: (sum(band(b)) / 2, b.left)):
        top, bottom = band(box)
        best, best_ratio = None, 0.0
        for line, bands in lines:
            ref = min(bands, key=lambda r: abs((r[0] + r[1]) / 2 - (top + bottom) / 2))
            ratio = _overlap(top, bottom, *ref) / max(1e-6, min(bottom - top, ref[1] - ref[0]))
            if ratio > best_ratio:
                best, best_ratio = (line, bands), ratio
        if best is not None and best_ratio >= min_overlap:
            best[0].boxes.append(box)
            best[1].append((top, bottom))
        else:
            lines.append((TextLine([box]), [(top, bottom)]))
    result = []
    for line, _bands in sorted(lines, key=lambda lb: sum(t + b for t, b in lb[1]) / len(lb[1])):
        line.boxes.sort(key=lambda b: b.left)
        result.append(line)
    return result
