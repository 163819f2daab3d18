"""Markdown report with PNG plots for one evaluation run, optionally against a baseline and a previous run.

Plots are drawn on matplotlib's Agg canvas directly (no pyplot), so writing a report never
touches global backend state, needs no display, and is safe next to the web app.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.eval.metrics import QuestionResult, gold_matches, score_all, summarize_by_tag

log = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"
METRICS_PNG = "metrics.png"
BY_TAG_PNG = "by_tag.png"
LATENCY_PNG = "latency.png"

# (section, key, label) of the 0-to-1 headline metrics, in report order.
RATES: tuple[tuple[str, str, str], ...] = (
    ("retrieval", "hit_at_5", "hit@5"),
    ("retrieval", "recall_at_5", "recall@5"),
    ("retrieval", "mrr_at_10", "MRR@10"),
    ("retrieval", "ndcg_at_10", "nDCG@10"),
    ("citations", "valid_rate", "valid citation markers"),
    ("citations", "precision", "citation precision"),
    ("citations", "recall", "citation recall"),
    ("citations", "supported_rate", "supported cited sentences"),
    ("answers", "token_f1", "answer token F1"),
    ("answers", "rouge_l", "answer ROUGE-L"),
    ("answers", "key_terms", "answer key terms"),
    ("answers", "semantic_similarity", "answer semantic similarity"),
    ("answers", "readable_rate", "answers that read as prose"),
    ("drafts", "discarded_rate", "LLM drafts discarded"),
    ("abstention", "accuracy", "abstention accuracy"),
    ("abstention", "off_topic_accuracy", "off-topic abstention"),
    ("abstention", "near_miss_accuracy", "near-miss abstention"),
    ("abstention", "unanswerable_accuracy", "on-topic unanswerable abstention"),
    ("abstention", "false_abstain_rate", "false abstention rate"),
)
LATENCIES: tuple[tuple[str, str, str], ...] = (
    ("latency", "retrieval_p50_ms", "retrieval p50 (ms)"),
    ("latency", "retrieval_p95_ms", "retrieval p95 (ms)"),
    ("latency", "first_token_p50_s", "first token p50 (s)"),
    ("latency", "first_sentence_p50_s", "first checked sentence p50 (s)"),
    ("latency", "answer_p50_s", "answer p50 (s)"),
)
LOWER_IS_BETTER = frozenset({("abstention", "false_abstain_rate"), ("drafts", "discarded_rate")} | {(s, k) for s, k, _ in LATENCIES})
WORST_N = 10


# --- loading earlier runs ----------------------------------------------------------------------


def _not_a_run(directory: Path, missing: str) -> str:
    if not directory.exists():
        return f"{directory} does not exist: give the --out directory of an earlier run"
    return f"no {missing} in {directory}: give the --out directory of an earlier run"


def load_results(path: Path) -> list[QuestionResult]:
    """Results of a run, from its output directory or its `results.jsonl`.

    An incomplete last line (a run killed mid-write) is skipped with a warning so the run can be
    resumed; any other bad line is an error naming the file and line.
    """
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(_not_a_run(path, RESULTS_FILE))
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines()
    results = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            results.append(QuestionResult.from_json(data))
        except ValueError as exc:
            if number == len(lines) and not text.endswith("\n"):
                log.warning("%s:%d: skipping an incomplete last line (interrupted run?)", file, number)
                break
            raise ValueError(f"{file}:{number}: {exc}") from exc
    return results


def load_summary(directory: Path) -> dict[str, Any]:
    """The `summary.json` of an earlier run's output directory."""
    file = directory / SUMMARY_FILE
    if not file.is_file():
        raise FileNotFoundError(_not_a_run(directory, SUMMARY_FILE))
    data = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{file}: expected a JSON object")
    return data


# --- Markdown ----------------------------------------------------------------------------------


