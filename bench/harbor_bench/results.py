"""Figure: one measured quantity (one table row) with a value per server."""

from __future__ import annotations

from harbor_bench.common import OURS, REF


class Figure:
    def __init__(self, key: str, label: str, unit: str, higher_better: bool):
        self.key, self.label, self.unit, self.higher_better = key, label, unit, higher_better
        self.values: dict[str, float | None] = {}
        self.errors: dict[str, str] = {}
        self.extra: dict[str, dict] = {}

    def ratio(self) -> float | None:
        o, r = self.values.get(OURS), self.values.get(REF)
        if o is None or r is None:
            return None
        if self.unit == "MiB":  # RSS growth: floor at 1 MiB so ~0 does not explode the ratio
            o, r = max(o, 1.0), max(r, 1.0)
        if self.higher_better:
            return o / r if r > 0 else None
        return r / o if o > 0 else None

    def comparable(self) -> bool:
        return not any(ex.get("incomparable") for ex in self.extra.values())

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "better": "higher" if self.higher_better else "lower",
            "ours": self.values.get(OURS),
            "reference": self.values.get(REF),
            "ratio_ours_better": self.ratio(),
            "like_for_like": self.comparable(),
            "errors": self.errors,
            "extra": self.extra,
        }
