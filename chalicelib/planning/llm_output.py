"""The model's answers: pydantic schemas (also sent as the JSON schema of structured output) and
tolerant parsing of whatever came back — JSON in fences or prose, or a markdown outline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

Shape = Literal["parts", "sections", "outline"]


class UnreadableAnswer(ValueError):
    """The model's text holds no outline of the expected shape."""


# --- durations and citation ids ----------------------------------------------------------------

# en dash, em dash, figure dash, minus sign, horizontal bar; and a half
_DASHES = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-", "\u2015": "-", "\u00bd": ".5"}
)
_UNIT = r"(?P<unit>hours?|hrs?|h|minutes?|mins?|m)\b"
_RANGE = re.compile(rf"(?P<a>\d+(?:\.\d+)?)\s*(?:-|to)\s*(?P<b>\d+(?:\.\d+)?)\s*{_UNIT}", re.IGNORECASE)
_BARE_RANGE = re.compile(r"^\s*(?P<a>\d+(?:\.\d+)?)\s*(?:-|to)\s*(?P<b>\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
_AMOUNT = re.compile(rf"(?P<a>\d+(?:\.\d+)?)\s*{_UNIT}", re.IGNORECASE)
_CLOCK = re.compile(r"\b(?P<h>\d{1,2}):(?P<m>\d{2})\s*(?:h|hours?)\b", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*(?P<a>\d+(?:\.\d+)?)\s*$")
_CITATION = re.compile(r"(?<![\w.#-])(?P<book>[A-Za-z0-9][\w.-]*)\s*#\s*(?P<chapter>\d+)\b")


def _per_unit(unit: str | None) -> float:
    return 60.0 if unit and unit.lower().startswith("h") else 1.0


def parse_minutes(value: object, default_unit: str = "min") -> int | None:
    """Minutes in 25, 25.0, "25 min", "1.5 hours", "1 h 30 min", "1:30 h", "20-30 minutes"
    (a range counts as its midpoint); None when no duration is there."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return round(value * _per_unit(default_unit))
    if not isinstance(value, str):
        return None
    text = value.translate(_DASHES).replace(",", "")
    if match := _CLOCK.search(text):
        return int(match["h"]) * 60 + int(match["m"])
    for match in [*_RANGE.finditer(text), *filter(None, [_BARE_RANGE.match(text)])]:
        a, b = float(match["a"]), float(match["b"])
        if 0 < a < b <= 4 * a:  # "20-30 min"; not "session 1 - 45 min"
            return round((a + b) / 2 * _per_unit(match.groupdict().get("unit") or default_unit))
    amounts = list(_AMOUNT.finditer(text))
    if amounts:  # "1 hour 30 minutes" adds up
        return round(sum(float(m["a"]) * _per_unit(m["unit"]) for m in amounts))
    if match := _NUMBER.match(text):
        return round(float(match["a"]) * _per_unit(default_unit))
    return None


def citation_keys(value: object) -> list[str]:
    """Chapter keys ("bookid#3") named in a string, a {"book_id", "chapter_number"} object, or a
    list of either. Nothing is guessed: text without a "#" id names no chapter."""
    if isinstance(value, str):
        return [f"{m['book']}#{int(m['chapter'])}" for m in _CITATION.finditer(value)]
    if isinstance(value, dict):
        book = value.get("book_id") or value.get("book")
        chapter = value.get("chapter_number", value.get("chapter"))
        if isinstance(book, str) and isinstance(chapter, int | str) and str(chapter).strip().isdigit():
            return [f"{book.strip()}#{int(str(chapter))}"]
        return citation_keys(value.get("id") or value.get("key") or "")
    if isinstance(value, list | tuple):
        return list(dict.fromkeys(key for item in value for key in citation_keys(item)))
    return []


# --- cleaning -------------------------------------------------------------------------------------

_MARKUP = re.compile(r"(\*\*|__|`|~~)")
_EMPHASIS = re.compile(r"(?<!\w)[*_](?=\S)(.+?)(?<=\S)[*_](?!\w)")
_LEADER = re.compile(
    r"^\s*(?:#{1,6}\s*|[-*•+]\s+|\(?\d+(?:\.\d+)*[.)]?\s+(?=\S)|\(?[a-z][.)]\s+)*", re.IGNORECASE
)
_KIND_PREFIX = re.compile(
    r"^(?:part|module|unit|week|stage|section|lesson|session|topic)\s+(?:\d+(?:\.\d+)*|[ivx]+)\b\s*[:.)\-]*\s*",
    re.IGNORECASE,
)
_META_GROUP = re.compile(
    r"\s*[(\[][^()\[\]]*(?:\d\s*(?:h|hr|hour|min|m\b)|#\d)[^()\[\]]*[)\]]", re.IGNORECASE
)
_TRAILING_RANGE = re.compile(
    rf"\s*(?:[-:|,]\s*)?(?P<a>\d+(?:\.\d+)?)\s*(?:-|to)\s*(?P<b>\d+(?:\.\d+)?)\s*{_UNIT}.*$", re.IGNORECASE
)
_SEPARATED_META = re.compile(rf"\s+[-:|,]\s+(?:~\s*)?\d+(?:\.\d+)?\s*{_UNIT}.*$", re.IGNORECASE)
_TRAILING_META = re.compile(
    rf"\s*(?:[-:|,]\s*)?(?:~\s*)?\d+(?:\.\d+)?\s*(?:(?:-|to)\s*\d+(?:\.\d+)?\s*)?{_UNIT}.*$", re.I
)


def clean_text(text: str) -> str:
    """Plain text: markdown emphasis, headings, bullets and numbering removed, dashes unified."""
    text = _MARKUP.sub("", text.translate(_DASHES))
    text = _EMPHASIS.sub(r"\1", text)
    return " ".join(_LEADER.sub("", text).split())


_EMPTY_GROUP = re.compile(r"\s*[(\[][\s,;:]*(?:see|sources?|from|and)?[\s,;:]*[)\]]", re.IGNORECASE)


def strip_citations(text: str) -> str:
    """`text` without chapter ids, and without the brackets that held them."""
    return _EMPTY_GROUP.sub("", _CITATION.sub("", text)).strip(" ,;:")


def clean_title(text: str) -> str:
    """A title without its numbering ("Part 2:"), duration ("(25 min)", "— 1.5 hours") or ids."""
    text = _KIND_PREFIX.sub("", clean_text(text))
    text = _META_GROUP.sub("", text)
    ranged = _TRAILING_RANGE.search(text)
    if ranged and 0 < float(ranged["a"]) < float(ranged["b"]) <= 4 * float(ranged["a"]):
        text = text[: ranged.start()]  # "Discounting 20 - 30 min", a range
    text = _SEPARATED_META.sub("", text)
    text = _CITATION.sub("", text)
    text = _TRAILING_META.sub("", text)
    return text.strip(" -:|,;.\"'")


# --- schemas --------------------------------------------------------------------------------------

_TITLE_KEYS = ("title", "name", "section_title", "part_title", "heading")
_MINUTE_KEYS = ("minutes", "duration_minutes", "duration", "time", "length", "mins", "estimated_minutes")
_HOUR_KEYS = ("hours", "duration_hours")
_OBJECTIVE_KEYS = ("objectives", "learning_objectives", "goals", "outcomes")
_SOURCE_KEYS = ("sources", "citations", "chapters", "cites", "references", "chapter_ids")


def _first(data: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        for actual in (key, key.title(), key.upper()):
            if actual in data:
                return data[actual]
    return None


def _normalise_item(data: Any, sources_key: str | None) -> Any:
    """Known spellings of each field mapped to ours; an item without a title gets "" and is
    skipped later rather than spoiling the whole answer."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    title = _first(data, _TITLE_KEYS)
    out["title"] = clean_title(title) if isinstance(title, str) else ""
    minutes = _first(data, _MINUTE_KEYS)
    if minutes is None and (hours := _first(data, _HOUR_KEYS)) is not None:
        minutes = parse_minutes(hours, default_unit="h")
    out["minutes"] = (parse_minutes(minutes) if minutes is not None else None) or 0
    if sources_key:
        out[sources_key] = citation_keys(_first(data, _SOURCE_KEYS) or [])
    return out


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PartAnswer(_Answer):
    title: str
    minutes: int
    chapters: list[str]

    @model_validator(mode="before")
    @classmethod
    def _tolerate(cls, data: Any) -> Any:
        return _normalise_item(data, "chapters")


class SectionAnswer(_Answer):
    title: str
    minutes: int
    objectives: list[str]
    sources: list[str]

    @model_validator(mode="before")
    @classmethod
    def _tolerate(cls, data: Any) -> Any:
        out = _normalise_item(data, "sources")
        if isinstance(out, dict):
            objectives = _first(data, _OBJECTIVE_KEYS) or []
            if isinstance(objectives, str):
                objectives = re.split(r"\n|;\s*", objectives)
            out["objectives"] = (
                [o for o in objectives if isinstance(o, str)] if isinstance(objectives, list) else []
            )
        return out

    @field_validator("objectives", mode="after")
    @classmethod
    def _clean_objectives(cls, objectives: list[str]) -> list[str]:
        cleaned = [strip_citations(clean_text(o)) for o in objectives]
        return [o[:1].upper() + o[1:] for o in cleaned if o]


class PartsAnswer(_Answer):
    title: str
    parts: list[PartAnswer]


class SectionsAnswer(_Answer):
    sections: list[SectionAnswer]


class OutlinePartAnswer(_Answer):
    title: str
    minutes: int
    sections: list[SectionAnswer]

    @model_validator(mode="before")
    @classmethod
    def _tolerate(cls, data: Any) -> Any:
        out = _normalise_item(data, None)
        if isinstance(out, dict):
            out["sections"] = _first(data, ("sections", "lessons", "items")) or []
        return out


class OutlineAnswer(_Answer):
    parts: list[OutlinePartAnswer]


Answer = PartsAnswer | SectionsAnswer | OutlineAnswer
SCHEMAS: dict[str, type[PartsAnswer] | type[SectionsAnswer] | type[OutlineAnswer]] = {
    "parts": PartsAnswer,
    "sections": SectionsAnswer,
    "outline": OutlineAnswer,
}


def json_schema(shape: Shape, allowed: Sequence[str] = ()) -> dict[str, Any]:
    """The strict JSON schema of an answer (every property required, no extras); citation ids
    are an enum of `allowed`, so a server that enforces the schema cannot invent one."""
    schema = SCHEMAS[shape].model_json_schema()

    def strict(node: Any, properties: bool = False) -> Any:
        if isinstance(node, dict):
            node = {
                k: strict(v, k == "properties" and not properties)
                for k, v in node.items()
                if properties or k not in ("title", "default")
            }
            if node.get("type") == "object" and "properties" in node:
                node["required"] = list(node["properties"])
                node["additionalProperties"] = False
        elif isinstance(node, list):
            node = [strict(v) for v in node]
        return node

    schema = dict(strict(schema))
    if allowed:
        for name in ("PartAnswer", "SectionAnswer"):
            props = schema.get("$defs", {}).get(name, {}).get("properties", {})
            for key in ("chapters", "sources"):
                if key in props:
                    props[key]["items"] = {"type": "string", "enum": sorted(allowed)}
    return schema


# --- finding JSON in text ---------------------------------------------------------------------

_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"'})


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text.translate(_SMART_QUOTES)))


