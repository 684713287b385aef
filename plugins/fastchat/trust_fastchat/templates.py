"""FastChat's conversation templates (``fschat``) as a trust chat template.

``--chat-template fastchat:vicuna_v1.1`` renders with that FastChat template. Without the option, a model
whose tokenizer has no chat template gets the FastChat template FastChat's model adapters pick for its name
(``lmsys/vicuna-7b-v1.5`` → ``vicuna_v1.1``, ``koala`` → ``koala_v1``, ``databricks/dolly-v2`` → ``dolly_v2``,
``mosaicml/mpt-7b-chat`` → ``mpt-7b-chat``, ``THUDM/chatglm2-6b`` → ``chatglm2``...) — except FastChat's
fallback ``one_shot``, which injects an example dialogue into every prompt: a model FastChat does not know gets
no FastChat template (the backend's plain fallback applies) unless the user names ``fastchat:one_shot``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from trust_core.plugin import ChatTemplate, Message, UserError

NEVER_AUTOMATIC = frozenset({"one_shot", "zero_shot"})
"""FastChat's catch-all templates: used only when named, never picked for a model."""


def _conversation(name: str) -> Any:
    from fastchat.conversation import get_conv_template

    try:
        return get_conv_template(name)
    except KeyError:
        raise UserError(f"--chat-template fastchat:{name}: FastChat has no template of that name") from None


def adapter_template_name(model: str) -> str | None:
    """The template FastChat's model adapters choose for ``model`` (a path or id), or None when fschat is not
    installed or its adapters cannot be imported."""
    if importlib.util.find_spec("fastchat") is None:
        return None
    try:
        from fastchat.model.model_adapter import get_conversation_template
    except Exception:  # fschat's adapters import torch/transformers APIs that may have moved
        return None
    return str(get_conversation_template(model).name)


class FastChatTemplate(ChatTemplate):
    """One FastChat conversation template (``fastchat:<template name>``)."""

    name = "fastchat"
    version = "1"
    description = "FastChat conversation templates for legacy chat models (Vicuna, Koala, Baize, Oasst, Dolly, MPT...)"

    def __init__(self, argument: str | None) -> None:
        if not argument:
            raise UserError("--chat-template fastchat needs a template name, e.g. fastchat:vicuna_v1.1")
        if importlib.util.find_spec("fastchat") is None:
            raise UserError("--chat-template fastchat needs FastChat: pip install --no-deps fschat")
        super().__init__(argument)
        self._template = _conversation(argument)

    @classmethod
    def for_model(cls, model: str) -> ChatTemplate | None:
        """The FastChat template for ``model``'s name, unless it is FastChat's catch-all (``one_shot``)."""
        name = adapter_template_name(model)
        if name is None or name in NEVER_AUTOMATIC:
            return None
        return cls(name)

    def identity(self) -> str:
        """``fastchat:<template>@fschat==<version>``."""
        from importlib import metadata

        return f"fastchat:{self.argument}@fschat=={metadata.version('fschat')}"

    def render(self, messages: Sequence[Message]) -> str:
        """FastChat's prompt for ``messages``: a system message sets the template's system text; user and
        assistant turns alternate on its roles; the prompt ends with the assistant's role, open."""
        conversation = self._template.copy()
        user, assistant = conversation.roles[0], conversation.roles[1]
        for message in messages:
            if message["role"] == "system":
                conversation.set_system_message(message["content"])
            else:
                conversation.append_message(user if message["role"] == "user" else assistant, message["content"])
        conversation.append_message(assistant, None)
        return str(conversation.get_prompt())

    def stop_strings(self) -> list[str]:
        """FastChat's stop string(s) for the template, and the next user turn's role marker."""
        stops: list[str] = []
        stop = self._template.stop_str
        if isinstance(stop, str):
            stops.append(stop)
        elif isinstance(stop, list):
            stops.extend(str(s) for s in stop)
        role = self._template.roles[0]
        if role:
            stops.append(f"{role}:")
        return stops
