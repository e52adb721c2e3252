"""Document libraries: reading speed, search latency, and what retrieval adds to the
time to first token — each against a baseline measured in the same run.

Figures (issue: documents, offline, with citations):
  1. Index 1,000 PDF pages: pages/s through Strongroom (the extraction child, passages,
     the encrypted database, the audit entries), without and with passage vectors
     (all-MiniLM-L6-v2); baseline: pypdf reading the same file in this process.
  2. Search over 100,000 passages: p95 ≤ 50 ms (BM25 alone, and hybrid with 100,000
     vectors); baseline: the same FTS5 query on an unencrypted SQLite copy, no join.
     The vectors are random unit vectors (computing 100,000 real ones takes hours on two
     cores; the search cost does not depend on their values), the passages are made of
     words drawn with a Zipf law from a 20,000-word vocabulary.
  3. Time to first token with retrieval − without: ≤ 100 ms (BM25 only), on the demo
     model, asking the same questions with and without the 1,000-page library. Reported
     both as a whole (the model also reads the passages, which is what they are for) and
     for the retrieval step alone (search and building the prompt).

    .venv/bin/python bench/bench_documents.py [--pages N] [--passages N] [--queries N]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from strongroom.core.audit.events import Auditor
from strongroom.core.audit.writer import AuditLog
from strongroom.core.chats.conversation_store import ConversationStore
from strongroom.core.chats.session import ChatSession
from strongroom.core.documents.chunking import Chunk
from strongroom.core.documents.indexing import Indexer
from strongroom.core.documents.library import Libraries
from strongroom.core.documents.retrieval import fts_query, search, search_terms
from strongroom.core.inference.embeddings import Embedder
from strongroom.core.inference.engine import Engine, LoadOptions, SamplingOptions
from strongroom.core.inference.identity import identify_file
from strongroom.core.secrets import open_secret_store
from strongroom.core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.helpers.documents import write_pdf  # noqa: E402  (the tests' PDF maker)

DEMO_MODEL = REPO / ".cache" / "demo" / "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDING_MODEL = REPO / ".cache" / "embedding" / "all-MiniLM-L6-v2.F16.gguf"
KEY = bytes(range(32))
TOPICS = ("lease rent tenant landlord liability indemnity clause notice termination damages "
          "patient dosage discharge anticoagulation warfarin apixaban referral diagnosis review "
          "witness statement tribunal counsel privilege merger schedule payment invoice").split()


def vocabulary(size: int = 20_000) -> list[str]:
    generator = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set(TOPICS)
    while len(words) < size:
        words.add("".join(generator.choice(letters) for _ in range(generator.randint(3, 10))))
    return sorted(words)


def zipf_words(generator: random.Random, words: list[str], count: int) -> list[str]:
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return generator.choices(words, weights=weights, k=count)


def english_words() -> list[str]:
    """Real English words, in the proportions a real text has them (this project's own
    README and docs): embedding and prompt costs depend on how text tokenizes."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    text = "\n".join(page.read_text() for page in pages)
    return [w.strip(".,;:()*`\"'[]") for w in text.split()
            if w.strip(".,;:()*`\"'[]").isalpha()]


def page_texts(pages: int) -> list[str]:
    generator = random.Random(11)
    words = english_words()
    texts = []
    for page in range(pages):
        sentences = [" ".join(generator.choices(words, k=14)).capitalize() + "."
                     for _ in range(12)]
        texts.append(f"Page {page + 1}. " + " ".join(sentences))
    return texts


class Quiet:
    """An auditor that records nothing (the audit log's cost is measured in its own bench)."""

    def document_library(self, *_args, **_details) -> None:
        pass


def open_workspace_parts(folder: Path):
    store = ConversationStore(folder / "conversations.db", KEY)
    secrets = open_secret_store(folder)
    auditor = Auditor.open(AuditLog(folder / "audit.jsonl", secrets))
    return store, auditor


# -- 1. reading -------------------------------------------------------------------------------

