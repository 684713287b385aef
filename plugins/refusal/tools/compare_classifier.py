"""Compare the rule-based refusal detector with learned classifiers on the real-output set (docs/evaluators.md,
"Choosing the detector").

Trains on the ``dev`` part, measures on ``heldout`` and ``independent``:

* ``rules`` — :func:`trust_refusal.detector.detect` (needs the prompts: pass ``--archive``);
* ``minilm-logreg`` — scikit-learn logistic regression on the embedded MiniLM's sentence embeddings of the
  response (three classes, balanced class weights);
* ``rules+minilm`` — the same classifier with the detector's verdict and rule as extra one-hot features.

``python plugins/refusal/tools/compare_classifier.py --archive ../shared/datasets/trustllm/dataset.zip``
(needs scikit-learn and the ``trust-sentence-transformers`` plugin; prints one table per part).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from trust_refusal.detector import detect
from trust_refusal.real_output import LabelledResponse, load_real_output, rebuilt_prompt

from trust_core.contracts import BackendOptions
from trust_core.judge_check import archive_lookup, cohen_kappa
from trust_core.registry import ComponentContext, Registry

LABELS = ("REFUSED", "COMPLIED", "UNCLEAR")
FAMILIES = {
    "safety/jailbreak": "safety",
    "safety/misuse": "safety",
    "safety/exaggerated_safety": "safety",
    "fairness/stereotype_query": "fairness",
    "fairness/preference_bias": "fairness",
    "robustness/ood_detection": "robustness",
    "privacy/privacy_awareness": "privacy",
    "ethics/explicit_moralchoice_high": "ethics",
}


def scores(expected: Sequence[str], called: Sequence[str]) -> str:
    """Precision and recall of REFUSED, Cohen's kappa over the three labels, and n."""
    tp = sum(1 for e, c in zip(expected, called, strict=True) if e == c == "REFUSED")
    calls = sum(1 for c in called if c == "REFUSED")
    positives = sum(1 for e in expected if e == "REFUSED")
    precision = f"{tp / calls:.2f}" if calls else "  - "
    recall = f"{tp / positives:.2f}" if positives else "  - "
    kappa = cohen_kappa(list(expected), list(called))
    return f"P {precision}  R {recall}  kappa {kappa:.2f}  n {len(expected):3d}" if kappa is not None else "-"


def rule_features(verdicts: Sequence[Any]) -> np.ndarray:
    """One-hot of each detector verdict's label and rule family."""
    keys = sorted({f"label={v.label}" for v in verdicts} | {f"rule={(v.rule or '').split(':')[0]}" for v in verdicts})
    index = {key: i for i, key in enumerate(keys)}
    matrix = np.zeros((len(verdicts), len(keys)))
    for row, verdict in enumerate(verdicts):
        matrix[row, index[f"label={verdict.label}"]] = 1
        matrix[row, index[f"rule={(verdict.rule or '').split(':')[0]}"]] = 1
    return matrix


def main() -> None:
    """Train on dev, report every method on heldout and independent, per task family and overall."""
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, required=True)
    args = parser.parse_args()
    registry = Registry()
    lookup = archive_lookup(registry, args.archive)
    items: list[LabelledResponse] = load_real_output()
    prompts = [rebuilt_prompt(item, lookup) for item in items]
    missing = sum(1 for prompt in prompts if prompt is None)
    if missing:
        raise SystemExit(f"{missing} prompts could not be rebuilt from {args.archive}")
    embedder = registry.make_embedder("minilm", ComponentContext(registry, BackendOptions()))
    vectors = np.asarray(embedder.embed([item.response for item in items]))
    verdicts = [detect(item.response, item.criterion, prompt) for item, prompt in zip(items, prompts, strict=True)]
    combined = np.hstack([vectors, rule_features(verdicts)])
    labels = np.array([item.label for item in items])
    train = np.array([item.part == "dev" for item in items])
    predictions = {"rules": np.array([v.label or "FAILED" for v in verdicts])}
    for name, features in (("minilm-logreg", vectors), ("rules+minilm", combined)):
        model = LogisticRegression(max_iter=2000, class_weight="balanced", C=1.0)
        model.fit(features[train], labels[train])
        predictions[name] = model.predict(features)
    for part in ("heldout", "independent"):
        chosen = [i for i, item in enumerate(items) if item.part == part]
        print(f"\n== {part} ({len(chosen)} responses)")
        groups = [("all", chosen)] + [
            (family, [i for i in chosen if FAMILIES[items[i].task] == family])
            for family in dict.fromkeys(FAMILIES.values())
        ]
        for method, predicted in predictions.items():
            for group, indices in groups:
                expected = [items[i].label for i in indices]
                print(f"{method:14s} {group:11s} {scores(expected, [str(predicted[i]) for i in indices])}")


if __name__ == "__main__":
    main()
