"""Every `trust` command the README and the guides show, run through the real CLI (issue 14).

The commands are read from the shell blocks (```console, ```bash, ```sh) of :data:`DOCUMENTS`. Each one is either
in :data:`OFFLINE` — run here in a shared workspace with tiny limits substituted (``--limit 1``,
``--max-new-tokens 8``, one small task where the example runs them all), placeholders filled (the TrustLLM archive
from the ``archive`` fixture, a local OpenAI-compatible server, the private plugin of docs/plugins.md) — or in
:data:`EXCLUDED` with the reason it cannot run offline. A command in neither fails the suite, so a newly documented
command is either run or consciously excluded; a command that is no longer documented must leave the tables too.

Every documented `trust` command, excluded ones included, is also parsed by the real click CLI (no run), so a
renamed or removed option fails the fast suite. Commands that load a model are marked slow; they share one run
directory, so later commands find the responses, verdicts and embeddings earlier ones stored.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import click
import pytest

from conftest import REPO, Completed
from trust_api.testing_http import Recorded, Reply, ScriptedServer
from trust_core.cli import cli, hoist_plugin_dirs
from trust_core.flag_translation import translate_flags
from trust_core.testing import run_cli

DOCUMENTS = ("README.md", "docs/user-guide.md", "docs/compression.md", "docs/evaluators.md", "docs/plugins.md")
SHELL_BLOCKS = frozenset({"console", "bash", "sh", "shell", "shell-session"})
"""Info strings of the fenced blocks whose lines are commands."""
SEPARATORS = frozenset({"&&", "||", ";", "|"})
FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\s`]*)")
DOC_FILE = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)

MODEL_STAGE = "model"
"""Loads a model (the embedded SmolLM2, a variant, an embedder): marked slow."""
FAST_STAGE = "fast"
"""Loads no model: runs in the default suite."""

SMALL_TASK = "truthfulness/hallucination"
"""The task a documented run of every task is narrowed to: one item, no judge, no embedder."""
JUDGED_TASK = "truthfulness/adversarial_factuality"
"""The task a documented judge choice is run on: it asks the judge."""
TINY_LIMITS = {"--limit": "1", "--max-new-tokens": "8"}
"""Options set (replacing the documented value) on every run, generate and evaluate."""
STORE_COMMANDS = frozenset({"run", "generate", "evaluate"})
SCORING_COMMANDS = frozenset({"run", "evaluate"})
TASK_OPTIONS = frozenset({"--tasks", "--subtasks", "--dimensions", "--generations"})

SERVER_PLACEHOLDERS = ("URL", "http://127.0.0.1:8000/v1")
"""Documented server URLs: replaced by the local scripted server's."""
PLACEHOLDERS = {
    "path/to/dataset.zip": "{archive}",
    "M": "smollm2",
    "private/mytask": "acme/capitals",
    **dict.fromkeys(SERVER_PLACEHOLDERS, "{server}"),
}
"""Documented placeholder arguments and what they stand for here. ``...`` (elided options) is dropped; the
folders the docs name (``V``, ``G``, ``my-plugins``, ``private-data``, ``trustllm_outputs/``) exist in the
workspace, which is the working directory of every command."""
ELIDED = "..."
NOT_COMMANDS = {
    "trust run --model M --tasks ... --judge J --embedder E": "the user guide's diagram of how a run flows",
}
"""Lines of unlabelled (non-shell) blocks that look like commands but are not meant to be run."""


@dataclass(frozen=True)
class Runs:
    """How the suite runs a documented command.

    ``stage`` says whether it loads a model; ``extra`` arguments are appended (a calibration budget, the task a
    judge is tried on); ``model`` replaces the documented (or default) model; ``after`` is the documented command
    it needs first (the one producing the variant it evaluates, the responses it scores); ``needs`` are modules
    whose absence (an optional plugin not installed) skips it.
    """

    stage: str
    extra: tuple[str, ...] = ()
    model: str | None = None
    after: str | None = None
    needs: tuple[str, ...] = ()