def bench_indexing(folder: Path, pages: int) -> Path:
    pdf = folder / "bundle.pdf"
    write_pdf(pdf, page_texts(pages))
    from pypdf import PdfReader

    started = time.perf_counter()
    reader = PdfReader(str(pdf))
    raw_chars = sum(len(page.extract_text() or "") for page in reader.pages)
    raw = time.perf_counter() - started

    store, auditor = open_workspace_parts(folder)
    libraries = Libraries(store)
    indexer = Indexer(libraries, auditor)
    library = indexer.create_library("Bench")
    started = time.perf_counter()
    report = indexer.add(library, [pdf])
    ours = time.perf_counter() - started
    assert report.added and report.added[0].pages == pages, report.failed
    embedder = Embedder.load(EMBEDDING_MODEL)
    started = time.perf_counter()
    vectors = indexer.embed_pending(library, embedder)
    embedding = time.perf_counter() - started
    embedder.close()
    store.close()
    auditor.close()
    print(f"1. indexing {pages:,} pages ({raw_chars:,} characters, "
          f"{report.added[0].chunk_count:,} passages):")
    print(f"   pypdf alone, in process:   {pages / raw:8.1f} pages/s   (baseline)")
    print(f"   Strongroom, keywords:      {pages / ours:8.1f} pages/s   ratio {raw / ours:.2f}")
    print(f"   Strongroom, with vectors:  {pages / (ours + embedding):8.1f} pages/s   ratio "
          f"{raw / (ours + embedding):.2f}  ({vectors:,} vectors, {vectors / embedding:.1f}/s)")
    return folder / "conversations.db"


# -- 2. searching -----------------------------------------------------------------------------

