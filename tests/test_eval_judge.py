"""LLM-judged metrics: who may judge, how verdicts are read, and a real judge on loopback.

The only LLM these machines can run is the bundled 135M model; the end-to-end test serves it
through `llama_cpp.server` to check the plumbing (requests, parsing, the labelled section), not
the quality of its verdicts. Users point `--judge` at a capable model.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bot.core.settings import Settings
from bot.eval.judge import Judge, JudgeRefused, judge_spec, parse_grade, parse_verdicts
from bot.eval.metrics import QuestionResult, summarize
from bot.eval.report import write_report
from tests.conftest import run_cli


def test_verdicts_need_one_per_statement():
    assert parse_verdicts("1: YES\n2: NO\n3: yes", 3) == pytest.approx(2 / 3)
    assert parse_verdicts("1. Supported\n2) not supported", 2) == 0.5
    assert parse_verdicts("1: YES\n1: NO\n2: YES", 2) == 1.0  # the first verdict for a number counts
    assert parse_verdicts("1: YES", 2) is None  # a partial reply is unreadable, not a low score
    assert parse_verdicts("1: YES\n7: NO", 1) == 1.0  # numbers beyond the statements are ignored
    assert parse_verdicts("All statements are supported.", 2) is None


def test_grades_map_one_to_five_onto_zero_to_one():
    assert parse_grade("5") == 1.0
    assert parse_grade("Grade: 3/5") == 0.5
    assert parse_grade(" 1.") == 0.0
    assert parse_grade("excellent") is None
    assert parse_grade("9") is None


def test_who_judges():
    assert judge_spec(None, "bundled") is None
    assert judge_spec(None, "extractive") is None
    assert judge_spec(None, "openai:gpt-4o-mini") == "openai:gpt-4o-mini"
    assert judge_spec(None, "gguf:/models/qwen.gguf") == "gguf:/models/qwen.gguf"
    assert judge_spec(None, "gguf:/data/models/SmolLM2-135M-Instruct.Q8_0.gguf") is None  # the bundled file
    assert judge_spec("openai:judge", "bundled") == "openai:judge"
    assert judge_spec("none", "openai:gpt-4o-mini") is None
    for weak in ("bundled", "extractive"):
        with pytest.raises(JudgeRefused, match="capable LLM"):
            judge_spec(weak, "bundled")


def test_the_bundled_file_is_refused_by_path(tmp_path):
    with pytest.raises(JudgeRefused, match="bundled 135M"):
        Judge.from_spec(f"gguf:{tmp_path}/SmolLM2-135M-Instruct.Q8_0.gguf", Settings(data_dir=tmp_path))


def test_judged_section_is_separate_and_labelled(tmp_path):
    base = QuestionResult(id="q1", question="What is wireheading?", tags=["single"], answerable=True,
                          gold_sources=["wireheading"], ranked=[("wireheading", "")], retrieval_ms=5.0,
                          answer="An agent seizing its reward channel [1].", abstained=False,
                          cited=[("wireheading", "")], judge_faithfulness=1.0, judge_relevance=0.75)
    refused = replace(base, id="q2", abstained=True, judge_faithfulness=None, judge_relevance=None)
    unread = replace(base, id="q3", judge_faithfulness=None, judge_relevance=0.25)
    summary = summarize([base, refused, unread], judge="big-model")
    assert summary["judged"] == {"judge": "big-model", "faithfulness": 1.0, "relevance": 0.5,
                                 "answers_judged": 2, "unreadable_verdicts": 1}
    assert summarize([base])["judged"] is None
    report = write_report(tmp_path, [base, refused, unread], summary).read_text(encoding="utf-8")
    assert "## Judged by big-model (LLM opinions, not measurements)" in report


@pytest.mark.slow
def test_judge_over_an_openai_compatible_server(corpus_data_dir, openai_server, tmp_path):
    questions = tmp_path / "q.jsonl"
    items = [{"id": "w", "question": "What is wireheading?", "gold_sources": ["wireheading"], "answerable": True},
             {"id": "s", "question": "What does shard theory say about human values?",
              "gold_sources": ["shard-theory-of-human-values"], "answerable": True},
             {"id": "off", "question": "How do I bake sourdough bread?", "gold_sources": [], "answerable": False,
              "tags": ["off-topic"]}]
    questions.write_text("".join(json.dumps(q) + "\n" for q in items))
    env = {"OPENAI_BASE_URL": openai_server, "OPENAI_API_KEY": "local"}
    out = tmp_path / "run"
    result = run_cli(["-m", "bot", "eval", "--llm", "extractive", "--judge", "openai:smollm2", "--questions",
                      str(questions), "--out", str(out), "--json"], corpus_data_dir, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    judged = json.loads(result.stdout)["judged"]
    assert judged["judge"] == "smollm2" and judged["answers_judged"] == 2
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    off = next(r for r in rows if r["id"] == "off")
    assert off["abstained"] and off["judge_faithfulness"] is None and off["judge_relevance"] is None
    read = [r[k] for r in rows if r["id"] != "off" for k in ("judge_faithfulness", "judge_relevance")]
    assert sum(v is None for v in read) == judged["unreadable_verdicts"]
    assert all(0.0 <= v <= 1.0 for v in read if v is not None)
    assert "(LLM opinions, not measurements)" in (out / "report.md").read_text()


def test_cli_refuses_weak_or_pointless_judges(corpus_data_dir):
    refused = run_cli(["-m", "bot", "eval", "--llm", "extractive", "--judge", "bundled", "--limit", "1"], corpus_data_dir)
    assert refused.returncode == 2 and "capable LLM" in refused.stderr and "Traceback" not in refused.stderr
    pointless = run_cli(["-m", "bot", "eval", "--retrieval-only", "--judge", "openai:x", "--limit", "1"], corpus_data_dir)
    assert pointless.returncode == 2 and "--retrieval-only" in pointless.stderr
