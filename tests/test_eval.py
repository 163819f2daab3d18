"""The evaluation harness on the bundled corpus: the CI quality gate, generation metrics,
resuming an interrupted run, and comparing two runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

# The CI gate: raise these as the bot improves (BENCHMARKS.md has the current figures).
HIT_AT_5_FLOOR = 0.94
MRR_AT_10_FLOOR = 0.84
KEYS = {
    "retrieval": {"hit_at_5", "recall_at_5", "mrr_at_10", "ndcg_at_10"},
    "citations": {"valid_rate", "precision", "recall", "supported_rate"},
    "answers": {"token_f1", "rouge_l", "semantic_similarity"},
    "abstention": {"accuracy", "false_abstain_rate"},
    "latency": {"retrieval_p50_ms", "retrieval_p95_ms", "first_token_p50_s", "answer_p50_s"},
}


def check_keys(summary: dict) -> None:
    assert "n_questions" in summary
    for section, keys in KEYS.items():
        assert set(summary[section]) >= keys, section


@pytest.mark.slow
def test_retrieval_quality_gate(corpus_data_dir, tmp_path):
    result = run_cli(["-m", "bot", "eval", "--retrieval-only", "--baseline", "naive", "--json",
                      "--out", str(tmp_path / "run")], corpus_data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    check_keys(summary)
    assert summary["n_questions"] >= 150
    ours, naive = summary["retrieval"], summary["baseline"]["retrieval"]
    assert ours["hit_at_5"] >= HIT_AT_5_FLOOR, ours
    assert ours["mrr_at_10"] >= MRR_AT_10_FLOOR, ours
    assert ours["mrr_at_10"] > naive["mrr_at_10"] and ours["hit_at_5"] > naive["hit_at_5"], (ours, naive)
    for section in ("citations", "answers", "abstention"):
        assert all(v is None for v in summary[section].values()), section
    assert summary["latency"]["first_token_p50_s"] is None
    report = (tmp_path / "run" / "report.md").read_text()
    assert "naive" in report.lower()
    for png in ("metrics.png", "by_tag.png", "latency.png"):
        assert (tmp_path / "run" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_questions(tmp_path_factory) -> Path:
    lines = (ROOT / "corpus" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines]
    chosen = [q for q in items if "single" in q["tags"]][:6] + [q for q in items if "off-topic" in q["tags"]][:4]
    path = tmp_path_factory.mktemp("questions") / "small.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in chosen) + "\n", encoding="utf-8")
    return path


def test_generation_metrics_resume_and_compare(corpus_data_dir, small_questions, tmp_path):
    out = tmp_path / "first"
    args = ["-m", "bot", "eval", "--llm", "extractive", "--questions", str(small_questions), "--json"]
    first = run_cli([*args, "--out", str(out)], corpus_data_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    check_keys(summary)
    assert summary["n_questions"] == 10
    assert summary["citations"]["valid_rate"] == 1.0
    assert summary["abstention"]["accuracy"] == 1.0
    assert summary["answers"]["token_f1"] is not None and summary["latency"]["answer_p50_s"] > 0

    # An interrupted run: keep only the first three results, run again, get all ten once each.
    results = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text("\n".join(results[:3]) + "\n")
    resumed = run_cli([*args, "--out", str(out)], corpus_data_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ids = [json.loads(line)["id"] for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert json.loads(resumed.stdout)["retrieval"] == summary["retrieval"]

    # Resuming with other settings would mix two runs in one file: refused, naming what differs.
    other = run_cli([*args, "--out", str(out), "--limit", "3"], corpus_data_dir)
    assert other.returncode == 2 and "(limit differ)" in other.stderr and "Traceback" not in other.stderr
    assert len((out / "results.jsonl").read_text().splitlines()) == 10

    # A sample spread over the set: every second question, in the set's order.
    sampled = run_cli([*args, "--every", "2", "--out", str(tmp_path / "sample")], corpus_data_dir)
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    asked = [json.loads(line)["id"] for line in small_questions.read_text().splitlines()]
    assert [json.loads(line)["id"] for line in (tmp_path / "sample" / "results.jsonl").read_text().splitlines()] == asked[::2]
    nothing = run_cli([*args, "--every", "0"], corpus_data_dir)
    assert nothing.returncode == 2 and "--every must be 1 or more" in nothing.stderr and "Traceback" not in nothing.stderr

    second = run_cli([*args, "--out", str(tmp_path / "second"), "--compare", str(out)], corpus_data_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    report = (tmp_path / "second" / "report.md").read_text()
    assert "Changes since the previous run" in report

    wrong = run_cli([*args, "--compare", str(tmp_path)], corpus_data_dir)
    assert wrong.returncode == 2 and "results.jsonl" in wrong.stderr and "Traceback" not in wrong.stderr


def test_the_baseline_reads_the_users_own_library(tmp_path):
    # On an index of the user's own articles, the tutorial-recipe baseline is built from that
    # index, not from the bundled corpus: it finds the articles the questions are about.
    folder = tmp_path / "mine"
    folder.mkdir()
    topics = {"zorblax": "The zorblax lattice is a toy model of reward circuits in honeybees.",
              "quenfor": "Quenfor pruning removes value heads that never fire during fine-tuning."}
    for name, text in topics.items():
        (folder / f"{name}.md").write_text(f"---\ntitle: {name.title()}\nurl: https://example.org/{name}\n---\n\n"
                                           f"{text} " * 20, encoding="utf-8")
    assert run_cli(["-m", "ingest", str(folder)], tmp_path / "data").returncode == 0
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps({"id": name, "question": f"What is {name}?", "answerable": True,
                                               "gold_sources": [f"https://example.org/{name}"]}) for name in topics))
    result = run_cli(["-m", "bot", "eval", "--retrieval-only", "--baseline", "naive", "--json",
                      "--questions", str(questions)], tmp_path / "data")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["retrieval"]["hit_at_5"] == 1.0 and summary["baseline"]["retrieval"]["hit_at_5"] == 1.0
