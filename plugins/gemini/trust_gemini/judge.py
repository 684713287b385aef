"""The ``gemini`` judge: the core's LLM judge over the ``gemini`` backend (``--judge gemini:MODEL``)."""

from __future__ import annotations

from trust_api import ApiJudge
from trust_gemini.backend import GeminiBackend


class GeminiJudge(ApiJudge):
    """LLM-as-judge through Gemini: ``gemini`` (default gemini-2.0-flash) or ``gemini:MODEL``;
    ``--judge-base-url`` for another server with Gemini's API (without it, Google's endpoint — never ``--base-url``)."""

    name = "gemini"
    version = "1"
    description = "LLM judge via Google Gemini (google-genai); --judge gemini:MODEL"
    backend_class = GeminiBackend
    default_model = "gemini-2.0-flash"
