"""One invocation of ``trust run`` / ``generate`` / ``evaluate``: the stages in order,
with the user-facing messages and the results files."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from trust_core import __version__
from trust_core.compression import cached_variant, check_request, read_variant, variant_model
from trust_core.contracts import Backend, Generation, content_hash
from trust_core.data import DataSource
from trust_core.errors import UserError
from trust_core.judge_check import KIND_OF_NEED, calibration_summary, with_evaluators_behind
from trust_core.logs import command_log, library_output
from trust_core.progress import announced
from trust_core.registry import Registry
from trust_core.results import (
    OutputFile,
    bootstrap_settings,
    hardware,
    metric_record,
    records_text,
    results_text,
    summary_table,
    write_outputs,
)
from trust_core.rundir import opened_store
from trust_core.runner import (
    GenerationReport,
    PlannedPrompt,
    RunOptions,
    Scores,
    TaskData,
    generate,
    imported_generations,
    load_all,
    make_evaluators,
    now,
    plan,
    preflight_evaluators,
    resolve_tasks,
    score,
    stored_generations,
)
from trust_core.store import Store


class RunInterruptedError(UserError):
    """Ctrl-C: what is stored stays stored."""

    exit_code = 130


class NoResponseError(UserError):
    """Not one planned response succeeded (a server down, a model that fails every prompt): nothing is scored,
    no results file is written, and the command exits with status 3; the same command tries them again."""

    exit_code = 3


def execute(registry: Registry, options: RunOptions, command: str, samples_output: Path | None) -> None:
    """Run ``command`` ("run", "generate" or "evaluate") with ``options``; what the libraries it drives print
    goes to ``RUN_DIR/trust.log``, named on failure (see :mod:`trust_core.logs`)."""
    with command_log(options.run_dir, command):
        _execute(registry, options, command, samples_output)


def _execute(registry: Registry, options: RunOptions, command: str, samples_output: Path | None) -> None:
    """The command's steps.

    Everything that can fail before work (tasks, data, evaluator settings, the generation folder, the model
    and its prompts) is checked before the run directory is touched; only then is the store opened, under the
    run directory's lock, with the old store set aside on ``--restart`` (see :mod:`trust_core.rundir`).
    """
    started = now()
    _refuse_restart_of_scored_responses(options, command)
    if options.compression is not None:
        check_request(registry, options.compression)  # the method and its recipe, before any work
    tasks = resolve_tasks(registry, options.tasks, options.dimensions)
    task_data = load_all(tasks, DataSource(options.data_dir), options.limit)
    if command != "generate":
        preflight_evaluators(registry, options)
    _echo_endpoints(registry, options, command, tasks)
    work = _prepare_work(registry, options, task_data)
    try:
        needs_store = command == "evaluate" and options.generations_dir is None
        with opened_store(options.run_dir, restart=options.restart, create=not needs_store) as store:
            _run_stages(registry, options, command, started, work, store, samples_output)
    finally:
        if work.backend is not None:
            with library_output():
                work.backend.close()


@dataclass
class _Work:
    """What a command works on, prepared before the run directory is touched: the tasks' data and either
    the model's planned prompts (with its backend) or imported generations."""

    task_data: list[TaskData]
    model_info: dict[str, Any]
    variant: dict[str, Any] | None = None
    backend: Backend | None = None
    planned: Sequence[PlannedPrompt] = ()
    imported: dict[str, list[Generation]] | None = None


def _refuse_restart_of_scored_responses(options: RunOptions, command: str) -> None:
    if command == "evaluate" and options.restart and options.generations_dir is None:
        raise UserError(
            "`trust evaluate --restart` would set aside the stored responses it scores; use --restart with "
            "`trust run` or `trust generate` (or with `evaluate --generations DIR`)"
        )


def _prepare_work(registry: Registry, options: RunOptions, task_data: list[TaskData]) -> _Work:
    """Read the generation folder, or resolve the model, build its backend and plan its prompts."""
    if options.generations_dir is not None:
        kept, generations = imported_generations(task_data, options.generations_dir, options.limit)
        return _Work(kept, {"spec": str(options.generations_dir), "source": "imported"}, imported=generations)
    model_spec, variant = _resolve_model(registry, options)
    backend = registry.make_backend(model_spec, options.backend, options.backend_options)
    try:
        with library_output():  # reading the tokenizer (and importing its libraries) may print
            model_info = {"spec": model_spec, "source": "generated", **_model_description(backend)}
            planned = plan(task_data, backend, options)
    except BaseException:
        with library_output():
            backend.close()
        raise
    return _Work(task_data, model_info, variant, backend, planned)


def _run_stages(
    registry: Registry,
    options: RunOptions,
    command: str,
    started: str,
    work: _Work,
    store: Store,
    samples_output: Path | None,
) -> None:
    """Generate (``run``, ``generate``), then judge, score and write the results (``run``, ``evaluate``)."""
    report = None
    generations = work.imported or {}
    if options.shard is not None and work.backend is not None:
        _generate_shard(options, work, store)
        return
    if work.backend is not None:
        if command in ("run", "generate"):
            report = _generate(work.planned, work.backend, store)
        generations = stored_generations(work.planned, store)
    _require_a_response(generations)
    if command == "generate":
        return
    scores, evaluators_info = _scoring_stage(registry, options, store, work.task_data, generations, work.backend)
    results = _assemble(
        registry, options, command, started, work.model_info, work.task_data, scores, report, evaluators_info
    )
    results["run"]["variant"] = work.variant
    _write_outputs(options, results, scores, samples_output)


def _echo_endpoints(registry: Registry, options: RunOptions, command: str, tasks: list[Any]) -> None:
    """Print (stderr) which endpoint each remote component of the run talks to and where its key comes from —
    never the key; a key the run would refuse to send stops it here, before any work (exit 2)."""
    from trust_core.endpoints import endpoint_lines

    needs = None if command == "generate" else {need for task in tasks for need in task.needs}
    for line in endpoint_lines(registry, options, options.generations_dir is None, needs):
        click.echo(line, err=True)


def _resolve_model(registry: Registry, options: RunOptions) -> tuple[str, dict[str, Any] | None]:
    """The model spec to load and its variant record: ``--model`` may name a variant folder, and
    ``--prune``/``--quantize`` produce (or reuse) a variant of it in the run directory."""
    model_spec = options.model or registry.default_model()
    variant = read_variant(registry.resolve_model(model_spec))
    if variant is not None:  # --model <variant folder>: load what the folder stands for
        model_spec = variant_model(Path(registry.resolve_model(model_spec)), variant)
    if options.compression is not None:
        request, run_dir = options.compression, options.run_dir
        what = f"{request.kind} {request.method}: the variant of {model_spec} (made once, kept in RUN_DIR/variants)"
        with announced(what):
            model_spec, variant = cached_variant(registry, model_spec, request, run_dir, options.backend_options)
    return model_spec, variant


def _generate(planned: Sequence[PlannedPrompt], backend: Backend, store: Store) -> GenerationReport:
    try:
        report = generate(planned, backend, store)
    except KeyboardInterrupt:
        counts = store.count_responses()
        raise RunInterruptedError(
            f"interrupted: {counts.get('ok', 0)} responses are stored in {store.path}; "
            "run the same command again to resume"
        ) from None
    _echo_generation(report, store)
    return report


def _generate_shard(options: RunOptions, work: _Work, store: Store) -> None:
    """Generate shard I of N of the planned prompts into ``store``, which records the whole run's plan; nothing
    is scored (the shards are merged, then evaluated)."""
    from trust_core.sharding import ShardPlan, record_plan, select_shard, stored_plan

    assert options.shard is not None and work.backend is not None
    index, count = options.shard
    plan = ShardPlan.of(work.planned, index, count, options.seed)
    earlier = stored_plan(store)
    if earlier is not None and earlier != plan:
        raise UserError(
            f"run directory {options.run_dir} holds shard {earlier.index}/{earlier.count} of "
            f"{'another run' if earlier.plan_sha256 != plan.plan_sha256 else 'this run'}; each shard goes into a run "
            "directory of its own"
        )
    record_plan(store, plan)
    report = _generate(select_shard(work.planned, index, count), work.backend, store)
    click.echo(
        f"shard {index}/{count}: {plan.in_shard} of the run's {plan.planned} distinct prompts. Nothing is scored "
        "here: merge the shards' run directories with `trust merge RUN_DIR... --into DIR`, then run `trust "
        "evaluate` with the same options and --run-dir DIR",
        err=True,
    )
    if plan.in_shard and report.generated + report.already_stored == 0:
        raise NoResponseError(
            f"no response of shard {index}/{count} succeeded ({report.failed} failed); run the same command again "
            "to retry them"
        )


