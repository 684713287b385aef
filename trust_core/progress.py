"""Progress bars for long work: items done / total and rate, on standard error."""

from __future__ import annotations

import os
from typing import Any


def progress(total: int, desc: str, unit: str = "item") -> Any:
    """A tqdm bar (``TRUST_PROGRESS=0`` turns bars off)."""
    from tqdm import tqdm

    disabled = os.environ.get("TRUST_PROGRESS", "1") == "0" or total == 0
    return tqdm(total=total, desc=desc, unit=unit, disable=disabled, mininterval=0.5, dynamic_ncols=True)
