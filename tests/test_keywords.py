"""The persisted keyword index: the scores of an in-memory bm25s index, kept equal to a clean
build through additions, changes, removals, restores, merges and a lost keyword directory."""

from __future__ import annotations

import math
import shutil
from collections import Counter
from pathlib import Path

import bm25s
import numpy as np
import pytest

from bot.core import keywords
from bot.core.index import IndexStore, passage_from
from bot.core.settings import Settings
from bot.core.text import STEMMER, content_words
from tests.conftest import CORPUS, KEYWORD_PROBES, keyword_state


def _in_memory(store: IndexStore):
    """The indexes built the way every process built them before they were persisted."""
    passages = [passage_from(i, d or "", m) for page in store.all_records() for i, d, m in
                zip(page.ids, page.documents, page.metadatas, strict=True)]
    doc_ids = list(dict.fromkeys(p.doc_id for p in passages))
    members = {d: sorted((p for p in passages if p.doc_id == d), key=lambda p: p.position) for d in doc_ids}
    firsts = [members[d][0] for d in doc_ids]
    tokens = bm25s.tokenize([a.title for a in firsts] + [" ".join([*p.headings, p.text]) for p in passages],
                            stopwords="en", stemmer=STEMMER, show_progress=False)
    titles, bodies = tokens.ids[:len(firsts)], tokens.ids[len(firsts):]
    owner = [doc_ids.index(p.doc_id) for p in passages]
    row = {p.chunk_id: i for i, p in enumerate(passages)}

    def index(docs, vocab):
        built = bm25s.BM25()
        built.index((docs, vocab), show_progress=False)
        return built

    passage_index = index([titles[a] + body for a, body in zip(owner, bodies, strict=True)], dict(tokens.vocab))
    article_index = index([titles[a] + [t for p in members[d] for t in bodies[row[p.chunk_id]]]
                           for a, d in enumerate(doc_ids)], dict(tokens.vocab))
    field_index = bm25s.BM25()
    field_index.index(bm25s.tokenize([" ".join([a.title, a.summary, *(t.replace("-", " ") for t in a.tags)]) for a in firsts],
                                     stopwords="en", stemmer=STEMMER, show_progress=False), show_progress=False)
    return passages, doc_ids, passage_index, article_index, field_index


def _scores(index: bm25s.BM25, words: list[str], size: int) -> np.ndarray:
    known = [w for w in words if w in index.vocab_dict]
    return np.asarray(index.get_scores(known)) if known else np.zeros(size)


def test_persisted_scores_equal_an_in_memory_bm25s_index(extractive_engine):
    store = extractive_engine.store
    passages, doc_ids, passage_index, article_index, field_index = _in_memory(store)
    persisted = keywords.KeywordIndex(store.settings.keywords_dir)
    assert sorted(persisted.live_chunk_ids()) == sorted(p.chunk_id for p in passages)
    for probe in (*KEYWORD_PROBES, "Will an AI trained with rewards just want the reward?", "reward reward model"):
        words = bm25s.tokenize([probe], stopwords="en", stemmer=STEMMER, return_ids=False, show_progress=False)[0]
        expected = dict(zip((p.chunk_id for p in passages), _scores(passage_index, words, len(passages)), strict=True))
        got = persisted.bm25("passage", words)
        assert {persisted.chunk_id(r): got[r] for r in range(persisted.n_passages)} == pytest.approx(expected, rel=1e-5, abs=1e-6)
        for name, index in (("article", article_index), ("field", field_index)):
            expected = dict(zip(doc_ids, _scores(index, words, len(doc_ids)), strict=True))
            got = persisted.bm25(name, words)
            assert {persisted.doc_id(a): got[a] for a in range(persisted.n_articles)} == pytest.approx(expected, rel=1e-5, abs=1e-6)
    counts = Counter(w for p in passages for w in content_words(" ".join([p.title, *p.headings, p.text])))
    rarity = extractive_engine.retriever.idf
    for word in ("reward", "wirehead", "shard", "goodhart"):
        assert rarity.get(word) == pytest.approx(math.log(1 + len(passages) / counts[word]))
    assert "zzqx" not in rarity and rarity.get("zzqx") == pytest.approx(math.log(1 + len(passages)))


