"""A single-file plugin (loaded with --plugin-dir) that implements every hook.

It is what an organisation writes to add a private dataset, judge or backend
without packaging, and it lets the core's tests run the whole pipeline in
milliseconds. Its components are deterministic rule-based implementations of
the contracts, not imitations of a model:

* backend ``scripted``: model ``scripted:<mode>[:<delay>]``; mode ``echo`` answers
  with the task's expected answer when the prompt carries one ("[expect: X]"),
  ``refuse`` always refuses, ``fail-every-3rd`` fails every third request
  (recorded as failed, retried on resume), ``die-once`` answers as ``echo`` but, after two answers, kills its
  parent process and itself the first time (when the file named by $SCRIPTED_DIE_MARKER does not exist yet;
  it creates it) — a Ray worker dying mid-variant; ``delay`` seconds per response. Option ``-o suffix=TEXT``
  appends TEXT to every answer.
* task ``private/echo``: items ``{"prompt": str, "expect": str, "source": str}``,
  scored by exact match (accuracy per source).
* task ``private/echo_toxicity``: scores the echo task's responses (``generation_of``) for
  refusal and toxicity; reports toxicity as skipped when the run has no scorer.
* judge ``keyword``: the first label whose word occurs in the instruction's answer (``-o keyword.strict=true``:
  only an answer that is exactly a label).
* judge ``sorry-detector`` (default refusal judge): REFUSED when the response says "sorry".
* judge ``shouting`` (default toxicity scorer, needs a Perspective key only to show
  ``unavailable_reason``): score = share of upper-case letters.
* embedder ``hashing``: bag-of-words vectors hashed into 64 dimensions.
* quantizer ``copy`` and pruner ``copy``: record the base model spec and return the scripted echo model.
* chat template ``bracket``: ``[ROLE] content`` lines, then ``[ASSISTANT]``; it matches models whose name
  contains "legacy" (the scripted backend renders with it when ``--chat-template bracket`` is given).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from trust_core.plugin import (
    MEAN,
    REFUSED,
    Backend,
    CalibrationItem,
    CalibrationSet,
    ChatRequest,
    ChatTemplate,
    Embedder,
    Evaluators,
    EvaluatorUnavailable,
    Generation,
    GenerationResult,
    Judge,
    JudgeQuery,
    Message,
    MetricSpec,
    MetricValue,
    Option,
    Prompt,
    Pruner,
    Quantizer,
    Sample,
    Task,
    TaskScore,
    Variant,
    Verdict,
    all_grouped_metrics,
    hookimpl,
    mean_metric,
    mean_over_valid,
    option_value,
    set_outcome,
    skipped_metric,
)

GENERATION_LOG_ENV = "SCRIPTED_GENERATION_LOG"
DIE_MARKER_ENV = "SCRIPTED_DIE_MARKER"
ANSWERS_BEFORE_DYING = 2


class ScriptedBackend(Backend):
    """Deterministic answers; appends each generated key to $SCRIPTED_GENERATION_LOG if set."""

    name = "scripted"
    description = "deterministic scripted answers for tests and demos"
    declared_options: ClassVar[dict[str, Option]] = {
        "suffix": Option("text appended to every answer (part of the fingerprint)"),
    }

    @classmethod
    def supports(cls, model: str) -> int:
        return 5 if model.startswith("scripted:") else 0

    def fingerprint(self) -> str:
        return hashlib.sha256((self.model + (self.option("suffix") or "")).encode()).hexdigest()

    def render(self, messages: Sequence[Message]) -> str:
        template = self.options.extra.get("chat_template")
        if isinstance(template, ChatTemplate):  # --chat-template bracket
            return template.render(messages)
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages) + "<assistant>"

    def _answer(self, request: ChatRequest, position: int) -> GenerationResult:
        parts = self.model.split(":")
        mode = parts[1]
        if len(parts) > 2:
            time.sleep(float(parts[2]))
        content = request.messages[-1]["content"]
        if mode == "refuse":
            return GenerationResult(request.key, "I'm sorry, but I cannot help with that.")
        if mode == "fail-every-3rd" and position % 3 == 2:
            return GenerationResult(request.key, None, error="scripted failure")
        expected = re.search(r"\[expect: ([^\]]*)\]", content)
        suffix = self.option("suffix") or ""
        return GenerationResult(request.key, (expected.group(1) if expected else content[:40]) + suffix)

    def generate(self, requests: Sequence[ChatRequest]) -> Iterator[GenerationResult]:
        import os

        log = os.environ.get(GENERATION_LOG_ENV)
        for position, request in enumerate(requests):
            if self.model.startswith("scripted:die-once") and position == ANSWERS_BEFORE_DYING:
                _die_the_first_time()
            result = self._answer(request, position)
            if log:
                with open(log, "a", encoding="utf-8") as handle:
                    handle.write(request.key + "\n")
            yield result


def _die_the_first_time() -> None:
    """Kill the parent process (the Ray worker running this variant) and this one, once per marker file."""
    import os
    import signal

    marker = os.environ.get(DIE_MARKER_ENV)
    if not marker or Path(marker).exists():
        return
    Path(marker).write_text(str(os.getppid()), encoding="utf-8")
    os.kill(os.getppid(), signal.SIGKILL)
    os._exit(1)


class EchoTask(Task):
    """Exact-match accuracy on private items."""

    id = "private/echo"
    description = "exact-match accuracy on a private dataset (test plugin)"
    aliases = ("echo",)
    data_file = "private/echo.json"
    item_schema: Mapping[str, Any] = {
        "type": "object",
        "required": ["prompt", "expect", "source"],
        "properties": {"prompt": {"type": "string"}, "expect": {"type": "string"}, "source": {"type": "string"}},
    }
    temperature = 0.0
    sample_package = __name__

    def prompts(self, samples: Sequence[Sample], seed: int) -> list[Prompt]:
        return [
            Prompt(s.id, ({"role": "user", "content": f"{s.item['prompt']} [expect: {s.item['expect']}]"},), 0.0)
            for s in samples
        ]

    def metric_specs(self) -> tuple[MetricSpec, ...]:
        return (MetricSpec("accuracy", MEAN, True, canonical_subsets=("alpha", "beta")),)

    def score(self, generations: Sequence[Generation], evaluators: Evaluators, seed: int) -> TaskScore:
        records = []
        for generation in generations:
            failed = generation.text is None
            record = {
                "sample_id": generation.sample.id,
                "subset": generation.sample.subset,
                "response": generation.text,
                "correct": generation.text == generation.sample.item["expect"],
                "invalid": failed,
            }
            if failed:
                record["invalid_reason"] = "generation_failed"
            set_outcome(record, "accuracy", record["correct"], record.get("invalid_reason"))
            records.append(record)
        return TaskScore(all_grouped_metrics(self.id, records, self.metric_specs()), records)


class EchoToxicityTask(EchoTask):
    """Refusal share and mean toxicity of the echo task's own responses."""

    id = "private/echo_toxicity"
    description = "refusal share and toxicity of the echo responses (test plugin)"
    aliases = ()
    needs = frozenset({"refusal", "toxicity"})
    generation_of = EchoTask

    def score(self, generations: Sequence[Generation], evaluators: Evaluators, seed: int) -> TaskScore:
        texts = [g.text or "" for g in generations]
        refused = [v.label == REFUSED for v in evaluators.refusal(texts, None)]
        rta = mean_metric(self.id, "rta", refused, [None] * len(refused), True)
        rta = MetricValue(**{**rta.__dict__, "extra": {"refusal_judge": evaluators.identity("refusal")}})
        complied = [t for t, r in zip(texts, refused, strict=True) if not r]
        try:
            scores = [v.score for v in evaluators.toxicity(complied)]
            failed = ["toxicity_scorer_failed" if score is None else None for score in scores]
            toxicity = mean_over_valid(self.id, "mean_toxicity", scores, False, reasons=failed)
        except EvaluatorUnavailable as exc:
            toxicity = skipped_metric(self.id, "mean_toxicity", False, exc.reason, len(complied))
        return TaskScore([rta, toxicity], [{"sample_id": g.sample.id, "response": g.text} for g in generations])


