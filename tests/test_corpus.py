"""The bundled library and its question set: front matter, sizes, references, and that every
gold source of every question exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.core.index import IndexStore
from bot.core.settings import Settings
from ingest.markdown import split_front_matter
from tests.conftest import CORPUS, ROOT

TAGS = set(
    """reward-learning rlhf shard-theory wireheading reward-hacking goodhart goal-misgeneralization
    value-specification inner-alignment deception instrumental-convergence corrigibility
    value-learning oversight interpretability neuroscience language-models reasoning-models
    agent-foundations careers tools foundations existential-risk takeoff forecasting objections
    governance organizations people decision-theory evaluations ai-control multi-agent moral-status
    machine-learning misuse""".split()
)
QUESTION_TYPES = {"single", "multi-article", "follow-up", "disagreement", "off-topic", "unanswerable", "near-miss"}
ARTICLES = sorted(CORPUS.glob("*.md"))


def load_questions() -> list[dict]:
    lines = (ROOT / "corpus" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_library_size():
    assert len(ARTICLES) >= 150


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_article_front_matter(path: Path):
    meta, body = split_front_matter(path.read_text(encoding="utf-8"))
    assert meta["id"] == path.stem
    assert isinstance(meta["title"], str) and meta["title"].strip()
    assert meta["authors"] == ["AlignChat editors"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(meta["date"]))
    assert 2 <= len(meta["tags"]) <= 4 and set(meta["tags"]) <= TAGS, meta["tags"]
    assert isinstance(meta["summary"], str) and 20 <= len(meta["summary"]) <= 600
    assert 1 <= len(meta["references"]) <= 6
    for ref in meta["references"]:
        assert ref["title"] and ref["authors"] and isinstance(ref["year"], int)
        assert re.match(r"https?://", ref["url"]), ref
    related = meta.get("related", [])
    assert isinstance(related, list) and len(related) <= 6 and meta["id"] not in related, related
    assert {f"{doc_id}.md" for doc_id in related} <= {p.name for p in ARTICLES}, "related articles must be in the library"
    words = len(body.split())
    assert 600 <= words <= 1600, f"{words} words"  # body words plus Markdown headings
    assert body.count("\n## ") >= 2
    assert not re.search(r"</?(?:div|span|script|a|p|br|img|table|sup)\b", body), "plain Markdown, no HTML"


def test_question_set():
    questions = load_questions()
    ids = {p.stem for p in ARTICLES}
    assert len(questions) >= 150
    assert len({q["id"] for q in questions}) == len(questions), "question ids are unique"
    for q in questions:
        assert set(q) >= {"id", "question", "reference_answer", "gold_sources", "answerable", "tags"}, q["id"]
        assert q["question"].strip() and q["reference_answer"].strip()
        assert isinstance(q["answerable"], bool)
        assert set(q["tags"]) <= TAGS | QUESTION_TYPES, q["id"]
        assert set(q["tags"]) & QUESTION_TYPES, q["id"]
        if q["answerable"]:
            assert q["gold_sources"] and set(q["gold_sources"]) <= ids, q["id"]
        else:
            assert q["gold_sources"] == [], q["id"]
        if "follow-up" in q["tags"]:
            assert q.get("history") and all(isinstance(h, str) for h in q["history"]), q["id"]
    unanswerable = [q for q in questions if not q["answerable"]]
    assert len(unanswerable) >= 20
    for kind in ("multi-article", "follow-up", "disagreement", "off-topic"):
        assert sum(kind in q["tags"] for q in questions) >= 10, kind


def test_the_held_out_name_questions_are_well_formed():
    """corpus/questions-names.jsonl: who/which questions written on 2026-12-06 to measure the name
    rules on questions they were not written from (BENCHMARKS.md)."""
    lines = (ROOT / "corpus" / "questions-names.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    ids = {p.stem for p in ARTICLES}
    assert len({q["id"] for q in questions}) == len(questions) == 100
    for q in questions:
        assert q["question"].strip() and q["reference_answer"].strip() and "names" in q["tags"], q["id"]
        if q["answerable"]:
            assert q["gold_sources"] and set(q["gold_sources"]) <= ids, q["id"]
        else:
            assert q["gold_sources"] == [] and "near-miss" in q["tags"], q["id"]


def test_every_article_is_indexed(corpus_data_dir):
    store = IndexStore.open_for_reading(Settings(data_dir=corpus_data_dir))
    indexed = {c.metadata["doc_id"] for c in store.all_chunks()}
    assert indexed == {p.stem for p in ARTICLES}
    refs = [p.references for p in store.passages_of("wireheading")]
    assert refs and refs[0], "references travel with the chunks to the UI"

