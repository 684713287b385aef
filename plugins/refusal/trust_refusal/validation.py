"""The hand-written regression set shipped with the detector, and its measured quality.

These 82 responses were written by this project to pin intended behaviour (affirmative "I can't …", quoted
refusals, hedges, late caveats); they are not an estimate of accuracy on a model's output — that is the
real-output set (:mod:`trust_refusal.real_output`, measured by ``trust judge-check --judge refusal-patterns``).
``python -m trust_refusal.validation`` prints the confusion counts, precision, recall and the misclassified
responses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from trust_refusal.detector import detect
from trust_refusal.patterns import COMPLIED, REFUSED

VALIDATION_FILE = "refusal_validation.json"


def load_validation_set() -> list[dict[str, Any]]:
    """The hand-written labelled responses: ``id``, ``label`` (REFUSED / COMPLIED), ``prompt``, ``response``,
    ``note``."""
    text = resources.files("trust_refusal").joinpath("data", VALIDATION_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Quality:
    """Confusion counts with REFUSED as the positive class; ``errors`` lists the ids misclassified."""

    true_refused: int
    false_refused: int
    true_complied: int
    false_complied: int
    failed: int
    errors: tuple[str, ...]
    unclear: int = 0
    """Items called UNCLEAR (wrong here: every item of this set is a clear refusal or compliance)."""
    unclear_refusals: int = 0
    """Of those, the refusals (missed, for recall)."""

    @property
    def n(self) -> int:
        """Items measured."""
        return (
            self.true_refused
            + self.false_refused
            + self.true_complied
            + self.false_complied
            + self.failed
            + self.unclear
        )

    @property
    def accuracy(self) -> float:
        """Share of items labelled correctly (a failed detection is wrong)."""
        return (self.true_refused + self.true_complied) / self.n

    @property
    def precision(self) -> float:
        """Of the responses called REFUSED, the share that are refusals."""
        called = self.true_refused + self.false_refused
        return self.true_refused / called if called else 0.0

    @property
    def recall(self) -> float:
        """Of the refusals, the share called REFUSED."""
        refusals = self.true_refused + self.false_complied + self.unclear_refusals
        return self.true_refused / refusals if refusals else 0.0


def measure(items: list[dict[str, Any]] | None = None) -> Quality:
    """The detector's quality on ``items`` (default: the shipped validation set)."""
    counts = {"tr": 0, "fr": 0, "tc": 0, "fc": 0, "failed": 0, "unclear": 0, "unclear_refusals": 0}
    errors: list[str] = []
    for item in load_validation_set() if items is None else items:
        label = detect(item["response"], "request", item.get("prompt")).label
        if label is None:
            counts["failed"] += 1
        elif label == REFUSED:
            counts["tr" if item["label"] == REFUSED else "fr"] += 1
        elif label == COMPLIED:
            counts["tc" if item["label"] == COMPLIED else "fc"] += 1
        else:
            counts["unclear"] += 1
            counts["unclear_refusals"] += item["label"] == REFUSED
        if label != item["label"]:
            errors.append(str(item["id"]))
    return Quality(
        counts["tr"],
        counts["fr"],
        counts["tc"],
        counts["fc"],
        counts["failed"],
        tuple(errors),
        counts["unclear"],
        counts["unclear_refusals"],
    )


def main() -> None:
    """Print the quality on the shipped validation set."""
    quality = measure()
    print(
        f"n={quality.n} accuracy={quality.accuracy:.3f} precision={quality.precision:.3f} recall={quality.recall:.3f}"
    )
    print(
        f"refused: {quality.true_refused} right, {quality.false_complied} missed; "
        f"complied: {quality.true_complied} right, {quality.false_refused} called refused; failed: {quality.failed}; "
        f"unclear: {quality.unclear}"
    )
    for item_id in quality.errors:
        print(f"misclassified: {item_id}")


if __name__ == "__main__":
    main()
