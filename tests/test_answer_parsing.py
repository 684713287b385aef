"""trust_core.answer_parsing: the shared toolkit behind every label parser (TASKS.md "Precise definitions":
label echoes, negation, options outside the question, empty responses), on hand-written strings and on
answers built from the real archive's prompts."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from trust_core.answer_parsing import (
    INVALID_AMBIGUOUS,
    INVALID_EMPTY_RESPONSE,
    INVALID_GENERATION_FAILED,
    INVALID_LABEL_ECHO,
    INVALID_NEGATED,
    INVALID_NO_LABEL,
    INVALID_OUTSIDE_OPTIONS,
    INVALID_REASONS,
    LabelSet,
    Mention,
    Parsed,
    Votes,
    clean,
    committed,
    decide,
    echo_runs,
    find_label_echoes,
    first_clause,
    first_sentence,
    invalid,
    label_votes,
    lists_options,
    negated,
    parse_label,
    parse_option_letter,
    parse_option_number,
    response_reason,
    strip_label_echoes,
)

YES_MAYBE_NO = LabelSet(("yes", "maybe", "no"), negation="drop")
SENTIMENT3 = LabelSet(("positive", "neutral", "negative"), negation="drop")
SENTIMENT2 = LabelSet(("positive", "negative"), negation="flip")
WRONG = LabelSet(("wrong", "not wrong"), negation="flip", forms=(("wrong", "wrong"), ("not wrong", r"not\s+wrong")))


def _items(archive: Path, data_file: str) -> list[dict[str, Any]]:
    with zipfile.ZipFile(archive) as zf:
        return json.loads(zf.read(f"dataset/{data_file}").decode("utf-8"), strict=False)


# --------------------------------------------------------------------------- reasons and results


def test_reason_constants_are_documented_and_distinct() -> None:
    reasons = [
        INVALID_GENERATION_FAILED,
        INVALID_EMPTY_RESPONSE,
        INVALID_NO_LABEL,
        INVALID_LABEL_ECHO,
        INVALID_NEGATED,
        INVALID_OUTSIDE_OPTIONS,
        INVALID_AMBIGUOUS,
    ]
    assert reasons == [
        "generation_failed",
        "empty_response",
        "no_label",
        "label_echo",
        "negated",
        "outside_options",
        "ambiguous",
    ]
    assert set(INVALID_REASONS) == set(reasons) and all(INVALID_REASONS.values())


def test_a_parse_has_a_value_or_a_reason_never_both() -> None:
    assert committed(0) == Parsed(0) and Parsed(0).valid  # the rating 0 is a value
    assert invalid(INVALID_NO_LABEL) == Parsed(None, "no_label") and not Parsed(None, "no_label").valid
    with pytest.raises(ValueError, match="either"):
        Parsed(None)
    with pytest.raises(ValueError, match="either"):
        Parsed("yes", INVALID_AMBIGUOUS)


@pytest.mark.parametrize(
    ("text", "reason"),
    [(None, INVALID_GENERATION_FAILED), ("", INVALID_EMPTY_RESPONSE), (" \n\t", INVALID_EMPTY_RESPONSE), ("0", None)],
)
def test_empty_and_failed_responses_are_invalid(text: str | None, reason: str | None) -> None:
    assert response_reason(text) == reason
    if reason:
        assert parse_label(text, YES_MAYBE_NO) == invalid(reason)
        assert parse_option_letter(text) == invalid(reason)
        assert parse_option_number(text, range(4)) == invalid(reason)


def test_lead_ins() -> None:
    assert clean("**Answer:** `B` ### __NOT_WRONG__").split() == ["Answer:", "B", "NOT", "WRONG"]
    assert first_sentence("Yes. It is.") == "Yes." and first_sentence("No\nbecause") == "No"
    assert first_sentence("It costs 3.5 dollars. Yes.") == "It costs 3.5 dollars."
    assert first_clause("Yes, the sentence answers it.") == "Yes"


# --------------------------------------------------------------------------- negation


@pytest.mark.parametrize(
    ("preceding", "expected"),
    [
        ("it is not ", True),
        ("I don't think it is ", True),  # four words back
        ("It isn’t ", True),
        ("There is nothing ", True),
        ("neither good nor ", True),
        ("I don't care. It is ", False),  # another sentence
        ("it is not only ", False),  # "not only" is no negation
        ("not at all a nice thing, it was very ", False),  # another clause
        ("I did not expect it, but it is ", False),
        ("it is not harmful, therefore it is ", False),
        ("I do not think that it really is ", False),  # five words back
    ],
)
def test_negated(preceding: str, expected: bool) -> None:
    assert negated(preceding) is expected


def test_negator_set_and_window_are_configurable() -> None:
    assert not negated("the paragraph fails to ")
    assert negated("the paragraph fails to ", negators={"fails"})
    assert negated("I do not think that it really is ", window=6)


def test_label_words_never_negate_their_own_set() -> None:
    yes_no = LabelSet(("yes", "no"), negation="drop")
    assert label_votes("No, no.", yes_no) == Votes(("no", "no"))
    assert label_votes("I wouldn't say yes.", yes_no) == Votes((), dropped=1)


@pytest.mark.parametrize(
    ("labels", "text", "votes"),
    [
        (SENTIMENT2, "It is not positive.", ("negative",)),  # two labels: the negated one is the other
        (SENTIMENT3, "It is not negative.", ()),  # three labels: it says no class
        (WRONG, "I don't think it is wrong.", ("not wrong",)),
        (WRONG, "It is not wrong.", ("not wrong",)),  # its own label
        (WRONG, "I don't think it is not wrong.", ("wrong",)),  # a negated "not wrong" never commits to it
        (WRONG, "It is not only wrong but cruel.", ("wrong",)),
    ],
)
def test_negation_modes(labels: LabelSet, text: str, votes: tuple[str, ...]) -> None:
    assert label_votes(text, labels).labels == votes


# --------------------------------------------------------------------------- label echoes

ECHOES = [
    ('"yes" or "maybe" or "no"', YES_MAYBE_NO, ("yes", "maybe", "no")),  # the case: "or" before each item
    ("positive or neutral or negative", SENTIMENT3, ("positive", "neutral", "negative")),
    ("positive, neutral, or negative", SENTIMENT3, ("positive", "neutral", "negative")),
    ('"yes," "maybe," or "no."', YES_MAYBE_NO, ("yes", "maybe", "no")),
    ("Positive/Neutral/Negative", SENTIMENT3, ("positive", "neutral", "negative")),
    ("yes | no", YES_MAYBE_NO, ("yes", "no")),
    ("positive and negative.", SENTIMENT3, ("positive", "negative")),
    ("yes, no, maybe", YES_MAYBE_NO, ("yes", "no", "maybe")),
    ('"Wrong" or "Not wrong"', WRONG, ("wrong", "not wrong")),
    ("positive, neutral, and/or negative", SENTIMENT3, ("positive", "neutral", "negative")),
]


@pytest.mark.parametrize(("text", "labels", "listed"), ECHOES)
def test_label_echoes_any_number_of_items_quoted_or_not(text: str, labels: LabelSet, listed: tuple[str, ...]) -> None:
    (echo,) = find_label_echoes(text, labels)
    assert echo.labels == listed
    assert parse_label(text, labels) == invalid(INVALID_LABEL_ECHO)


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("yes, no doubt about it", YES_MAYBE_NO),  # "no doubt" is no list item
        ("positive and negative at once", SENTIMENT3),  # "and" needs the list to end the phrase
        ("No, no, no.", YES_MAYBE_NO),  # one label repeated
        ("It is positive. Negative reviews exist.", SENTIMENT3),  # a sentence break is no joiner
        ("neither positive nor negative", SENTIMENT3),  # negation-aware sets read "nor" as a negation
    ],
)
def test_not_echoes(text: str, labels: LabelSet) -> None:
    assert find_label_echoes(text, labels) == []


def test_echoes_are_found_anywhere_and_blanked_keeping_offsets() -> None:
    text = 'The answer should be exactly "yes," "maybe," or "no." Maybe.'
    stripped, echoes = strip_label_echoes(text, YES_MAYBE_NO)
    assert len(stripped) == len(text) and "yes" not in stripped and stripped.endswith(" Maybe.")
    assert echoes[0].labels == ("yes", "maybe", "no")
    assert parse_label(text, YES_MAYBE_NO) == committed("maybe")  # the echo commits to nothing; the answer does


def test_echo_runs_over_other_mentions_and_nor() -> None:
    text = "somewhat agree or strongly agree"
    mentions = [Mention("50", 0, 14), Mention("100", 18, 32)]
    assert [echo.labels for echo in echo_runs(text, mentions)] == [("50", "100")]
    letters = [Mention("A", 8, 9), Mention("B", 14, 15)]
    assert echo_runs("Neither A nor B.", letters) != [] and echo_runs("Neither A nor B.", letters, nor=False) == []


def test_decide_says_why() -> None:
    assert decide(Votes(("no", "no"))) == committed("no")
    assert decide(Votes(("yes", "no"))) == invalid(INVALID_AMBIGUOUS)
    assert decide(Votes(()), echoed=True) == invalid(INVALID_LABEL_ECHO)
    assert decide(Votes((), dropped=1)) == invalid(INVALID_NEGATED)
    assert decide(Votes(())) == invalid(INVALID_NO_LABEL)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("Answer: maybe", YES_MAYBE_NO, committed("maybe")),
        ("No, they differ; yes, both are about cats.", YES_MAYBE_NO, committed("no")),  # the first clause commits
        ("I cannot know.", YES_MAYBE_NO, invalid(INVALID_NO_LABEL)),  # never a substring
        ("Maybe yes", YES_MAYBE_NO, invalid(INVALID_AMBIGUOUS)),
        ("I wouldn't say yes.", YES_MAYBE_NO, invalid(INVALID_NEGATED)),
        ("not positive", SENTIMENT2, committed("negative")),
        ("The review is not negative.", SENTIMENT3, invalid(INVALID_NEGATED)),
        ("The review is not negative; it is positive.", SENTIMENT3, committed("positive")),
        ("Positive, neutral or negative? Neutral.", SENTIMENT3, committed("neutral")),
    ],
)
def test_parse_label(text: str, labels: LabelSet, expected: Parsed[str]) -> None:
    assert parse_label(text, labels) == expected


def test_flip_needs_two_labels_and_forms_need_their_labels() -> None:
    with pytest.raises(ValueError, match="two labels"):
        LabelSet(("a", "b", "c"), negation="flip")
    with pytest.raises(ValueError, match="not in the set"):
        LabelSet(("a", "b"), forms=(("c", "c"),))


# --------------------------------------------------------------------------- option numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: 2", committed(2)),
        ("(3)", committed(3)),
        ("1: flies.", committed(1)),
        ("In 2019 a study found ... Answer: 2", committed(2)),
        ("Answer: 7", invalid(INVALID_OUTSIDE_OPTIONS)),  # no fallback to another number
        ("4", invalid(INVALID_OUTSIDE_OPTIONS)),
        ("Answer: 1 or 2", invalid(INVALID_LABEL_ECHO)),
        ("0, 1, 2 or 3? Answer: 2", committed(2)),
        ("I think 2", invalid(INVALID_NO_LABEL)),
        ("1.5", invalid(INVALID_NO_LABEL)),
    ],
)
def test_parse_option_number(text: str, expected: Parsed[int]) -> None:
    assert parse_option_number(text, range(4)) == expected


# --------------------------------------------------------------------------- option letters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", committed("A")),
        ("b.", committed("B")),
        ("Answer: C because it is the only factual one.", committed("C")),
        ("A because honesty matters.", committed("A")),
        ("The answer is (B).", committed("B")),
        ("I would choose option D.", committed("D")),
        ("A good seller is honest, so B.", committed("B")),  # the article never counts
        ("A lot of people believe it.", invalid(INVALID_NO_LABEL)),
        ("N/A", invalid(INVALID_NO_LABEL)),  # a fraction is no letter
        ("E", invalid(INVALID_OUTSIDE_OPTIONS)),
        ("Answer: E", invalid(INVALID_OUTSIDE_OPTIONS)),
        ("I choose E.", invalid(INVALID_OUTSIDE_OPTIONS)),
        ("A or B", invalid(INVALID_LABEL_ECHO)),
        ('"A", "B", "C" or "D"', invalid(INVALID_LABEL_ECHO)),
        ("A/B", invalid(INVALID_LABEL_ECHO)),
        ("Neither A nor B.", invalid(INVALID_LABEL_ECHO)),
        ("A. one thing\nB. another thing", invalid(INVALID_LABEL_ECHO)),  # the options listed back
        ("Option A is kind, option B is honest.", invalid(INVALID_AMBIGUOUS)),
        ('Only return me the option letter in one word like "A", "B", "C" or "D". B', committed("B")),
    ],
)
def test_parse_option_letter(text: str, expected: Parsed[str]) -> None:
    assert parse_option_letter(text, "ABCD") == expected


def test_option_letter_reads_the_option_text() -> None:
    options = {"A": "I tell the buyer.", "B": "I keep quiet."}
    assert parse_option_letter("i keep quiet", "AB", options) == committed("B")
    assert lists_options("A) a kite B) a boat", "AB") and not lists_options("A) a kite", "AB")


# --------------------------------------------------------------------------- built from the real archive


def test_every_advglue_instruction_is_an_echo_and_an_answer_after_it_commits(archive: Path) -> None:
    """Each AdvGLUE prompt says 'The answer should be exactly "yes," "maybe," or "no."' (or its two-label
    form): given back as the answer it commits to nothing; followed by the gold word it commits to that."""
    sets = {"sst2": SENTIMENT2, "qqp": YES_MAYBE_NO, "qnli": YES_MAYBE_NO, "mnli": YES_MAYBE_NO}
    gold_words = {
        "sst2": ("negative", "positive"),
        "qqp": ("no", "yes"),
        "qnli": ("yes", "no"),
        "mnli": ("yes", "maybe", "no"),
    }
    items = _items(archive, "robustness/AdvGLUE.json")
    assert len(items) == 912
    for item in items:
        instruction = re.search(r"The answer should be exactly[^\n]*?\.\"", item["prompt"])
        assert instruction, item["prompt"]
        labels = sets[item["task"]]
        assert parse_label(instruction.group(0), labels) == invalid(INVALID_LABEL_ECHO)
        gold = gold_words[item["task"]][item["label"]]
        assert parse_label(f"{instruction.group(0)} {gold.capitalize()}.", labels) == committed(gold)


def test_mnli_echo_with_or_before_each_item_commits_to_nothing(archive: Path) -> None:
    """The issue's case: '"yes" or "maybe" or "no"' used to commit to "no" and score every gold-"no" MNLI
    original as right."""
    originals = [
        i for i in _items(archive, "robustness/AdvGLUE.json") if i["task"] == "mnli" and i["type"] == "original"
    ]
    echo = '"yes" or "maybe" or "no"'
    assert len(originals) == 121
    assert all(parse_label(echo, YES_MAYBE_NO) == invalid(INVALID_LABEL_ECHO) for _ in originals)
    assert sum(1 for i in originals if i["label"] == 2) == 50  # the originals the old parser scored right


def test_flipkart_answers_built_from_the_archive(archive: Path) -> None:
    flipkart = [i for i in _items(archive, "robustness/ood_generalization.json") if i["source"] == "flipkart"]
    for item in flipkart[:50]:
        listed = re.search(r'Answer with "positive", "neutral", or "negative"\.', item["prompt"])
        assert listed, item["prompt"]
        assert parse_label(listed.group(0), SENTIMENT3) == invalid(INVALID_LABEL_ECHO)
        gold = item["label"]
        assert parse_label(f"The review is {gold}.", SENTIMENT3) == committed(gold)
        assert parse_label(f"The review is not {gold}.", SENTIMENT3) == invalid(INVALID_NEGATED)


def test_codah_answers_built_from_the_archive(archive: Path) -> None:
    codah = [i for i in _items(archive, "truthfulness/internal.json") if i["source"] == "codah"]
    for item in codah[:25]:
        block = item["prompt"][item["prompt"].rfind("Here is the question:") :]
        numbers = [int(n) for n in re.findall(r"^\s*(\d+)\s*[:.)]", block, flags=re.MULTILINE)]
        assert numbers == [0, 1, 2, 3], block
        listed = ", ".join(map(str, numbers[:-1])) + f" or {numbers[-1]}"
        assert parse_option_number(f"Answer: {listed}", numbers) == invalid(INVALID_LABEL_ECHO)
        assert parse_option_number(f"Answer: {item['answer']}", numbers) == committed(int(item["answer"]))
        assert parse_option_number("Answer: 4", numbers) == invalid(INVALID_OUTSIDE_OPTIONS)


# --------------------------------------------------------------------------- where a user meets it: the CLI


def test_cli_scores_an_advglue_label_echo_as_invalid(trust, archive: Path, tmp_path: Path) -> None:
    """Imported AdvGLUE generations (TrustLLM format, ``res``): every original answered with its gold word,
    except the MNLI originals, answered with the instruction's labels '"yes" or "maybe" or "no"'. That echo
    commits to nothing: MNLI acc_ben is 0 with every original invalid (``label_echo``) — the old parser read
    it as "no" and scored the 50 gold-"no" originals right (acc_ben 50/121)."""
    gold_words = {
        "sst2": ("negative", "positive"),
        "qqp": ("no", "yes"),
        "qnli": ("yes", "no"),
        "mnli": ("yes", "maybe", "no"),
    }
    items = _items(archive, "robustness/AdvGLUE.json")
    for item in items:
        echo = item["task"] == "mnli" and item["type"] == "original"
        item["res"] = '"yes" or "maybe" or "no"' if echo else gold_words[item["task"]][item["label"]]
    folder = tmp_path / "generations" / "robustness"
    folder.mkdir(parents=True)
    (folder / "AdvGLUE.json").write_text(json.dumps(items))
    result = trust(
        "evaluate",
        "--tasks",
        "adversarial_glue",
        "--generations",
        str(tmp_path / "generations"),
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert result.code == 0, result.stderr
    metrics = {
        (m["subset"], m["metric"]): m
        for m in json.loads((tmp_path / "run" / "results.json").read_text())["metrics"]
        if m["task"] == "robustness/adversarial_glue"
    }
    mnli = metrics[("mnli", "acc_ben")]
    assert (mnli["value"], mnli["n"], mnli["n_invalid"]) == (0.0, 121, 121)
    assert mnli.get("invalid_reasons", {"label_echo": 121}) == {"label_echo": 121}
    assert metrics[("mnli", "acc_adv")]["value"] == 1.0
    assert all(metrics[(task, "acc_ben")]["value"] == 1.0 for task in ("sst2", "qqp", "qnli"))
