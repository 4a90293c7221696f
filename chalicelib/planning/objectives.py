"""Learning objectives for the offline planner: what a chapter teaches (topics, key concepts and
their formulas) turned into objectives whose verb and shape vary within a Bloom level.
Deterministic: a variant is chosen by what the course has used so far and a stable hash of its
text, never at random."""

from __future__ import annotations

import itertools
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from chalicelib.core import checks
from chalicelib.core.models import ChapterHit
from chalicelib.planning.wording import Vocabulary, first_upper, is_plural_word, lower_inside

OBJECTIVE_LIMIT = 120  # characters


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_MEASURES = _set(
    "value rate ratio cost premium return profit flow margin beta spread growth multiple price yield "
    "score probability duration error variance interval expenditure capital count weight shield "
    "tax percentage latency throughput deviation mean median income earnings cash debt output power "
    "size level length volume balance capacity revenue sale expense budget loss gain drawdown "
    "volatility correlation coefficient statistic premia"
)
_METHODS = _set(
    "model method formula equation theorem framework approach technique test simulation analysis "
    "algorithm pattern rule principle law process build check table chart matrix map procedure "
    "strategy design protocol regression optimization encoding scaling descent mapping worksheet"
)
_WITH_THE = _set(
    "model method formula equation theorem framework approach technique rule principle law pattern "
    "algorithm process build check matrix map procedure protocol cap ratio rate premium spread cost "
    "multiple price curve line index period path horizon table chart"
)
_ADJECTIVES_IN_ING = _set(
    "operating training missing ranking running existing leading remaining growing declining emerging "
    "underlying pricing funding marketing processing learning accounting trading lending spending "
    "working building recurring moving rolling"
)
_PREPOSITIONS = _set(
    "of on to for in with from as at by under over versus vs through without across between into about "
    "after before per within beyond toward towards"
)


def chapter_subjects(hit: ChapterHit) -> tuple[list[str], list[str], dict[str, str]]:
    """The chapter's topics, its key concepts that no topic already names (a formula reads as
    its name: "TV = ..." -> "TV formula"), and the formula a key concept gives a topic or itself."""
    topics = _dedupe(hit.topics)
    concepts: list[str] = []
    formulas: dict[str, str] = {}
    for raw in hit.key_concepts:
        label, formula = _concept_parts(raw)
        tokens = checks.title_tokens(label)
        same = next((x for x in [*topics, *concepts] if _same_subject(tokens, checks.title_tokens(x))), None)
        if same is None and label:
            concepts.append(label)
        if formula and (same or label):
            formulas.setdefault(same or label, formula)
    return topics, concepts, formulas


def _same_subject(a: frozenset[str], b: frozenset[str]) -> bool:
    """One names the other ("exit multiple" and "exit multiple method")."""
    return a == b or bool(a and b and (a <= b or b <= a))


def _concept_parts(concept: str) -> tuple[str, str]:
    """ "TV = FCFF / (WACC - g)" -> ("TV formula", the formula); "CAPM: r_e = ..." -> ("CAPM",
    "r_e = ..."); anything else is its own name."""
    text = " ".join(concept.split())
    if ":" in text:
        label, rest = (x.strip() for x in text.split(":", 1))
        return label, rest if re.search(r"[=<>]", rest) else ""
    if "=" in text:
        return f"{text.split('=', 1)[0].strip()} formula".strip(), text
    return text, ""


def _dedupe(items: Sequence[str]) -> list[str]:
    seen: set[frozenset[str]] = set()
    out = []
    for item in items:
        tokens = checks.title_tokens(item)
        if item.strip() and tokens not in seen:
            seen.add(tokens)
            out.append(" ".join(item.split()))
    return out


@dataclass(frozen=True)
class Term:
    """Something a section teaches, worded to sit in the middle of a sentence."""

    text: str  # "Gordon growth model", "economic profit", "growth versus returns"
    kind: str  # contrast | formula | method | measure | activity | other
    article: str = ""  # "the " when the phrase reads with one
    plural: bool = False
    formula: str = ""  # "TV = FCFF(n+1) / (WACC - g)"
    goal: str = ""  # what the chapter computes, when it computes something: "the cost of equity"
    context: str = ""  # what it is part of: "DCF valuation"
    chapter: str = ""  # the chapter's key, to find its sibling methods

    @property
    def phrase(self) -> str:
        return self.article + self.text