TWO_CALIBRATION_SAMPLES = ("--calibration-samples", "2")
TINY_MODEL = "{tiny_model}"
"""A random two-block Llama folder (:func:`write_tiny_model`): the base model of the documented compressions, each
a minute or more on SmolLM2 on 2 cores (SparseGPT several, over ten on a busy machine), most of it reading the GGUF
file. Each method runs on SmolLM2 in its plugin's slow tests (wanda 2:4 as documented, in
plugins/wanda/tests/test_wanda_smollm2.py); here the command line, the variant folder and cache and the backend that
runs the variant are checked."""

OFFLINE: dict[str, Runs] = {
    # README.md, quick start and "Using it"
    ".venv/bin/trust run --tasks truthfulness --limit 3": Runs(MODEL_STAGE),
    "trust run --tasks truthfulness --limit 5 --data-dir path/to/dataset.zip": Runs(MODEL_STAGE),
    "trust generate ...": Runs(MODEL_STAGE),
    "trust evaluate ...": Runs(MODEL_STAGE, after="trust generate ..."),
    "trust evaluate --generations trustllm_outputs/": Runs(FAST_STAGE),
    # docs/user-guide.md, comparing variants (the run directories: prepare_workspace)
    "trust compare runs/base runs/gptq-4bit runs/wanda-2of4": Runs(FAST_STAGE),
    "trust compare runs/base runs/awq --fail-on-regression 'safety/*:rta:0.02' --json": Runs(FAST_STAGE),
    "trust compress --model smollm2 --prune wanda --pattern 2:4 --out V": Runs(
        MODEL_STAGE, TWO_CALIBRATION_SAMPLES, model=TINY_MODEL, needs=("trust_wanda",)
    ),
    "trust run --model V --tasks hallucination --limit 3": Runs(
        MODEL_STAGE, after="trust compress --model smollm2 --prune wanda --pattern 2:4 --out V", needs=("trust_hf",)
    ),
    "trust run --prune sparsegpt --pattern 4:8 --tasks hallucination": Runs(
        MODEL_STAGE, TWO_CALIBRATION_SAMPLES, model=TINY_MODEL, needs=("trust_wanda", "trust_hf")
    ),
    "trust run --quantize hqq --quant-bits 4 --quant-group-size 64 --tasks hallucination": Runs(
        MODEL_STAGE, model=TINY_MODEL, needs=("trust_hqq",)
    ),
    "trust run --backend openai --model M --base-url http://127.0.0.1:8000/v1": Runs(
        FAST_STAGE, needs=("trust_openai",)
    ),
    "trust run --judge gpt:M --judge-base-url URL": Runs(
        MODEL_STAGE, ("--tasks", JUDGED_TASK), needs=("trust_openai",)
    ),
    "trust run --judge llama:smollm2": Runs(MODEL_STAGE, ("--tasks", JUDGED_TASK), needs=("trust_judges",)),
    "trust judge-check --judge refusal-patterns": Runs(FAST_STAGE),
    "trust tasks": Runs(FAST_STAGE),
    "trust plugins --json": Runs(FAST_STAGE),
    # docs/user-guide.md, API models and servers
    "trust run --backend openai --model my-model --base-url http://127.0.0.1:8000/v1": Runs(
        FAST_STAGE, needs=("trust_openai",)
    ),
    # docs/compression.md
    "trust run --model smollm2 --quantize bnb --tasks hallucination": Runs(
        MODEL_STAGE, model=TINY_MODEL, needs=("trust_bnb", "trust_hf")
    ),
    # docs/plugins.md (the private task plugin written from the guide)
    "trust --plugin-dir ./my-plugins run --tasks private/mytask": Runs(MODEL_STAGE),
    "trust tasks --plugin-dir ./my-plugins --data-dir ./private-data": Runs(FAST_STAGE),
    "trust tasks --plugin-dir my-plugins": Runs(FAST_STAGE),
    "trust run --plugin-dir my-plugins --tasks acme/capitals": Runs(MODEL_STAGE),
    "trust run --plugin-dir my-plugins --tasks acme/capitals --data-dir private-data --model M": Runs(MODEL_STAGE),
    "trust evaluate --plugin-dir my-plugins --generations G": Runs(FAST_STAGE),
}
"""Documented commands run here, keyed by the command exactly as documented (comments dropped)."""

