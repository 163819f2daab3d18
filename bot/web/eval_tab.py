"""The Evaluation tab: run the evaluation harness on a question set with the chat's settings,
watch its progress, and see the summary, the plots and the change since the previous run.

Runs are written to `<data_dir>/evals/<timestamp>/` (results, summary, report.md and plots),
and each is compared with the latest earlier run of the same mode (retrieval only or full).
"""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from bot.answer.pipeline import Engine
from bot.core.models import ModelMissing
from bot.core.paths import QUESTIONS_FILE
from bot.eval.judge import Judge, judge_spec
from bot.eval.report import BY_TAG_PNG, LATENCIES, LATENCY_PNG, METRICS_PNG, RATES, SUMMARY_FILE, load_summary
from bot.eval.runner import RUN_FILE, run_evaluation
from bot.web.access import Access, NotAllowed
from bot.web.backends import Backends

log = logging.getLogger(__name__)


def previous_run(root: Path, retrieval_only: bool) -> Path | None:
    """The latest finished run under root of the same mode (run dirs are named by timestamp)."""
    if not root.is_dir():
        return None
    for run in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        try:
            config = json.loads((run / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (run / SUMMARY_FILE).is_file() and config.get("retrieval_only") == retrieval_only:
            return run
    return None


def new_run_dir(root: Path) -> Path:
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    run, n = root / stamp, 1
    while run.exists():
        n += 1
        run = root / f"{stamp}-{n}"
    return run


def comparison_table(summary: dict[str, Any], previous: dict[str, Any] | None) -> pd.DataFrame:
    """Headline metrics of this run beside the previous run's, with the change."""
    def row(label: str, now: Any, before: Any) -> list[Any]:
        change = round(now - before, 4) if now is not None and before is not None else None
        return [label, _round(now), _round(before), change]

    rows = [["questions", summary.get("n_questions"), (previous or {}).get("n_questions"), None]]
    for section, key, label in RATES + LATENCIES:
        rows.append(row(label, summary.get(section, {}).get(key), (previous or {}).get(section, {}).get(key)))
    judged, judged_before = summary.get("judged") or {}, (previous or {}).get("judged") or {}
    same_judge = judged_before.get("judge") == judged.get("judge")
    for key in ("faithfulness", "relevance") if judged else ():
        rows.append(row(f"{key} (judged by {judged.get('judge')})", judged.get(key),
                        judged_before.get(key) if same_judge else None))
    return pd.DataFrame(rows, columns=["Metric", "This run", "Previous run", "Change"])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class EvalTab:
    def __init__(self, engine: Engine, backends: Backends, access: Access) -> None:
        self.engine = engine
        self.backends = backends
        self.access = access

    def run(self, questions_file: str | None, limit: float | None, retrieval_only: bool, backend: str, model: str,
            style: str, top_k: float, request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Run the harness with the Chat tab's settings (editors only: a run occupies the cores)."""
        try:
            self.access.require_editor(request, "run evaluations")
        except NotAllowed as exc:
            return f'<p class="notice">⚠ {html.escape(str(exc))}</p>', None, None, None
        questions = Path(questions_file) if questions_file else QUESTIONS_FILE
        root = self.engine.settings.evals_dir
        previous = previous_run(root, retrieval_only)
        out_dir = new_run_dir(root)
        try:
            settings = self.backends.settings_for(self.engine.settings, "extractive" if retrieval_only else backend, model,
                                                  style, top_k)
            engine = self.engine.for_settings(settings)
            # As on the command line: a capable answering LLM also judges; the bundled one never does.
            spec = judge_spec(None, settings.llm, retrieval_only)
            judge = Judge.from_spec(spec, settings, engine.llm) if spec is not None else None
            progress(0, desc="Starting the evaluation")
            run = run_evaluation(
                questions, engine, retrieval_only=retrieval_only, out_dir=out_dir, compare=previous,
                limit=int(limit) if limit else None, judge=judge,
                progress=lambda done, total: progress((done, total), desc="Evaluating", unit="questions"),
            )
        except (FileNotFoundError, ValueError, ModelMissing) as exc:
            return f'<p class="notice">⚠ {html.escape(str(exc))}</p>', None, None, None
        except Exception:
            log.exception("evaluation failed")
            return ('<p class="notice">⚠ The evaluation failed; the details are in the server log.</p>',
                    None, None, None)
        before = load_summary(previous) if previous else None
        compared = f"compared with the run of {previous.name}" if previous else "no earlier run of this mode to compare with"
        status = (f"<p>{run.summary.get('n_questions')} questions from {html.escape(questions.name)}, "
                  f"{'retrieval only' if retrieval_only else 'full answers by ' + html.escape(engine.llm_name)}; "
                  f"{html.escape(compared)}. Saved in <code>{html.escape(str(out_dir))}</code>.</p>")
        plots = [(str(out_dir / name), caption) for name, caption in
                 ((METRICS_PNG, "Headline metrics"), (BY_TAG_PNG, "Retrieval by tag"), (LATENCY_PNG, "Latency"))
                 if (out_dir / name).is_file()]
        report = str(run.report_path) if run.report_path else None
        return status, comparison_table(run.summary, before), plots, report

    def load(self, request: gr.Request) -> tuple[Any, Any]:
        """The run button for editors only; a reader is told why it is not there."""
        notice = self.access.reader_notice(request)
        return (gr.update(visible=not notice),
                gr.update(value=f'<p class="notice">{html.escape(notice)}</p>' if notice else "", visible=bool(notice)))

    def build(self, app: gr.Blocks, settings_inputs: list[gr.components.Component]) -> None:
        gr.Markdown("Runs the evaluation harness with the Chat tab's settings (backend, style, number of sources). "
                    "Retrieval only takes seconds; full answers take a few seconds per question with the bundled model.")
        with gr.Row():
            questions = gr.File(label="Question set (JSONL like corpus/questions.jsonl; empty: the bundled question set)",
                                file_types=[".jsonl"], type="filepath", elem_id="eval-questions")
            with gr.Column():
                limit = gr.Number(0, precision=0, minimum=0, label="Only the first N questions (0: all)", elem_id="eval-limit")
                retrieval_only = gr.Checkbox(True, label="Retrieval only (no answers generated)", elem_id="eval-retrieval-only")
                start = gr.Button("Run evaluation", variant="primary", elem_id="eval-run", visible=False)
        status = gr.HTML(elem_id="eval-status")
        table = gr.Dataframe(headers=["Metric", "This run", "Previous run", "Change"], interactive=False,
                             elem_id="eval-table")
        plots = gr.Gallery(label="Plots", columns=3, height="auto", object_fit="contain", elem_id="eval-plots")
        report = gr.File(label="Full report (Markdown; the plots are beside it)", interactive=False, elem_id="eval-report")
        reader_note = gr.HTML(visible=False, elem_id="eval-reader-note")
        app.load(self.load, None, [start, reader_note], api_visibility="private")
        start.click(self.run, [questions, limit, retrieval_only, *settings_inputs], [status, table, plots, report],
                    concurrency_limit=1, concurrency_id="evaluation", api_visibility="private")