def make_term(
    label: str, formula: str, chapter: str, name: str, context: str, vocabulary: Vocabulary
) -> Term:
    """The term for one topic or key concept of the chapter `chapter` (short name `name`)."""
    text = lower_inside(label, vocabulary) if label[:1].isupper() else label
    goal_text = lower_inside(name, vocabulary)
    computes = _kind(goal_text) == "measure" and not goal_text.split()[0].endswith("ing")
    goal = _article(goal_text) + goal_text if computes else ""
    term = Term(text, _kind(text), _article(text), _is_plural(text), "", goal, context, chapter)
    return replace(term, kind="formula", formula=lower_inside(formula, vocabulary)) if formula else term


def _head(text: str) -> str:
    words = [w.strip("().,;'").lower() for w in text.split()]
    cut = next((i for i, w in enumerate(words) if i and w in _PREPOSITIONS), len(words))
    return words[cut - 1] if cut else ""


def _is_plural(text: str) -> bool:
    return is_plural_word(_head(text))


def _singulars(word: str) -> set[str]:
    """ "betas" -> {"betas", "beta"}; "taxes" -> {"taxes", "taxe", "tax"}."""
    return {word, word[:-1], word[:-2]} if _is_plural(word) else {word}


def _kind(text: str) -> str:
    if re.search(r"\s(?:versus|vs\.?)\s", text):
        return "contrast"
    heads = _singulars(_head(text))
    if heads & _MEASURES:
        return "measure"
    if heads & _METHODS:
        return "method"
    words = text.split()
    if (
        len(words) > 1
        and words[0].endswith("ing")
        and words[0].islower()
        and words[0] not in _ADJECTIVES_IN_ING
    ):
        return "activity"  # "selecting comparables"
    return "other"


def _article(text: str) -> str:
    words = text.split()
    if not words or _is_plural(text) or "'" in words[0] or words[0].lower() in ("a", "an", "the"):
        return ""
    if len(words) == 1 and not words[0].islower():
        return ""  # an acronym or a name: "ROIC", "Raft"
    return "the " if _head(text) in _WITH_THE else ""