NO_GPU = "needs a GPU"
HUB_MODEL = "a hub model that is not cached offline"
OPENAI_JUDGE = "the judge runs on OpenAI's own endpoint: needs OPENAI_API_KEY and the network"
STUDY = (
    "the documented study evaluates SmolLM2 and eight variants of it (an hour or more on 2 cores); tests/test_study.py "
    "runs studies, their status and their comparison end to end on the scripted plugin"
)
SLURM_EXAMPLE = "the Slurm array example of an 8B hub model (tests/test_sharding.py shards, merges and evaluates)"
EXCLUDED: dict[str, str] = {
    "trust judge-check --judge smollm2": (
        "run with --tasks truthfulness/use_internal_knowledge, and its report checked, by "
        "tests/test_e2e_offline_judges.py::test_judge_check_of_the_offline_default_judge (minutes of SmolLM2 judging)"
    ),
    "trust generate --model meta-llama/Llama-3.1-8B-Instruct --tasks truthfulness,safety --shard "
    "'$SLURM_ARRAY_TASK_ID/4' --run-dir 'shards/$SLURM_ARRAY_TASK_ID'": SLURM_EXAMPLE,
    "trust merge shards/1 shards/2 shards/3 shards/4 --into merged": SLURM_EXAMPLE,
    "trust evaluate --model meta-llama/Llama-3.1-8B-Instruct --tasks truthfulness,safety --run-dir merged": (
        SLURM_EXAMPLE
    ),
    "scripts/setup.sh": "installs the project (creates .venv, pip downloads); CI runs it before the suite (.ci/run)",
    "scripts/setup.sh --test": "installs the project and builds llama-cpp-python; CI runs it before the suite",
    ".venv/bin/pytest --full": "the test suite itself",
    "trust run --model HuggingFaceTB/SmolLM2-360M-Instruct --num-gpus 1": f"{NO_GPU} and {HUB_MODEL}",
    "trust run --model hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4 ...": f"an 8B checkpoint, {HUB_MODEL}",
    "trust run --judge qwen": f"the qwen judge's default model (Qwen2.5-7B-Instruct) is {HUB_MODEL}",
    "trust run --backend openai --model my-model --base-url https://llm.example/v1 --api-key-env LLM_KEY": (
        "a remote server (llm.example) and its key"
    ),
    "trust run --backend openai --model my-model --base-url http://127.0.0.1:8000/v1 --judge gpt:gpt-4o-mini": (
        OPENAI_JUDGE
    ),
    "trust judge-check --judge gpt:gpt-4o-mini --tasks truthfulness": OPENAI_JUDGE,
    "trust study run my-study.toml --run-dir studies/s1": STUDY,
    "trust study status studies/s1": STUDY,
    "trust compare studies/s1": STUDY,
    "trust report studies/s1 --out report.html --figures figures/": STUDY,
    "trust export studies/s1 --format parquet --out metrics.parquet": STUDY,
}
"""Documented commands that cannot run offline here, keyed by the exact command, with the reason."""


# --------------------------------------------------------------------------- reading the docs


@dataclass(frozen=True)
class Block:
    """A fenced code block: the document, the line its body starts on, its info string and its lines."""

    document: str
    line: int
    info: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Documented:
    """One documented command: its tokens and where it is documented."""

    tokens: tuple[str, ...]
    where: str

    @property
    def command(self) -> str:
        """The command as documented, the key of :data:`OFFLINE` / :data:`EXCLUDED`."""
        return shlex.join(self.tokens)

    @property
    def is_trust(self) -> bool:
        program = self.tokens[0]
        return program == "trust" or program.endswith("/trust")


def fenced_blocks(document: str) -> Iterator[Block]:
    """The fenced code blocks of a Markdown document (a closing fence is the opening one's character, at least
    as long)."""
    lines = (REPO / document).read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence = opening["fence"]
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        yield Block(document, index + 2, opening["info"].lower(), tuple(lines[index + 1 : end]))
        index = end + 1


