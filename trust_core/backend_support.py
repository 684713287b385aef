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


GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (1, 2, 3)


def gguf_problem(path: Path) -> str | None:
    """Why ``path`` is not a GGUF file a loader can start on (magic bytes, version, a complete header), or None.

    Only the 24-byte header is read; a file corrupt further on is reported by the loader.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(24)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if header[:4] != GGUF_MAGIC:
        return "not a GGUF file (it does not start with the GGUF magic bytes)"
    if len(header) < 24:
        return f"a truncated GGUF file ({len(header)} bytes, shorter than the GGUF header)"
    version = int.from_bytes(header[4:8], "little")
    if version not in GGUF_VERSIONS:
        return f"a GGUF file of unknown version {version} (known: {', '.join(map(str, GGUF_VERSIONS))})"
    return None
