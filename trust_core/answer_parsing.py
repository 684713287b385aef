"""The answer-parsing toolkit the task plugins share: pure functions of strings.

Every label parser of the project is built from these pieces, so the rules of TASKS.md "Precise
definitions" hold in every dimension the same way:

* **Invalid answers** say why (:data:`INVALID_NO_LABEL`, :data:`INVALID_LABEL_ECHO`, ... — the
  ``invalid_reason`` a task records); a parse is a :class:`Parsed` value: the label, or None and the reason.
* **Label echoes.** Several labels of the question's set joined by commas, slashes, "or", "and" or "nor"
  — anywhere in the answer, any number of items, quoted or not (``"yes" or "maybe" or "no"``,
  ``positive, neutral, or negative``, ``Yes/No``, ``(A) or (B)``) — commit to none of them
  (:func:`find_label_echoes`). A parser removes them before it looks for the committed label, so an
  answer that only echoes the list is invalid whatever label comes last, and an answer that echoes the
  instruction and then answers ("... "yes" or "no". Yes.") commits to its answer.
* **Negation.** One negator set (:data:`NEGATORS`, configurable per call): a label whose clause puts a
  negator within :data:`NEGATION_WINDOW` words before it ("not bad", "I don't think it is wrong") does not
  commit to that label (:func:`negated`). A two-label set may read it as the other label ("not
  positive" → negative); a larger set reads it as nothing.
* **Options outside the question.** A letter, number or label that is not one of the item's options is
  invalid (:data:`INVALID_OUTSIDE_OPTIONS`), never wrong-but-valid.
* **Empty or failed responses** are invalid everywhere (:func:`response_reason`).

Labels are matched as whole words, never inside another word ("no" is not in "know", "A" is not in
"N/A", "stereotype" is not in "anti-stereotype").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Generic, Literal, TypeVar

# --------------------------------------------------------------------------- why an answer is invalid

INVALID_GENERATION_FAILED = "generation_failed"
"""The model produced no response (the backend reported an error): the response is ``None``."""

INVALID_EMPTY_RESPONSE = "empty_response"
"""The response is empty or only whitespace."""

INVALID_NO_LABEL = "no_label"
"""The answer names none of the question's labels (prose, a refusal, "I don't know")."""

INVALID_LABEL_ECHO = "label_echo"
"""The answer only lists several of the question's labels (an echo of the instruction: "yes, maybe or no",
"A/B", every option line by line): a list commits to none of its labels."""

INVALID_NEGATED = "negated"
"""The answer names a label only in negated form ("not bad", "I don't think it is good") where the
negation picks no other label."""

INVALID_OUTSIDE_OPTIONS = "outside_options"
"""The answer commits to a letter, number or label that is not among the item's own options
("Answer: E" when the options are A–D, a diagnosis the item does not list)."""

INVALID_AMBIGUOUS = "ambiguous"
"""The answer commits to several different labels, or hedges between them, so no single label is committed."""

INVALID_REASONS: Mapping[str, str] = {
    INVALID_GENERATION_FAILED: "the model produced no response (the backend reported an error)",
    INVALID_EMPTY_RESPONSE: "the response is empty or only whitespace",
    INVALID_NO_LABEL: "the answer names none of the question's labels",
    INVALID_LABEL_ECHO: "the answer only lists several of the question's labels (an echo), committing to none",
    INVALID_NEGATED: "the answer names a label only in negated form, which commits to no label",
    INVALID_OUTSIDE_OPTIONS: "the answer commits to something that is not one of the item's options",
    INVALID_AMBIGUOUS: "the answer names several different labels without committing to one",
}
"""The reasons a parser gives for an invalid answer, with what each means."""

T = TypeVar("T")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """What a parser read: the committed ``value``, or None and the ``reason`` it is invalid.

    ``reason`` is None exactly when ``value`` is not None (a value such as the rating 0 is valid).
    """

    value: T | None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise ValueError("a parse has either a value or an invalid reason")

    @property
    def valid(self) -> bool:
        """True when the answer commits to exactly one value."""
        return self.value is not None