def find_json(text: str) -> Any | None:
    """The first JSON object or array in `text`: the whole text, a fenced block, or embedded
    in prose; trailing commas and curly quotes are forgiven. None when there is none."""
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        try:
            return _loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", text):
        for attempt in (text[match.start() :], _TRAILING_COMMA.sub(r"\1", text[match.start() :])):
            try:
                value, _ = decoder.raw_decode(attempt)
            except ValueError:
                continue
            if isinstance(value, dict | list) and value:
                return value
    return None


def _find_key(data: Any, key: str) -> Any:
    """The value under `key` anywhere in nested objects (a model may wrap its answer)."""
    if isinstance(data, dict):
        if key in data:
            return data[key]
        for value in data.values():
            if (found := _find_key(value, key)) is not None:
                return found
    return None


def _shape_payload(data: Any, shape: Shape) -> Any:
    """Coerce a found JSON value into the answer's top-level shape."""
    key = {"parts": "parts", "sections": "sections", "outline": "parts"}[shape]
    if isinstance(data, list):
        return {"title": "", key: data}
    items = _find_key(data, key)
    if shape == "sections" and items is None:  # {"parts": [{"sections": [...]}]} for one part
        parts = _find_key(data, "parts")
        if isinstance(parts, list):
            items = [s for p in parts if isinstance(p, dict) for s in p.get("sections", [])]
    title = _find_key(data, "title") if isinstance(data, dict) else ""
    course_title = data.get("course_title") if isinstance(data, dict) else None
    return {"title": course_title or (title if isinstance(title, str) else ""), key: items or []}


