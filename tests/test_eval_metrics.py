"""Evaluation metrics against hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bot.eval.metrics import (
    QuestionResult,
    citation_precision_recall,
    gold_matches,
    hit_at_k,
    key_term_coverage,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
    rouge_l,
    summarize,
    summarize_by_tag,
    token_f1,
)


def ids(*doc_ids: str) -> list[tuple[str, str]]:
    return [(d, "") for d in doc_ids]


# --- gold matching -------------------------------------------------------------------------------


def test_gold_matches_doc_id_exactly():
    assert gold_matches("reward-is-not-the-optimization-target", "reward-is-not-the-optimization-target", "")
    assert not gold_matches("reward-is-not-the-optimization-target", "shard-theory", "")


@pytest.mark.parametrize("gold", [
    "https://www.lesswrong.com/posts/abc/reward",
    "https://lesswrong.com/posts/abc/reward/",
    "https://LessWrong.com/posts/abc/reward#comments",
    "HTTPS://www.lesswrong.com/posts/abc/reward/#top",
])
def test_gold_url_matches_article_url_after_canonicalisation(gold):
    assert gold_matches(gold, "reward-is-not-the-optimization-target", "https://www.lesswrong.com/posts/abc/reward/")


def test_gold_url_matches_a_doc_id_that_is_a_canonical_url():
    # articles without a front-matter id are identified by their canonical URL
    assert gold_matches("https://www.example.org/post/", "https://example.org/post", "")


def test_gold_url_differences_that_matter():
    assert not gold_matches("https://example.org/post?id=2", "x", "https://example.org/post?id=1")
    assert not gold_matches("https://example.org/other", "x", "https://example.org/post")


def test_empty_strings_never_match():
    assert not gold_matches("", "", "")
    assert not gold_matches("  ", "doc", "")
    assert not gold_matches("doc", "other", "")


# --- retrieval -------------------------------------------------------------------------------------


def test_gold_at_rank_two():
    ranked = ids("b", "a", "c")
    assert hit_at_k(ranked, ["a"], 5) == 1.0
    assert hit_at_k(ranked, ["a"], 1) == 0.0
    assert mrr_at_k(ranked, ["a"], 10) == 0.5
    assert ndcg_at_k(ranked, ["a"], 10) == pytest.approx(1 / math.log2(3))


def test_gold_below_the_cut_off():
    ranked = ids("b", "c", "d", "e", "f", "a")
    assert hit_at_k(ranked, ["a"], 5) == 0.0
    assert recall_at_k(ranked, ["a"], 5) == 0.0
    assert mrr_at_k(ranked, ["a"], 5) == 0.0
    assert mrr_at_k(ranked, ["a"], 10) == pytest.approx(1 / 6)


def test_two_golds():
    ranked = ids("a", "x", "b", "y")
    # DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3)
    assert ndcg_at_k(ranked, ["a", "b"], 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(ranked, ["a", "b"], 10) == pytest.approx(0.919721, abs=1e-6)
    assert recall_at_k(ranked, ["a", "b"], 2) == 0.5
    assert recall_at_k(ranked, ["a", "b"], 5) == 1.0
    assert mrr_at_k(ranked, ["b", "a"], 10) == 1.0


def test_ideal_dcg_counts_at_most_k_golds():
    assert ndcg_at_k(ids("a", "b"), ["a", "b", "c"], 2) == pytest.approx(1.0)
    assert ndcg_at_k(ids("c", "b", "a"), ["a", "b", "c"], 3) == pytest.approx(1.0)


def test_one_gold_matched_by_two_articles_counts_once():
    ranked = [("d1", "https://x.org/a"), ("d2", "https://www.x.org/a/")]
    assert ndcg_at_k(ranked, ["https://x.org/a"], 10) == pytest.approx(1.0)
    assert recall_at_k(ranked, ["https://x.org/a"], 10) == 1.0


def test_retrieval_metrics_match_gold_urls():
    ranked = [("a", "https://example.org/a"), ("b", "https://www.example.org/b/")]
    assert mrr_at_k(ranked, ["https://example.org/b#intro"], 10) == 0.5


def test_retrieval_metrics_undefined_without_gold():
    for metric in (hit_at_k, recall_at_k, mrr_at_k, ndcg_at_k):
        assert metric(ids("a"), [], 5) is None


def test_retrieval_metrics_with_nothing_retrieved():
    assert hit_at_k([], ["a"], 5) == 0.0
    assert ndcg_at_k([], ["a"], 5) == 0.0


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        hit_at_k(ids("a"), ["a"], 0)


# --- answers ---------------------------------------------------------------------------------------


def test_token_f1_of_known_strings():
    # tokens: [cat, sat, on, mat] vs [cat, sat, on, hat]: 3 shared, P = R = 3/4
    assert token_f1("The cat sat on the mat.", "A cat sat on a hat") == pytest.approx(0.75)
    assert token_f1("Reward!", "reward") == 1.0
    assert token_f1("nothing shared", "reward target") == 0.0


def test_token_f1_ignores_citation_markers():
    # [alex, turner, wrote, it, in, 2022] vs [turner, 2022]: P = 2/6, R = 1, F1 = 0.5
    assert token_f1("Alex Turner wrote it in 2022 [1].", "Turner, 2022") == pytest.approx(0.5)
    assert token_f1("Turner [1][2], 2022 [1, 3].", "Turner 2022") == 1.0


def test_token_f1_counts_repeated_tokens_once_each():
    # [reward, reward, reward] vs [reward, model]: 1 shared, P = 1/3, R = 1/2, F1 = 0.4
    assert token_f1("reward reward reward", "reward model") == pytest.approx(0.4)


def test_token_f1_strips_unicode_punctuation():
    assert token_f1("“Shards” — values.", "shards values") == 1.0


def test_token_f1_of_empty_texts():
    assert token_f1("", "") == 1.0
    assert token_f1("[1]", "") == 1.0
    assert token_f1("something", "") == 0.0
    assert token_f1("", "something") == 0.0


def test_rouge_l_of_known_strings():
    # [cat, was, found, under, bed] vs [cat, was, under, bed]: LCS 4, P = 4/5, R = 1
    assert rouge_l("the cat was found under the bed", "the cat was under the bed") == pytest.approx(8 / 9)


def test_rouge_l_rewards_order_and_token_f1_does_not():
    # LCS of [reward, shapes, values] and [values, shapes, reward] is 1: P = R = 1/3
    assert rouge_l("reward shapes values", "values shapes reward") == pytest.approx(1 / 3)
    assert token_f1("reward shapes values", "values shapes reward") == 1.0


def test_rouge_l_ignores_citation_markers():
    assert rouge_l("Reward is not the target [1].", "reward is not the target") == 1.0


def test_key_term_coverage():
    # reference content words: alex, turner, wrote, reward, 2022; the prediction has turner, reward(s), 2022
    assert key_term_coverage("Turner discussed rewards in 2022 [1].", "Alex Turner wrote about reward in 2022.") == (
        pytest.approx(3 / 5))
    assert key_term_coverage("", "Alex Turner") == 0.0


def test_key_term_coverage_undefined_without_content_words():
    assert key_term_coverage("anything", "it is what it is") is None


# --- citations and latency ---------------------------------------------------------------------


def test_citation_precision_recall():
    cited = [("a", ""), ("zz", ""), ("c", "https://www.x.org/c/")]
    precision, recall = citation_precision_recall(cited, ["a", "https://x.org/c", "b"])
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 3)


def test_citation_precision_recall_undefined_cases():
    assert citation_precision_recall([], ["a"]) == (None, 0.0)
    assert citation_precision_recall(ids("a"), []) == (0.0, None)
    assert citation_precision_recall([], []) == (None, None)


def test_percentile_interpolates_like_numpy():
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    samples = [12.5, 3.0, 7.25, 99.0, 41.0, 8.0, 15.5]
    for p in (5, 50, 90, 95, 99):
        assert percentile(samples, p) == pytest.approx(float(np.percentile(samples, p)))


def test_percentile_edge_cases():
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# --- per-question results and summaries --------------------------------------------------------


def full_results() -> list[QuestionResult]:
    """Four questions with generation: hand-computed summary in test_summarize_full_run."""
    return [
        QuestionResult(  # answered well; gold at rank 2
            id="q1", question="What is shard theory?", tags=["shard-theory", "single"], answerable=True,
            gold_sources=["a"], ranked=ids("b", "a"), retrieval_ms=10.0,
            reference_answer="Shards are learned values.", answer="Shards are learned values [1].",
            abstained=False, cited=ids("a"), markers_total=4, markers_valid=3, sentences_cited=3,
            sentences_supported=2, first_token_s=0.2, first_sentence_s=0.25, answer_s=1.0, semantic_similarity=0.9,
            draft_discarded=False, draft_dropped=1, quoted_sentences=0,
        ),
        QuestionResult(  # wrongly abstained; one of two golds in the top 5
            id="q2", question="Who disagrees?", tags=["shard-theory", "multi-article"], answerable=True,
            gold_sources=["c", "d"], ranked=ids("c", "x", "y", "z", "w", "d"), retrieval_ms=20.0,
            reference_answer="Soares disagrees.", answer="The library does not say.", abstained=True, cited=[],
            markers_total=0, markers_valid=0, sentences_cited=0, sentences_supported=0,
            first_token_s=None, answer_s=0.5,
        ),
        QuestionResult(  # off-topic, correctly abstained
            id="q3", question="Banana bread?", tags=["off-topic"], answerable=False, gold_sources=[],
            ranked=ids("a"), retrieval_ms=30.0, reference_answer="Off topic.", answer="I can't help.",
            abstained=True, cited=[], markers_total=0, markers_valid=0, sentences_cited=0,
            sentences_supported=0, answer_s=0.4,
        ),
        QuestionResult(  # unanswerable, but the bot answered and cited
            id="q4", question="What did X say in 2030?", tags=["unanswerable"], answerable=False,
            gold_sources=[], ranked=ids("a"), retrieval_ms=40.0, reference_answer="The library does not say.",
            answer="X said **things** [1].", abstained=False, cited=ids("a"), markers_total=2, markers_valid=1,
            sentences_cited=1, sentences_supported=0, first_token_s=0.4, first_sentence_s=0.5, answer_s=2.0,
            draft_discarded=True, draft_dropped=2, quoted_sentences=1,
        ),
    ]


def retrieval_only(results: list[QuestionResult]) -> list[QuestionResult]:
    return [QuestionResult(id=r.id, question=r.question, tags=r.tags, answerable=r.answerable,
                           gold_sources=r.gold_sources, ranked=r.ranked, retrieval_ms=r.retrieval_ms,
                           reference_answer=r.reference_answer) for r in results]


EXPECTED_KEYS = {
    "n_questions": None,
    "retrieval": {"hit_at_5", "recall_at_5", "mrr_at_10", "ndcg_at_10"},
    "citations": {"valid_rate", "precision", "recall", "supported_rate"},
    "answers": {"token_f1", "rouge_l", "key_terms", "semantic_similarity", "readable_rate"},
    "drafts": {"discarded_rate", "sentences_dropped", "sentences_quoted"},
    "abstention": {"accuracy", "false_abstain_rate", "off_topic_accuracy", "near_miss_accuracy", "unanswerable_accuracy"},
    "latency": {"retrieval_p50_ms", "retrieval_p95_ms", "first_token_p50_s", "first_sentence_p50_s", "answer_p50_s"},
    "judged": None,  # None without a judge (tests/test_eval_judge.py covers it with one)
}


def assert_shape(summary: dict) -> None:
    assert set(summary) == set(EXPECTED_KEYS)
    assert summary["judged"] is None
    for section, keys in EXPECTED_KEYS.items():
        if keys is not None:
            assert set(summary[section]) == keys, section
            for key, value in summary[section].items():
                if key.startswith("sentences_"):  # counts
                    assert isinstance(value, int) and value >= 0
                else:
                    assert value is None or (isinstance(value, float) and value == round(value, 4))
    json.dumps(summary, allow_nan=False)


def test_score_fills_per_question_metrics():
    q1, q2, q3, q4 = (r.score() for r in full_results())
    assert (q1.hit_at_5, q1.recall_at_5, q1.mrr_at_10) == (1.0, 1.0, 0.5)
    assert (q1.token_f1, q1.rouge_l, q1.key_terms) == (1.0, 1.0, 1.0)
    assert (q1.citation_precision, q1.citation_recall) == (1.0, 1.0)
    assert q2.recall_at_5 == 0.5 and q2.mrr_at_10 == 1.0
    assert q2.ndcg_at_10 == pytest.approx((1 + 1 / math.log2(7)) / (1 + 1 / math.log2(3)))
    assert q2.token_f1 is None  # abstained: nothing to compare
    assert (q2.citation_precision, q2.citation_recall) == (None, 0.0)
    assert q3.hit_at_5 is None and q3.mrr_at_10 is None
    assert (q4.citation_precision, q4.citation_recall) == (0.0, None)


def test_summarize_full_run():
    results = full_results()
    summary = summarize(results)
    assert_shape(summary)
    ndcg_q2 = (1 + 1 / math.log2(7)) / (1 + 1 / math.log2(3))
    assert summary["n_questions"] == 4
    assert summary["retrieval"] == {  # answerable questions q1 and q2 only
        "hit_at_5": 1.0, "recall_at_5": 0.75, "mrr_at_10": 0.75,
        "ndcg_at_10": round((1 / math.log2(3) + ndcg_q2) / 2, 4),
    }
    assert summary["citations"] == {
        "valid_rate": round(4 / 6, 4),  # (3 + 1) / (4 + 2)
        "precision": 0.5,  # q1 1.0, q4 0.0; q2 and q3 cited nothing
        "recall": 1.0,  # answered answerable questions: q1
        "supported_rate": 0.5,  # (2 + 0) / (3 + 1)
    }
    assert summary["answers"] == {"token_f1": 1.0, "rouge_l": 1.0, "key_terms": 1.0, "semantic_similarity": 0.9,
                                  "readable_rate": 0.5}  # q4's answer shows emphasis marks
    assert summary["drafts"] == {"discarded_rate": 0.5, "sentences_dropped": 3, "sentences_quoted": 1}
    assert summary["abstention"] == {"accuracy": 0.5, "false_abstain_rate": 0.5, "off_topic_accuracy": 1.0,
                                     "near_miss_accuracy": None, "unanswerable_accuracy": 0.0}  # no near-miss question here
    assert summary["latency"] == {
        "retrieval_p50_ms": 25.0, "retrieval_p95_ms": 38.5,
        "first_token_p50_s": 0.3, "first_sentence_p50_s": 0.375, "answer_p50_s": 0.75,
    }


def test_summarize_retrieval_only_has_nulls_outside_retrieval():
    summary = summarize(retrieval_only(full_results()))
    assert_shape(summary)
    assert summary["retrieval"]["mrr_at_10"] == 0.75
    assert summary["latency"]["retrieval_p50_ms"] == 25.0
    for section in ("citations", "answers", "abstention"):
        assert set(summary[section].values()) == {None}, section
    assert summary["latency"]["first_token_p50_s"] is None
    assert summary["latency"]["answer_p50_s"] is None


def test_summarize_empty_run():
    summary = summarize([])
    assert_shape(summary)
    assert summary["n_questions"] == 0
    assert summary["retrieval"]["hit_at_5"] is None


def test_summarize_does_not_modify_its_input():
    results = full_results()
    summarize(results)
    summarize_by_tag(results)
    assert all(r.hit_at_5 is None and r.token_f1 is None for r in results)


def test_summarize_recomputes_stale_scores():
    result = full_results()[0]
    result.mrr_at_10 = 0.0  # e.g. a hand-edited or older results.jsonl
    assert summarize([result])["retrieval"]["mrr_at_10"] == 0.5


def test_summarize_by_tag():
    by_tag = summarize_by_tag(full_results())
    assert list(by_tag) == ["multi-article", "off-topic", "shard-theory", "single", "unanswerable"]
    assert by_tag["shard-theory"] == {"n": 2, "hit_at_5": 1.0, "mrr_at_10": 0.75}
    assert by_tag["multi-article"] == {"n": 1, "hit_at_5": 1.0, "mrr_at_10": 1.0}
    assert by_tag["off-topic"] == {"n": 1, "hit_at_5": None, "mrr_at_10": None}


def test_jsonl_round_trip(tmp_path):
    results = [r.score() for r in full_results() + retrieval_only(full_results())]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r.to_json()) + "\n" for r in results), encoding="utf-8")
    loaded = [QuestionResult.from_json(json.loads(line)) for line in path.read_text().splitlines()]
    assert loaded == results
    assert loaded[0].ranked == [("b", ""), ("a", "")]
    assert loaded[-1].cited is None


def test_from_json_ignores_unknown_keys_and_rejects_missing_ones():
    data = full_results()[0].to_json()
    assert QuestionResult.from_json({**data, "added_later": 1}) == full_results()[0]
    del data["ranked"]
    with pytest.raises(ValueError, match="ranked"):
        QuestionResult.from_json(data)
