"""Heading-aware chunks, counted in the embedding model's own tokens.

all-MiniLM-L6-v2 reads 256 word pieces and silently drops the rest, so every chunk is sized
so that title + heading path + text fits, with some overlap between neighbours.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from bot.core.identity import chunk_id_for
from bot.core.index import SUMMARY_HEADING
from bot.core.types import Article, Chunk

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
MODEL_MAX_TOKENS = 254  # 256 minus [CLS] and [SEP]


@lru_cache(maxsize=4)
def load_tokenizer(model_path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)


class Chunker:
    def __init__(self, tokenizer, chunk_tokens: int = 200, overlap: int = 32) -> None:
        self.tokenizer = tokenizer
        self.chunk_tokens = min(chunk_tokens, MODEL_MAX_TOKENS)
        self.overlap = overlap
        self._headers = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True)

    def count(self, text: str) -> int:
        return len(self.tokenizer.tokenize(text))

    def _splitter(self, budget: int) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            self.tokenizer,
            chunk_size=budget,
            chunk_overlap=min(self.overlap, budget // 4),
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
        )

    def chunks(self, article: Article) -> list[Chunk]:
        sections = self._headers.split_text(article.text) or []
        out: list[Chunk] = []
        if article.summary:
            # The summary says in a few plain words what the article is about: a chunk of its
            # own lets a newcomer's paraphrase find the article even when no passage matches.
            summary = self._splitter(self.chunk_tokens - self.count(article.title) - 4).split_text(article.summary)[0]
            embedded = Chunk("", "", summary, (SUMMARY_HEADING,), 0).embedded_text(article.title)
            out.append(Chunk(chunk_id_for(article.doc_id, embedded, 0), article.doc_id, summary, (SUMMARY_HEADING,), 0))
        for section in sections:
            headings = tuple(section.metadata[key] for _, key in _HEADERS if key in section.metadata)
            probe = Chunk("", article.doc_id, "", headings, 0).embedded_text(article.title)
            budget = max(32, self.chunk_tokens - self.count(probe))
            pieces = [p.strip() for p in self._splitter(budget).split_text(section.page_content)]
            for piece in pieces:
                if not piece:
                    continue
                # The splitter measures pieces alone; re-check with the title prefix and split
                # again in the rare case the whole would be truncated by the model.
                parts = [piece]
                if self.count(probe + piece) > MODEL_MAX_TOKENS:
                    parts = self._splitter(budget // 2).split_text(piece)
                for part in parts:
                    position = len(out)
                    embedded = Chunk("", "", part, headings, position).embedded_text(article.title)
                    out.append(Chunk(
                        chunk_id=chunk_id_for(article.doc_id, embedded, position),
                        doc_id=article.doc_id,
                        text=part,
                        headings=headings,
                        position=position,
                    ))
        return out