def committed(value: T) -> Parsed[T]:
    """A valid parse of ``value``."""
    return Parsed(value)


def invalid(reason: str) -> Parsed[T]:
    """An invalid parse, for ``reason`` (one of :data:`INVALID_REASONS`)."""
    return Parsed(None, reason)


def response_reason(text: str | None) -> str | None:
    """Why a response cannot be parsed at all: :data:`INVALID_GENERATION_FAILED` (None),
    :data:`INVALID_EMPTY_RESPONSE` (blank); None for a response with text."""
    if text is None:
        return INVALID_GENERATION_FAILED
    return INVALID_EMPTY_RESPONSE if not text.strip() else None


# --------------------------------------------------------------------------- answer lead-ins

OPENERS = r"[\s(\[\"'“‘]*"
"""Quotes, brackets and spaces that may precede a label."""

CLOSERS = r"[\s)\]\"'”’]*"
"""Quotes, brackets and spaces that may follow a label."""

ANSWER_LEAD = r"\banswer\s*(?:is\s*[:：]?|[:：])\s*"
"""'Answer:' or 'answer is' (the explicit commitment forms)."""

ANSWER_KEYS = r"(?:answer|classification|class|category|label|verdict|judge?ment|choice)"
"""Field names a model puts before its committed label ("Answer: B", "Classification: Not wrong")."""

NUMBER = r"(\d+)(?!\d|[.,]\d)"
"""An integer that is not the start of a longer number or a decimal (group 1)."""


def clean(text: str) -> str:
    """Drop markdown emphasis, code ticks and heading hashes ("**Answer:** B", "#Judgement#: No");
    underscores become spaces ("NOT_WRONG", "__A__")."""
    return re.sub(r"[*`#]", "", text).replace("_", " ").strip()


def first_sentence(text: str) -> str:
    """``text`` up to the first sentence end (". ", "! ", "? ", "; " or a line break)."""
    return re.split(r"(?<=[.;!?])\s|\n", text, maxsplit=1)[0]


def first_clause(text: str) -> str:
    """``text`` up to the first ``. , ; : ! ?`` or line break."""
    return re.split(r"[.,;:!?\n]", text, maxsplit=1)[0]


# --------------------------------------------------------------------------- negation

NEGATORS: frozenset[str] = frozenset(
    {"not", "no", "never", "nothing", "neither", "nor", "hardly", "barely", "without", "cannot"}
)
"""Words that negate a label after them in the same clause (besides any word ending in "n't")."""

NEGATION_WINDOW = 4
"""How many words before a label a negator may stand ("I don't think it is wrong": four)."""

CLAUSE_BREAK = re.compile(
    r"[.;:!?\n,()]|\b(?:but|however|although|though|whereas|while|rather|and|therefore|thus|hence)\b",
    flags=re.IGNORECASE,
)
"""Where a negation stops: punctuation, brackets and contrasting conjunctions."""

_NEGATION_REACH = 200
"""How many characters before a label :func:`negated` reads (far more than a window of words needs)."""

_NOT_ONLY = re.compile(r"\bnot\s+(?:only|just|merely|simply)\b", re.IGNORECASE)


def negated(preceding: str, window: int = NEGATION_WINDOW, negators: Collection[str] = NEGATORS) -> bool:
    """True when one of the last ``window`` words of ``preceding``, within its clause, is a negator.

    ``preceding`` is the text before a label. Negators are ``negators`` and any word ending in "n't";
    "not only / just / merely / simply" is not a negation ("not only wrong but cruel").
    """
    tail = preceding[-_NEGATION_REACH:]  # the last few words are all that count: keeps long answers linear
    clause = _NOT_ONLY.sub(" ", CLAUSE_BREAK.split(tail)[-1])
    words = re.findall(r"[a-z']+", clause.lower().replace("’", "'"))[-window:]
    return any(word in negators or word.endswith("n't") for word in words)


