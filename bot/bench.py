"""`python -m bot.bench`: answer-side speed, measured side by side in one run.

- retrieval latency p50/p95 (embed the question + hybrid search) over the bundled question
  set, at the corpus size and at 100k synthetic chunks;
- time to first token and generation speed of the bundled model: the short notes prompt it is
  given against the passages prompt of capable models, and the requantized Q8_0 file against
  the shipped Q4_1 file, alternating, medians (`--llm-only` skips the retrieval figures).
Prints Markdown for BENCHMARKS.md.

`python -m bot.bench --scale N --json` builds (or reuses, under DATA_DIR/bench/) a synthetic
index of N chunks, then starts a fresh process that opens it and answers the bundled questions'
searches, and prints one JSON object: `chunks`, `startup_s` (process start to a retriever ready
to answer), `query_p50_ms` and `query_p95_ms` (embed + hybrid search), `rss_mb` (the answering
process's peak resident memory).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bot.answer.extractive import select
from bot.answer.llm import LlamaCppLLM
from bot.answer.prompts import build_messages, build_notes_messages
from bot.answer.retrieval import Retriever, open_retriever
from bot.core.index import IndexMissing, IndexStore
from bot.core.models import bundled_llm_path, load_query_embeddings, shipped_llm_path
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
    """`total` chunks made from the real ones: word runs taken across chunks, and embeddings
    that are real embeddings plus noise, so the vector and keyword indexes hold realistic text
    and directions at scale without embedding them; written the way ingestion writes (articles
    of ten chunks, in positions, through the store, whose keyword index takes them in)."""
    rng = np.random.default_rng(0)
    got = source.collection.get(include=["embeddings", "documents", "metadatas"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    words = " ".join(got["documents"]).split()
    store = IndexStore(settings, create=True)
    batch = 2000
    with store.writing(), tqdm(total=total, desc="synthetic index", unit="chunk") as bar:
        for start in range(store.count(), total, batch):  # resumes a build that was killed
            n = min(batch, total - start)
            pick = rng.integers(0, len(vectors), n)
            noisy = vectors[pick] + rng.normal(0, 0.05, (n, vectors.shape[1])).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            texts = [" ".join(words[j:j + 120]) for j in rng.integers(0, len(words) - 120, n)]
            metas = []
            for i, p in enumerate(pick):
                meta = dict(got["metadatas"][p])
                meta["doc_id"] = f"synthetic-{(start + i) // 10}"
                meta["position"] = (start + i) % 10
                metas.append(meta)
            store.upsert([f"s{start + i}" for i in range(n)], noisy.tolist(), texts, metas)
            bar.update(n)
    return store


def scale_settings(settings: Settings, chunks: int) -> Settings:
    return settings.model_copy(update={"data_dir": settings.data_dir / "bench" / f"scale-{chunks}",
                                       "collection": "synthetic"})


def answering_process(data_dir: Path) -> None:
    """The measured side of `--scale`: open the index, say so, then time the searches."""
    settings = Settings(data_dir=data_dir, collection="synthetic")
    retriever = open_retriever(settings)
    print("ready", flush=True)
    qs = questions()
    latencies(retriever, qs[:10])  # warm up
    measured = latencies(retriever, qs)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"query_p50_ms": round(percentile(measured, 50), 1), "query_p95_ms": round(percentile(measured, 95), 1),
                      "rss_mb": round(peak_kb / 1024, 1), "queries": len(measured)}), flush=True)


def scale(chunks: int) -> dict:
    """Build or reuse the synthetic index of `chunks` chunks, and measure a fresh process on it."""
    settings = Settings()
    big = scale_settings(settings, chunks)
    try:
        store = IndexStore(big, create=False)
        reused = store.count() == chunks
    except IndexMissing:
        store, reused = None, False
    started = time.perf_counter()
    if not reused:
        store = synthetic_index(IndexStore.open_for_reading(settings), big, chunks)
    built = time.perf_counter() - started
    # This process lets go of the big index before the measured one starts: an engine holding
    # its 2 GB (at 1M chunks) alongside slowed the fresh process's start-up from 3 s to 7-8 s.
    store.release()
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "bot.bench", "--answering", str(big.data_dir)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    first = child.stdout.readline()
    startup = time.perf_counter() - started
    if first.strip() != "ready":
        raise SystemExit(f"the answering process failed to start ({first.strip() or 'no output'})")
    result = json.loads(child.stdout.readline())
    child.wait()
    return {"chunks": chunks, "startup_s": round(startup, 2), **result, "index_reused": reused,
            "index_built_s": round(built, 1), "data_dir": str(big.data_dir)}


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
    parser.add_argument("--scale", type=int, metavar="N", help="measure start-up, query latency and memory at N chunks")
    parser.add_argument("--json", action="store_true", help="with --scale: print one JSON object")
    parser.add_argument("--answering", type=Path, help=argparse.SUPPRESS)  # the process --scale measures
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.answering:
        answering_process(args.answering)
        return
    if args.scale:
        if args.scale < 10:
            parser.error("--scale needs at least 10 chunks (one synthetic article)")
        result = scale(args.scale)
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{result['chunks']} chunks: start-up {result['startup_s']} s, query p50 {result['query_p50_ms']} ms, "
                  f"p95 {result['query_p95_ms']} ms, peak RSS {result['rss_mb']} MB")
        return
    settings = Settings()
    store = IndexStore.open_for_reading(settings)
    embeddings = load_query_embeddings(settings.embedding_model, settings.device)
    qs = questions()
    retriever = Retriever(store, embeddings)
    if not args.llm_only:
        retrieval(store, retriever, qs, args.synthetic)
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


def retrieval(store: IndexStore, retriever: Retriever, qs: list[str], synthetic: int) -> None:
    """Retrieval latency on the bundled index, and the `--scale` figures at `synthetic` chunks."""
    latencies(retriever, qs[:10])  # warm up
    small = latencies(retriever, qs)
    big = scale(synthetic)
    print(f"### Retrieval latency (embed + hybrid search, top 5 articles; {len(qs)} questions)\n")
    print("| index | chunks | p50 | p95 | start-up of a fresh process | its peak RSS |\n|---|---|---|---|---|---|")
    print(f"| bundled corpus | {store.count()} | {percentile(small, 50):.1f} ms | {percentile(small, 95):.1f} ms | | |")
    print(f"| synthetic | {big['chunks']} | {big['query_p50_ms']} ms | {big['query_p95_ms']} ms | {big['startup_s']} s "
          f"| {big['rss_mb']} MB |\n")


if __name__ == "__main__":
    main()
