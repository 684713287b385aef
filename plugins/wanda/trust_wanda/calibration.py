"""Calibration sequences for Wanda and SparseGPT.

Both papers draw 128 random 2048-token windows from C4. Offline, this plugin ships its own
calibration text (``trust_wanda/data/calibration.txt``: varied English paragraphs written for this
package, separated by blank lines) and draws ``samples`` windows of ``seq_len`` tokens from it:
for each sample, the paragraphs are shuffled (seeded), joined with blank lines, and a window starts
at a random offset. ``recipe["calibration_file"]`` replaces the shipped text with the user's own.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trust_core.plugin import UserError

if TYPE_CHECKING:
    import torch

BUILTIN_NAME = "trust-wanda/calibration.txt"
SEPARATOR = "\n\n"


@dataclass(frozen=True)
class CalibrationText:
    """A calibration corpus: its name, sha256 of its bytes, and its paragraphs."""

    name: str
    sha256: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class CalibrationSet:
    """Token windows drawn from a corpus, ``input_ids`` of shape ``(samples, seq_len)``."""

    text: CalibrationText
    input_ids: torch.Tensor
    seed: int

    def describe(self) -> dict[str, Any]:
        """What variant details record about the calibration data."""
        samples, seq_len = self.input_ids.shape
        return {
            "source": self.text.name,
            "sha256": self.text.sha256,
            "paragraphs": len(self.text.paragraphs),
            "samples": int(samples),
            "seq_len": int(seq_len),
            "tokens": int(samples * seq_len),
            "seed": self.seed,
        }


def split_paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs of ``text``: blocks separated by blank lines, internal newlines folded to spaces."""
    blocks = (" ".join(line.strip() for line in block.splitlines()).strip() for block in text.split("\n\n"))
    return tuple(block for block in blocks if block)


def load_text(path: str | None = None) -> CalibrationText:
    """The shipped calibration text, or the UTF-8 file at ``path``."""
    if path is None:
        data = resources.files("trust_wanda").joinpath("data/calibration.txt").read_bytes()
        name = BUILTIN_NAME
    else:
        data = Path(path).read_bytes()
        name = str(path)
    try:
        paragraphs = split_paragraphs(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(f"calibration file {name} is not UTF-8 text: {exc}") from None
    if not paragraphs:
        raise UserError(f"calibration file {name} holds no text")
    return CalibrationText(name=name, sha256=hashlib.sha256(data).hexdigest(), paragraphs=paragraphs)


def build_calibration(tokenizer: Any, samples: int, seq_len: int, seed: int, path: str | None = None) -> CalibrationSet:
    """Draw ``samples`` windows of ``seq_len`` tokens from the calibration text, seeded by ``seed``."""
    import torch

    text = load_text(path)
    encoded = [list(tokenizer(p + SEPARATOR, add_special_tokens=False)["input_ids"]) for p in text.paragraphs]
    total = sum(len(ids) for ids in encoded)
    if total < seq_len:
        raise UserError(
            f"calibration text {text.name} has {total} tokens, fewer than calibration_seq_len {seq_len}; "
            "lower calibration_seq_len or give a longer calibration_file"
        )
    rng = random.Random(seed)
    rows = []
    for _ in range(samples):
        order = list(range(len(encoded)))
        rng.shuffle(order)
        stream = [token for index in order for token in encoded[index]]
        start = rng.randrange(0, len(stream) - seq_len + 1)
        rows.append(stream[start : start + seq_len])
    return CalibrationSet(text=text, input_ids=torch.tensor(rows, dtype=torch.long), seed=seed)
