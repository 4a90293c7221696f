"""Learning objectives for the offline planner, written from what a chapter teaches: its topics
(section titles, recased to read mid-sentence) and key concepts (glossary terms), with a verb of
the Bloom level the depth asks for; quantitative verbs only for chapters that compute something.
Deterministic: a wording is chosen by what the course has used so far and a stable hash."""

from __future__ import annotations

import functools
import itertools
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..core import checks
from ..core.models import ChapterHit
from .wording import Vocabulary, concept_case, first_upper, is_plural_word, sentence_case

OBJECTIVE_LIMIT = 120  # characters
APOSTROPHES = "'\u2019"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Signs that a chapter works with formulas or numbers; two distinct ones make it quantitative.
_QUANTITATIVE_SIGNS = re.compile(
    r"=|\bequations?\b|\bformulas?\b|\bcalculat\w*|\bcomput\w*|\bmathemat\w*|\bquantitative\b|"
    r"\bnumerical\b|\bderivatives?\b|\bintegrals?\b|\bantiderivatives?\b|\bmolarity\b|\bmolar\b|"
    r"\bmoles?\b|\bstoichiometr\w*|\bpH\b|\bbreak-even\b|\bpercentages?\b|\bratios?\b|\bslopes?\b|"
    r"\bprobabilit\w*|\blogarithm\w*|\btrigonometric\b|\bradians?\b|\bgraphs?\b|\brate laws?\b|"
    r"\bconstants?\b|\bcoefficients?\b|\bvariances?\b|\bregression\b|\bdiscount\w*|\byields?\b|"
    r"\bmargins?\b|\bcash flows?\b",
    re.IGNORECASE,
)
# Head words of things one calculates ("equilibrium constants", "the cost of equity").
_QUANTITIES = _words(
    "value rate ratio cost premium return profit margin beta spread growth multiple price yield "
    "probability variance interval mass volume pressure energy enthalpy entropy concentration ph "
    "constant derivative integral limit area slope length distance velocity speed acceleration "
    "work force charge potential percentage mean median deviation revenue expense income point "
    "molarity weight capacity temperature heat output sum series flow"
)
_CALCULATIONS = _words("calculation calculations computation computations")
_ADJECTIVES_IN_ING = _words(
    "operating training missing ranking running existing leading remaining growing declining emerging "
    "underlying pricing funding marketing processing learning accounting trading lending spending "
    "working building recurring moving rolling living binding"
)
_MASS_NOUNS = _words(
    "mass energy matter equilibrium speculation evidence information knowledge research data "
    "inflation unemployment immunity respiration inheritance transcription translation replication "
    "segregation discrimination stratification socialization migration"
)
_INSTITUTIONS = _words(
    "army corps authority trust memorandum administration act plan court movement company bowl deal "
    "depression war revolution party union commission bureau board program system amendment doctrine "
    "treaty association congress council agency bank conference statement declaration proclamation "
    "compromise crisis affair"
)
_PREPOSITIONS = _words(
    "of on to for in with from as at by under over versus vs through without across between into "
    "about after before per within beyond toward towards"
)
# Section titles that name no subject of their own.
_GENERIC_TOPICS = _words(
    "introduction summary key terms review questions exercises chapter review conclusion "
    "overview critical thinking questions"
)
_LEAD_IN = re.compile(r"^(?:an?\s+)?(?:review|preview|overview|introduction)\s+(?:of|to)\s+", re.I)
_QUESTION = re.compile(r"^(?:what|who|which)\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(.+?)\??$", re.I)


def is_quantitative(hit: ChapterHit) -> bool:
    """Whether the chapter works with formulas or numbers: a key concept that is a formula, or two
    distinct signs of calculation in its summary, topics and key concepts."""
    return _calculates(" ".join([hit.summary, *hit.topics, *hit.key_concepts]))


@functools.lru_cache(maxsize=512)
def _calculates(text: str) -> bool:
    return len({m.lower() for m in _QUANTITATIVE_SIGNS.findall(text)}) >= 2


def chapter_subjects(hit: ChapterHit) -> tuple[list[str], list[str], dict[str, str]]:
    """The chapter's topics (questions turned into what they ask about, generic headings and the
    chapter's own title left out), its key concepts that no topic already names (a formula reads
    as its name: "TV = ..." -> "TV formula"), and the formula a key concept gives a topic or itself."""
    title = checks.title_tokens(hit.chapter_title)
    topics = [t for t in _dedupe([_topic(t) for t in hit.topics]) if checks.title_tokens(t) != title]
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


