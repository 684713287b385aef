"""The plain prompt format used when a tokenizer has no chat template."""

from __future__ import annotations

from collections.abc import Sequence

from trust_core.contracts import Message

FALLBACK_TEMPLATE = "fallback:plain"
"""How ``describe()`` names the fallback format."""

ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}


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
