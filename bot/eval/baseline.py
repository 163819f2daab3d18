"""The LangChain tutorial recipe, run on the same corpus and questions for comparison:
fixed 1,000-character chunks with 200 overlap, no title prefix, dense-only top k, no grouping.

It lives in a throw-away in-memory Chroma collection, so the real index is never touched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from bot.core.types import Article
from bot.eval.metrics import RankedArticle

log = logging.getLogger(__name__)


class NaiveBaseline:
    """The recipe over the given articles (the caller reads them: this package never ingests)."""

    name = "naive baseline (LangChain tutorial recipe)"

    def __init__(self, articles: Iterable[Article], embeddings) -> None:
        import chromadb

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        documents = []
        for a in articles:
            for text in splitter.split_text(a.text):
                documents.append(Document(text, metadata={"doc_id": a.doc_id, "url": a.url}))
        started = time.perf_counter()
        client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
        self.store = Chroma(client=client, collection_name=f"naive_{id(self)}", embedding_function=embeddings)
        self.store.add_documents(documents)
        log.info("naive baseline: %d chunks embedded in %.1f s", len(documents), time.perf_counter() - started)

    def ranked(self, question: str, k: int = 10) -> list[RankedArticle]:
        """The article of each of the top k chunks, in chunk order. Not grouped: five chunks of
        one article fill five places, as in the recipe (the metrics credit a gold source once)."""
        hits = self.store.similarity_search(question, k=k)
        return [(d.metadata["doc_id"], d.metadata.get("url", "")) for d in hits]
