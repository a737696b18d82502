"""The fitted claim model, evaluated with numpy: feature row -> log-odds (a logistic regression)
-> calibrated probability that a careful reader calls the claim supported.

Fitted and exported by benchmarks/verify_fit.py (scikit-learn) into ``model.json``,
which also carries the word weights (idf) the alignment uses and the shipped threshold; the
script checks these scores equal the fitted models' before it writes them. JSON rather than a
pickle: serving needs no scikit-learn, and loading weights runs no code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = Path(__file__).with_name("model.json")


@dataclass
class ClaimModel:
    """What ``model.json`` holds: the features read (in order), the log-odds model over them,
    the Platt calibration of its log-odds, the threshold on the calibrated score above which a
    claim is supported, and the idf weights of common word stems."""

    features: list[str]
    linear: np.ndarray
    baseline: float
    calibration: tuple[float, float]  # probability = sigmoid(a * log_odds + b)
    threshold: float
    idf: dict[str, float]
    default_idf: float  # the weight of a stem the table does not hold (a rare word)
    figures: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> ClaimModel:
        shipped = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            features=list(shipped["features"]),
            linear=np.asarray(shipped["linear"], dtype=np.float64),
            baseline=float(shipped["baseline"]),
            calibration=(float(shipped["calibration"][0]), float(shipped["calibration"][1])),
            threshold=float(shipped["threshold"]),
            idf={stem: float(band) for band, stems in shipped["idf"].items() for stem in stems.split()},
            default_idf=float(shipped["default_idf"]),
            figures=shipped.get("figures", {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "baseline": self.baseline,
            "linear": [round(float(x), 8) for x in self.linear],
            "calibration": list(self.calibration),
            "threshold": self.threshold,
            "default_idf": self.default_idf,
            "idf": _bands(self.idf),
            "figures": self.figures,
        }

    def log_odds(self, rows: np.ndarray) -> np.ndarray:
        """The uncalibrated score of each row (columns in ``features`` order)."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(self.features))
        return np.asarray(self.baseline + rows @ self.linear, dtype=np.float64)

    def probability(self, rows: np.ndarray) -> np.ndarray:
        a, b = self.calibration
        return np.asarray(1.0 / (1.0 + np.exp(-(a * self.log_odds(rows) + b))), dtype=np.float64)


def _bands(idf: dict[str, float]) -> dict[str, str]:
    """The idf table as {"2.3": "stem stem ..."}: a tenth is precision enough for a word's
    weight, and the file stays a third the size."""
    bands: dict[str, list[str]] = {}
    for stem, value in idf.items():
        bands.setdefault(f"{value:.1f}", []).append(stem)
    return {band: " ".join(sorted(stems)) for band, stems in sorted(bands.items(), key=lambda b: float(b[0]))}