def strip_comment(line: str) -> str:
    """``line`` without its shell comment: a ``#`` at the start of a word, outside quotes."""
    quote = ""
    for position, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position]
    return line


def logical_lines(block: Block) -> Iterator[tuple[int, str]]:
    """Command lines of a shell block, comments dropped, a ``$ `` prompt removed, ``\\`` continuations joined."""
    pending, start = "", 0
    for offset, raw in enumerate(block.lines):
        text = strip_comment(raw).strip()
        if not pending:
            start = block.line + offset
            text = text.removeprefix("$ ")
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        text, pending = (pending + text).strip(), ""
        if text:
            yield start, text


def split_commands(tokens: list[str]) -> list[list[str]]:
    """The commands of one line, split at ``&&``, ``||``, ``;`` and ``|``. A segment that starts with an option
    (``trust run --judge A ; --judge B``, the README's shorthand for alternatives) repeats the previous command's
    program and subcommand."""
    commands: list[list[str]] = []
    current: list[str] = []
    for token in [*tokens, ";"]:
        if token not in SEPARATORS:
            current.append(token)
            continue
        if current and current[0].startswith("-") and commands:
            previous = commands[-1]
            prefix = [previous[0], *[t for t in previous[1:2] if not t.startswith("-")]]
            current = prefix + current
        if current:
            commands.append(current)
        current = []
    return commands


