"""The layers show in the imports: a core that imports nothing else of ours, ingestion and
answering that each import only the core (answering never ingests), and the web page, the CLI
and app.py on top, the only code that may call ingestion."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# Layer -> the layers its modules may import (besides themselves and third-party packages).
ALLOWED = {
    "bot.core": set(),
    "ingest": {"bot.core"},
    "bot.answer": {"bot.core"},
    "bot.eval": {"bot.core", "bot.answer"},
    "bot.bench": {"bot.core", "bot.answer", "bot.eval"},
    "bot.web": {"bot.core", "bot.answer", "bot.eval", "ingest"},
    "bot.cli": {"bot.core", "bot.answer", "bot.eval", "ingest"},
    "bot.__main__": {"bot.cli"},
    "bot": set(),
    "app": {"bot.core", "bot.answer", "bot.web", "ingest"},
}
OURS = ("bot", "ingest", "app", "tests")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str | None:
    """The most specific layer a module belongs to (None: not one of ours)."""
    if module.split(".")[0] not in OURS:
        return None
    matches = [layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")]
    return max(matches, key=len) if matches else module


def _imports(path: Path) -> set[str]:
    """Every module an import statement names, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "bot").rglob("*.py")), *sorted((ROOT / "ingest").rglob("*.py"))]


def test_every_module_belongs_to_a_layer():
    assert {_layer(_module(p)) for p in _sources()} <= set(ALLOWED)


def test_modules_import_only_the_layers_below_them():
    broken = []
    for path in _sources():
        layer = _layer(_module(path))
        for name in sorted(_imports(path)):
            target = _layer(name)
            if target is not None and target != layer and target not in ALLOWED[layer]:
                broken.append(f"{path.relative_to(ROOT)} ({layer}) imports {name} ({target})")
    assert not broken, "\n".join(broken)


def test_answering_never_reaches_ingestion_even_indirectly():
    # Following the imports from the answer pipeline and the evaluator never leads into ingest/.
    seen, todo = set(), ["bot.answer.pipeline", "bot.eval.runner", "bot.eval.ablation"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = ROOT / Path(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if path.is_file():
            todo.extend(n for n in _imports(path) if n.split(".")[0] in OURS)
    assert seen and not any(m.startswith("ingest") for m in seen)
