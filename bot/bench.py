"""`python -m bot.bench`: answer-side speed, measured side by side in one run.

- retrieval latency p50/p95 (embed the question + hybrid search) over the bundled question
  set, at the corpus size and at 100k synthetic chunks;
- time to first token and generation speed of the bundled model: the short notes prompt it is
  given against the passages prompt of capable models, and the requantized Q8_0 file against
  the shipped Q4_1 file, alternating, medians (`--llm-only` skips the retrieval figures).
Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.answer.extractive import select
from bot.answer.llm import LlamaCppLLM
from bot.answer.prompts import build_messages, build_notes_messages
from bot.answer.retrieval import Retriever
from bot.core.index import IndexStore
from bot.core.models import bundled_llm_path, load_embeddings, shipped_llm_path
from bot.core.paths import QUESTIONS_FILE
from bot.core.settings import Settings
from bot.eval.metrics import percentile
from bot.eval.questions import load_questions


def questions() -> list[str]:
    return [item["question"] for item in load_questions(QUESTIONS_FILE)]


def latencies(retriever: Retriever, qs: list[str], k: int = 5) -> list[float]:
    out = []
    for q in qs:
        started = time.perf_counter()
        retriever.search(q, k)
        out.append((time.perf_counter() - started) * 1000)
    return out


def synthetic_index(source: IndexStore, settings: Settings, total: int) -> IndexStore:
    """`total` chunks made from the real ones: sentences shuffled across chunks, and
    embeddings that are real embeddings plus noise, so the vector and keyword indexes hold
    realistic text and directions at scale without embedding 100k texts."""
    rng = np.random.default_rng(0)
    got = source.collection.get(include=["embeddings", "documents", "metadatas"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    words = " ".join(got["documents"]).split()
    store = IndexStore(settings, create=True)
    batch = 2000
    for start in range(0, total, batch):
        n = min(batch, total - start)
        pick = rng.integers(0, len(vectors), n)
        noisy = vectors[pick] + rng.normal(0, 0.05, (n, vectors.shape[1])).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        texts = [" ".join(words[j:j + 120]) for j in rng.integers(0, len(words) - 120, n)]
        metas = []
        for i, p in enumerate(pick):
            meta = dict(got["metadatas"][p])
            meta["doc_id"] = f"synthetic-{(start + i) // 10}"
            metas.append(meta)
        store.collection.add(ids=[f"s{start + i}" for i in range(n)], embeddings=noisy.tolist(),
                             documents=texts, metadatas=metas)
    return store


def generation(llm: LlamaCppLLM, messages: list[dict[str, str]], max_tokens: int) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    pieces = 0
    for _ in llm.stream(messages, max_tokens, 0.0):
        pieces += 1
        if first is None:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    return first or total, (pieces - 1) / max(total - (first or 0), 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--llm-only", action="store_true", help="only the bundled LLM's prompts (no retrieval figures)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    store = IndexStore.open_for_reading(settings)
    embeddings = load_embeddings(settings.embedding_model)
    qs = questions()
    retriever = Retriever(store, embeddings)
    if not args.llm_only:
        retrieval(store, embeddings, retriever, qs, args.synthetic)
    question = "What is wireheading and why does it matter for AI safety?"
    sources = retriever.search(question, settings.top_k)
    fast = LlamaCppLLM(bundled_llm_path(settings.models_dir), settings.n_threads, 2048, 0)
    shipped = LlamaCppLLM(shipped_llm_path(), settings.n_threads, 2048, 0)
    passages = build_messages(question, sources, list(range(1, len(sources) + 1)), "concise", [],
                              budget_chars=fast.context_tokens * 2)
    chosen = select(question, sources, embeddings, "concise")
    notes = build_notes_messages(question, [(c.source, sources[c.source - 1].best.title, c.text) for c in chosen])
    runs: dict[str, tuple[LlamaCppLLM, list[dict[str, str]]]] = {
        "Q8_0 (requantized, default), notes prompt (what the bundled model is given)": (fast, notes),
        "Q8_0 (requantized, default), passages prompt (capable models)": (fast, passages),
        "Q4_1 (shipped), passages prompt": (shipped, passages),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (llm, messages) in runs.items():
            llm._model.reset()  # no prompt-cache reuse between runs: every run evaluates the prompt
            results[name].append(generation(llm, messages, 64))
    print(f"### Bundled LLM (64 new tokens; medians of {args.repeats}, alternating)\n")
    print("| model file and prompt | prompt tokens | time to first token | generation |\n|---|---|---|---|")
    for name, measured in results.items():
        llm, messages = runs[name]
        tokens = len(llm._model.tokenize("\n".join(m["content"] for m in messages).encode()))
        ttft = statistics.median(r[0] for r in measured)
        speed = statistics.median(r[1] for r in measured)
        print(f"| {name} | {tokens} | {ttft:.2f} s | {speed:.1f} tokens/s |")


def retrieval(store: IndexStore, embeddings, retriever: Retriever, qs: list[str], synthetic: int) -> None:
    """Retrieval latency on the bundled index and on a synthetic one of `synthetic` chunks."""
    latencies(retriever, qs[:10])  # warm up
    small = latencies(retriever, qs)
    print(f"### Retrieval latency (embed + hybrid search, top 5 articles; {len(qs)} questions)\n")
    print("| index | chunks | p50 | p95 |\n|---|---|---|---|")
    print(f"| bundled corpus | {store.count()} | {percentile(small, 50):.1f} ms | {percentile(small, 95):.1f} ms |")
    with tempfile.TemporaryDirectory() as tmp:
        big_settings = Settings(data_dir=Path(tmp), collection="synthetic")
        started = time.perf_counter()
        big = synthetic_index(store, big_settings, synthetic)
        built = time.perf_counter() - started
        started = time.perf_counter()
        big_retriever = Retriever(big, embeddings)
        loaded = time.perf_counter() - started
        latencies(big_retriever, qs[:10])
        large = latencies(big_retriever, qs)
        print(f"| synthetic | {big.count()} | {percentile(large, 50):.1f} ms | {percentile(large, 95):.1f} ms |")
        print(f"\n(synthetic index written in {built:.0f} s; retriever start-up, which loads every chunk for "
              f"BM25, {loaded:.1f} s)\n")


if __name__ == "__main__":
    main()
