"""The evaluators tasks call while scoring, cached in the run store.

Judges and embedders are built lazily, on the first query that the cache
cannot answer, so a fully cached re-evaluation loads no model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from trust_core.contracts import Embedder, Evaluators, Judge, JudgeQuery, Verdict
from trust_core.progress import progress
from trust_core.store import Store, embedding_key, verdict_key


class CachedEvaluators(Evaluators):
    """:class:`~trust_core.contracts.Evaluators` backed by the store's verdict and embedding caches."""

    def __init__(
        self,
        store: Store,
        make_judge: Callable[[], Judge] | None,
        make_embedder: Callable[[], Embedder] | None,
        judge_batch: int = 16,
    ) -> None:
        self.store = store
        self._make_judge = make_judge
        self._make_embedder = make_embedder
        self._judge: Judge | None = None
        self._embedder: Embedder | None = None
        self.judge_batch = judge_batch
        self.judge_failures = 0
        self.verdicts_computed = 0
        self.verdicts_cached = 0

    @property
    def judge_component(self) -> Judge:
        """The judge, built on first use."""
        if self._judge is None:
            if self._make_judge is None:
                raise RuntimeError("this run has no judge")
            self._judge = self._make_judge()
        return self._judge

    @property
    def embedder_component(self) -> Embedder:
        """The embedder, built on first use."""
        if self._embedder is None:
            if self._make_embedder is None:
                raise RuntimeError("this run has no embedder")
            self._embedder = self._make_embedder()
        return self._embedder

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        """Cached verdicts; the rest are asked of the judge in batches, successes cached as they come."""
        if not queries:
            return []
        judge = self.judge_component
        identity = judge.identity()
        keys = [verdict_key(identity, query.instruction, query.labels) for query in queries]
        known = self.store.verdicts(keys)
        self.verdicts_cached += sum(1 for key in keys if key in known)
        missing = list(dict.fromkeys(key for key in keys if key not in known))
        query_of = dict(zip(keys, queries, strict=True))
        failed: dict[str, Verdict] = {}
        with progress(total=len(missing), desc="judging", unit="verdict") as bar:
            for start in range(0, len(missing), self.judge_batch):
                chunk = missing[start : start + self.judge_batch]
                for key, verdict in zip(chunk, judge.judge([query_of[key] for key in chunk]), strict=True):
                    self.verdicts_computed += 1
                    if verdict.failed:
                        failed[key] = verdict
                    else:
                        known[key] = verdict
                        self.store.put_verdict(key, identity, verdict)
                bar.update(len(chunk))
        self.judge_failures += len(failed)
        return [known.get(key) or failed[key] for key in keys]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Cached embeddings; missing texts are embedded in one call and cached."""
        if not texts:
            return []
        embedder = self.embedder_component
        identity = embedder.identity()
        keys = [embedding_key(identity, text) for text in texts]
        known = self.store.embeddings(keys)
        missing = list(dict.fromkeys(key for key in keys if key not in known))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            vectors = embedder.embed([text_of[key] for key in missing])
            fresh = list(zip(missing, vectors, strict=True))
            self.store.put_embeddings(identity, fresh)
            known.update({key: list(vector) for key, vector in fresh})
        return [known[key] for key in keys]

    def describe(self) -> dict[str, Any]:
        """What was used, for results metadata."""
        judge = getattr(self._judge, "describe", None)
        return {
            "judge": judge() if callable(judge) else (self._judge.identity() if self._judge else None),
            "embedder": self._embedder.identity() if self._embedder else None,
            "verdicts_computed": self.verdicts_computed,
            "verdicts_cached": self.verdicts_cached,
            "judge_failures": self.judge_failures,
        }

    def close(self) -> None:
        """Release the judge and embedder."""
        if self._judge is not None:
            self._judge.close()
