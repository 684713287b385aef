"""The one translation table from other tools' command-line flags to trust's own.

``trust`` accepts the flags of the ORNL workflow built on TrustLLM (``--model_path``, ``--subtasks``,
``--include_generate_types``, ``--load_hqq_model``, ``--hqq_bits``, ``--judge_family`` ...) and the per-provider
key flags ``--NAME-api-key KEY`` (``--openai-api-key``). :func:`translate_flags` rewrites them into trust's own
options before the command line is parsed, so the options themselves (``trust_core.cli``) name no provider, no
compression method and no other tool's spelling. Arguments after ``--`` are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from trust_core.errors import UserError

RENAMED: Mapping[str, str] = {
    "--model_path": "--model",
    "--load_custom_model": "--model",
    "--subtasks": "--tasks",
    "--include_generate_types": "--dimensions",
    "--include_evaluate_types": "--dimensions",
    "--data_path": "--data-dir",
    "--max_new_token": "--max-new-tokens",
    "--num_gpus": "--num-gpus",
    "--hqq_bits": "--quant-bits",
    "--hqq_groupsize": "--quant-group-size",
    "--judge_family": "--judge-family",
    "--judge_model": "--judge-model",
}
"""The ORNL workflow's flags that are trust options under another name (the value follows either way)."""

LOAD_FLAG = re.compile(r"^--load_(?P<method>[a-z0-9][a-z0-9_-]*)_model$")
"""The ORNL workflow's ``--load_<method>_model`` (``--load_hqq_model``, ``--load_bnb_model``): ``--quantize
<method>``; ``--load_custom_model PATH`` is ``--model PATH`` (:data:`RENAMED`)."""

KEY_FLAG = re.compile(r"^--(?P<name>[a-z0-9]+)-api-key(?:=(?P<value>.*))?$")
"""``--NAME-api-key KEY``: ``--key NAME=KEY`` (each API component declares the key it needs, ``needs_key``)."""

EMBED_CHOICE = "--embed_choice"
EMBED_CHOICE_EMBEDDERS: Mapping[str, str] = {"0": "openai"}
"""The ORNL workflow's ``--embed_choice N``: 0 means OpenAI embeddings (``--embedder openai``); any other value
the default local embedder (the flag is dropped)."""


def translate_flags(args: Sequence[str]) -> list[str]:
    """``args`` with every flag of the table rewritten as trust's own option."""
    rewritten: list[str] = []
    items = list(args)
    index = 0
    while index < len(items):
        arg = items[index]
        if arg == "--":
            return rewritten + items[index:]
        index += 1
        name, eq, inline = arg.partition("=")
        if name in RENAMED:
            rewritten.append(RENAMED[name] + eq + inline)
        elif (load := LOAD_FLAG.match(arg)) and load["method"] != "custom":
            rewritten += ["--quantize", load["method"]]
        elif key := KEY_FLAG.match(arg):
            value = key["value"] if key["value"] is not None else _value(items, index, key[0])
            index += 0 if key["value"] is not None else 1
            rewritten += ["--key", f"{key['name']}={value}"]
        elif name == EMBED_CHOICE:
            choice = inline if eq else _value(items, index, EMBED_CHOICE)
            index += 0 if eq else 1
            rewritten += _embedder_for(choice, items)
        else:
            rewritten.append(arg)
    return rewritten


def _value(items: Sequence[str], index: int, flag: str) -> str:
    if index >= len(items):
        raise UserError(f"{flag} needs a value")
    return items[index]


def _embedder_for(choice: str, items: Sequence[str]) -> list[str]:
    if not choice.strip().isdigit():
        raise UserError(f"{EMBED_CHOICE} {choice!r}: expected a number (0 = OpenAI embeddings)")
    if any(item == "--embedder" or item.startswith("--embedder=") for item in items):
        raise UserError(f"--embedder and {EMBED_CHOICE}: give one or the other")
    embedder = EMBED_CHOICE_EMBEDDERS.get(str(int(choice)))
    return ["--embedder", embedder] if embedder else []


def fold_judge_family(params: dict[str, object]) -> None:
    """Fold ``--judge-family F --judge-model M`` (the ORNL workflow's ``--judge_family`` / ``--judge_model``) into
    ``--judge F:M``, in place."""
    family, model = params.pop("judge_family", None), params.pop("judge_model", None)
    if family is None and model is None:
        return
    if params.get("judge"):
        raise UserError("--judge and --judge_family/--judge_model: give one or the other")
    if family is None:
        raise UserError("--judge_model needs --judge_family (or use --judge FAMILY:MODEL)")
    params["judge"] = f"{family}:{model}" if model else family