def fill(libraries: Libraries, library, passages: int, words: list[str]) -> list[str]:
    generator = random.Random(3)
    per_document = 1_000
    texts = []
    for start in range(0, passages, per_document):
        document = libraries.start_document(library, f"doc-{start // per_document}.pdf", "/nowhere")
        chunks = []
        for ordinal in range(min(per_document, passages - start)):
            text = " ".join(zipf_words(generator, words, 150))
            texts.append(text)
            chunks.append(Chunk(ordinal, text, ordinal // 2 + 1, None, None))
        libraries.store_chunks(document, kind="PDF", sha256=f"{start:064x}", size=1,
                               pages=per_document // 2, chunks=chunks)
    return texts


def questions(generator: random.Random, words: list[str], count: int) -> list[str]:
    middling = words[200:5_000]  # words that occur, neither everywhere nor nowhere
    return [" ".join(["Which", *generator.sample(TOPICS, 2), *generator.sample(middling, 2)]) + "?"
            for _ in range(count)]


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def bench_search(folder: Path, passages: int, queries: int) -> None:
    words = vocabulary()
    store = ConversationStore(folder / "search.db", KEY)
    libraries = Libraries(store)
    library = libraries.create("Search")
    started = time.perf_counter()
    texts = fill(libraries, library, passages, words)
    filled = time.perf_counter() - started
    plain = sqlite3.connect(folder / "plain.db")
    plain.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')")
    plain.executemany("INSERT INTO t(text) VALUES (?)", ((t,) for t in texts))
    plain.commit()
    vectors = np.random.default_rng(5).standard_normal((passages, 384)).astype(np.float32)
    sha = "f" * 64
    ids = [row[0] for row in store.database.execute("SELECT id FROM chunks ORDER BY id")]
    for start in range(0, len(ids), 5_000):
        libraries.store_vectors(sha, dict(zip(ids[start:start + 5_000], vectors[start:start + 5_000], strict=True)))
    asked = questions(random.Random(9), words, queries)
    query_vector = np.random.default_rng(6).standard_normal(384).astype(np.float32)

    def timed(run) -> list[float]:
        for question in asked[:5]:
            run(question)  # warm the page cache
        samples = []
        for question in asked:
            started = time.perf_counter()
            run(question)
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    baseline = timed(lambda q: plain.execute(
        "SELECT rowid, bm25(t) AS s FROM t WHERE t MATCH ? ORDER BY s LIMIT 40",
        (fts_query(search_terms(q)),)).fetchall())
    keywords = timed(lambda q: search(libraries, library, q))
    hybrid = timed(lambda q: search(libraries, library, q, embed=lambda _q: query_vector,
                                    model_sha256=sha))
    print(f"2. search over {passages:,} passages ({queries} questions; filled in {filled:.0f} s):")
    print(f"   plain SQLite FTS5, no join:   p50 {statistics.median(baseline):6.1f} ms   "
          f"p95 {p95(baseline):6.1f} ms   (baseline)")
    print(f"   Strongroom, BM25:             p50 {statistics.median(keywords):6.1f} ms   "
          f"p95 {p95(keywords):6.1f} ms   ratio {p95(keywords) / p95(baseline):.2f}   (target ≤ 50 ms)")
    print(f"   Strongroom, hybrid:           p50 {statistics.median(hybrid):6.1f} ms   "
          f"p95 {p95(hybrid):6.1f} ms   (first search loads the vectors: "
          f"{max(hybrid):.0f} ms at most)")
    store.close()
    plain.close()


# -- 3. time to first token -------------------------------------------------------------------

def bench_first_token(folder: Path, database: Path, rounds: int) -> None:
    store, auditor = open_workspace_parts(folder)
    settings = Settings(folder / "settings.json")
    libraries = Libraries(store)
    library = libraries.find("Bench")
    engine = Engine.load(DEMO_MODEL, LoadOptions(context_length=4096))
    loaded = engine.loaded_model(identify_file(DEMO_MODEL, name="Demo"))
    plain_session = ChatSession(auditor, settings)
    grounded = ChatSession(auditor, settings, libraries=libraries)
    for session in (plain_session, grounded):
        session.use_model(loaded)
    grounded.use_library(library)
    words = sorted(set(w.lower() for w in english_words() if len(w) > 5))
    generator = random.Random(4)
    sampling = SamplingOptions(temperature=0.0, max_tokens=256, seed=0)
    plain_ttft, grounded_ttft, retrieval, prompt_tokens = [], [], [], {}
    for _ in range(rounds):
        question = f"What does the bundle say about {' and '.join(generator.sample(words, 2))}?"
        for session, samples in ((plain_session, plain_ttft), (grounded, grounded_ttft)):
            started = time.perf_counter()
            turn = session.prepare_send(question, sampling=sampling)
            if session is grounded:
                retrieval.append((time.perf_counter() - started) * 1000)
            first = []
            stop = threading.Event()

            def on_text(_text, first=first, stop=stop):
                first.append(time.perf_counter())
                stop.set()
            answer = engine.chat(turn.messages, turn.sampling, stop, on_text,
                                 shrink=turn.fewer_sources if turn.sources else None)
            samples.append((first[0] - started) * 1000)
            prompt_tokens.setdefault(session is grounded, []).append(answer.stats.prompt_tokens)
    engine.close()
    store.close()
    auditor.close()
    plain_median, grounded_median = statistics.median(plain_ttft), statistics.median(grounded_ttft)
    print(f"3. time to first token, {rounds} questions (demo model, 4,096-token context):")
    print(f"   without a library:  {plain_median:7.1f} ms median, "
          f"{statistics.median(prompt_tokens[False]):.0f} prompt tokens   (baseline)")
    print(f"   with the library:   {grounded_median:7.1f} ms median, "
          f"{statistics.median(prompt_tokens[True]):.0f} prompt tokens   delta "
          f"{grounded_median - plain_median:+.1f} ms   (the model also reads the passages)")
    print(f"   retrieval step alone (search + prompt): {statistics.median(retrieval):.1f} ms median, "
          f"{max(retrieval):.1f} ms longest   (target: delta ≤ 100 ms)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=1_000)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    for required in (DEMO_MODEL, EMBEDDING_MODEL):
        if not required.is_file():
            print(f"{required} is missing: run `make setup` first", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory() as folder:
        database = bench_indexing(Path(folder), args.pages)
        bench_search(Path(folder), args.passages, args.queries)
        bench_first_token(Path(folder), database, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
