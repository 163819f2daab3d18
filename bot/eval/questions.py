"""Reading a question set (the format of corpus/questions.jsonl), with errors that name the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REQUIRED = ("id", "question", "gold_sources", "answerable")


def load_questions(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"no question set at {path}: give a JSONL file like corpus/questions.jsonl")
    questions: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} line {number}: not valid JSON ({exc.msg})") from exc
        missing = [key for key in REQUIRED if key not in item]
        if missing:
            raise ValueError(f"{path} line {number}: missing {', '.join(missing)}")
        if item["id"] in seen:
            raise ValueError(f"{path} line {number}: the id {item['id']!r} is used twice")
        seen.add(item["id"])
        item.setdefault("tags", [])
        item.setdefault("reference_answer", "")
        item.setdefault("history", [])
        questions.append(item)
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions
