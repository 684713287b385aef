"""One invocation of ``trust run`` / ``generate`` / ``evaluate``: the stages in order,
with the user-facing messages and the results files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from trust_core import __version__
from trust_core.compression import cached_variant, read_variant, variant_model
from trust_core.contracts import Backend
from trust_core.data import DataSource
from trust_core.errors import UserError
from trust_core.judge_check import KIND_OF_NEED, calibration_summary
from trust_core.registry import Registry
from trust_core.results import bootstrap_settings, hardware, metric_record, summary_table, write_records, write_results
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


def execute(registry: Registry, options: RunOptions, command: str, samples_output: Path | None) -> None:
    """Run ``command`` ("run", "generate" or "evaluate") with ``options``."""
    started = now()
    tasks = resolve_tasks(registry, options.tasks, options.dimensions)
    task_data = load_all(tasks, DataSource(options.data_dir), options.limit)
    if command != "generate":
        preflight_evaluators(registry, options)
    if options.restart:
        Store.remove(options.run_dir)
    store = Store.in_run_dir(options.run_dir)
    backend: Backend | None = None
    variant: dict[str, Any] | None = None
    try:
        if options.generations_dir is not None:
            task_data, generations = imported_generations(task_data, options.generations_dir, options.limit)
            model_info: dict[str, Any] = {"spec": str(options.generations_dir), "source": "imported"}
            report = None
        else:
            model_spec, variant = _resolve_model(registry, options)
            backend = registry.make_backend(model_spec, options.backend, options.backend_options)
            model_info = {"spec": model_spec, "source": "generated", **_model_description(backend)}
            planned = plan(task_data, backend, options)
            report = _generate(planned, backend, store) if command in ("run", "generate") else None
            if command == "generate":
                return
            generations = stored_generations(planned, store)
        scores, evaluators_info = _scoring_stage(registry, options, store, task_data, generations, backend)
        results = _assemble(registry, options, command, started, model_info, task_data, scores, report, evaluators_info)
        results["run"]["variant"] = variant
        _write_outputs(options, results, scores, samples_output)
    finally:
        if backend is not None:
            backend.close()
        store.close()


def _resolve_model(registry: Registry, options: RunOptions) -> tuple[str, dict[str, Any] | None]:
    """The model spec to load and its variant record: ``--model`` may name a variant folder, and
    ``--prune``/``--quantize`` produce (or reuse) a variant of it in the run directory."""
    model_spec = options.model or registry.default_model()
    variant = read_variant(registry.resolve_model(model_spec))
    if variant is not None:  # --model <variant folder>: load what the folder stands for
        model_spec = variant_model(Path(registry.resolve_model(model_spec)), variant)
    if options.compression is not None:
        model_spec, variant = cached_variant(
            registry, model_spec, options.compression, options.run_dir, options.backend_options
        )
    return model_spec, variant


def _generate(planned: list[PlannedPrompt], backend: Backend, store: Store) -> GenerationReport:
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
    output = options.output or options.run_dir / "results.json"
    samples = samples_output or options.run_dir / "samples.jsonl"
    write_results(output, results)
    write_records(samples, scores.records)
    click.echo(summary_table(results))
    click.echo(f"\nresults: {output}\nper-sample records: {samples}")


def judge_check(registry: Registry, options: RunOptions, judge_spec: str, output: Path | None) -> dict[str, Any]:
    """Run ``judge_spec`` on the calibration items of the selected tasks and the refusal prompt; write and
    return the report (see :mod:`trust_core.judge_check`)."""
    from trust_core.evaluation import CachedEvaluators
    from trust_core.judge_check import build_report, calibration_items, write_report
    from trust_core.registry import ComponentContext

    tasks = resolve_tasks(registry, options.tasks, options.dimensions)
    items, uncalibrated = calibration_items(list(tasks))
    context = ComponentContext(registry, options.backend_options)
    judge = _checkable_judge(registry, judge_spec, context)
    store = Store.in_run_dir(options.run_dir)
    kinds = [need for need in ("judge", "refusal") if KIND_OF_NEED[need] in judge.kinds and items[need]]
    if not kinds:
        judge.close()
        raise UserError(
            f"--judge {judge_spec}: nothing to check — it answers neither the selected tasks' judge questions nor "
            f"refusal questions (it judges: {', '.join(sorted(judge.kinds))})"
        )
    evaluators = CachedEvaluators(
        store, {need: (lambda: judge) for need in kinds}, "judge-check uses no embedder",
        judge_batch=max(1, options.backend_options.batch_size),
    )  # fmt: skip
    try:
        verdicts = {need: evaluators.ask(need, [item.query for item in items[need]]) for need in kinds}
        judges = {
            need: {
                "identity": judge.identity(),
                "describe": judge.describe() if callable(getattr(judge, "describe", None)) else None,
                "prompts": sorted({item.prompt for item in items[need]}),
            }
            for need in kinds
        }
    finally:
        evaluators.close()
        store.close()
    report = build_report(judge_spec, judges, {k: items[k] for k in kinds}, verdicts, uncalibrated, now())
    report["path"] = str(write_report(options.run_dir, report, output))
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
