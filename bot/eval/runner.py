"""Runs a question set through the real answer pipeline and records what happened.

Each question's result is appended to `results.jsonl` as soon as it is known, so an
interrupted run resumes where it stopped (same --out directory, same settings).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bot.answer.pipeline import Conversation, Engine, answer
from bot.core.events import Cited, Retrieved, Sentence, Token
from bot.core.markers import marker_numbers
from bot.core.types import Passage, text_hash
from bot.eval.baseline import NaiveBaseline
from bot.eval.judge import NEEDS_ANSWERS, Judge
from bot.eval.metrics import QuestionResult, summarize
from bot.eval.questions import load_questions
from bot.eval.report import RESULTS_FILE, SUMMARY_FILE, load_results, load_summary, write_report

log = logging.getLogger(__name__)
RUN_FILE = "run.json"
RANK_DEPTH = 10  # MRR@10 and nDCG@10 need ten ranked articles


@dataclass
class EvalRun:
    summary: dict[str, Any]
    results: list[QuestionResult]
    out_dir: Path | None = None
    report_path: Path | None = None
    baseline_summary: dict[str, Any] | None = None


def _conversation_for(item: dict[str, Any], engine: Engine) -> Conversation:
    """The conversation a follow-up question assumes: each earlier question asked, and the
    articles it would have cited (its best retrieved sources) remembered."""
    conversation = Conversation()
    for earlier in item.get("history") or []:
        sources = engine.retriever.search(conversation.query_for(earlier), 2)
        conversation.turns.append((earlier, ""))
        conversation.last_titles = [s.best.title for s in sources]
    return conversation


def evaluate_question(item: dict[str, Any], engine: Engine, retrieval_only: bool,
                      judge: Judge | None = None) -> QuestionResult:
    conversation = _conversation_for(item, engine)
    started = time.perf_counter()
    query = conversation.query_for(item["question"])
    sources = engine.retriever.search(query, RANK_DEPTH, vector=engine.retriever.embed(query))
    result = QuestionResult(
        id=item["id"], question=item["question"], tags=list(item["tags"]), answerable=bool(item["answerable"]),
        gold_sources=list(item["gold_sources"]), reference_answer=item.get("reference_answer", ""),
        ranked=[(s.doc_id, s.best.url) for s in sources],
        retrieval_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    if retrieval_only:
        return result.score()

    started = time.perf_counter()
    cited: Cited | None = None
    given: list[Passage] = []  # what the answering model was shown, for the judge
    for event in answer(item["question"], engine, conversation):
        if isinstance(event, Token) and result.first_token_s is None:
            result.first_token_s = round(time.perf_counter() - started, 4)
        elif isinstance(event, Sentence) and result.first_sentence_s is None:
            result.first_sentence_s = round(time.perf_counter() - started, 4)
        elif isinstance(event, Retrieved):
            given = event.passages
        elif isinstance(event, Cited):
            cited = event
    result.answer_s = round(time.perf_counter() - started, 4)
    if cited is None:  # the pipeline failed (LLM server down...): count it as no answer
        result.answer, result.abstained = "", True
        return result.score()
    numbers = {c.n for c in cited.citations}
    markers = marker_numbers(cited.answer_text)
    result.answer = cited.text
    result.abstained = cited.abstained
    result.cited = [(c.doc_id, c.url) for c in cited.citations]
    result.markers_total = len(markers)
    result.markers_valid = sum(n in numbers for n in markers)
    # The sentences the reader is shown: a draft's unsupported sentences are left out (counted as dropped).
    shown_unsupported = 0 if engine.llm is not None else cited.unsupported_sentences
    result.sentences_cited = cited.supported_sentences + shown_unsupported
    result.sentences_supported = cited.supported_sentences
    if engine.llm is not None and not cited.abstained:
        result.draft_discarded, result.draft_dropped = cited.fallback, cited.unsupported_sentences
    result.quoted_sentences = cited.quoted_sentences
    if not cited.abstained and result.reference_answer:
        vectors = np.asarray(engine.embeddings.embed_documents([cited.answer_text, result.reference_answer]))
        result.semantic_similarity = round(float(vectors[0] @ vectors[1]), 4)
    if judge is not None and not cited.abstained:
        verdict = judge.judge(item["question"], cited.answer_text, given)
        result.judge_faithfulness, result.judge_relevance = verdict.faithfulness, verdict.relevance
    return result.score()


def _resume(out_dir: Path, config: dict[str, Any]) -> list[QuestionResult]:
    """Results already recorded in out_dir by an interrupted run with the same settings."""
    run_file = out_dir / RUN_FILE
    if not (out_dir / RESULTS_FILE).is_file() or not run_file.is_file():
        return []
    before = json.loads(run_file.read_text(encoding="utf-8"))
    differ = sorted(key for key in before.keys() | config.keys() if before.get(key) != config.get(key))
    if differ:
        raise ValueError(
            f"{out_dir} holds a run with other settings or another index ({', '.join(differ)} differ): "
            "give a new --out directory, or delete it to start over"
        )
    done = load_results(out_dir / RESULTS_FILE)
    log.info("resuming: %d questions already done in %s", len(done), out_dir)
    return done


def run_evaluation(questions_path: Path, engine: Engine, *, retrieval_only: bool = False,
                   out_dir: Path | None = None, baseline: NaiveBaseline | None = None, compare: Path | None = None,
                   progress: Callable[[int, int], None] | None = None, limit: int | None = None,
                   every: int = 1, show_bar: bool = False, judge: Judge | None = None) -> EvalRun:
    """Evaluate `engine` on a question set; optionally write results, report and plots to out_dir.

    `baseline` is also scored on the same questions (retrieval only); `judge` adds LLM-judged
    faithfulness and relevance (a separate, labelled section). `every` keeps every k-th question:
    a sample spread over the whole set, where `limit` alone would take only its oldest questions."""
    if judge is not None and retrieval_only:
        raise ValueError(NEEDS_ANSWERS)
    if every < 1:
        raise ValueError(f"--every must be 1 or more (got {every}): 1 keeps every question, 5 every fifth")
    questions = load_questions(questions_path)[::every][:limit]
    # What a resumed run must share with the interrupted one: same questions, model, settings, and
    # the same indexed chunks (chunk ids hash their text, so any re-ingested change shows).
    config = {"questions": str(questions_path.resolve()), "llm": engine.llm_name, "limit": limit, "every": every,
              "retrieval_only": retrieval_only, "top_k": engine.settings.top_k,
              "index": text_hash("\n".join(sorted(engine.retriever.keywords.live_chunk_ids())))}
    if judge is not None:
        config["judge"] = judge.name
    previous = load_results(compare) if compare else None
    previous_summary = load_summary(compare) if compare else None
    results: list[QuestionResult] = []
    writer = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        results = _resume(out_dir, config)
        (out_dir / RUN_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
        writer = open(out_dir / RESULTS_FILE, "a", encoding="utf-8")
    done = {r.id for r in results}
    todo = [q for q in questions if q["id"] not in done]
    bar = tqdm(total=len(questions), initial=len(done), desc="evaluating", unit="question", disable=not show_bar)
    try:
        for item in todo:
            result = evaluate_question(item, engine, retrieval_only, judge)
            results.append(result)
            if writer is not None:
                writer.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
                writer.flush()
            bar.update(1)
            if progress is not None:
                progress(len(results), len(questions))
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    order = {q["id"]: i for i, q in enumerate(questions)}
    results = sorted((r for r in results if r.id in order), key=lambda r: order[r.id])
    summary = summarize(results, judge=judge.name if judge is not None else None)
    baseline_summary = None
    if baseline is not None:
        baseline_summary = {"name": baseline.name, **score_baseline(questions, baseline)}
        summary["baseline"] = baseline_summary
    report_path = None
    if out_dir is not None:
        (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        report_path = write_report(out_dir, results, summary, baseline_summary=baseline_summary,
                                   compare_results=previous, compare_summary=previous_summary)
    return EvalRun(summary, results, out_dir, report_path, baseline_summary)


def score_baseline(questions: list[dict[str, Any]], naive: NaiveBaseline) -> dict[str, Any]:
    """Retrieval metrics of the baseline on the same questions (retrieval only)."""
    results = []
    for item in questions:
        started = time.perf_counter()
        ranked = naive.ranked(item["question"], RANK_DEPTH)
        results.append(QuestionResult(
            id=item["id"], question=item["question"], tags=list(item["tags"]), answerable=bool(item["answerable"]),
            gold_sources=list(item["gold_sources"]), ranked=ranked,
            retrieval_ms=round((time.perf_counter() - started) * 1000, 3),
        ))
    return summarize(results)
