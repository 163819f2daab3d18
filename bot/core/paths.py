"""Where the project's own files are: the bundled library and question set.

Paths inside a data dir (index, models, uploads, evaluations, feedback) are properties of
`Settings`, since the data dir is a setting.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = PROJECT_ROOT / "corpus" / "articles"
QUESTIONS_FILE = PROJECT_ROOT / "corpus" / "questions.jsonl"