def parse_answer(text: str, shape: Shape) -> Answer:
    """Read the model's answer: JSON first, then a markdown/plain-text outline."""
    data = find_json(text)
    payload = _shape_payload(data, shape) if data is not None else outline_from_text(text, shape)
    try:
        answer: Answer = SCHEMAS[shape].model_validate(payload)
    except ValidationError as error:
        raise UnreadableAnswer(
            f"the answer does not match the {shape} shape: {error.errors()[0]['msg']}"
        ) from None
    items: Sequence[PartAnswer | SectionAnswer | OutlinePartAnswer]
    items = answer.sections if isinstance(answer, SectionsAnswer) else answer.parts
    if not any(item.title for item in items):
        raise UnreadableAnswer(f"the answer holds no {shape}: {_excerpt(text)}")
    return answer


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


# --- markdown / plain-text outlines ----------------------------------------------------------

_PART_LINE = re.compile(r"^(?:part|module|unit|week|stage)\s+(?:\d+|[ivx]+)\b", re.IGNORECASE)
_SECTION_LINE = re.compile(r"^(?:section|lesson|session|topic)\s+\d+(?:\.\d+)*\b", re.IGNORECASE)
_LABEL = re.compile(
    r"^(?P<label>course title|title|course|learning objectives|objectives?|goals|outcomes|sources?|"
    r"citations?|chapters?|references|cites|duration|time|length|minutes)\s*:\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^\s*(#{1,6})\s")