# Objective shapes per kind and Bloom level; each begins with a verb of its level (a unit test
# checks this). {x}: the term with its article; {s}/{be}: agreement with it; {a}/{b}: the sides of a
# contrast; {f}: a formula; {lhs}/{rhs}: its two sides; {name}: a formula's name when it does not
# say what it computes ("CAPM: r_e = ..."); {goal}: what the chapter computes;
# {ctx}: the course's subject; {other}: a sibling method. A shape whose field is empty is skipped.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "contrast": {
        "remember": ("Identify what separates {a} from {b}", "State the key difference between {a} and {b}",
                     "Recognize when a case calls for {a} or {b}"),
        "understand": ("Explain how {a} differs from {b}", "Describe when {a} is preferred to {b}",
                       "Illustrate the difference between {a} and {b} with an example"),
        "apply": ("Demonstrate the difference between {a} and {b} on a worked example",
                  "Use the distinction between {a} and {b} in a short case",
                  "Practice choosing between {a} and {b} in realistic cases"),
        "analyze": ("Compare {a} with {b}", "Distinguish {a} from {b} in {ctx}",
                    "Contrast {a} and {b} and what each implies"),
        "evaluate": ("Assess the trade-offs between {a} and {b}", "Judge when {a} should win over {b}",
                     "Recommend {a} or {b} for a given situation"),
        "create": ("Design a rule of thumb for choosing {a} or {b}",
                   "Develop a checklist that settles {a} versus {b}",
                   "Propose a test that tells {a} from {b}"),
    },
    "formula": {
        "remember": ("State the formula {f}", "Recall what each term in {f} stands for",
                     "Identify the inputs of {f}"),
        "understand": ("Explain each term of {f}", "Interpret the formula {f}",
                       "Describe in words what {f} says"),
        "apply": ("Calculate {lhs} as {rhs}", "Estimate {goal} with {name} ({f})",
                  "Apply {f} to a worked example", "Use {f} on realistic inputs"),
        "analyze": ("Examine how each input of {f} moves the result",
                    "Analyze which input of {f} matters most",
                    "Investigate what {f} assumes about its inputs"),
        "evaluate": ("Assess the assumptions behind {f}", "Critique the inputs typically fed into {f}",
                     "Judge when {f} gives a misleading answer"),
        "create": ("Build a worksheet that computes {f}", "Design a model around {f}",
                   "Develop a reusable calculation of {f}"),
    },
    "method": {
        "remember": ("Identify the inputs of {x}", "State what {x} assume{s}", "Recall the steps of {x}"),
        "understand": ("Explain how {x} work{s}", "Describe the logic behind {x}",
                       "Summarize when to use {x}"),
        "apply": ("Use {x} to estimate {goal}", "Apply {x} to a worked example",
                  "Demonstrate {x} step by step", "Practice {x} on a short case"),
        "analyze": ("Compare {x} with {other} for {goal}", "Compare {x} with {other}",
                    "Examine the assumptions behind {x}", "Analyze where {x} break{s} down"),
        "evaluate": ("Evaluate the limits of {x}", "Assess when {x} {be} the right tool",
                     "Critique a real-world use of {x}"),
        "create": ("Design an analysis built on {x}", "Build a small model that uses {x}",
                   "Develop a variant of {x} for a new case"),
    },
    "measure": {
        "remember": ("Define {x}", "Identify the drivers of {x}", "Recall how {x} {be} measured"),
        "understand": ("Explain what drives {x}", "Describe how {x} {be} estimated",
                       "Explain why {x} matter{s} in {ctx}"),
        "apply": ("Calculate {x} for a worked example", "Estimate {x} from realistic inputs",
                  "Compute {x} step by step"),
        "analyze": ("Examine how {x} feed{s} into {goal}", "Analyze what drives {x}",
                    "Differentiate the factors that move {x}"),
        "evaluate": ("Evaluate how sensitive the result is to {x}",
                     "Assess whether an estimate of {x} is reasonable",
                     "Judge which inputs to {x} deserve the most scrutiny"),
        "create": ("Develop a defensible estimate of {x}", "Build a model that estimates {x}",
                   "Design a sanity check for {x}"),
    },
    "activity": {
        "remember": ("List the steps in {x}", "Identify common mistakes in {x}",
                     "Recall the rules of thumb for {x}"),
        "understand": ("Explain the purpose of {x}", "Describe good practice in {x}",
                       "Illustrate {x} with an example"),
        "apply": ("Practice {x} on a realistic case", "Demonstrate {x} step by step",
                  "Use a checklist for {x} on a worked case"),
        "analyze": ("Examine common mistakes in {x}", "Analyze what makes {x} work",
                    "Investigate how experts approach {x}"),
        "evaluate": ("Assess the quality of {x} in a worked case", "Critique an example of {x}",
                     "Evaluate two approaches to {x}"),
        "create": ("Develop a checklist for {x}", "Design a practice routine for {x}",
                   "Plan an approach to {x} for a new case"),
    },
    "other": {
        "remember": ("Define {x}", "Identify the key features of {x}", "Recognize {x} in a worked example"),
        "understand": ("Explain the role of {x} in {ctx}", "Summarize the key ideas behind {x}",
                       "Illustrate {x} with an example", "Discuss why {x} matter{s} in {ctx}"),
        "apply": ("Apply the idea of {x} to a realistic case", "Use {x} to reason through a short case",
                  "Demonstrate {x} on a worked example"),
        "analyze": ("Analyze the role of {x} in {ctx}", "Examine the assumptions behind {x}",
                    "Differentiate the situations that call for {x}",
                    "Investigate the trade-offs that come with {x}",
                    "Distinguish good from poor uses of {x}"),
        "evaluate": ("Evaluate the strengths and limits of {x}", "Justify key choices about {x}",
                     "Critique a real-world use of {x}"),
        "create": ("Design an approach that uses {x}", "Develop a plan for applying {x}",
                   "Construct a worked example around {x}"),
    },
}  # fmt: skip
# The first objective of a section that revisits a topic from an angle names that angle.
ANGLE_VERBS: dict[str, tuple[str, ...]] = {
    "remember": ("Identify", "Recall", "Recognize"),
    "understand": ("Explain", "Describe", "Illustrate"),
    "apply": ("Apply", "Practice", "Use"),
    "analyze": ("Analyze", "Examine", "Investigate"),
    "evaluate": ("Evaluate", "Assess", "Critique"),
    "create": ("Design a solution around", "Build an exercise around", "Develop a plan around"),
}
_FIELD = re.compile(r"{(\w+)}")
_SPECIFIC = frozenset({"goal", "other", "rhs", "f"})  # fields that make a shape specific to its term


def _fields(term: Term, siblings: Sequence[Term]) -> dict[str, str]:
    sides = re.split(r"\s+(?:versus|vs\.?)\s+", term.text, maxsplit=1)
    lhs, _, rhs = term.formula.partition(" = ")
    if "=" in rhs or not checks.title_tokens(lhs) <= checks.title_tokens(term.text):
        lhs = rhs = ""  # "CAPM: r_e = ...": the formula does not compute the term itself
    methods = [t for t in siblings if t.kind == "method" and t.chapter == term.chapter and t != term]
    overlap = checks.title_tokens(term.goal) & checks.title_tokens(term.text)
    echo = checks.title_tokens(term.context) & checks.title_tokens(term.text)  # "negotiation in negotiation"
    return {
        "x": term.phrase,
        "s": "" if term.plural else "s",
        "be": "are" if term.plural else "is",
        "a": sides[0] if len(sides) == 2 else "",
        "b": sides[1] if len(sides) == 2 else "",
        "f": term.formula,
        "lhs": lhs.strip(),
        "rhs": rhs.strip(),
        "goal": term.goal if term.goal and not overlap else "",
        "name": term.phrase if term.formula and not lhs else "",
        "ctx": "" if echo else term.context,
        "other": methods[0].phrase if methods else "",
    }


