"""trust plugin: FastChat conversation templates (``--chat-template fastchat:NAME``, and automatically for
legacy models whose tokenizer has no chat template). Importing it is cheap: fschat loads when used."""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import ChatTemplate, hookimpl
from trust_fastchat.templates import NEVER_AUTOMATIC, FastChatTemplate, adapter_template_name

__all__ = ["NEVER_AUTOMATIC", "FastChatTemplate", "adapter_template_name", "register_chat_templates"]


@hookimpl
def register_chat_templates(register: Callable[[type[ChatTemplate]], None]) -> None:
    """Register the ``fastchat`` chat template."""
    register(FastChatTemplate)