def _topic(text: str) -> str:
    """ "What Is a Product?" -> "Product"; a heading that names nothing -> ""; other questions
    ("How Do Firms Grow?") are not subjects a sentence can carry."""
    text = " ".join(text.split())
    if text.lower().strip(" .:") in _GENERIC_TOPICS:
        return ""
    if match := _QUESTION.match(text):
        return match[1].strip(" ?")
    text = re.sub(r"\s*\([^)]*\)", "", text)  # "Protein Synthesis (Translation)"
    text = re.sub(
        r"^(?:an?\s+)?(?:review|preview|overview|introduction)\s+(?:of|to)\s+", "", text, flags=re.I
    )
    head, colon, _ = text.partition(":")
    if colon and len(head.split()) >= 2:
        text = head  # "Shifting Equilibria: Le Châtelier's Principle"; the rest is a key concept
    return "" if text.endswith("?") else text.strip()


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
        if item.strip() and tokens and tokens not in seen:
            seen.add(tokens)
            out.append(" ".join(item.split()))
    return out


@dataclass(frozen=True)
class Subject:
    """Something a section teaches, worded to sit in the middle of a sentence."""

    text: str  # "equilibrium constants", "the stock market crash of 1929", "bank run"
    concept: bool  # a key concept (a glossary term) rather than a topic (a section title)
    kind: str  # quantity | calculation | activity | other ("equilibrium constant", "equilibrium
    # calculations", "writing and balancing chemical equations"); quantity and calculation only
    # in a chapter that calculates
    quantitative: bool  # its chapter works with formulas or numbers
    formula: str = ""  # "TV = FCFF(n+1) / (WACC - g)", as the book writes it

    @functools.cached_property
    def phrase(self) -> str:
        """The subject as a definite noun phrase: "the law of mass action", "equilibria"."""
        article = _article(self.text) if self.concept else ""
        return f"{article and 'the'} {self.text}".strip()

    @functools.cached_property
    def indefinite(self) -> str:
        """The subject as an indefinite noun phrase: "a reversible reaction", "equilibria"."""
        article = _article(self.text) if self.concept else ""
        return f"{article} {self.text}".strip()

    @property
    def plural(self) -> bool:
        return is_plural_word(_head(self.text))


def make_subject(
    label: str, concept: bool, formula: str, quantitative: bool, vocabulary: Vocabulary
) -> Subject:
    """The subject for a topic (`concept` False: a section title in title case) or key concept."""
    text = concept_case(label, vocabulary) if concept else sentence_case(label, vocabulary)
    return Subject(text, concept, _kind(text, quantitative), quantitative, formula if quantitative else "")


def _kind(text: str, quantitative: bool) -> str:
    words = text.split()
    gerund = words[0].endswith("ing") and words[0].islower() and words[0] not in _ADJECTIVES_IN_ING
    if len(words) > 1 and gerund:
        return "activity"  # "writing and balancing chemical equations", "selecting comparables"
    head = _head(text)
    heads = {head, head.removesuffix("s"), head.removesuffix("es")}
    if quantitative and heads & _CALCULATIONS:
        return "calculation"
    return "quantity" if quantitative and heads & _QUANTITIES else "other"


def _head(text: str) -> str:
    """The noun a phrase is about: its last word before a preposition ("rate of reaction" -> "rate")."""
    words = [w.strip("().,;:'").lower() for w in text.split() if not w.startswith("(")]
    cut = next((i for i, w in enumerate(words) if i and w in _PREPOSITIONS), len(words))
    return words[cut - 1] if cut else ""


def _article(text: str) -> str:
    """ "a" or "an" for a singular count noun phrase; "" for one that reads without an article:
    plural, a person's name or an acronym, a mass noun, or one with its own determiner. A name of
    an institution or event takes "the" ("the Bonus Army")."""
    words = text.split()
    if not words or words[0].lower() in ("a", "an", "the", "this", "these", "its", "their"):
        return ""
    if any(a in text for a in APOSTROPHES):
        return ""  # "Le Châtelier's principle"
    head = _head(text)
    bare = re.sub(r"\s*\([^)]*\)", "", text)  # "peripheral nervous system (PNS)"
    words = bare.split() or words
    if any(c.isupper() for c in bare):
        titled = len(words) > 1 and all(w[:1].isupper() for w in words)
        return "a" if titled and head in _INSTITUTIONS else ""  # becomes "the" in `phrase`
    # Abstract nouns, conditions and processes read without an article ("the malaria" does not).
    endings = ("ism", "ity", "ness", "ing", "ics", "itis", "osis", "iasis", "emia", "ia", "ysis", "ation")
    mass = head.endswith(endings) or head in _MASS_NOUNS
    if is_plural_word(head) or mass:
        return ""
    return "an" if text[:1].lower() in "aeiou" else "a"