_NUMBERED = re.compile(r"^\s*\(?\d+(?:\.\d+)*[.)]?\s")
_BULLET = re.compile(r"^\s*[-*•+]\s")


def _line_minutes(line: str) -> int:
    return parse_minutes(_CITATION.sub("", _KIND_PREFIX.sub("", clean_text(line)))) or 0


def _has_duration(text: str) -> bool:
    return bool(_AMOUNT.search(text.translate(_DASHES)) or _CLOCK.search(text))


@dataclass(frozen=True)
class _Line:
    """How one line of a text outline looks: heading level, indentation, list marker, duration."""

    level: int  # markdown heading level, 0 when not a heading
    indented: bool
    numbered: bool
    listed: bool
    timed: bool
    item_like: bool

    @classmethod
    def read(cls, raw: str, text: str) -> _Line:
        heading = _HEADING.match(raw)
        numbered = bool(_NUMBERED.match(raw))
        listed = numbered or bool(_BULLET.match(raw))
        # A plain line with a duration is an item only if it reads like a title, not a sentence.
        item_like = listed or bool(heading) or (len(text.split()) <= 14 and not text.endswith((".", ":")))
        return cls(
            level=len(heading.group(1)) if heading else 0,
            indented=raw[:1].isspace(),
            numbered=numbered,
            listed=listed,
            timed=_has_duration(text),
            item_like=item_like,
        )