def _value(summary: dict[str, Any] | None, section: str, key: str) -> float | None:
    """A summary value; None when absent, e.g. in a baseline written before a metric existed."""
    return (summary or {}).get(section, {}).get(key)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _summary_section(summary: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    header = ["Metric", "This run"] + ([str(baseline.get("name", "Baseline"))] if baseline is not None else [])
    rows = [["questions", str(summary.get("n_questions", "—"))] + (
        [str(baseline.get("n_questions", "—"))] if baseline is not None else []
    )]
    for section, key, label in RATES + LATENCIES:
        row = [label, _fmt(_value(summary, section, key))]
        if baseline is not None:
            row.append(_fmt(_value(baseline, section, key)))
        rows.append(row)
    return ["## Summary", ""] + _table(header, rows) + [f"![Headline metrics]({METRICS_PNG})", ""]


def _judged_section(judged: dict[str, Any]) -> list[str]:
    rows = [["faithfulness (share of sentences the judge finds supported)", _fmt(judged.get("faithfulness"))],
            ["relevance (judge's 1-5 grade, as 0 to 1)", _fmt(judged.get("relevance"))],
            ["answers judged", str(judged.get("answers_judged", "—"))],
            ["verdicts the judge gave in an unreadable form", str(judged.get("unreadable_verdicts", "—"))]]
    return ([f"## Judged by {_cell(str(judged.get('judge')))} (LLM opinions, not measurements)", "",
             "These scores are what an LLM said when shown each answer with its sources; they depend on "
             "the judge and are not comparable across judges.", ""]
            + _table(["Judged metric", "Value"], rows))


def _tag_section(by_tag: dict[str, dict[str, Any]]) -> list[str]:
    rows = [[_cell(tag), str(v["n"]), _fmt(v["hit_at_5"]), _fmt(v["mrr_at_10"])] for tag, v in by_tag.items()]
    return (["## By tag", ""] + _table(["Tag", "Questions", "hit@5", "MRR@10"], rows)
            + [f"![hit@5 and MRR@10 by tag]({BY_TAG_PNG})", ""])


def _worst_section(scored: Sequence[QuestionResult]) -> list[str]:
    ranked = sorted((r for r in scored if r.mrr_at_10 is not None),
                    key=lambda r: (r.mrr_at_10, r.ndcg_at_10 or 0.0, r.id))[:WORST_N]
    rows = []
    for r in ranked:
        top = [f"{doc_id}{' ✓' if any(gold_matches(g, doc_id, url) for g in r.gold_sources) else ''}"
               for doc_id, url in r.ranked[:3]]
        rows.append([_cell(r.id), _cell(r.question), _fmt(r.mrr_at_10), _cell(", ".join(r.gold_sources)),
                     _cell(", ".join(top) or "(nothing)")])
    header = ["Id", "Question", "MRR@10", "Gold", "Top 3 retrieved (✓ = gold)"]
    return [f"## {WORST_N} worst questions by MRR@10", ""] + _table(header, rows)


def _unreadable_section(scored: Sequence[QuestionResult]) -> list[str]:
    """The answers a reader would stumble on, with what tripped them (none: no section)."""
    rows = [[_cell(r.id), _cell(r.question), _cell("; ".join(r.readability))] for r in scored if r.readability]
    if not rows:
        return []
    return ([f"## Answers that do not read as prose ({len(rows)})", ""]
            + _table(["Id", "Question", "What a reader stumbles on"], rows[:WORST_N]))


def _is_worse(section: str, key: str, change: float) -> bool:
    return change > 0 if (section, key) in LOWER_IS_BETTER else change < 0


def _regression_table(previous: dict[str, Any], now: dict[str, Any]) -> list[str]:
    rows = []
    for section, key, label in RATES + LATENCIES:
        before, after = _value(previous, section, key), _value(now, section, key)
        change = None if before is None or after is None else round(after - before, 4)
        note = " (worse)" if change and _is_worse(section, key, change) else ""
        rows.append([label, _fmt(before), _fmt(after), "—" if change is None else f"{change:+.4f}{note}"])
    return ["### Metrics", ""] + _table(["Metric", "Previous", "Now", "Change"], rows)


def _question_changes(previous: Sequence[QuestionResult], now: Sequence[QuestionResult]) -> list[str]:
    before = {r.id: r for r in previous}
    changed = [(before[r.id], r) for r in now
               if r.id in before and (before[r.id].hit_at_5, before[r.id].mrr_at_10) != (r.hit_at_5, r.mrr_at_10)]
    changed.sort(key=lambda pair: ((pair[1].mrr_at_10 or 0.0) - (pair[0].mrr_at_10 or 0.0), pair[1].id))
    lines = ["### Questions whose hit@5 or MRR@10 changed", ""]
    if changed:
        rows = [[_cell(new.id), _cell(new.question), f"{_fmt(old.hit_at_5)} → {_fmt(new.hit_at_5)}",
                 f"{_fmt(old.mrr_at_10)} → {_fmt(new.mrr_at_10)}"] for old, new in changed]
        lines += _table(["Id", "Question", "hit@5 before → after", "MRR@10 before → after"], rows)
    else:
        lines += ["No question changed.", ""]
    now_ids = {r.id for r in now}
    gone, new = len(before.keys() - now_ids), len(now_ids - before.keys())
    if gone or new:
        lines += [f"Questions only in the previous run: {gone}; only in this run: {new}.", ""]
    return lines


# --- plots -------------------------------------------------------------------------------------


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)


