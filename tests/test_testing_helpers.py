"""trust_core.testing: the helpers plugin tests use, exercised on a real task plugin."""

from __future__ import annotations

import pytest

from trust_core.contracts import Evaluators, JudgeQuery, Verdict
from trust_core.testing import archive_items, assert_exportable, generate, metric, samples_of, scripted

truthfulness = pytest.importorskip("trust_truthfulness.external")


class _NoEvaluators(Evaluators):
    def judge(self, queries: list[JudgeQuery]) -> list[Verdict]:  # type: ignore[override]
        raise AssertionError("not needed")

    def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
        raise AssertionError("not needed")


def test_scripted_model_scores_exactly_on_the_packaged_sample():
    task = truthfulness.UseExternalKnowledge()
    samples = samples_of(task)
    gold = {s.id: ("Answer: Supports" if s.item["answer"] == "SUPPORT" else "Answer: Refutes") for s in samples}
    score = task.score(generate(task, samples, scripted(gold)), _NoEvaluators(), seed=0)
    assert_exportable(score)
    assert metric(score, "mean_macro_f1").value == 1.0
    failed = task.score(generate(task, samples, scripted({}, default=None)), _NoEvaluators(), seed=0)
    mean = metric(failed, "mean_macro_f1")
    assert (mean.value, mean.n, mean.n_invalid) == (0.0, len(samples), len(samples))


def test_archive_items_reads_the_real_archive(archive):
    items = archive_items("truthfulness/external.json")
    assert len(items) == 400 and {"prompt", "answer", "source"} <= set(items[0])