def _folder(path: Path, names: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.md"):
        if old.name not in names:
            old.unlink()
    for name in names:
        if not (path / name).exists():
            shutil.copy(CORPUS / name, path / name)
    return path


def test_every_kind_of_write_leaves_what_a_clean_build_gives(tmp_path, monkeypatch):
    from ingest.indexer import Indexer
    from ingest.trash import Trash

    monkeypatch.setattr(keywords, "MAX_SEGMENTS", 2)  # merges happen after a few writes
    names = sorted(p.name for p in CORPUS.glob("*.md"))[:9]
    folder = tmp_path / "articles"
    settings = Settings(data_dir=tmp_path / "data")
    indexer = Indexer(settings, progress=False)
    indexer.run([_folder(folder, names[:3])])
    indexer.run([_folder(folder, names[:6])])
    indexer.run([_folder(folder, names[:9])])
    edited = folder / names[1]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\n## Coda\n\nA closing note on wireheading.\n", encoding="utf-8")
    _folder(folder, [n for n in names if n != names[4]])  # one article leaves the folder: pruned to the trash
    report = indexer.run([folder])
    assert report.updated == 1 and report.deleted == 1
    segments = keywords._load_manifest(settings.keywords_dir)["segments"]
    assert len(segments) <= 2 + 1  # merged as they accumulated

    clean = tmp_path / "clean"
    Indexer(Settings(data_dir=clean), progress=False).run([shutil.copytree(folder, tmp_path / "clean-articles")])
    expected = keyword_state(clean)
    assert keyword_state(settings.data_dir) == expected
    assert expected[KEYWORD_PROBES[0], "passage"]  # the probes do find passages

    # A removal and a restore from the trash, then the keyword directory lost: the next reader
    # rebuilds it from the vector index, and every state equals the clean build's.
    trash = Trash(settings)
    store = IndexStore(settings, create=False)
    removed = names[2].removesuffix(".md")
    doc_id = next(d for d in keywords.KeywordIndex(settings.keywords_dir).article_of_doc if removed in d)
    trash.remove(store, doc_id, "tester")
    assert doc_id not in keywords.KeywordIndex(settings.keywords_dir).article_of_doc
    trash.restore(store, doc_id, "tester")
    assert keyword_state(settings.data_dir) == expected
    shutil.rmtree(settings.keywords_dir)
    store.keyword_index()
    assert keyword_state(settings.data_dir) == expected


def test_a_writer_that_dies_before_syncing_is_caught_up(tmp_path):
    """Chunks written with no sync after them (the writer was killed): the journal names their
    article, and the next reader brings the keyword index in step before answering."""
    from ingest.indexer import Indexer

    settings = Settings(data_dir=tmp_path / "data")
    names = sorted(p.name for p in CORPUS.glob("*.md"))[:3]
    Indexer(settings, progress=False).run([_folder(tmp_path / "articles", names)])
    store = IndexStore(settings, create=False)
    before = keywords.KeywordIndex(settings.keywords_dir)
    vector = np.zeros(before.vectors([0]).shape[1], dtype=np.float32)
    vector[0] = 1.0
    store.upsert(["late#0"], [vector.tolist()], ["A passage about reward tampering written last."],
                 [{"doc_id": "late", "title": "Late arrival", "position": 0}])  # no sync follows
    assert "late" not in keywords.KeywordIndex(settings.keywords_dir).article_of_doc
    assert keywords.Journal(settings.keywords_dir).pending() == ["late"]
    caught_up = store.keyword_index()
    assert "late" in caught_up.article_of_doc and not keywords.Journal(settings.keywords_dir).pending()
    assert caught_up.live_passages == store.count()