def _grouped_bars(ax: Any, labels: Sequence[str], series: dict[str, Sequence[float | None]]) -> None:
    """Horizontal bars, one group per label, first label on top; missing values draw no bar."""
    height = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        positions = [n + (i - (len(series) - 1) / 2) * height for n in range(len(labels))]
        ax.barh(positions, [float("nan") if v is None else v for v in values], height=height, label=name)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # outside, so it never hides a bar


def _plot_metrics(path: Path, summary: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    shown = [(s, k, label) for s, k, label in RATES
             if _value(summary, s, k) is not None or _value(baseline, s, k) is not None]
    figure = Figure(figsize=(8, 1.5 + 0.4 * max(len(shown), 1)))
    ax = figure.add_subplot()
    series = {"this run": [_value(summary, s, k) for s, k, _ in shown]}
    if baseline is not None:
        series["baseline"] = [_value(baseline, s, k) for s, k, _ in shown]
    _grouped_bars(ax, [label for _, _, label in shown], series)
    ax.set_title("Headline metrics")
    _save(figure, path)


def _plot_by_tag(path: Path, by_tag: dict[str, dict[str, Any]]) -> None:
    tags = [t for t, v in by_tag.items() if v["hit_at_5"] is not None or v["mrr_at_10"] is not None]
    figure = Figure(figsize=(8, 1.5 + 0.4 * max(len(tags), 1)))
    ax = figure.add_subplot()
    series = {"hit@5": [by_tag[t]["hit_at_5"] for t in tags], "MRR@10": [by_tag[t]["mrr_at_10"] for t in tags]}
    _grouped_bars(ax, [f"{t} ({by_tag[t]['n']})" for t in tags], series)
    ax.set_title("Retrieval by tag (questions)")
    _save(figure, path)


def _plot_latency(path: Path, results: Sequence[QuestionResult]) -> None:
    panels = [("Retrieval (ms)", [r.retrieval_ms for r in results])]
    answer_s = [r.answer_s for r in results if r.answer_s is not None]
    if answer_s:
        panels.append(("Full answer (s)", answer_s))
    figure = Figure(figsize=(5 * len(panels), 3.5))
    for i, (name, values) in enumerate(panels, start=1):
        ax = figure.add_subplot(1, len(panels), i)
        ax.hist(values, bins=min(20, max(len(values), 1)))
        ax.set_xlabel(name)
        ax.set_ylabel("questions")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle("Latency")
    _save(figure, path)


# --- entry point -------------------------------------------------------------------------------


def write_report(
    out_dir: Path,
    results: Sequence[QuestionResult],
    summary: dict[str, Any],
    baseline_summary: dict[str, Any] | None = None,
    compare_results: Sequence[QuestionResult] | None = None,
    compare_summary: dict[str, Any] | None = None,
    title: str = "AlignChat evaluation",
) -> Path:
    """Write report.md and its three PNG plots into out_dir; returns the report's path.

    `baseline_summary` adds a column to the summary table (e.g. a retrieval-only baseline);
    `compare_*` come from a previous run (`--compare`) and add a regression section.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    scored = score_all(results)
    by_tag = summarize_by_tag(scored)
    answerable = sum(r.answerable for r in scored)
    mode = "full answers" if any(r.abstained is not None for r in scored) else "retrieval only"
    lines = [f"# {title}", "", f"{len(scored)} questions ({answerable} answerable); mode: {mode}.", ""]
    lines += _summary_section(summary, baseline_summary)
    if summary.get("judged"):
        lines += _judged_section(summary["judged"])
    lines += _tag_section(by_tag)
    lines += ["## Latency", "", f"![Latency histograms]({LATENCY_PNG})", ""]
    lines += _worst_section(scored)
    lines += _unreadable_section(scored)
    if compare_summary is not None or compare_results is not None:
        lines += ["## Changes since the previous run", ""]
        if compare_summary is not None:
            lines += _regression_table(compare_summary, summary)
        if compare_results is not None:
            lines += _question_changes(score_all(compare_results), scored)

    _plot_metrics(out_dir / METRICS_PNG, summary, baseline_summary)
    _plot_by_tag(out_dir / BY_TAG_PNG, by_tag)
    _plot_latency(out_dir / LATENCY_PNG, scored)
    report = out_dir / REPORT_FILE
    report.write_text("\n".join(lines), encoding="utf-8")
    log.info("wrote %s", report)
    return report