# --------------------------------------------------------------------------- label sets, mentions and echoes

Negation = Literal["none", "flip", "drop"]

_ECHO_GAP = re.compile(r"(?:[\s\"'“”‘’()\[\],/|]|\b(?:or|and|nor)\b)+", re.IGNORECASE)
"""What may stand between two items of a listed label set: quotes, brackets, spaces and the joiners."""
_STRONG_JOINER = re.compile(r"[/|]|\b(?:or|nor)\b", re.IGNORECASE)
_ANY_JOINER = re.compile(r"[,/|]|\b(?:or|and|nor)\b", re.IGNORECASE)
_LIST_END = re.compile(r"[\"'”’)\]]*(?:[.,;:!?\n]|\s*$)")


@dataclass(frozen=True)
class Mention:
    """One label named in a text: its canonical ``label`` and where (``start``, ``end``)."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class LabelEcho:
    """A listed run of labels ("positive, neutral, or negative") at ``start``–``end``; it commits to none."""

    start: int
    end: int
    labels: tuple[str, ...]


@dataclass(frozen=True)
class LabelSet:
    """The labels a question offers, how they are written, and how a negated mention counts.

    ``labels`` are the canonical labels. ``forms`` maps a label to a regex of its written forms, without
    capturing groups (default: the label itself, any run of spaces between its words); ``ignore_case`` says
    whether case matters (option letters: it does). ``negation``: ``"none"`` — a mention counts as written;
    ``"flip"`` — a negated mention counts for the other label (two labels only: "not positive" is negative,
    "not wrong" is "not wrong"); ``"drop"`` — a negated mention counts for nothing ("not bad" says no class).
    ``negators`` is the negator set; words that are labels themselves ("no") never negate.
    """

    labels: tuple[str, ...]
    negation: Negation = "none"
    forms: tuple[tuple[str, str], ...] = ()
    ignore_case: bool = True
    negators: frozenset[str] = NEGATORS

    def __post_init__(self) -> None:
        if self.negation == "flip" and len(self.labels) != 2:
            raise ValueError("negation 'flip' needs exactly two labels")
        unknown = {label for label, _ in self.forms} - set(self.labels)
        if unknown:
            raise ValueError(f"forms given for labels not in the set: {sorted(unknown)}")
        grouped = [label for label, form in self.forms if re.compile(form).groups]
        if grouped:
            raise ValueError(f"forms must not capture (use (?:...)): {sorted(grouped)}")

    def _forms(self) -> list[tuple[str, str]]:
        given = dict(self.forms)
        written = [(label, given.get(label) or r"\s+".join(map(re.escape, label.split()))) for label in self.labels]
        return sorted(written, key=lambda pair: len(pair[1]), reverse=True)

    @property
    def word(self) -> str:
        """A regex matching one label, whole (group 1 is the text of the label)."""
        alternatives = "|".join(form for _, form in self._forms())
        return rf"(?<![\w-])({alternatives})(?![\w-])"

    def _pattern(self) -> re.Pattern[str]:
        alternatives = "|".join(f"({form})" for _, form in self._forms())
        return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE if self.ignore_case else 0)

    def mentions(self, text: str) -> list[Mention]:
        """Every label ``text`` names, whole, in order."""
        order = [label for label, _ in self._forms()]
        found = []
        for match in self._pattern().finditer(text):
            index = next(i for i, group in enumerate(match.groups()) if group is not None)
            found.append(Mention(order[index], match.start(), match.end()))
        return found

    def is_negated(self, text: str, mention: Mention) -> bool:
        """True when ``mention`` (of ``text``) is negated; negators that are labels of this set do not count."""
        return negated(text[: mention.start], negators=self.negators - {label.lower() for label in self.labels})

    def other(self, label: str) -> str:
        """The other label of a two-label set."""
        return next(candidate for candidate in self.labels if candidate != label)


def find_label_echoes(text: str, labels: LabelSet) -> list[LabelEcho]:
    """The listed runs of two or more different labels of ``labels`` in ``text``.

    Items are joined by commas, "/", "|", "or", "and" or "nor" (quotes and brackets allowed around them):
    ``"yes" or "maybe" or "no"``, ``positive, neutral, or negative``, ``Yes/No``, ``(A) or (B)``, ``1, 2 or 3``.
    A run joined only by commas or "and" must end the phrase (punctuation, a closing quote or the end of the
    text), so "Yes, no doubt" and "positive and negative at once" are not lists. The same label repeated
    ("No, no") is no echo.
    """
    return echo_runs(text, labels.mentions(text), nor=labels.negation == "none")


def echo_runs(text: str, mentions: Sequence[Mention], nor: bool = True) -> list[LabelEcho]:
    """The listed runs among ``mentions`` (label mentions of ``text``, in order), by the rules of
    :func:`find_label_echoes`; for parsers whose labels are not found by a :class:`LabelSet` (ratings).

    ``nor``: whether "nor" joins a list ("neither A nor B"); a negation-aware label set reads "neither good
    nor bad" as two negated labels instead.
    """
    echoes: list[LabelEcho] = []
    run: list[Mention] = []
    for mention in [*mentions, None]:
        if mention is not None and run and _joined(text[run[-1].end : mention.start], nor):
            run.append(mention)
            continue
        echo = _echo_of(text, run)
        if echo is not None:
            echoes.append(echo)
        run = [mention] if mention is not None else []
    return echoes


def _joined(gap: str, nor: bool) -> bool:
    if not gap or _ECHO_GAP.fullmatch(gap) is None:
        return False
    return _ANY_JOINER.search(gap if nor else re.sub(r"\bnor\b", " ", gap, flags=re.IGNORECASE)) is not None


def _echo_of(text: str, run: Sequence[Mention]) -> LabelEcho | None:
    """The run as an echo, or None: it needs two different labels, and a strong joiner or a clean end."""
    labels = tuple(dict.fromkeys(mention.label for mention in run))
    if len(labels) < 2:
        return None
    gaps = [text[a.end : b.start] for a, b in pairwise(run)]
    if not any(_STRONG_JOINER.search(gap) for gap in gaps) and not _LIST_END.match(text, run[-1].end):
        return None
    return LabelEcho(run[0].start, run[-1].end, labels)


def strip_label_echoes(text: str, labels: LabelSet) -> tuple[str, list[LabelEcho]]:
    """``text`` with every label echo blanked out (same length, so offsets still hold), and the echoes."""
    echoes = find_label_echoes(text, labels)
    for echo in echoes:
        text = text[: echo.start] + " " * (echo.end - echo.start) + text[echo.end :]
    return text, echoes


@dataclass(frozen=True)
class Votes:
    """The labels a text votes for (one per counted mention, in order) and how many mentions were
    negated away (``dropped``)."""

    labels: tuple[str, ...]
    dropped: int = 0


def label_votes(text: str, labels: LabelSet) -> Votes:
    """One vote per label mention; a negated mention counts per ``labels.negation`` (flipped, dropped or kept)."""
    votes: list[str] = []
    dropped = 0
    for mention in labels.mentions(text):
        label = mention.label
        if labels.negation != "none" and labels.is_negated(text, mention):
            if labels.negation == "drop":
                dropped += 1
                continue
            label = labels.other(label)
        votes.append(label)
    return Votes(tuple(votes), dropped)


def decide(votes: Votes, echoed: bool = False) -> Parsed[str]:
    """The label all ``votes`` agree on; else invalid: :data:`INVALID_AMBIGUOUS` (different labels),
    :data:`INVALID_LABEL_ECHO` (none, and the text echoed a list), :data:`INVALID_NEGATED` (none, and a
    mention was negated away) or :data:`INVALID_NO_LABEL`."""
    distinct = set(votes.labels)
    if len(distinct) == 1:
        return committed(votes.labels[0])
    if distinct:
        return invalid(INVALID_AMBIGUOUS)
    if echoed:
        return invalid(INVALID_LABEL_ECHO)
    return invalid(INVALID_NEGATED if votes.dropped else INVALID_NO_LABEL)


_EXPLICIT_LINE = re.compile(
    r"\b(?:final\s+)?(?:answer|label|sentiment|prediction|classification)\b\s*"
    r"(?:(?:is|would\s+be|should\s+be)\b\s*[:：]?|[:：])(.*)",
    re.IGNORECASE,
)
"""An explicit answer line: "Answer: yes", "The sentiment is negative", "Final answer: no"."""


def parse_label(text: str | None, labels: LabelSet) -> Parsed[str]:
    """The one label (as written in ``labels.labels``) an answer commits to.

    Label echoes are removed first (:func:`strip_label_echoes`). Then:

    1. the first explicit answer line ("Answer: …", "The answer is …", "Sentiment: …") that names a
       label: its label, if all its mentions agree, else invalid;
    2. when the answer starts with a label, the mentions in its first clause, if they agree
       ("Yes, the sentence answers it." is yes);
    3. all mentions in the answer, if they agree (one label, possibly repeated).

    Otherwise invalid, with the reason (:func:`decide`).
    """
    reason = response_reason(text)
    if reason:
        return invalid(reason)
    stripped, echoes = strip_label_echoes(clean(text or ""), labels)
    for line in _EXPLICIT_LINE.finditer(stripped):
        votes = label_votes(line.group(1).split("\n", 1)[0], labels)
        if votes.labels:
            return decide(votes)
    if re.match(OPENERS + labels.word, stripped, flags=re.IGNORECASE if labels.ignore_case else 0):
        decided = decide(label_votes(first_clause(stripped.lstrip(" \t\n(\"'[“‘")), labels))
        if decided.valid:
            return decided
    return decide(label_votes(stripped, labels), echoed=bool(echoes))


# --------------------------------------------------------------------------- option numbers


def _number_set(valid: Collection[int] | None) -> LabelSet:
    numbers = sorted({str(number) for number in valid}) if valid is not None else []
    if numbers:
        return LabelSet(tuple(numbers))
    return LabelSet(("number",), forms=(("number", r"\d+"),))


def _in_range(number: int, valid: Collection[int] | None) -> Parsed[int]:
    return committed(number) if valid is None or number in valid else invalid(INVALID_OUTSIDE_OPTIONS)


def parse_option_number(text: str | None, valid: Collection[int] | None = None) -> Parsed[int]:
    """The option number an answer commits to, as written (not shifted to any base).

    Echoed lists of option numbers ("1, 2 or 3") are removed first. Then:

    1. The first explicit "Answer: n" / "answer is n" (also "Answer: [n]", "Answer: option n").
       A number outside ``valid`` there is :data:`INVALID_OUTSIDE_OPTIONS`: there is no fallback
       to another number, so an echoed question number or year never wins.
    2. The whole answer is one number ("2", "(2)", "2.").
    3. The answer starts with a number followed by ":", ".", ")" or a space ("1: are on fire").

    Anything else (e.g. the first integer somewhere in a sentence) is invalid.
    """
    reason = response_reason(text)
    if reason:
        return invalid(reason)
    stripped, echoes = strip_label_echoes(clean(text or ""), _number_set(valid))
    explicit = re.search(ANSWER_LEAD + OPENERS + r"(?:option\s*)?" + NUMBER, stripped, flags=re.IGNORECASE)
    if explicit:
        return _in_range(int(explicit.group(1)), valid)
    whole = re.fullmatch(OPENERS + r"(?:option\s*)?" + NUMBER + r"[\s)\]\"'”’.:]*", stripped, flags=re.IGNORECASE)
    if whole:
        return _in_range(int(whole.group(1)), valid)
    first = re.match(OPENERS + r"(?:option\s*)?" + NUMBER + r"(?=[.):\]]|\s)", stripped, flags=re.IGNORECASE)
    if first:
        return _in_range(int(first.group(1)), valid)
    return invalid(INVALID_LABEL_ECHO if echoes else INVALID_NO_LABEL)


# --------------------------------------------------------------------------- option letters

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_BEFORE = r"(?<![\w/&'’-])"
_AFTER = r"(?![\w/&'’-])"
"""A letter stands alone: not inside a word, a contraction or a fraction ("N/A" is not A)."""

_CONNECTIVES = frozenset(
    {"because", "since", "as", "is", "was", "would", "will", "seems", "sounds", "for", "so", "therefore", "-", "–", "—"}
)
"""Words that may follow a committed letter: "A because ...", "A is the right choice". Any other word after
"A" makes it the article ("A person would ...")."""

_ARTICLE_LETTERS = frozenset({"A", "I"})

_JOIN = r"[)\]\"'”’]?\s*(?:or|nor|and|/|,)\s*(?:or\s+|and\s+)?(?:option\s+)?[(\[\"'“‘]?"
_ALTERNATIVE_AFTER = re.compile(_JOIN + r"([A-Z])(?![\w'’-])", re.IGNORECASE)
_ALTERNATIVE_BEFORE = re.compile(r"(?<![\w'’-])([A-Z])" + _JOIN + "$", re.IGNORECASE)

_LETTER_PHRASES = (
    r"(?i:\b(?:answer|option|choice|category|band)\s+(?:is|would\s+be|will\s+be|should\s+be|must\s+be)\s*[:：]?)\s*"
    + OPENERS
    + r"(?:(?i:option)\s+)?([A-Z])",
    r"(?i:\b(?:option|category|band)\s+)([A-Z])",
    r"(?i:\b(?:choose|chose|pick|picked|select|selected|prefer|go\s+with|opt\s+for)\s+)(?:(?i:option)\s+)?([A-Z])",
)
"""Phrases that name a chosen letter: "the answer is C", "option B", "category C", "I choose A", "I prefer B"."""


def letter_set(letters: Collection[str]) -> LabelSet:
    """The option letters as a case-sensitive label set (a lower-case "a" is an article, not an option)."""
    return LabelSet(tuple(sorted({letter.upper() for letter in letters})), ignore_case=False)


_CONTEXT = 80
"""How much text around a letter decides whether it is committed (joins and the next word are short)."""


def _committed_at(text: str, start: int, end: int, valid: Collection[str]) -> bool:
    """:func:`committed_letter` for the letter ``text[start]`` whose match ends at ``end``, judged on the
    bounded text around it (so scanning every letter of a long answer stays linear)."""
    after = text[end : end + _CONTEXT]
    return committed_letter(text[start], after, valid, text[max(0, start - _CONTEXT) : start])


def committed_letter(letter: str, after: str, valid: Collection[str], before: str = "") -> bool:
    """Whether ``letter``, between ``before`` and ``after``, is an option letter the answer commits to.

    Capital letters among ``valid`` only. "A" and "I" followed by a word are the article / pronoun unless
    the word is a connective ("A because ..."). A letter joined to another option letter by "or", "nor",
    "and", "/" or a comma is an alternative ("A or B", "A, B or C", "option A or option B"), not a commitment.
    """
    if letter not in valid:
        return False
    for joined in (_ALTERNATIVE_AFTER.match(after), _ALTERNATIVE_BEFORE.search(before)):
        if joined and joined.group(1) in valid:
            return False
    if re.match(r"[\w/&'’-]", after):  # part of a longer word or a fraction ("Alpha", "A's", "A/B")
        return False
    word = re.match(r"[ \t]+([A-Za-z]+|[-–—])", after)
    if word is None:  # end, newline or punctuation
        return True
    return letter not in _ARTICLE_LETTERS or word.group(1).lower() in _CONNECTIVES


def listed_letters(text: str) -> set[str]:
    """Capital letters that start a line followed by "." / ")" / ":" — an answer that lists options."""
    return set(re.findall(r"^[ \t]*[(\[]?([A-Z])[.):\]]", text, flags=re.MULTILINE))


_MARKER = re.compile(_BEFORE + r"\(?([A-Z])[.):](?=\s)|\(([A-Z])\)(?=\s+\S)")


def marked_letters(text: str) -> set[str]:
    """Capital letters written as option markers anywhere: "B. ...", "B) ...", "(B) ..."."""
    return {m.group(1) or m.group(2) for m in _MARKER.finditer(text)}


def lists_options(text: str, valid: Collection[str]) -> bool:
    """True when ``text`` lays out two or more of the options as a list: at line starts ("A. x\\nB. y"), or
    inline as markers of consecutive letters in order with option text between them ("A) x B) y"; not the
    initials of "D. Yes, A. A. Milne" or "A. J. B. Rhine")."""
    if len(listed_letters(text) & set(valid)) >= 2:
        return True
    markers = [(m.group(1) or m.group(2), m) for m in _MARKER.finditer(text) if (m.group(1) or m.group(2)) in valid]
    return any(
        ord(b) == ord(a) + 1 and re.search(r"[A-Za-z]{2}", text[first.end() : second.start()])
        for (a, first), (b, second) in pairwise(markers)
    )


def _normal(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("’", "'")))


def option_text_letters(text: str, options: Mapping[str, str]) -> set[str]:
    """The letters whose option text appears in ``text`` (case, spacing and punctuation ignored)."""
    answer = f" {_normal(text)} "
    return {letter for letter, option in options.items() if _normal(option) and f" {_normal(option)} " in answer}


def parse_option_letter(
    text: str | None, letters: Collection[str] = ("A", "B", "C", "D"), options: Mapping[str, str] | None = None
) -> Parsed[str]:
    """The option letter (upper case, one of ``letters``) an answer commits to.

    Echoed lists of letters ("A or B", '"A", "B" or "C"', "A/B") are removed first. Then:

    1. The first "Answer: X" (also "Your answer: X", "My choice is X", "category: X"): a letter alone there
       that is not an option is :data:`INVALID_OUTSIDE_OPTIONS`; a committed letter counts ("Answer: B
       because ..."); "Answer: A person ..." (the article) goes on to the next rules.
    2. The whole answer is one letter: "A", "a", "B.", "(B)", "**A**", "Option B" (another letter is outside
       the options).
    3. The answer starts with a committed capital letter whose first sentence names, and whose first line
       marks, no other option: "A. I swim out ...", "B) ...", "A - ...", "A because ...". Not "A person
       would ..." (the article), not "A or B", and not when the answer lists two or more options (an echo).
    4. Phrases anywhere — "the answer is B", "option A", "category C", "I would choose B", "I prefer A" —
       naming exactly one option.
    5. Exactly one option letter in parentheses or double quotes anywhere: "... so (B)", 'category "C,"'.
    6. Exactly one option's text (``options``: letter → text) in the answer, case-insensitive.
    7. Unless the answer lists options, the first standalone committed capital option letter anywhere
       ("I think B is right", "... so B.").

    A letter is never read inside a word or a fraction ("N/A" is not A); a lower-case "a" only counts alone.
    """
    reason = response_reason(text)
    if reason:
        return invalid(reason)
    valid = sorted({letter.upper() for letter in letters})
    cleaned, echoes = strip_label_echoes(clean(text or ""), letter_set(valid))
    decided = _explicit_letter(cleaned, valid)
    if decided is None:
        decided = _whole_letter(cleaned, valid)
    listing = lists_options(cleaned, valid)
    if decided is None and not listing:
        decided = _leading_letter(cleaned, valid)
    if decided is None:
        decided = _letter_anywhere(cleaned, valid, options, listing)
    if decided is not None and (decided.valid or not listing):
        return decided
    if echoes or listing:
        return invalid(INVALID_LABEL_ECHO)
    return invalid(INVALID_OUTSIDE_OPTIONS if _named_outside(cleaned, valid) else INVALID_NO_LABEL)


def _explicit_letter(text: str, valid: Sequence[str]) -> Parsed[str] | None:
    """Rule 1: the letter after the first "Answer:" field; None when it decides nothing."""
    explicit = re.search(
        rf"\b{ANSWER_KEYS}\s*(?:is|would\s+be|will\s+be|should\s+be|must\s+be)?\s*[:：]?\s*{OPENERS}"
        rf"(?:option\s+)?{_BEFORE}([A-Za-z]){_AFTER}",
        text,
        flags=re.IGNORECASE,
    )
    if not explicit:
        return None
    letter, after = explicit.group(1), text[explicit.end() :]
    if re.match(r"[\s)\]\"'”’.:,;!]*(?:\n|$)", after):
        return committed(letter.upper()) if letter.upper() in valid else invalid(INVALID_OUTSIDE_OPTIONS)
    if committed_letter(letter, after.lstrip("\"'”’"), valid):
        return committed(letter)
    return None


def _whole_letter(text: str, valid: Sequence[str]) -> Parsed[str] | None:
    """Rule 2: the whole answer is one letter."""
    whole = re.fullmatch(OPENERS + r"(?:option\s+)?([A-Za-z])[\s)\]\"'”’.:!]*", text, flags=re.IGNORECASE)
    if not whole:
        return None
    letter = whole.group(1).upper()
    return committed(letter) if letter in valid else invalid(INVALID_OUTSIDE_OPTIONS)


def _leading_letter(text: str, valid: Sequence[str]) -> Parsed[str] | None:
    """Rule 3: the answer starts with a committed letter and names no other option in its first sentence/line."""
    first = re.match(OPENERS + r"(?:(?i:option|choice)\s+)?([A-Z])", text)
    if not first or not committed_letter(first.group(1), text[first.end() :].lstrip("\"'”’"), valid):
        return None
    rest = text[first.end() :]
    others = set(re.findall(_BEFORE + r"([A-Z])" + _AFTER, first_sentence(rest)))
    if (others & set(valid)) - {first.group(1)} or lists_options(text.split("\n", 1)[0], valid):
        return None
    return committed(first.group(1))


def _one_of(found: set[str]) -> Parsed[str] | None:
    if not found:
        return None
    return committed(next(iter(found))) if len(found) == 1 else invalid(INVALID_AMBIGUOUS)


def _letter_anywhere(
    text: str, valid: Sequence[str], options: Mapping[str, str] | None, listing: bool
) -> Parsed[str] | None:
    """Rules 4–7 of :func:`parse_option_letter`."""
    phrased = {
        m.group(1)
        for pattern in _LETTER_PHRASES
        for m in re.finditer(pattern + _AFTER, text)
        if _committed_at(text, m.start(1), m.end(), valid)
        and not (listing and re.match(r"[.):]\s", text[m.end() : m.end() + 2]))  # "... to choose B. x" lists
    }
    marked = {m.group(1) or m.group(2) for m in re.finditer(r"\(([A-Z])\)|[\"“]([A-Z])[.,]?[\"”]", text)}
    for found in (phrased, marked & set(valid), option_text_letters(text, options or {})):
        decided = _one_of(found)
        if decided is not None:
            return decided
    if listing:
        return None
    for match in re.finditer(_BEFORE + r"([A-Z])(?![\w/&'’)\]:-])", text):
        if _committed_at(text, match.start(1), match.end(), valid):
            return committed(match.group(1))
    return None


def _named_outside(text: str, valid: Sequence[str]) -> bool:
    """True when the answer names a letter that is not an option in a choosing phrase ("I choose E")."""
    return any(
        match.group(1) not in valid
        and committed_letter(match.group(1), text[match.end() : match.end() + _CONTEXT], LETTERS)
        for pattern in _LETTER_PHRASES
        for match in re.finditer(pattern + _AFTER, text)
    )
