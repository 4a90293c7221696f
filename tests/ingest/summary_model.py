"""A scripted summary model for the local OpenAI-compatible test server: it reads the model
summariser's prompts the way a model would (the step, the chapter's title, the text or notes)
and answers each step deterministically from the material; its knobs inject what a real model
does wrong: over-long fields, and prose instead of JSON."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.support.llm_server import Reply, completion

STOP = {"the", "and", "one", "more", "with", "from", "this", "that", "matters", "practice", "sentence"}
STOP |= {"explains", "another", "aspect", "chapter", "because", "notes"}


def step_of(body: dict[str, Any]) -> str:
    prompt = next(str(m["content"]) for m in body["messages"] if m["role"] == "user")
    if prompt.startswith("Take notes"):
        return "notes"
    if prompt.startswith("Summarise the chapter"):
        return "digest"
    return "book"


def material_of(body: dict[str, Any]) -> str:
    prompt = next(str(m["content"]) for m in body["messages"] if m["role"] == "user")
    body_text = re.split(r"\n\n(?:Text|Notes on [^\n]*|Chapter summaries):\n", prompt, maxsplit=1)[1]
    return body_text.rsplit("\n\nAnswer with JSON", 1)[0]


def words(text: str, count: int) -> list[str]:
    found = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text) if w.lower() not in STOP]
    return [w for w, _ in Counter(found).most_common(count)]


@dataclass
class SummaryModel:
    long_fields: bool = False  # a 3,000-character summary, 30 topics and concepts, some too long
    prose: bool = False  # every answer is prose, never JSON
    prose_once: bool = False  # the first answer is prose, the rest JSON
    points: int = 1  # sentences of the material a note repeats (the prompt allows up to 8)
    steps: list[str] = field(default_factory=list)

    def __call__(self, body: dict[str, Any]) -> Reply:
        step = step_of(body)
        self.steps.append(step)
        if self.prose or (self.prose_once and len(self.steps) == 1):
            return completion("Here is a lovely summary of the chapter, in my own words, without any JSON.")
        material = material_of(body)
        sentences = [s.strip().lstrip("- ") for s in re.split(r"(?<=\.)\s", material) if len(s.strip()) > 20]
        first = sentences[0] if sentences else "Text."
        if step == "notes":
            points = sentences[: self.points] or [first]
            terms = words(material, 5 if self.points == 1 else 10)
            answer: dict[str, Any] = {"points": points, "terms": terms}
        elif step == "digest":
            terms = words(material, 6)
            answer = {
                "summary": f"About {', '.join(terms[:3]) or 'its subject'}. {first}",
                "topics": [f"the {t}" for t in terms[:3]],
                "key_concepts": terms,
            }
            if self.long_fields:
                long = (f"Sentence {n} of a summary far too long for a book file." for n in range(60))
                answer = {
                    "summary": " ".join(long),
                    "topics": [f"- topic {n}" for n in range(30)] + ["x" * 400],
                    "key_concepts": ["Concept " + "word " * 60, *(f"{n}. concept {n}" for n in range(30))],
                }
        else:
            answer = {"summary": f"A book in {material.count(chr(10)) + 1} chapters. {first}"}
        return completion(json.dumps(answer))