# Objective shapes per Bloom level: each begins with a verb of its level (a unit test checks
# this). Fields: {t} and {u} two subjects of the section (topics first); {c}, {d} and {e} key
# concepts as terms, {cp}/{dp} with "the", {ca} with "a"; {a} an activity ("writing formulas").
# A shape whose fields the section cannot fill is skipped.
_SHAPES: dict[str, tuple[str, ...]] = {
    "remember": (
        "Define the terms {c}, {d} and {e}", "Define the terms {c} and {d}", "Define {ca}",
        "Identify the main features of {t}", "State the key facts about {t}", "List the steps of {a}",
    ),
    "understand": (
        "Explain {t}", "Describe {t}", "Summarize {t}", "Explain how {t} relates to {u}",
        "Describe the role of {cp} in {t}", "Explain the meaning of {cp}", "Describe the steps of {a}",
    ),
    "apply": (
        "Use {cp} to explain {t}", "Apply the idea of {cp} to {t}", "Use examples to explain {t}",
        "Apply what you know about {t} to a new case", "Use the terms {c} and {d} to describe {t}",
        "Practice {a}",
    ),
    "analyze": (
        "Compare {t} and {u}", "Distinguish {cp} from {dp}", "Examine the role of {cp} in {t}",
        "Analyze the factors that shape {t}", "Analyze how {t} and {u} are connected",
        "Contrast {t} with {u}", "Investigate how {cp} bears on {t}",
    ),
    "evaluate": (
        "Evaluate the significance of {t}", "Assess the strengths and limitations of {t}",
        "Critique a common explanation of {t}", "Assess the importance of {cp} for {t}",
        "Defend a position on {t}", "Appraise the evidence about {t}",
        "Judge the strengths and weaknesses of {cp}",
    ),
    "create": (
        "Develop a concept map linking {c}, {d} and {e}", "Construct an argument about {t}",
        "Propose a question for further study about {t}", "Design an example that illustrates {ca}",
        "Compose a short explanation of {t} for a newcomer", "Devise an activity that teaches {t}",
        "Plan a short presentation on {t}",
    ),
}  # fmt: skip
# Shapes for a chapter that calculates. {q} something one calculates ({qbe}: "is" or "are"); {k}
# a kind of calculation; {f} a formula as the book writes it, {lhs} and {rhs} its two sides.
_QUANTITATIVE_SHAPES: dict[str, tuple[str, ...]] = {
    "remember": (
        "State the formula {f}", "Recall what each term in {f} stands for", "State the units of {q}",
    ),
    "understand": (
        "Interpret the formula {f}", "Explain how {q} {qbe} calculated", "Describe the steps of {k}",
    ),
    "apply": (
        "Calculate {q}", "Perform {k}", "Solve problems involving {q}", "Use {f} to calculate {lhs}",
        "Compute {lhs} as {rhs}", "Estimate {q} from given data",
    ),
    "analyze": (
        "Analyze how a change in conditions affects {q}", "Examine how each input of {f} moves the result",
    ),
    "evaluate": (
        "Assess whether a calculated value of {q} is reasonable", "Judge when {f} gives a misleading answer",
    ),
    "create": ("Design a worked problem on {q}", "Construct a problem that requires {k}"),
}  # fmt: skip
_FIELD = re.compile(r"{(\w+)}")


def shapes(level: str, quantitative: bool) -> tuple[str, ...]:
    """The objective shapes at `level` for a chapter that does (or does not) calculate."""
    return _SHAPES[level] + (_QUANTITATIVE_SHAPES[level] if quantitative else ())


_FIELDS_OF = {
    shape: tuple(_FIELD.findall(shape))
    for table in (_SHAPES, _QUANTITATIVE_SHAPES)
    for level_shapes in table.values()
    for shape in level_shapes
}


