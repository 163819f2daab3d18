"""Article-level ranking: the aggregation helpers, and what the ranking guarantees on the real index."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.answer.retrieval import DECAY, PASSAGES_PER_SOURCE, _ranks, best_two
from tests.conftest import run_cli


def _layout(sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    sizes_array = np.asarray(sizes)
    return np.cumsum(sizes_array) - sizes_array, sizes_array


def test_best_two_weighs_the_second_passage_at_half():
    scores = np.array([0.2, 0.9, 0.5, 0.7, -np.inf, 0.4, 0.3, 0.3])
    got = best_two(scores, *_layout([3, 1, 2, 2]))
    assert got[0] == pytest.approx((0.9 + DECAY * 0.5) / (1 + DECAY))
    assert got[1] == pytest.approx(0.7)  # a one-passage article counts its passage twice, not half of it
    assert got[2] == -np.inf  # an unscored passage sinks it
    assert got[3] == pytest.approx(0.3)  # a tie for best: the second best is as good


def test_best_two_matches_sorting_each_article():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 12, 40)
    owner = np.repeat(np.arange(40), sizes)
    scores = np.where(rng.random(len(owner)) < 0.7, 0.0, rng.random(len(owner)))  # like BM25: many zeros
    got = best_two(scores, *_layout(list(sizes)))
    for article in range(40):
        mine = sorted(scores[owner == article], reverse=True)
        second = mine[1] if len(mine) > 1 else mine[0]
        assert got[article] == pytest.approx((mine[0] + DECAY * second) / (1 + DECAY))


def test_ranks_best_first_ties_in_order():
    assert list(_ranks(np.array([0.1, 0.5, -np.inf, 0.5]))) == [2, 0, 3, 1]
    rng = np.random.default_rng(1)
    for _ in range(20):  # zeros, -inf, negatives and ties, as a stable sort of everything orders them
        scores = rng.choice([0.0, -np.inf, -0.3, 0.2, 0.7, 1.5], size=200) * rng.choice([1.0, 1.0, 0.5], size=200)
        expected = np.empty(200, dtype=np.int64)
        expected[np.argsort(-scores, kind="stable")] = np.arange(200)
        assert (_ranks(scores) == expected).all()


def test_sources_are_distinct_articles_with_their_best_passages(extractive_engine):
    sources = extractive_engine.retriever.search("Why would an agent tamper with its own reward signal?", 10)
    assert len(sources) == 10
    assert len({s.doc_id for s in sources}) == 10
    assert all(1 <= len(s.passages) <= PASSAGES_PER_SOURCE for s in sources)
    assert all(p.doc_id == s.doc_id for s in sources for p in s.passages)
    assert [s.score for s in sources] == sorted((s.score for s in sources), reverse=True)
    assert {"reward-tampering", "wireheading"} <= {s.doc_id for s in sources[:3]}
    # every returned passage carries its real cosine similarity, which abstention relies on
    assert all(0.0 < p.dense <= 1.0 for s in sources for p in s.passages)


def test_words_the_library_never_uses_still_get_dense_results(extractive_engine):
    sources = extractive_engine.retriever.search("zzqx wibblefrotz", 3)
    assert len(sources) == 3 and all(s.passages for s in sources)


def test_ablation_measures_variants_and_restores_the_retriever(extractive_engine):
    from bot.eval.ablation import VARIANTS, ablation, markdown
    from bot.eval.questions import load_questions
    from tests.conftest import ROOT

    questions = [q for q in load_questions(ROOT / "corpus" / "questions.jsonl") if q["answerable"]][:8]
    rows = ablation(extractive_engine, questions)
    assert [name for name, _ in rows] == [name for name, _, _ in VARIANTS]
    for _, figures in rows:
        for hit, mrr in figures.values():
            assert 0.0 <= hit <= 1.0 and 0.0 <= mrr <= 1.0
    assert extractive_engine.retriever.rankings == VARIANTS[0][1]
    assert "| all four rankings (default) |" in markdown(rows, len(questions))


def test_unknown_rankings_are_refused(extractive_engine):
    from bot.answer.retrieval import Retriever

    with pytest.raises(ValueError, match="rankings must be some of"):
        Retriever(extractive_engine.store, extractive_engine.embeddings, rankings=("sparkle",))


def test_an_emptied_index_and_articles_without_titles(extractive_engine, tmp_path):
    """The web app rebuilds its retriever after a deletion, possibly of the last article."""
    from bot.answer.retrieval import Retriever
    from bot.core.index import IndexStore
    from bot.core.settings import Settings

    embeddings = extractive_engine.embeddings
    store = IndexStore(Settings(data_dir=tmp_path), create=True)
    assert Retriever(store, embeddings).search("reward hacking", 5) == []
    store.upsert(["untitled#0"], [embeddings.embed_query("notes")], ["Some notes on rewards."],
                 [{"doc_id": "untitled", "title": "", "position": 0}])
    store.upsert(["w#0"], [embeddings.embed_query("wireheading")], ["An agent seizing its reward channel."],
                 [{"doc_id": "w", "title": "Wireheading", "position": 0}])
    assert [s.doc_id for s in Retriever(store, embeddings).search("wireheading", 5)] == ["w", "untitled"]


def test_questions_are_embedded_as_ingestion_embedded_the_passages(extractive_engine):
    """Answering runs the ONNX export of the embedding model (it starts in under a second); its
    vectors are the sentence-transformers model's, so stored passages and questions still meet."""
    from bot.core.models import OnnxEmbeddings, load_embeddings

    assert isinstance(extractive_engine.embeddings, OnnxEmbeddings)
    texts = [p.text for p in extractive_engine.store.passages_of("wireheading")][:12]
    texts += ["What is wireheading?", "Will an AI trained with rewards just want the reward?", "x" * 3000]
    exported = np.asarray(extractive_engine.embeddings.embed_documents(texts))
    original = np.asarray(load_embeddings("bundled", "cpu").embed_documents(texts))
    assert np.abs(exported - original).max() < 1e-5
    assert np.allclose(extractive_engine.embeddings.embed_query(texts[-2]), original[-2], atol=1e-5)


def test_the_scale_benchmark_reports_its_figures_and_reuses_the_index_it_built(corpus_data_dir):
    """`python -m bot.bench --scale N --json` is what the maintainers run at a million chunks:
    one JSON object with the figures, and a second run measures the index the first one built
    instead of spending the hours it takes to build again."""
    runs = []
    for _ in range(2):
        done = run_cli(["-m", "bot.bench", "--scale", "30", "--json"], corpus_data_dir)
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["chunks"] == second["chunks"] == 30
    assert (first["index_reused"], second["index_reused"]) == (False, True)
    for figures in runs:
        assert figures["startup_s"] > 0 and figures["rss_mb"] > 0
        assert 0 < figures["query_p50_ms"] <= figures["query_p95_ms"]
        assert figures["queries"] > 400  # every question of the bundled set was searched