REASONS_SHOWN = 3
"""Failure reasons quoted when no response succeeded (the most frequent first)."""


def _require_a_response(generations: dict[str, list[Generation]]) -> None:
    """NoResponseError (exit 3) when not one response is usable, saying why they failed."""
    every = [generation for task_generations in generations.values() for generation in task_generations]
    if any(generation.text is not None for generation in every):
        return
    # a task scoring another task's responses (generation_of) holds the same responses again: count them once
    every = list({(repr(g.prompt.messages), g.prompt.temperature): g for g in every}.values())
    if not every:
        raise NoResponseError("no response to score: the selected tasks planned no prompt; no results were written")
    reasons = Counter(str(generation.error or "no text") for generation in every).most_common(REASONS_SHOWN)
    why = "; ".join(f"{count} x {_shortened(reason)}" for reason, count in reasons)
    raise NoResponseError(
        f"no response succeeded: all {len(every)} responses failed ({why}); nothing was scored and no results "
        "were written. Fix the cause and run the same command again: the failed responses are retried"
    )


def _shortened(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _model_description(backend: Backend) -> dict[str, Any]:
    return {
        "resolved": str(backend.model),
        "fingerprint": backend.fingerprint(),
        "backend": backend.name,
        "details": dict(backend.describe()),
    }


def _echo_generation(report: GenerationReport, store: Store) -> None:
    click.echo(
        f"responses: {report.planned} planned, {report.already_stored} already stored, "
        f"{report.generated} generated, {report.failed} failed  (store: {store.path})",
        err=True,
    )
    if report.failed:
        click.echo(f"warning: {report.failed} responses failed; re-run the same command to retry them", err=True)


def _scoring_stage(
    registry: Registry,
    options: RunOptions,
    store: Store,
    task_data: list[TaskData],
    generations: dict[str, Any],
    backend: Backend | None,
) -> tuple[Scores, dict[str, Any]]:
    evaluators = make_evaluators(registry, store, options, [entry.task for entry in task_data], backend)
    try:
        scores = score(task_data, generations, evaluators, options.seed)
    finally:
        evaluators.close()
    info = evaluators.describe()
    for kind, field in (("judge", "judge"), ("refusal", "refusal_judge")):
        described = info.get(field)
        if isinstance(described, dict):
            summary = calibration_summary(options.run_dir, kind, described.get("identity"))
            described["calibration"] = summary  # None: no judge-check of this judge in this run directory
    tasks = [entry.task for entry in task_data]
    scores.metrics = with_evaluators_behind(registry, options, tasks, info, scores.metrics)
    if info["judge_failures"]:
        click.echo(f"warning: {info['judge_failures']} judge verdicts failed (counted as invalid)", err=True)
    return scores, info


def _assemble(
    registry: Registry,
    options: RunOptions,
    command: str,
    started: str,
    model_info: dict[str, Any],
    task_data: list[TaskData],
    scores: Scores,
    report: GenerationReport | None,
    evaluators_info: dict[str, Any],
) -> dict[str, Any]:
    counts = {
        "responses_planned": report.planned if report else None,
        "responses_already_stored": report.already_stored if report else None,
        "responses_generated": report.generated if report else None,
        "responses_failed": report.failed if report else None,
        "model_load_milliseconds": report.load_milliseconds if report else None,
        "generation_milliseconds": report.generation_milliseconds if report else None,
        "completion_tokens_generated": report.completion_tokens if report else None,
        "verdicts_computed": evaluators_info["verdicts_computed"],
        "verdicts_cached": evaluators_info["verdicts_cached"],
        "judge_failures": evaluators_info["judge_failures"],
    }
    return {
        "schema_version": "1",
        "run": {
            "command": "evaluate" if command == "evaluate" else "run",
            "trust_version": __version__,
            "started_at": started,
            "finished_at": now(),
            "model": model_info,
            "variant": None,
            "judge": evaluators_info["judge"],
            "refusal_judge": evaluators_info["refusal_judge"],
            "toxicity_scorer": evaluators_info["toxicity_scorer"],
            "embedder": evaluators_info["embedder"],
            "plugins": {name: info.version for name, info in sorted(registry.plugins.items())},
            "seed": options.seed,
            "limit": options.limit,
            "generation": {
                "max_new_tokens": options.max_new_tokens,
                "temperature_override": options.temperature,
                "batch_size": options.backend_options.batch_size,
            },
            "bootstrap": bootstrap_settings(),
            "data": [
                {
                    "task": entry.task.id,
                    "task_version": entry.task.version,
                    "file": entry.data.file,
                    "sha256": entry.data.sha256,
                    "items": entry.data.total_items,
                    "selected": len(entry.data.samples),
                }
                for entry in task_data
            ],
            "hardware": hardware(),
            "counts": counts,
        },
        "metrics": [metric_record(metric) for metric in scores.metrics],
    }


def _write_outputs(options: RunOptions, results: dict[str, Any], scores: Scores, samples_output: Path | None) -> None:
    """Write results.json and the per-sample records, and this evaluation's own copy of both
    (:func:`evaluation_folder`), together: all four files are replaced, or none."""
    output = options.output or options.run_dir / "results.json"
    samples = samples_output or options.run_dir / "samples.jsonl"
    kept = evaluation_folder(options.run_dir, results)
    results_json, records_jsonl = results_text(results), records_text(scores.records)
    try:
        write_outputs(
            [
                OutputFile(output, results_json, "--output" if options.output else ""),
                OutputFile(samples, records_jsonl, "--samples-output" if samples_output else ""),
                OutputFile(kept / "results.json", results_json),
                OutputFile(kept / "samples.jsonl", records_jsonl),
            ]
        )
    except BaseException:
        for folder in (kept, kept.parent):  # folders made for files that were not written (only when empty)
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    click.echo(summary_table(results))
    click.echo(f"\nresults: {output}\nper-sample records: {samples}")
    click.echo(f"this evaluation's copy of both: {kept} (other judges or options keep their own)")


EVALUATIONS_FOLDER = "evaluations"
"""The folder of the run directory holding one copy of results.json and samples.jsonl per evaluation."""

EVALUATION_DEFINED_BY = ("variant", "embedder", "plugins", "seed", "limit")
"""The ``run`` fields of results.json (with the model's fingerprint, the generation settings, each task's data
and the judges' identities) that name an evaluation: results differing in any of them are kept apart."""

JUDGE_FIELDS = ("judge", "refusal_judge", "toxicity_scorer")
EVALUATION_DIGEST_LENGTH = 12


def evaluation_folder(run_dir: Path, results: dict[str, Any]) -> Path:
    """``RUN_DIR/evaluations/<judges>-<digest>``: where this evaluation's results are kept.

    ``results.json`` and ``samples.jsonl`` are always the latest ``run``/``evaluate``; this copy is replaced only
    by an evaluation of the same responses with the same evaluators and options (``<digest>``: model fingerprint,
    variant, tasks with their data and selection, seed, limit, generation settings, judges' identities, embedder,
    plugin versions), so a second opinion from another judge does not lose the first.
    """
    run = results["run"]
    model = run["model"]
    defined_by = {field: run[field] for field in EVALUATION_DEFINED_BY}
    defined_by.update({field: (run[field] or {}).get("identity") for field in JUDGE_FIELDS})
    defined_by["model"] = model.get("fingerprint") or [model.get("source"), model.get("spec")]
    defined_by["generation"] = {key: value for key, value in run["generation"].items() if key != "batch_size"}
    defined_by["data"] = [[d["task"], d["task_version"], d["sha256"], d["selected"]] for d in run["data"]]
    digest = content_hash(defined_by)[:EVALUATION_DIGEST_LENGTH]
    return run_dir / EVALUATIONS_FOLDER / f"{_judges_label(run)}-{digest}"


def _judges_label(run: dict[str, Any]) -> str:
    """The judges' specs (or names), joined by '+', as a folder name: letters, digits, '.', '_', '-' and '+'
    only; "no-judge" when the evaluation used none."""
    judges = [run[field] for field in JUDGE_FIELDS if run[field]]
    label = "+".join(str(judge.get("spec") or judge.get("judge") or "judge") for judge in judges)
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", label).strip("-.")[:60] or "no-judge"


def judge_check(registry: Registry, options: RunOptions, judge_spec: str, output: Path | None) -> dict[str, Any]:
    """Run ``judge_spec`` on the calibration items of the selected tasks and the refusal prompt; write and
    return the report (see :mod:`trust_core.judge_check`). Library output goes to ``RUN_DIR/trust.log``."""
    with command_log(options.run_dir, "judge-check"):
        return _judge_check(registry, options, judge_spec, output)


def _judge_check(registry: Registry, options: RunOptions, judge_spec: str, output: Path | None) -> dict[str, Any]:
    from trust_core.evaluators import CachedEvaluators
    from trust_core.judge_check import build_report, calibration_items, labelled_sets, write_report
    from trust_core.registry import ComponentContext

    tasks = resolve_tasks(registry, options.tasks, options.dimensions)
    items, uncalibrated = calibration_items(list(tasks))
    context = ComponentContext(registry, options.backend_options)
    judge = _checkable_judge(registry, judge_spec, context)
    kinds = [need for need in ("judge", "refusal") if KIND_OF_NEED[need] in judge.kinds and items[need]]
    selected = [task.id for task in tasks] if options.tasks or options.dimensions else None
    sets = labelled_sets(registry, options.data_dir, selected, options.limit) if "refusal" in kinds else {}
    if not kinds:
        judge.close()
        raise UserError(
            f"--judge {judge_spec}: nothing to check — it answers neither the selected tasks' judge questions nor "
            f"refusal questions (it judges: {', '.join(sorted(judge.kinds))})"
        )
    opened = False
    try:
        with opened_store(options.run_dir) as store:
            opened = True
            evaluators = CachedEvaluators(
                store, {need: (lambda: judge) for need in kinds}, "judge-check uses no embedder",
                judge_batch=max(1, options.backend_options.batch_size),
            )  # fmt: skip
            try:
                verdicts = {need: evaluators.ask(need, [item.query for item in items[need]]) for need in kinds}
                set_verdicts = {
                    name: (set_items, evaluators.ask("refusal", [item.query for item in set_items]))
                    for name, set_items in sets.items()
                }
                judges = {
                    need: {
                        "identity": judge.identity(),
                        "describe": judge.describe() if callable(getattr(judge, "describe", None)) else None,
                        "prompts": sorted({item.prompt for item in items[need]}),
                    }
                    for need in kinds
                }
            finally:
                evaluators.close()  # closes the judge
            report = build_report(
                judge_spec, judges, {k: items[k] for k in kinds}, verdicts, uncalibrated, now(), set_verdicts
            )
            report["path"] = str(write_report(options.run_dir, report, output))
    finally:
        if not opened:  # the run directory was busy or its store unusable: the judge was never asked
            judge.close()
    return report


def _checkable_judge(registry: Registry, spec: str, context: Any) -> Any:
    """The judge for ``spec``: as a judge of the tasks' own prompts if it can be one, else as a refusal judge."""
    name = spec.partition(":")[0]
    cls = registry.components["judge"].get(name)
    if cls is not None and not {"custom", "refusal"} & set(cls.kinds):
        raise UserError(
            f"--judge {spec}: nothing to check — it answers neither the tasks' judge questions nor refusal "
            f"questions (it judges: {', '.join(sorted(cls.kinds))})"
        )
    kind = "custom" if cls is None or "custom" in cls.kinds else "refusal"
    return registry.make_judge(spec, context, kind=kind)
