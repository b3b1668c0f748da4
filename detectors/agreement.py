"""How far two runtimes of one model agree: the share of a reference's detections the other
finds too (same label, IoU at least ``min_iou``), matched one to one within each picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detectors.fixtures import iou
from detectors.types import Boxes


@dataclass(frozen=True)
class Agreement:
    matched: int  # reference detections the other run found too
    total: int  # reference detections

    @property
    def share(self) -> float:
        """matched / total; 1.0 when the reference found nothing (nothing to miss)."""
        return self.matched / self.total if self.total else 1.0


def matched_count(reference: Boxes, other: Boxes, min_iou: float = 0.5) -> int:
    """Detections of ``reference`` with a partner in ``other``: pairs of the same label taken
    greedily from the highest IoU down, each box in at most one pair."""
    pairs = sorted(
        (
            (overlap, i, j)
            for i in range(len(reference))
            for j in range(len(other))
            if reference.labels[i] == other.labels[j]
            and (overlap := iou(reference.xyxy[i].tolist(), other.xyxy[j].tolist())) >= min_iou
        ),
        reverse=True,
    )
    used_ref: set[int] = set()
    used_other: set[int] = set()
    for _, i, j in pairs:
        if i not in used_ref and j not in used_other:
            used_ref.add(i)
            used_other.add(j)
    return len(used_ref)


def agreement(reference: Sequence[Boxes], other: Sequence[Boxes], min_iou: float = 0.5) -> Agreement:
    """Agreement of ``other`` with ``reference`` over the same pictures, in the same order."""
    if len(reference) != len(other):
        raise ValueError(f"{len(reference)} reference pictures but {len(other)} to compare")
    return Agreement(
        matched=sum(matched_count(r, o, min_iou) for r, o in zip(reference, other, strict=True)),
        total=sum(len(r) for r in reference),
    )
