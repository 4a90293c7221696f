"""A scripted course model for the test server, and pytest fixtures around it.

`CourseModel` reads the planner's prompts the way a model would (the request, the rules and the
chapter list are all in the text) and answers each phase; its knobs inject the faults a real
model shows: minutes over budget, duplicate sections, invented citations, prose instead of JSON,
sections without citations, and objectives that break the rules (none, eight, no action verb)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.config import OpenAIConfig
from chalicelib.core import rules
from tests.support.llm_server import LLMServer, Reply, completion

API_KEY = "sk-test-0123456789abcdefSECRET"
GHOST_IDS = ("ghost-book#99", "made-up-handbook#3")


def fast_config(server: LLMServer, **overrides: Any) -> OpenAIConfig:
    """A config for tests: short timeouts and retry waits, the test server, a recognisable key."""
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": API_KEY,
        "chat_model": "test-chat",
        "embedding_model": "test-embed",
        "embedding_dimensions": server.embedding_dimension,
        "timeout": 2.0,
        "deadline": 5.0,
        "max_retries": 2,
        "retry_wait_cap": 0.02,
        "min_attempt_timeout": 0.05,
        "max_tokens": 1000,
        "max_tokens_limit": 4000,
    }
    settings.update(overrides)
    return OpenAIConfig(**settings)


@dataclass
class CourseModel:
    over_budget: float = 1.0  # every minute it answers is multiplied by this
    duplicates: bool = False  # each part opens with the previous part's last section, or a shared one
    bad_citations: bool = False  # cites chapters that were never offered
    as_text: bool = False  # answers in markdown prose instead of JSON
    no_citations: bool = False  # sections cite no offered chapter (only invented ones, if any)
    bad_objectives: bool = False  # sections cycle through 0 objectives, 8, and none with a verb
    revision: str = "fix"  # "fix": removes duplicates; "echo": returns the outline unchanged
    phases: list[str] = field(default_factory=list)

    def __call__(self, body: dict[str, Any]) -> Reply:
        prompt = "\n".join(str(m["content"]) for m in body["messages"] if m["role"] == "user")
        if prompt.startswith("Plan the parts"):
            self.phases.append("parts")
            return self._parts(prompt)
        if prompt.startswith("Plan the sections"):
            self.phases.append("sections")
            return self._sections(prompt)
        self.phases.append("review")
        return self._review(prompt)

    # --- reading the prompt ----------------------------------------------------------------

    @staticmethod
    def _ids(prompt: str) -> list[str]:
        found = re.search(r"using only these ids: (.*?)\.? A section|Use only these ids: (.*)", prompt)
        assert found, "the prompt lists the ids that may be cited"
        text = found.group(1) or found.group(2)
        return [x.strip() for x in text.split(",") if "#" in x]

    @staticmethod
    def _titles(prompt: str) -> dict[str, str]:
        return {m[1]: m[2].strip() for m in re.finditer(r"^- (\S+#\d+) ([^:\n]+)", prompt, re.MULTILINE)}

    def _minutes(self, minutes: int) -> int:
        return round(minutes * self.over_budget)

    # --- the phases -------------------------------------------------------------------------

    def _parts(self, prompt: str) -> Reply:
        target = int(re.search(r"= (\d+) minutes in all", prompt).group(1))  # type: ignore[union-attr]
        counts = re.search(r"Use (\d+)(?: (?:or|to) (\d+))? parts?", prompt)
        assert counts
        n = int(counts.group(2) or counts.group(1)) if target >= 240 else int(counts.group(1))
        ids = self._ids(prompt)
        groups = [ids[k * len(ids) // n : (k + 1) * len(ids) // n] or ids[:1] for k in range(n)]
        minutes = rules.apportion(target, [1] * n, 1, target)
        parts = [
            {
                "title": f"Stage {k + 1}: {self._titles(prompt).get(g[0], 'Topics')}",
                "minutes": self._minutes(m),
                "chapters": [*g, *(GHOST_IDS[:1] if self.bad_citations else [])],
            }
            for k, (g, m) in enumerate(zip(groups, minutes, strict=True))
        ]
        answer = {"title": "A Test Course", "parts": parts}
        return completion(self._parts_text(answer) if self.as_text else json.dumps(answer))

    def _sections(self, prompt: str) -> Reply:
        minutes = int(re.search(r'^Part \d+: ".*", (\d+) minutes', prompt, re.M).group(1))  # type: ignore[union-attr]
        spec = re.search(r"(\d+)(?: to (\d+))? sections of (\d+)-(\d+) minutes", prompt)
        assert spec
        fewest, most = int(spec.group(1)), int(spec.group(2) or spec.group(1))
        lo, hi = int(spec.group(3)), int(spec.group(4))
        n = max(fewest, min(most, round(minutes / ((lo + hi) / 2))))
        shares = rules.apportion(minutes, [1] * n, lo, hi)
        levels = re.search(r"in this order: ([a-z, ]+)", prompt).group(1).strip().split(", ")  # type: ignore[union-attr]
        ids, titles = self._ids(prompt), self._titles(prompt)
        earlier = re.findall(r'"([^"]+)"', prompt.split("Sections already planned:", 1)[1].split("\n", 1)[0])
        sections = []
        for k, m in enumerate(shares):
            source = ids[k % len(ids)]
            title = titles.get(source, source)
            if k >= len(ids):
                title = f"{title}: practice session {k // len(ids)}"
            if self.duplicates and k == 0:
                # The section the previous part ended with, again; a part that sees no other
                # part's sections (parts planned at once) opens like every such part does.
                title = earlier[-1] if earlier else "An overview of the whole subject"
            objectives = [
                f"{rules.BLOOM_VERBS[level][0].capitalize()} {subject.format(t=title)}"
                for level, subject in zip(
                    levels * 2,
                    ["the core ideas of {t}", "{t} in a worked example", "{t} on a realistic case"],
                    strict=False,
                )
            ]
            if self.bad_objectives:
                objectives = self._broken_objectives(k, title, levels)
            cites = [*([] if self.no_citations else [source]), *(GHOST_IDS if self.bad_citations else [])]
            sections.append(
                {"title": title, "minutes": self._minutes(m), "objectives": objectives, "sources": cites}
            )
        return completion(
            self._sections_text(sections) if self.as_text else json.dumps({"sections": sections})
        )

    @staticmethod
    def _broken_objectives(k: int, title: str, levels: list[str]) -> list[str]:
        """The k-th section's objectives, broken one of three ways in turn."""
        if k % 3 == 0:
            return []
        if k % 3 == 1:
            verbs = [rules.BLOOM_VERBS[levels[i % len(levels)]][i // len(levels)] for i in range(8)]
            return [f"{verb.capitalize()} {title}, aspect {i + 1}" for i, verb in enumerate(verbs)]
        return [f"Understanding of {title}", f"Knowledge of {title} in practice", f"{title} basics"]

    def _review(self, prompt: str) -> Reply:
        outline = json.loads(prompt.split("Outline:\n", 1)[1].split("\n", 1)[0])
        if self.revision == "fix":
            seen: set[str] = set()
            for part in outline["parts"]:
                kept = []
                for s in part["sections"]:
                    if s["title"] not in seen:
                        seen.add(s["title"])
                        kept.append(s)
                part["sections"] = kept
                part["minutes"] = sum(s["minutes"] for s in part["sections"])
            outline["parts"] = [p for p in outline["parts"] if p["sections"]]
        return completion(self._outline_text(outline) if self.as_text else json.dumps(outline))

    # --- prose renderings ------------------------------------------------------------------

    @staticmethod
    def _duration(minutes: int) -> str:
        return f"{minutes / 60:g} hours" if minutes % 30 == 0 and minutes >= 60 else f"{minutes} minutes"

    def _parts_text(self, answer: dict[str, Any]) -> str:
        lines = ["Here is a plan for the course.", "", f"# {answer['title']}", ""]
        for k, part in enumerate(answer["parts"], 1):
            lines += [
                f"**Part {k}: {part['title']}** ({self._duration(part['minutes'])})",
                f"Chapters: {', '.join(part['chapters'])}",
                "",
            ]
        return "\n".join(lines)

    def _sections_text(self, sections: list[dict[str, Any]]) -> str:
        lines = ["Sure! Here are the sections:", ""]
        for k, s in enumerate(sections, 1):
            lines.append(f"{k}. **{s['title']}** \u2014 {s['minutes']} min")
            lines += [f"   - {o}" for o in s["objectives"]]
            lines += [f"   Sources: {', '.join(s['sources'])}", ""]
        return "\n".join(lines)

    def _outline_text(self, outline: dict[str, Any]) -> str:
        lines = ["I revised the outline:", ""]
        for k, part in enumerate(outline["parts"], 1):
            lines.append(f"## Part {k}: {part['title']} ({part['minutes']} min)")
            for s in part["sections"]:
                lines.append(f"### {s['title']} ({s['minutes']} min)")
                lines += [f"- {o}" for o in s["objectives"]]
                lines.append(f"Sources: {', '.join(s['sources'])}")
        return "\n".join(lines)


@pytest.fixture(name="llm_server")
def llm_server_fixture() -> Iterator[LLMServer]:
    """A fresh local OpenAI-compatible server for one test."""
    with LLMServer() as server:
        yield server
