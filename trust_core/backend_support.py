"""Helpers every backend needs: message checks, the plain fallback prompt, settings checks, file digests.

The plain fallback format is used only for models that ship no chat template; a
backend that uses it says so in ``describe()`` (``chat_template = FALLBACK_TEMPLATE``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from trust_core.contracts import ChatRequest, GenerationResult, GenerationSettings, Message

FALLBACK_TEMPLATE = "fallback:plain"
"""How ``describe()`` names the plain fallback prompt format."""

ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}
_CHUNK_BYTES = 2**22


def checked_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Copy ``messages`` as plain dicts, raising ``ValueError`` on a malformed one."""
    if not messages:
        raise ValueError("a chat needs at least one message")
    checked = []
    for index, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLE_LABELS or not isinstance(content, str):
            raise ValueError(f"message {index} needs a role in {sorted(ROLE_LABELS)} and a string content")
        checked.append({"role": role, "content": content})
    return checked


def plain_prompt(messages: Sequence[Message], bos: str = "") -> str:
    """``{bos}System: ...\\n\\nUser: ...\\n\\nAssistant:`` — each message labelled by role, blank-line separated."""
    turns = [f"{ROLE_LABELS[m['role']]}: {m['content']}" for m in checked_messages(messages)]
    return bos + "\n\n".join([*turns, "Assistant:"])


def settings_problem(settings: GenerationSettings) -> str | None:
    """Why ``settings`` cannot be honoured, or None."""
    if settings.max_new_tokens < 1:
        return f"max_new_tokens must be at least 1, got {settings.max_new_tokens}"
    if settings.temperature < 0:
        return f"temperature must not be negative, got {settings.temperature}"
    return None


def error_result(request: ChatRequest, reason: str) -> GenerationResult:
    """A failed result for ``request``."""
    return GenerationResult(key=request.key, text=None, error=reason)


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file, streamed in 4 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