def tokenize(line: str) -> list[str]:
    """Shell words of a command line, with the command separators as tokens of their own."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def documented_commands() -> list[Documented]:
    """Every command of the shell blocks of :data:`DOCUMENTS`, in document order, first occurrence kept."""
    seen: dict[str, Documented] = {}
    for document in DOCUMENTS:
        for block in fenced_blocks(document):
            if block.info not in SHELL_BLOCKS:
                continue
            for line, text in logical_lines(block):
                for tokens in split_commands(tokenize(text)):
                    found = Documented(tuple(tokens), f"{document}:{line}")
                    seen.setdefault(found.command, found)
    return list(seen.values())


def commands_outside_shell_blocks() -> list[str]:
    """Lines of other blocks (unlabelled, ``text``) that start like a trust command: a command shown there is
    not run, so it must be in a shell block or in :data:`NOT_COMMANDS`."""
    found = []
    for document in DOCUMENTS:
        for block in fenced_blocks(document):
            if block.info in SHELL_BLOCKS or block.info not in ("", "text"):
                continue
            for offset, raw in enumerate(block.lines):
                text = raw.strip().removeprefix("$ ")
                if re.match(r"(\S*/)?trust ", text) and text not in NOT_COMMANDS:
                    found.append(f"{document}:{block.line + offset}: {text}")
    return found


DOCUMENTED = documented_commands()
TRUST_COMMANDS = [documented for documented in DOCUMENTED if documented.is_trust]


# --------------------------------------------------------------------------- the workspace


def served_completion(request: Recorded) -> Reply:
    """An OpenAI chat completion with a fixed answer, for the documented server commands."""
    body = request.json() or {}
    choice = {"index": 0, "message": {"role": "assistant", "content": "The answer is (A)."}, "finish_reason": "stop"}
    return Reply(
        200,
        {
            "id": "documented",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "served"),
            "choices": [choice],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        },
    )


def _with_answers(items: list[dict], answer: str) -> str:
    return json.dumps([{**item, "res": answer} for item in items], indent=1)


def prepare_workspace(folder: Path) -> None:
    """The files the documented commands name: the private plugin of docs/plugins.md with its sample
    (``my-plugins``), its real data (``private-data``), answers made elsewhere for it (``G``) and a TrustLLM-format
    generation folder (``trustllm_outputs``)."""
    guide = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    files = DOC_FILE.findall(guide)
    assert files, "docs/plugins.md shows no `<!-- file: NAME -->` blocks for its private task plugin"
    for name, text in files:
        target = folder / "my-plugins" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    capitals = json.loads((folder / "my-plugins" / "data" / "acme" / "capitals.sample.json").read_text())
    for data_dir, text in (("private-data", json.dumps(capitals)), ("G", _with_answers(capitals, "Paris"))):
        (folder / data_dir / "acme").mkdir(parents=True)
        (folder / data_dir / "acme" / "capitals.json").write_text(text, encoding="utf-8")
    sample = resources.files("trust_truthfulness").joinpath("data/truthfulness/hallucination.sample.json")
    items = json.loads(sample.read_text(encoding="utf-8"))
    (folder / "trustllm_outputs" / "truthfulness").mkdir(parents=True)
    (folder / "trustllm_outputs" / "truthfulness" / "hallucination.json").write_text(
        _with_answers(items, "A"), encoding="utf-8"
    )
    _write_compared_runs(folder, items)
    (folder / "my-study.toml").write_text(documented_study(), encoding="utf-8")
    (folder / "studies" / "s1").mkdir(parents=True)


def documented_study() -> str:
    """The study file docs/user-guide.md shows (its one ```toml block)."""
    (study,) = re.findall(r"```toml\n(.*?)```", (REPO / "docs" / "user-guide.md").read_text(), re.DOTALL)
    return str(study)


def test_the_documented_study_file_is_valid(tmp_path: Path) -> None:
    from trust_core.studies import load_study

    path = tmp_path / "my-study.toml"
    path.write_text(documented_study().replace("path/to/an-awq-checkpoint", "org/awq-checkpoint"))
    study = load_study(path)
    assert [variant.name for variant in study.variants][:3] == ["dense", "hqq4", "awq-checkpoint"]
    assert len(study.variants) == 9 and study.variants[-1].name == "wanda-sparsity0.5"


COMPARED_RUNS = {"base": "A", "gptq-4bit": "B", "wanda-2of4": "A", "awq": "Yes"}
"""The run directories ``trust compare`` is documented on (``runs/NAME``), each scoring one fixed answer to the
hallucination sample: made by ``trust evaluate`` of imported answers, no model."""


def _write_compared_runs(folder: Path, items: list[dict]) -> None:
    env = {"TRUST_LOAD_PLUGINS": "truthfulness,refusal"}
    for name, answer in COMPARED_RUNS.items():
        answers = folder / "answers" / name / "truthfulness"
        answers.mkdir(parents=True)
        (answers / "hallucination.json").write_text(_with_answers(items, answer), encoding="utf-8")
        argv = ["evaluate", "--generations", str(answers.parent), "--run-dir", str(folder / "runs" / name)]
        done = run_cli(*argv, env=env)
        assert done.returncode == 0, done.stderr


TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_tiny_model(folder: Path) -> None:
    """A random two-block Llama with a byte-level BPE tokenizer trained here on the README (no downloads), for the
    documented command whose method takes many minutes on the embedded model (SparseGPT's column-by-column
    updates); the method itself runs on SmolLM2 in plugins/wanda/tests/test_wanda_smollm2.py."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    special = ["<eos>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator((REPO / "README.md").read_text(encoding="utf-8").split("\n\n"), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<eos>")
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


@dataclass
class Workspace:
    """The working directory every documented command runs in (one run store, ``./trust-run``), the local
    server, and what has run so far."""

    folder: Path
    server: ScriptedServer
    done: dict[str, Completed] = field(default_factory=dict)

    def argv(self, documented: Documented, archive: Path | None) -> list[str]:
        """The command as run: placeholders filled, tiny limits, the extra arguments of its entry."""
        values = {"archive": str(archive), "server": self.server.url + "/v1"}
        args = [fill(token, values) for token in documented.tokens[1:] if token != ELIDED]
        runs = OFFLINE[documented.command]
        if TINY_MODEL in (runs.model, *runs.extra):
            values["tiny_model"] = str(self.tiny_model())
        args += [fill(token, values) for token in runs.extra]
        if runs.model is not None:
            args = with_model(args, fill(runs.model, values))
        subcommand = next((arg for arg in hoist_plugin_dirs(args) if not arg.startswith("-")), None)
        if subcommand in STORE_COMMANDS:
            args = with_tiny_limits(args)
        return args

    def tiny_model(self) -> Path:
        """The tiny model folder (written on first use)."""
        folder = self.folder / "tiny-llama"
        if not folder.exists():
            write_tiny_model(folder)
        return folder

    def run(self, documented: Documented, archive: Path | None) -> Completed:
        """Run it (once), after the command it needs."""
        if documented.command in self.done:
            return self.done[documented.command]
        prerequisite = OFFLINE[documented.command].after
        if prerequisite is not None:
            self.expect_success(by_command(prerequisite), archive)
        self.done[documented.command] = self._execute(self.argv(documented, archive), OFFLINE[documented.command])
        return self.done[documented.command]

    def _execute(self, argv: list[str], runs: Runs) -> Completed:
        """``trust ARGV`` in the workspace with no TRUST_ variables and no API keys: in this process, or in a
        process of its own for a command that loads a model (its memory and native output stay there)."""
        offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        offline |= dict.fromkeys(("OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY", "PERSPECTIVE_API_KEY"), "")
        if runs.stage != MODEL_STAGE:
            cleared: dict[str, str | None] = {key: None for key in os.environ if key.startswith("TRUST_")}
            return run_cli(*argv, env={**cleared, **offline}, cwd=self.folder)
        env = {key: value for key, value in os.environ.items() if not key.startswith("TRUST_")}
        env |= {"TRUST_PROGRESS": "0", **offline}
        proc = subprocess.run(
            [sys.executable, "-m", "trust_core", *argv], capture_output=True, text=True, env=env, cwd=self.folder,
            timeout=900,
        )  # fmt: skip
        return Completed(proc.returncode, proc.stdout, proc.stderr)

    def expect_success(self, documented: Documented, archive: Path | None) -> Completed:
        """Run it and fail, naming the documented command and where it is documented, unless it succeeds."""
        result = self.run(documented, archive)
        as_run = shlex.join(self.argv(documented, archive))
        shown = f"`{documented.command}` ({documented.where}), run as `trust {as_run}`"
        assert result.code == 0, f"{shown} exited {result.code}:\n{result.stderr[-4000:]}"
        assert "Traceback" not in result.stderr, f"{shown} printed a traceback:\n{result.stderr[-4000:]}"
        return result


def fill(token: str, values: dict[str, str]) -> str:
    """A documented argument with its placeholder filled (:data:`PLACEHOLDERS`, or ``{name}`` in an entry's extra
    arguments); other arguments as they are."""
    if token in PLACEHOLDERS:
        return PLACEHOLDERS[token].format(**values)
    if re.fullmatch(r"\{\w+\}", token):
        return token.format(**values)
    return token


def with_model(args: list[str], model: str) -> list[str]:
    """``args`` with ``--model`` (or one of the ORNL workflow's spellings of it) set to ``model``."""
    spellings = {"--model", "--model_path", "--load_custom_model"}
    for index, arg in enumerate(args[:-1]):
        if arg in spellings:
            return [*args[: index + 1], model, *args[index + 2 :]]
    return [*args, "--model", model]


def with_tiny_limits(args: list[str]) -> list[str]:
    """``args`` with :data:`TINY_LIMITS` (replacing documented values) and, when no task is named, one small
    task."""
    limited: list[str] = []
    index = 0
    while index < len(args):
        if args[index] in TINY_LIMITS:
            index += 2
            continue
        limited.append(args[index])
        index += 1
    for option, value in TINY_LIMITS.items():
        limited += [option, value]
    if not TASK_OPTIONS.intersection(limited):
        limited += ["--tasks", SMALL_TASK]
    return limited


def by_command(command: str) -> Documented:
    """The documented command with this key (it must still be documented)."""
    for documented in DOCUMENTED:
        if documented.command == command:
            return documented
    raise AssertionError(f"`{command}` is named in this test but documented nowhere in {', '.join(DOCUMENTS)}")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("documented")
    prepare_workspace(folder)
    with ScriptedServer(default=served_completion) as server:
        yield Workspace(folder, server)


# --------------------------------------------------------------------------- the tests


def test_every_documented_command_is_run_or_excluded():
    documented = {found.command: found.where for found in DOCUMENTED}
    unclassified = {command: where for command, where in documented.items() if command not in {**OFFLINE, **EXCLUDED}}
    assert not unclassified, (
        "documented commands this test neither runs nor excludes (add each to OFFLINE, or to EXCLUDED with the "
        f"reason it cannot run offline): {unclassified}"
    )
    assert not set(OFFLINE) & set(EXCLUDED)
    stale = sorted((set(OFFLINE) | set(EXCLUDED)) - set(documented))
    assert not stale, f"commands named in this test but no longer documented (remove them here): {stale}"


def test_no_command_hides_outside_a_shell_block():
    assert not commands_outside_shell_blocks(), (
        "commands in a block that is not ```console/```bash/```sh are not run by the suite; label the block, or "
        "add the line to NOT_COMMANDS if it is not a command"
    )


