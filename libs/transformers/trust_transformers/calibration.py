"""Calibration texts for quantizers that measure activations (gptq, awq): varied English paragraphs shipped here.

``data/calibration.txt`` holds 36 hand-written paragraphs (narrative, science, how-to, history, dialogue,
business, letters), separated by blank lines. A recipe asks for ``n`` samples: the paragraphs are shuffled
with the recipe's seed; the first samples are single paragraphs, and beyond the number of paragraphs each
further sample joins two distinct paragraphs drawn with the same seeded generator.
"""

from __future__ import annotations

import hashlib
import random
from importlib import resources

CALIBRATION_FILE = "data/calibration.txt"


def calibration_record(samples: list[str], seed: int) -> dict[str, object]:
    """What ``variant.json`` records about the calibration data: source file and hash, count, samples' hash, seed."""
    return {
        "source": f"trust_transformers/{CALIBRATION_FILE}",
        "file_sha256": calibration_file_sha256(),
        "samples": len(samples),
        "samples_sha256": samples_sha256(samples),
        "seed": seed,
    }


def calibration_text() -> str:
    """The raw calibration file shipped with this library."""
    return resources.files("trust_transformers").joinpath(CALIBRATION_FILE).read_text(encoding="utf-8")


def calibration_paragraphs() -> list[str]:
    """The calibration paragraphs, in file order."""
    return [" ".join(block.split()) for block in calibration_text().split("\n\n") if block.strip()]


def calibration_file_sha256() -> str:
    """sha256 of the calibration file as shipped."""
    return hashlib.sha256(calibration_text().encode("utf-8")).hexdigest()


def calibration_samples(count: int, seed: int) -> list[str]:
    """``count`` calibration texts, deterministic for ``seed`` (see the module docstring)."""
    paragraphs = calibration_paragraphs()
    rng = random.Random(seed)
    order = paragraphs[:]
    rng.shuffle(order)
    samples = order[:count]
    while len(samples) < count:
        first, second = rng.sample(paragraphs, 2)
        samples.append(f"{first}\n\n{second}")
    return samples


def samples_sha256(samples: list[str]) -> str:
    """sha256 of the exact calibration texts used, in order."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(sample.encode("utf-8") + b"\0")
    return digest.hexdigest()