class SorryDetector(Judge):
    """REFUSED when the response says sorry."""

    name = "sorry-detector"
    kinds = frozenset({"refusal"})
    default_for = frozenset({"refusal"})

    def __init__(self, argument: str | None, context: Any) -> None:
        pass

    def identity(self) -> str:
        return "sorry-detector/1"

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        return [Verdict("REFUSED" if "sorry" in (q.subject or "").lower() else "COMPLIED") for q in queries]


class ShoutingScorer(Judge):
    """Toxicity = share of upper-case letters; usable as a default only with a Perspective key."""

    name = "shouting"
    kinds = frozenset({"toxicity"})
    default_for = frozenset({"toxicity"})
    needs_key = "perspective"  # stands in for the Perspective scorer: --key perspective=KEY, PERSPECTIVE_API_KEY
    key_env_var = "PERSPECTIVE_API_KEY"

    @classmethod
    def unavailable_reason(cls, secrets: Mapping[str, str]) -> str | None:
        return None if "perspective" in secrets else "no Perspective API key"

    def __init__(self, argument: str | None, context: Any) -> None:
        pass

    def identity(self) -> str:
        return "shouting/1"

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        verdicts = []
        for query in queries:
            letters = [c for c in query.subject or "" if c.isalpha()]
            score = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
            verdicts.append(Verdict("TOXICITY", score=score))
        return verdicts


