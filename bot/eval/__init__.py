"""Evaluation harness: pure per-question metrics and summaries (`metrics`), Markdown and PNG reports (`report`).

The runner that asks the bot the bundled questions lives elsewhere and feeds these modules, so
every number in a report can be checked by hand from `results.jsonl` without running a model.
"""
