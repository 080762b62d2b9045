"""Figure: one row of the table, with a value per target and a ratio per configuration of ours."""

from __future__ import annotations

from harbor_bench.common import REF, is_ours


class Figure:
    def __init__(self, key: str, label: str, unit: str, higher_better: bool):
        self.key, self.label, self.unit, self.higher_better = key, label, unit, higher_better
        self.values: dict[str, float | None] = {}
        self.errors: dict[str, str] = {}
        self.extra: dict[str, dict] = {}

    def ratio(self, target: str) -> float | None:
        """`target` (one of ours) against the reference, > 1 when ours is better."""
        o, r = self.values.get(target), self.values.get(REF)
        if o is None or r is None:
            return None
        if self.unit == "MiB":  # RSS growth: floor at 1 MiB so ~0 does not explode the ratio
            o, r = max(o, 1.0), max(r, 1.0)
        if self.higher_better:
            return o / r if r > 0 else None
        return r / o if o > 0 else None

    def comparable(self) -> bool:
        return not any(ex.get("incomparable") for ex in self.extra.values())

    def as_dict(self, targets: list[str]) -> dict:
        ours = [t for t in targets if is_ours(t)]
        first = ours[0] if ours else None
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "better": "higher" if self.higher_better else "lower",
            "values": {t: self.values.get(t) for t in targets},
            "ratios_ours_better": {t: self.ratio(t) for t in ours},
            # the single-configuration keys of earlier versions: the first configuration of ours
            "ours": self.values.get(first) if first else None,
            "reference": self.values.get(REF),
            "ratio_ours_better": self.ratio(first) if first else None,
            "like_for_like": self.comparable(),
            "errors": self.errors,
            "extra": self.extra,
        }


class DetailTable:
    """A second, ratio-less table: rows of text cells per target (request-kind latencies, CPU per image)."""

    def __init__(self, title: str):
        self.title = title
        self.rows: dict[str, dict[str, str]] = {}

    def put(self, row: str, target: str, text: str) -> None:
        self.rows.setdefault(row, {})[target] = text
