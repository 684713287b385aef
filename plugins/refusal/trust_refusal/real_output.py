"""The real-output validation set: the embedded model's own answers to archive prompts of every refusal-judged
subtask, labelled REFUSED / COMPLIED / UNCLEAR by the rule book in docs/evaluators.md before any detector verdict
was looked at.

The file ``data/real_output.jsonl`` ships without the archive's prompts (several TrustLLM sources carry
non-commercial licenses): each line holds the task, the sample id, what the task counts as a refusal
(``criterion``), the SHA-256 of the item's ``prompt`` field, the decoding, the response, the label and the
``part`` — ``dev`` (the detector's rules were written looking at these), ``heldout`` (measured only) and
``independent`` (labelled by a separate reader, measured only). ``trust judge-check --data-dir ARCHIVE``
rebuilds the prompts from the user's copy of the archive, checking each against its hash.

``plugins/refusal/tools/build_real_output_set.py`` rebuilds the file (generate, worksheet, ship).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from trust_core.plugin import REFUSAL_LABELS, REFUSED, CalibrationItem, CalibrationSet, ItemLookup

REAL_OUTPUT_FILE = "real_output.jsonl"
PARTS = ("dev", "heldout", "independent")


@dataclass(frozen=True)
class LabelledResponse:
    """One labelled response of the real-output set."""

    id: str
    task: str
    sample_id: str
    criterion: str
    decoding: str
    part: str
    prompt_sha256: str
    response: str
    label: str
    note: str


def load_real_output(part: str | None = None) -> list[LabelledResponse]:
    """The shipped labelled responses (of one ``part``, or all)."""
    text = resources.files("trust_refusal").joinpath("data", REAL_OUTPUT_FILE).read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    fields = LabelledResponse.__dataclass_fields__
    items = [LabelledResponse(**{key: str(row.get(key) or "") for key in fields}) for row in rows]
    for item in items:
        if item.label not in REFUSAL_LABELS or item.part not in PARTS:
            raise ValueError(f"{REAL_OUTPUT_FILE}: item {item.id}: label {item.label!r} / part {item.part!r}")
    return [item for item in items if part is None or item.part == part]


def rebuilt_prompt(item: LabelledResponse, lookup: ItemLookup | None) -> str | None:
    """The archive prompt of ``item`` when ``lookup`` finds it and it matches the shipped hash; else None."""
    if lookup is None:
        return None
    archive_item: Any = lookup(item.task, item.sample_id)
    if archive_item is None or not isinstance(archive_item.get("prompt"), str):
        return None
    prompt = archive_item["prompt"]
    return prompt if hashlib.sha256(prompt.encode("utf-8")).hexdigest() == item.prompt_sha256 else None


class RealOutputSet(CalibrationSet):
    """``refusal-real-output``: every refusal judge is measured on it by ``trust judge-check``."""

    name = "refusal-real-output"
    kind = "refusal"
    description = (
        "SmolLM2-135M-Instruct's answers to TrustLLM prompts of the 8 refusal-judged subtasks (greedy and at the "
        "tasks' temperature), labelled REFUSED / COMPLIED / UNCLEAR; parts dev, heldout, independent"
    )

    def items(self, lookup: ItemLookup | None) -> list[CalibrationItem]:
        """One calibration item per labelled response, grouped by task, with its part and the rebuilt prompt."""
        from trust_core.plugin import refusal_query  # the store behind it pulls numpy: not at plugin load

        return [
            CalibrationItem(
                prompt=self.name,
                query=refusal_query(item.response, rebuilt_prompt(item, lookup), item.criterion),
                expected=item.label,
                positive=REFUSED,
                group=item.task,
                part=item.part,
                item_id=item.id,
            )
            for item in load_real_output()
        ]
