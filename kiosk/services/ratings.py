"""好差评: the rating a resident gives on the done screen, as an outbox payload (kind "rating").

One builder for the kiosk screen and for `kiosk submit --kind rating`, so both enqueue the same
shape. A rating carries no personal data: the service, the submission it rates, a score.
"""
from __future__ import annotations

from typing import Any

from kiosk.services.forms import Text

SCORES = (1, 2, 3, 4, 5)  # the done screen's five buttons, 5 = 非常满意
MAX_REASON = 200


def rating_payload(service_code: str, reference: str, score: int, reason: str = "") -> dict[str, Any]:
    """The payload the outbox encrypts and the hub stores for one rating."""
    return {"service": service_code, "reference": reference, "score": score, "reason": reason}


def rating_problems(data: dict[str, Any]) -> dict[str, Text]:
    """A zh/en message per key of a JSON rating {"reference", "score", "reason"?} that the done screen
    could not have produced; empty when it is fine."""
    problems: dict[str, Text] = {}
    for key in data:
        if key not in ("reference", "score", "reason"):
            problems[str(key)] = Text("评价没有此项", "not part of a rating (reference, score, reason)")
    reference = data.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        problems["reference"] = Text("请给出所评价业务的编号", "expected the id of the submission being rated")
    score = data.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or score not in SCORES:
        problems["score"] = Text("评分应为 1 到 5 的整数", "expected a whole number from 1 to 5")
    reason = data.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        problems["reason"] = Text(f"原因应为不超过 {MAX_REASON} 字的文字", f"expected text of at most {MAX_REASON} characters")
    return problems
