"""Evaluation report: Markdown and real PNG files, loading earlier runs, comparing runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from matplotlib.image import imread

from bot.eval.metrics import QuestionResult, summarize
from bot.eval.report import load_results, load_summary, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ("metrics.png", "by_tag.png", "latency.png")


def result(qid: str, gold: list[str], ranked: list[str], *, tags: list[str] | None = None,
           answerable: bool = True, ms: float = 10.0, generated: bool = True) -> QuestionResult:
    base = QuestionResult(
        id=qid, question=f"Question {qid} | with a pipe?", tags=tags or ["reward-learning", "single"],
        answerable=answerable, gold_sources=gold, ranked=[(d, f"https://example.org/{d}") for d in ranked],
        retrieval_ms=ms, reference_answer="Reward reinforces computations.",
    )
    if not generated:
        return base
    return replace(base, answer="Reward reinforces computations [1].", abstained=not answerable,
                   cited=base.ranked[:1] if answerable else [], markers_total=2, markers_valid=2,
                   sentences_cited=2, sentences_supported=1, first_token_s=0.3, answer_s=1.5 + ms / 100,
                   semantic_similarity=0.8)


def run(generated: bool = True) -> list[QuestionResult]:
    return [
        result("q1", ["a"], ["a", "b", "c"], ms=12.0, generated=generated),
        result("q2", ["b"], ["c", "b", "a"], ms=18.0, generated=generated),
        result("q3", ["c", "d"], ["x", "y", "z", "c"], tags=["shard-theory", "multi-article"], ms=25.0,
               generated=generated),
        result("q4", [], ["a"], tags=["off-topic"], answerable=False, ms=7.0, generated=generated),
    ]


def write_run(directory: Path, results: list[QuestionResult]) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.jsonl").write_text("".join(json.dumps(r.score().to_json()) + "\n" for r in results))
    summary = summarize(results)
    (directory / "summary.json").write_text(json.dumps(summary))
    return summary


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    height, width = imread(path).shape[:2]
    assert height > 50 and width > 50


def test_report_with_baseline(tmp_path):
    results = run()
    summary = summarize(results)
    baseline = summarize(run(generated=False))
    report = write_report(tmp_path / "out", results, summary, baseline_summary=baseline)
    assert report == tmp_path / "out" / "report.md"
    text = report.read_text(encoding="utf-8")
    for name in PLOTS:
        assert f"]({name})" in text
        assert_png(tmp_path / "out" / name)
    assert "| Metric | This run | Baseline |" in text
    assert "| MRR@10 | 0.5833 | 0.5833 |" in text  # (1 + 1/2 + 1/4) / 3
    assert "| answer token F1 | 1.0000 | — |" in text  # the baseline did not generate
    assert "| shard-theory | 1 | 1.0000 | 0.2500 |" in text
    assert "| off-topic | 1 | — | — |" in text
    assert "Question q1 \\| with a pipe?" in text
    assert "Changes since the previous run" not in text


def test_worst_questions_show_gold_and_top_three(tmp_path):
    text = write_report(tmp_path, run(), summarize(run())).read_text(encoding="utf-8")
    worst = text.split("worst questions by MRR@10", 1)[1]
    rows = [line for line in worst.splitlines() if line.startswith("| q")]
    assert [row.split(" | ")[0] for row in rows] == ["| q3", "| q2", "| q1"]  # answerable only, worst first
    assert rows[0].endswith("| c, d | x, y, z |")  # gold at rank 4 is not in the top 3
    assert rows[1].endswith("| b | c, b ✓, a |")


def test_retrieval_only_report(tmp_path):
    results = run(generated=False)
    text = write_report(tmp_path, results, summarize(results)).read_text(encoding="utf-8")
    assert "mode: retrieval only" in text
    assert "| abstention accuracy | — |" in text
    for name in PLOTS:
        assert_png(tmp_path / name)


def test_empty_run_still_writes_a_report(tmp_path):
    write_report(tmp_path, [], summarize([]))
    for name in PLOTS:
        assert_png(tmp_path / name)


def test_compare_run_shows_regressions(tmp_path):
    previous_dir = tmp_path / "previous"
    write_run(previous_dir, run())
    # q1's gold drops from rank 1 to rank 6 (out of the top 5); retrieval gets slower
    now = run()
    now[0] = result("q1", ["a"], ["b", "c", "d", "e", "f", "a"], ms=60.0)
    report = write_report(tmp_path / "now", now, summarize(now), compare_results=load_results(previous_dir),
                          compare_summary=load_summary(previous_dir))
    text = report.read_text(encoding="utf-8")
    assert "## Changes since the previous run" in text
    assert "| Metric | Previous | Now | Change |" in text
    assert "| hit@5 | 1.0000 | 0.6667 | -0.3333 (worse) |" in text
    # (1/6 + 1/2 + 1/4) / 3; the change is between the rounded values shown
    assert "| MRR@10 | 0.5833 | 0.3056 | -0.2777 (worse) |" in text
    assert "| retrieval p50 (ms) | 15.0000 | 21.5000 | +6.5000 (worse) |" in text  # lower is better
    assert "| abstention accuracy | 1.0000 | 1.0000 | +0.0000 |" in text
    changes = text.split("hit@5 or MRR@10 changed", 1)[1]
    assert "| q1 | Question q1 \\| with a pipe? | 1.0000 → 0.0000 | 1.0000 → 0.1667 |" in changes
    assert "| q2 |" not in changes
    for name in PLOTS:
        assert_png(tmp_path / "now" / name)


def test_compare_notes_questions_added_or_removed(tmp_path):
    previous = run()
    text = write_report(tmp_path, previous[:3], summarize(previous[:3]), compare_results=previous).read_text()
    assert "No question changed." in text
    assert "Questions only in the previous run: 1; only in this run: 0." in text


def test_load_results_from_directory_or_file(tmp_path):
    results = run()
    write_run(tmp_path, results)
    assert load_results(tmp_path) == [r.score() for r in results]
    assert load_results(tmp_path / "results.jsonl") == load_results(tmp_path)


def test_load_results_skips_an_interrupted_last_line(tmp_path, caplog):
    results = run()
    write_run(tmp_path, results)
    path = tmp_path / "results.jsonl"
    path.write_text(path.read_text() + '{"id": "q5", "quest')
    assert [r.id for r in load_results(tmp_path)] == ["q1", "q2", "q3", "q4"]
    assert "incomplete last line" in caplog.text


def test_load_results_rejects_a_bad_line(tmp_path):
    write_run(tmp_path, run())
    path = tmp_path / "results.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = '{"id": "q2"}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"results\.jsonl:2: not a question result"):
        load_results(tmp_path)


def test_helpful_errors_for_a_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FileNotFoundError, match=r"no results\.jsonl in .*: give the --out directory of an earlier run"):
        load_results(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no summary\.json in .*: give the --out directory of an earlier run"):
        load_summary(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist: give the --out directory"):
        load_results(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="does not exist: give the --out directory"):
        load_summary(tmp_path / "missing")
