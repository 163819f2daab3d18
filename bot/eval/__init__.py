"""Evaluation harness: the runner asks the real pipeline a question set (`runner`), pure
per-question metrics and summaries (`metrics`), Markdown and PNG reports (`report`), the
optional LLM judge (`judge`), the tutorial-recipe baseline (`baseline`) and the retrieval
ablation (`ablation`).

Every number in a report is computed from the fields recorded in `results.jsonl`, so it can be
checked by hand without running a model. Imports only the core and the answering side.
"""