# Which kinds of term make the most specific objective at each level, best first.
_FIT = {
    "remember": ("other", "measure", "method", "activity", "contrast", "formula"),
    "understand": ("contrast", "formula", "measure", "other", "method", "activity"),
    "apply": ("formula", "measure", "method", "activity", "other", "contrast"),
    "analyze": ("contrast", "method", "measure", "formula", "other", "activity"),
    "evaluate": ("method", "measure", "contrast", "formula", "activity", "other"),
    "create": ("method", "formula", "measure", "activity", "other", "contrast"),
}


def _assign(levels: Sequence[str], terms: Sequence[Term]) -> list[Term]:
    """A term per level: the section's first term leads; then, while terms remain unused, the
    one that suits the level best, preferring a chapter the section has not drawn on yet."""
    chosen: list[Term] = []
    unused = list(range(len(terms)))
    for i, level in enumerate(levels):
        if not unused:
            chosen.append(terms[i % len(terms)])
            continue
        chapters = Counter(t.chapter for t in chosen)
        fit = _FIT[level]
        if i == 0:
            pick = unused[0]
        else:
            pick = min(unused, key=lambda k: (chapters[terms[k].chapter], fit.index(terms[k].kind), k))
        unused.remove(pick)
        chosen.append(terms[pick])
    return chosen


class ObjectiveWriter:
    """Writes a course's objectives: none repeated, verbs and openings spread across the course."""

    def __init__(self, earlier: Iterable[str] = ()) -> None:
        self.used: set[str] = set()
        self.verbs: Counter[str] = Counter()
        self.openings: Counter[str] = Counter()
        self.commit(list(earlier))

    def commit(self, lines: Sequence[str]) -> None:
        """Record objectives that made it into the outline."""
        for line in lines:
            words = line.lower().split()
            self.used.add(" ".join(words))
            self.verbs[words[0] if words else ""] += 1
            self.openings[" ".join(words[:2])] += 1

    def draft(self, levels: Sequence[str], terms: Sequence[Term], angle: str = "") -> list[str]:
        """One objective per level; `angle` ("through a worked example") shapes the first. Nothing
        is recorded until `commit`."""
        trial = ObjectiveWriter()
        trial.used, trial.verbs, trial.openings = set(self.used), Counter(self.verbs), Counter(self.openings)
        lines: list[str] = []
        for i, (level, term) in enumerate(zip(levels, _assign(levels, terms), strict=True)):
            line = trial._write(level, term, terms, angle if i == 0 else "")
            trial.commit([line])
            lines.append(line)
        return lines

    def _write(self, level: str, term: Term, siblings: Sequence[Term], angle: str) -> str:
        fields = _fields(term, siblings)
        if angle:
            shapes = tuple(f"{verb} {{x}} {angle}" for verb in ANGLE_VERBS[level])
        else:
            shapes = TEMPLATES[term.kind][level] + (TEMPLATES["other"][level] if term.kind != "other" else ())
        options = []
        for rank, shape in enumerate(shapes):
            names = set(_FIELD.findall(shape))
            if all(fields[n] for n in names if n != "s"):
                line = first_upper(shape.format_map(fields))
                fallback = rank >= len(TEMPLATES[term.kind][level]) and not angle
                options.append((line, len(names & _SPECIFIC), fallback))
        return self._choose(
            options or [(f"{ANGLE_VERBS[level][0]} the main ideas of this section", 0, False)]
        )

    def _choose(self, options: list[tuple[str, int, bool]]) -> str:
        def score(option: tuple[str, int, bool]) -> tuple[bool, bool, int, int]:
            line, specific, fallback = option
            words = line.lower().split()
            crowd = self.verbs[words[0]] + self.openings[" ".join(words[:2])] - specific
            return (len(line) > OBJECTIVE_LIMIT, fallback, crowd, zlib.crc32(line.encode()))

        ranked = sorted(options, key=score)
        for line, *_ in ranked:
            if " ".join(line.lower().split()) not in self.used:
                return line
        base = ranked[0][0]  # every shape is taken: number the exercise so it stays unique
        return next(
            f"{base} (exercise {n})"
            for n in itertools.count(2)
            if f"{base} (exercise {n})".lower() not in self.used
        )