class _TextOutline:
    """Builds the answer payload line by line."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.title = ""
        self.parts: list[dict[str, Any]] = []
        self.sections: list[dict[str, Any]] = []  # for shape "sections"
        self.current: dict[str, Any] | None = None  # the item that objectives/sources attach to
        self.in_objectives = False

    def _new_part(self, line: str) -> None:
        self.current = {"title": clean_title(line), "minutes": _line_minutes(line),
                        "chapters": citation_keys(line), "sections": []}  # fmt: skip
        self.parts.append(self.current)
        self.in_objectives = False

    def _new_section(self, line: str) -> None:
        self.current = {"title": clean_title(line), "minutes": _line_minutes(line),
                        "objectives": [], "sources": citation_keys(line)}  # fmt: skip
        if self.shape == "sections":
            self.sections.append(self.current)
        else:
            if not self.parts:
                self.parts.append({"title": "Course", "minutes": 0, "chapters": [], "sections": []})
            self.parts[-1]["sections"].append(self.current)
        self.in_objectives = False

    def _label(self, label: str, rest: str, raw: str) -> None:
        label = label.lower()
        if label in ("course title", "title", "course") and self.current is None:
            self.title = clean_title(rest)
        elif label in ("learning objectives", "objective", "objectives", "goals", "outcomes"):
            self.in_objectives = True
            if self.current is not None and "objectives" in self.current and rest.strip():
                self.current["objectives"] += [x for x in re.split(r";\s*", clean_text(rest)) if x]
        elif label in (
            "source",
            "sources",
            "citation",
            "citations",
            "chapter",
            "chapters",
            "references",
            "cites",
        ):
            self._cite(raw)
        elif self.current is not None and (minutes := parse_minutes(clean_text(rest))) is not None:
            self.current["minutes"] = minutes

    def _cite(self, raw: str) -> None:
        if self.current is not None:
            key = "sources" if "sources" in self.current else "chapters"
            self.current[key] = list(dict.fromkeys([*self.current[key], *citation_keys(raw)]))

    def _objective(self, raw: str, text: str) -> None:
        if self.current is None or "objectives" not in self.current:
            return
        self._cite(raw)
        objective = strip_citations(text)
        if objective and not _LABEL.match(objective):
            self.current["objectives"].append(objective)

    def add(self, raw: str) -> None:
        text = clean_text(raw)
        if not text:
            return
        if label := _LABEL.match(text):
            self._label(label["label"], label["rest"], raw)
        elif _PART_LINE.match(text):
            if self.shape != "sections":
                self._new_part(raw)
        elif self.shape == "parts":
            self._add_to_parts(raw, _Line.read(raw, text), untitled=self._untitled())
        elif _SECTION_LINE.match(text):
            self._new_section(raw)
        else:
            self._add_to_sections(raw, text, _Line.read(raw, text), untitled=self._untitled())

    def _untitled(self) -> bool:
        return not (self.title or self.parts or self.sections)

    def _add_to_parts(self, raw: str, line: _Line, untitled: bool) -> None:
        if line.timed and line.item_like and not line.indented:
            self._new_part(raw)
        elif citation_keys(raw):
            self._cite(raw)
        elif line.level and untitled:
            self.title = clean_title(raw)

    def _add_to_sections(self, raw: str, text: str, line: _Line, untitled: bool) -> None:
        if line.level:
            if line.level == 1 and not line.timed and untitled:
                self.title = clean_title(raw)
            elif self.shape == "outline" and line.level <= 2:
                self._new_part(raw)
            else:
                self._new_section(raw)
        elif self.in_objectives and line.listed and not line.timed:
            self._objective(raw, text)
        elif not line.indented and line.item_like and (line.timed or line.numbered):
            self._new_section(raw)
        elif line.listed or line.indented:
            self._objective(raw, text)

    def payload(self) -> dict[str, Any]:
        if self.shape == "sections":
            return {"sections": self.sections}
        return {"title": self.title, "parts": self.parts}


def outline_from_text(text: str, shape: Shape) -> dict[str, Any]:
    """An answer payload from a markdown or plain-text outline (headings, numbered or bulleted
    items with durations, "Objectives:" and "Sources:" lines)."""
    builder = _TextOutline(shape)
    for line in text.splitlines():
        builder.add(line)
    return builder.payload()