def test_the_extraction_reads_shell_syntax():
    line = "scripts/setup.sh && .venv/bin/trust run --tasks 'a b' --limit 3  # it's a comment"
    assert split_commands(tokenize(strip_comment(line).strip())) == [
        ["scripts/setup.sh"],
        [".venv/bin/trust", "run", "--tasks", "a b", "--limit", "3"],
    ]
    assert split_commands(tokenize("trust run --judge a:b ; --judge c")) == [
        ["trust", "run", "--judge", "a:b"],
        ["trust", "run", "--judge", "c"],
    ]
    block = Block("x.md", 3, "console", ("$ trust run \\", "  --limit 2   # two", "    # only a comment", ""))
    assert list(logical_lines(block)) == [(3, "trust run --limit 2")]
    assert with_tiny_limits(["run", "--limit", "5", "--tasks", "t"]) == [
        "run", "--tasks", "t", "--limit", "1", "--max-new-tokens", "8",
    ]  # fmt: skip


def parse(args: list[str]) -> None:
    """Parse ``trust ARGS`` with the real click CLI, as :func:`trust_core.cli.main` would, without running it:
    unknown options, bad values and missing paths raise :class:`click.UsageError`."""
    args = hoist_plugin_dirs(translate_flags(args))
    root_args: list[str] = []
    while args and args[0].startswith("--plugin-dir"):
        take = 1 if "=" in args[0] else 2
        root_args, args = root_args + args[:take], args[take:]
    root = cli.make_context("trust", [*root_args, *args[:1]])
    name, *rest = args
    command = cli.get_command(root, name)
    if command is None:
        raise click.UsageError(f"No such command {name!r}")
    with command.make_context(name, rest, parent=root):
        pass


@pytest.mark.parametrize("documented", TRUST_COMMANDS, ids=lambda documented: documented.command)
def test_documented_command_parses(documented: Documented, workspace: Workspace, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(workspace.folder)
    values = {"archive": "private-data", "server": workspace.server.url + "/v1"}
    args = [fill(arg, values) for arg in documented.tokens[1:] if arg != ELIDED]
    try:
        parse(args)
    except click.UsageError as exc:
        pytest.fail(f"`{documented.command}` ({documented.where}) does not parse: {exc.format_message()}")


def _offline_params() -> list[object]:
    params = []
    for documented in DOCUMENTED:
        runs = OFFLINE.get(documented.command)
        if runs is None:
            continue
        marks = [pytest.mark.slow] if runs.stage == MODEL_STAGE else []
        params.append(pytest.param(documented, marks=marks, id=documented.command))
    return params


@pytest.mark.parametrize("documented", _offline_params())
def test_documented_command_runs(documented: Documented, workspace: Workspace, request: pytest.FixtureRequest):
    for module in OFFLINE[documented.command].needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    archive = request.getfixturevalue("archive") if "path/to/dataset.zip" in documented.tokens else None
    result = workspace.expect_success(documented, archive)
    subcommand = next(arg for arg in hoist_plugin_dirs(list(documented.tokens[1:])) if not arg.startswith("-"))
    if subcommand in SCORING_COMMANDS:
        assert "results: " in result.stdout, f"`{documented.command}` printed no results path:\n{result.stdout}"
    if documented.tokens[1:] == ("plugins", "--json"):
        assert {entry["name"] for entry in json.loads(result.stdout)} >= {"smollm2", "truthfulness"}