def _bindings(subjects: Sequence[Subject]) -> Iterable[tuple[dict[str, str], dict[str, str]]]:
    """Ways to fill the fields from the section's subjects, those that draw on its first subjects
    first: the fields' text, and the subject each field draws on."""
    topics = [s for s in subjects if not s.concept] or list(subjects)
    quantities = [s for s in subjects if s.kind == "quantity"]
    calculations = [s for s in subjects if s.kind == "calculation"]
    activities = [s for s in subjects if s.kind == "activity"]
    formulas = [s for s in subjects if s.formula]
    n = max(len(topics), len(subjects) // 2, len(quantities), len(formulas), 1)
    for i in range(n):
        t, u = _at(topics, i), _at(topics, i + 1)
        concepts = [s for s in subjects if s.concept and s not in (t, u)]
        c, d, e = _at(concepts, 2 * i), _at(concepts, 2 * i + 1), _at(concepts, 2 * i + 2)
        q, k, a, f = _at(quantities, i), _at(calculations, i), _at(activities, i), _at(formulas, i)
        lhs, _, rhs = f.formula.partition(" = ") if f else ("", "", "")
        if "=" in rhs or (f and not checks.title_tokens(lhs) <= checks.title_tokens(f.text)):
            lhs = rhs = ""  # "CAPM: r_e = ...": the formula does not compute the subject itself
        sources = {"t": t, "u": u, "c": c, "d": d, "e": e, "cp": c, "dp": d, "ca": c, "q": q, "qbe": q,
                   "k": k, "a": a, "f": f, "lhs": f if lhs else None, "rhs": f if rhs else None}  # fmt: skip
        fields = {
            "t": t.phrase if t else "",
            "u": u.phrase if u and u != t else "",
            "c": c.text if c else "",
            "d": d.text if d else "",
            "e": e.text if e else "",
            "cp": c.phrase if c else "",
            "dp": d.phrase if d else "",
            "ca": c.indefinite if c else "",
            "q": q.phrase if q else "",
            "qbe": ("are" if q.plural else "is") if q else "",
            "k": k.phrase if k else "",
            "a": a.phrase if a else "",
            "f": f.formula if f else "",
            "lhs": lhs.strip(),
            "rhs": rhs.strip(),
        }
        yield fields, {name: s.text for name, s in sources.items() if s}


def _at(items: Sequence[Subject], i: int) -> Subject | None:
    return items[i] if i < len(items) else None


class ObjectiveWriter:
    """Writes a course's objectives: none repeated, verbs and openings spread across the course."""

    def __init__(self, earlier: Iterable[str] = ()) -> None:
        self.used: set[str] = set()
        self.verbs: Counter[str] = Counter()
        self.openings: Counter[str] = Counter()
        self.numbered: Counter[str] = Counter()
        self.commit(list(earlier))

    def commit(self, lines: Sequence[str]) -> None:
        """Record objectives that made it into the outline."""
        for line in lines:
            words = line.lower().split()
            self.used.add(" ".join(words))
            self.verbs[words[0] if words else ""] += 1
            self.openings[" ".join(words[:2])] += 1

    def draft(self, levels: Sequence[str], subjects: Sequence[Subject]) -> list[str]:
        """One objective per level about the section's subjects, each drawing on subjects the
        section's earlier objectives left untouched where it can. Nothing is recorded until
        `commit`."""
        trial = ObjectiveWriter()
        trial.used, trial.verbs, trial.openings = set(self.used), Counter(self.verbs), Counter(self.openings)
        trial.numbered = self.numbered
        covered: Counter[str] = Counter()
        quantitative = any(s.quantitative for s in subjects)
        lines: list[str] = []
        for level in levels:
            line, used = trial._write(level, subjects, quantitative, covered)
            covered.update(used)
            trial.commit([line])
            lines.append(line)
        return lines

    def _write(
        self, level: str, subjects: Sequence[Subject], quantitative: bool, covered: Counter[str]
    ) -> tuple[str, list[str]]:
        options: list[tuple[tuple[int, int, int, int, int], str, list[str]]] = []
        for rank, (fields, sources) in enumerate(itertools.islice(_bindings(subjects), 6)):
            for shape in shapes(level, quantitative):
                names = _FIELDS_OF[shape]
                if not all(fields[n] for n in names):
                    continue
                line = first_upper(" ".join(shape.format_map(fields).split()))
                if len(line) > OBJECTIVE_LIMIT or " ".join(line.lower().split()) in self.used:
                    continue
                words = line.lower().split()
                used = list(dict.fromkeys(sources[n] for n in names if n in sources))
                repeats = sum(covered[u] for u in used)
                crowd = self.verbs[words[0]] + self.openings[" ".join(words[:2])]
                options.append(((repeats, crowd, rank, -len(names), zlib.crc32(line.encode())), line, used))
        if options:
            _, line, used = min(options)
            return line, used
        return self._fallback(level, subjects), []

    def _fallback(self, level: str, subjects: Sequence[Subject]) -> str:
        """Every shape is taken or too long: a short objective on the lead subject, numbered
        if even that is taken."""
        name = subjects[0].phrase if subjects else "this section"
        verb = {"remember": "Identify", "understand": "Explain", "apply": "Apply", "analyze": "Analyze",
                "evaluate": "Evaluate", "create": "Design"}[level]  # fmt: skip
        base = f"{verb} {name}" if level in ("understand", "analyze") else f"{verb} the key ideas of {name}"
        base = base if len(base) <= OBJECTIVE_LIMIT else f"{verb} the key ideas of this section"
        line = base
        while " ".join(line.lower().split()) in self.used:
            self.numbered[base] += 1  # remembered, so that a long course does not count from 2 each time
            line = f"{base} (part {self.numbered[base] + 1})"
        return line