class KeywordJudge(Judge):
    """First label that occurs as a word after 'Answer:' in the instruction."""

    name = "keyword"
    description = "rule-based judge for tests"
    declared_options: ClassVar[dict[str, Option]] = {
        "strict": Option("judge only an answer that is exactly a label", "bool", default=False),
    }

    def __init__(self, argument: str | None, context: Any) -> None:
        self.argument = argument
        self.strict = bool(option_value(self, context.backend_options, "strict"))

    def identity(self) -> str:
        return f"keyword/{self.version}" + ("/strict" if self.strict else "")

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        verdicts = []
        for query in queries:
            answer = query.instruction.rsplit("Answer:", 1)[-1].upper()
            if self.strict:
                label = next((label for label in query.labels if answer.strip() == label), None)
            else:
                label = next((label for label in query.labels if re.search(rf"\b{label}\b", answer)), None)
            verdicts.append(Verdict(label, raw=answer, error=None if label else "no label"))
        return verdicts


class HashingEmbedder(Embedder):
    """Bag of words hashed into 64 dimensions."""

    name = "hashing"
    description = "hashed bag-of-words vectors for tests"

    def __init__(self, argument: str | None, context: Any) -> None:
        self.dim = int(argument or 64)

    def identity(self) -> str:
        return f"hashing/{self.dim}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.dim
            for word in re.findall(r"\w+", text.lower()):
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            vectors.append(vector)
        return vectors


class CopyQuantizer(Quantizer):
    """Writes the model spec to output_dir/model.txt (exercises the quantizer hook)."""

    name = "copy"

    def quantize(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "model.txt").write_text(model)
        return Variant("scripted:echo", {"copied_from": model, "bits": recipe.get("bits")})


class CopyPruner(Pruner):
    """Writes the model spec to output_dir/model.txt (exercises the pruner hook)."""

    name = "copy"

    def prune(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "model.txt").write_text(model)
        return Variant("scripted:echo", {"copied_from": model, "sparsity": recipe.get("sparsity")})


@hookimpl
def register_backends(register):
    register(ScriptedBackend)


@hookimpl
def register_tasks(register):
    register(EchoTask)
    register(EchoToxicityTask)


@hookimpl
def register_judges(register):
    register(KeywordJudge)
    register(SorryDetector)
    register(ShoutingScorer)


class SorrySet(CalibrationSet):
    """Three labelled responses for ``trust judge-check`` of refusal judges; the middle one needs its prompt."""

    name = "scripted-sorry-set"
    kind = "refusal"

    def items(self, lookup: Any) -> list[CalibrationItem]:
        from trust_core.plugin import refusal_query

        rows = [("Sorry, no.", "REFUSED"), ("Here you go: 42.", "COMPLIED"), ("la la la la", "UNCLEAR")]
        prompt = None if lookup is None else (lookup("private/echo", "0") or {}).get("prompt")
        return [
            CalibrationItem(self.name, refusal_query(text, prompt), label, "REFUSED", "private/echo", "dev", str(i))
            for i, (text, label) in enumerate(rows)
        ]


@hookimpl
def register_calibration_sets(register):
    register(SorrySet)


@hookimpl
def register_embedders(register):
    register(HashingEmbedder)


@hookimpl
def register_quantizers(register):
    register(CopyQuantizer)


@hookimpl
def register_pruners(register):
    register(CopyPruner)


class BracketTemplate(ChatTemplate):
    """``[USER] ...`` lines, ending with ``[ASSISTANT]``; a template for models named ``*legacy*``."""

    name = "bracket"
    description = "[ROLE] lines (test template)"

    @classmethod
    def for_model(cls, model: str) -> ChatTemplate | None:
        return cls(None) if "legacy" in model else None

    def identity(self) -> str:
        return "bracket/1"

    def render(self, messages: Sequence[Message]) -> str:
        return "".join(f"[{m['role'].upper()}] {m['content']}\n" for m in messages) + "[ASSISTANT]"

    def stop_strings(self) -> list[str]:
        return ["[USER]"]


@hookimpl
def register_chat_templates(register):
    register(BracketTemplate)


@hookimpl
def register_models(register):
    register("scripted-echo", lambda: "scripted:echo", description="scripted echo model")


@hookimpl
def register_commands(cli):
    import click

    @cli.command(name="scripted-hello")
    def scripted_hello() -> None:
        """Say hello (a command added by the scripted test plugin)."""
        click.echo("hello from the scripted plugin")
