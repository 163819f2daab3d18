"""Ingestion of Markdown articles: identity, chunk sizes, incremental re-runs, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.identity import canonical_url, doc_id_for
from bot.core.settings import Settings
from ingest.indexer import Indexer
from ingest.markdown import LoadError, article_from_markdown
from tests.conftest import run_cli

ARTICLE = """---
title: "{title}"
author: Jane Roe
original_url: {url}
date_published: 2023-05-01
tags: [reward-learning, test]
description: A test article.
---

# {title}

## What it says

{body}

## Why it matters

Specification gaming happens when an agent satisfies the letter of its objective but not its intent.
"""


def write(folder: Path, name: str, title: str, url: str = "", body: str = "Reward shapes behaviour.") -> Path:
    path = folder / name
    path.write_text(ARTICLE.format(title=title, url=url or '""', body=body), encoding="utf-8")
    return path


def test_front_matter_keys_used_in_the_wild():
    article = article_from_markdown(
        ARTICLE.format(title="Odd: title", url="https://www.Example.com/post/?id=3#top", body="Text."), "a.md"
    )
    assert article.title == "Odd: title"
    assert article.authors == ("Jane Roe",)
    assert article.date == "2023-05-01"
    assert article.summary == "A test article."
    assert article.doc_id == "https://example.com/post?id=3"
    assert "---" not in article.text.splitlines()[0]


def test_identity_rules():
    assert canonical_url("HTTPS://WWW.LessWrong.com/posts/abc/") == "https://lesswrong.com/posts/abc"
    assert canonical_url("https://x.org/p?c=1") != canonical_url("https://x.org/p?c=2")
    assert doc_id_for("", "", "sub/a.md") == "sub/a.md"
    assert doc_id_for("slug", "https://x.org", "a.md") == "slug"


def test_broken_front_matter_is_a_clear_error():
    with pytest.raises(LoadError, match="front matter"):
        article_from_markdown("---\ntitle: [unclosed\n---\ntext", "bad.md")


def test_chunks_fit_the_embedding_model(tmp_path):
    long_body = " ".join(f"Sentence {i} about reward models and goal misgeneralization in agents." for i in range(400))
    write(tmp_path, "long.md", "A long article", body=long_body)
    indexer = Indexer(Settings(data_dir=tmp_path / "data"), progress=False)
    article = article_from_markdown((tmp_path / "long.md").read_text(), "long.md")
    chunks = indexer.chunker.chunks(article)
    assert len(chunks) > 10
    for chunk in chunks:
        assert indexer.chunker.count(chunk.embedded_text(article.title)) <= 254
    # The summary (front-matter description) is a chunk of its own, before the sections.
    assert chunks[0].headings == ("Summary",) and chunks[0].text == "A test article."
    assert {c.headings[-1] for c in chunks[1:]} == {"What it says", "Why it matters"}


def test_incremental_runs(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    write(folder, "a.md", "Article A", "https://example.org/a")
    write(folder, "b.md", "Article B", "https://example.org/b")
    write(folder, "c.md", "Article C")
    indexer = Indexer(Settings(data_dir=tmp_path / "data"), progress=False)

    first = indexer.run([folder])
    assert (first.added, first.failed) == (3, [])
    chunks = first.chunks_total

    again = indexer.run([folder])
    assert (again.unchanged, again.added, again.updated, again.chunks_embedded) == (3, 0, 0, 0)
    assert again.chunks_total == chunks

    write(folder, "a.md", "Article A", "https://example.org/a", body="Reward is a chisel, not a goal.")
    (folder / "b.md").unlink()
    changed = indexer.run([folder])
    assert (changed.updated, changed.deleted, changed.unchanged) == (1, 1, 1)
    ids = {c.metadata["doc_id"] for c in indexer.store.all_chunks()}
    assert ids == {"https://example.org/a", "c.md"}
    texts = " ".join(p.text for p in indexer.store.passages_of("https://example.org/a"))
    assert "chisel" in texts and "Reward shapes behaviour" not in texts


def test_bad_files_are_reported_and_the_rest_ingested(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    write(folder, "good.md", "Good article")
    (folder / "broken.md").write_text("---\ntitle: [oops\n---\nbody", encoding="utf-8")
    (folder / "latin1.md").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (folder / "empty.md").write_text("", encoding="utf-8")
    data = tmp_path / "data"
    result = run_cli(["-m", "ingest", "--json", str(folder)], data)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["added"] == 1
    reasons = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert set(reasons) == {"broken.md", "latin1.md", "empty.md"}
    assert "UTF-8" in reasons["latin1.md"] and "front matter" in reasons["broken.md"]
    assert set(report) >= {"documents_seen", "added", "updated", "unchanged", "deleted", "failed", "chunks_total", "seconds"}

    # A later run with only bad input loses nothing already stored.
    (folder / "good.md").unlink()
    missing = run_cli(["-m", "ingest", "--json", "--no-prune", str(folder), str(tmp_path / "nope")], data)
    report = json.loads(missing.stdout)
    assert report["chunks_total"] > 0 and report["deleted"] == 0
    assert any("no such file" in f["error"] for f in report["failed"])


def test_whole_index_is_read_in_pages(tmp_path, monkeypatch):
    import bot.core.index

    folder = tmp_path / "articles"
    folder.mkdir()
    for i in range(4):
        write(folder, f"{i}.md", f"Article {i}", body=f"Reward learning note {i}. " * 60)
    indexer = Indexer(Settings(data_dir=tmp_path / "data"), progress=False)
    total = indexer.run([folder]).chunks_total
    monkeypatch.setattr(bot.core.index, "PAGE", 3)  # large indexes exceed SQLite's variable limit in one read
    assert len(indexer.store.all_chunks()) == total > 3
    assert len({i for page in indexer.store.all_records() for i in page.ids}) == total


def test_stored_articles_put_each_article_back_together(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    body = " ".join(f"Sentence {i} says that reward shapes the policy's values in step {i}." for i in range(120))
    write(folder, "long.md", "A long article", url="https://example.org/long", body=body)
    indexer = Indexer(Settings(data_dir=tmp_path / "data"), progress=False)
    assert indexer.run([folder]).chunks_total > 4  # several overlapping chunks and a summary chunk
    (stored,) = indexer.store.stored_articles()
    assert stored.doc_id == "https://example.org/long" and stored.title == "A long article"
    assert stored.summary == "A test article." and "A test article." not in stored.text
    assert stored.text.startswith("# A long article\n\n## What it says\n\nSentence 0 says")
    section = stored.text.split("## What it says\n\n", 1)[1].split("\n\n## Why it matters")[0]
    assert section == body  # overlap between neighbouring chunks kept once
    assert stored.text.endswith("## Why it matters\n\nSpecification gaming happens when an agent satisfies "
                                "the letter of its objective but not its intent.")


def _ard_record(i: int, source: str) -> str:
    body = " ".join(f"Record {i} discusses reward model overoptimization in setting {j}." for j in range(30))
    return json.dumps({"id": f"{source}-{i}", "source": source, "title": f"ARD record {i}", "text": body,
                       "authors": ["A. Writer"], "date_published": f"2024-01-0{i % 9 + 1}"})


def test_ard_jsonl_streams_in_parts_and_resumes_without_re_embedding(tmp_path):
    from ingest.sources import discover, load

    path = tmp_path / "ard.jsonl"
    lines = [_ard_record(i, "arxiv" if i % 3 == 0 else "lesswrong") for i in range(12)]
    path.write_text("\n".join(lines[:5] + ["{broken"] + lines[5:]) + "\n", encoding="utf-8")

    # Streamed: the first article arrives after reading its own line, not the whole file.
    source = discover(path)
    stream = load(source)
    first = next(stream)
    assert first.article is not None and first.article.doc_id == "ard:arxiv-0"
    assert [x.error for x in stream if x.article is None] == ["line 6: not valid JSON"]

    settings = Settings(data_dir=tmp_path / "data")
    indexer = Indexer(settings, progress=False)
    only = indexer.run([path], ard_sources=frozenset({"arxiv"}))
    assert only.added == 4  # records 0, 3, 6 and 9
    part = indexer.run([path], limit=6)  # the first six good records: two of them are stored already
    assert (part.added, part.unchanged, part.deleted) == (4, 2, 0)
    # The whole file, as after a run killed part-way: only what is missing is embedded.
    whole = indexer.run([path])
    assert (whole.added, whole.unchanged, whole.deleted) == (4, 8, 0)
    assert whole.chunks_embedded == whole.chunks_total - part.chunks_total  # the new articles' chunks only
    assert len(whole.failed) == 1 and "line 6" in whole.failed[0]["error"]
    # --limit on the command line, and nothing pruned from a partial read.
    result = run_cli(["-m", "ingest", "--json", "--limit", "1", str(path)], settings.data_dir)
    assert result.returncode == 0, result.stderr[-2000:]  # reading stopped before the broken line
    report = json.loads(result.stdout)
    assert report["deleted"] == 0 and report["chunks_total"] == whole.chunks_total
    refused = run_cli(["-m", "ingest", "--limit", "0", str(path)], settings.data_dir)
    assert refused.returncode == 2 and "--limit must be 1 or more" in refused.stderr


def test_embedding_device_is_detected_and_can_be_chosen():
    from bot.core.models import embedding_device

    assert embedding_device("auto") == "cpu"  # no GPU on the test machines
    assert embedding_device("cuda:1") == "cuda:1"
    assert Settings(device="cpu").device == "cpu"
