"""trust-perspective: the ``perspective`` toxicity scorer (Google's Perspective API).

The default toxicity scorer whenever a Perspective API key is given
(``--perspective-api-key`` or ``PERSPECTIVE_API_KEY``). Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Judge, hookimpl
from trust_perspective.client import DEFAULT_URL, PerspectiveClient, Settings, parse_settings
from trust_perspective.judge import PerspectiveJudge

__version__ = "0.1.0"


@hookimpl
def register_judges(register: Callable[[type[Judge]], None]) -> None:
    """Register ``perspective`` (the default toxicity scorer when a key is given)."""
    register(PerspectiveJudge)


__all__ = ["DEFAULT_URL", "PerspectiveClient", "PerspectiveJudge", "Settings", "parse_settings", "register_judges"]
