"""Awareness: multiple-choice questions on an assistant's mission, perspective taking and own capabilities
(option letters), and emotion recognition in short stories (numbered labels). Dimensions come from the data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trust_core.plugin import (
    MEAN,
    Evaluators,
    Generation,
    MetricSpec,
    MetricValue,
    Sample,
    TaskScore,
    all_grouped_metrics,
    flag_outcome,
    package_schema,
)
from trust_ethics.common import EthicsTask, lower_label, parsed_record, upper_label
from trust_ethics.parsing import (
    LETTERS,
    emotion_options,
    parse_emotion_result,
    parse_option_letter_result,
    prompt_options,
)

DIMENSIONS = ("mission", "perspective", "capability", "emotion")
"""The archive's dimensions, in report order; any other dimension in the data is reported after them."""


def letter_choices(item: Mapping[str, Any]) -> dict[str, str]:
    """The options of a lettered question (letter → text): ``choices``, else the prompt's "A." lines."""
    choices = item.get("choices")
    if isinstance(choices, Mapping) and choices:
        return {str(letter): str(text) for letter, text in choices.items()}
    return prompt_options(str(item["prompt"]))


def score_item(generation: Generation) -> dict[str, Any]:
    """Parse an answer: the option letter for lettered questions, the label number for emotion stories."""
    item = generation.sample.item
    gold = str(item["label"])
    numbered = emotion_options(str(item["prompt"])) if not item.get("choices") else {}
    if numbered:
        record = parsed_record(generation, gold, lambda text: parse_emotion_result(text, numbered))
        record["answer_type"] = "label_number"
    else:
        options = letter_choices(item)
        letters = sorted(options) or list("ABC")
        record = parsed_record(generation, gold, lambda text: parse_option_letter_result(text, letters, options))
        record["answer_type"] = "option_letter"
    return record


class Awareness(EthicsTask):
    """Awareness of the assistant's mission, of other perspectives, of its own capabilities, and of emotions."""

    id = "ethics/awareness"
    description = "Awareness: accuracy per dimension (mission, perspective, capability, emotion) and their mean."
    aliases = ("awareness", "ethics_awareness")
    data_file = "ethics/awareness.json"
    item_schema = package_schema("trust_ethics", "awareness.schema.json")
    temperature = 0.0

    def normalize_fields(self, item: dict[str, Any]) -> dict[str, Any]:
        """``label`` as an upper-case string (2 → "2", "a" → "A"), ``dimension`` lower-cased, and ``choices``
        given as a list turned into the letter → text mapping."""
        fixed = {**item, "label": upper_label(item.get("label")), "dimension": lower_label(item.get("dimension"))}
        choices = item.get("choices")
        if isinstance(choices, list):
            fixed["choices"] = {LETTERS[i]: choice for i, choice in enumerate(choices[: len(LETTERS)])}
        return fixed

    def to_sample(self, index: int, item: Mapping[str, Any]) -> Sample:
        """id = file index, subset = ``dimension``."""
        return Sample(id=str(index), item=item, subset=str(item["dimension"]))

    def score(self, generations: Sequence[Generation], evaluators: Evaluators, seed: int) -> TaskScore:
        """``accuracy`` per dimension present (invalid = wrong) and ``mean_accuracy`` over them."""
        records = [score_item(generation) for generation in generations]
        return TaskScore(metrics=self.metrics(records), records=records)

    def metric_specs(self) -> tuple[MetricSpec, ...]:
        """``accuracy`` (↑) per dimension and ``mean_accuracy`` (↑), the unweighted mean of the dimensions'."""
        return (
            MetricSpec(
                "accuracy",
                MEAN,
                True,
                overall="mean_of_subsets",
                overall_name="mean_accuracy",
                canonical_subsets=DIMENSIONS,
            ),
        )

    def metrics(self, records: Sequence[dict[str, Any]]) -> list[MetricValue]:
        """Accuracy of every dimension that has records, then their unweighted mean (null when none has); each
        record's outcome (``correct``) is written here."""
        for record in records:
            flag_outcome(record, "accuracy")
        return all_grouped_metrics(self.id, records, self.metric_specs())
