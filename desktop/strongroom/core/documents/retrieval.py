"""Finding the passages of a library that bear on a question.

Without an embedding model, passages are ranked by BM25 over the full-text index (words
stemmed, accents folded; the question's common words are left out, so a question that
shares only "the" and "what" with the library finds nothing). With one, the passages'
vectors are ranked by cosine similarity to the question's, and the two rankings are
merged by reciprocal rank (a passage both rank high comes first); a passage found only by
its vector must be at least `MIN_SIMILARITY` alike, so "nothing relevant" stays possible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from strongroom.core.display import printable
from strongroom.core.documents.library import Libraries, Library, StoredChunk

DEFAULT_PASSAGES = 6
CANDIDATES = 40  # how many each ranking offers to the merge
FIRST_LOOK = 200  # how many of the whole index's best passages are looked at first
RRF_K = 60  # reciprocal rank fusion's constant (the usual one)
MIN_SIMILARITY = 0.35

# Words a question shares with almost any text; searching for them finds noise.
_COMMON = frozenset("""
a about after all also am an and any are as at be been but by can could did do does doing for
from had has have how i if in into is it its me my no not of on or our out over please say said
she so some than that the their them then there these they this those to up us was we were what
when where which who whom why will with would you your tell find give show list document documents
""".split())
_WORD = re.compile(r"\w+", re.UNICODE)

Embed = Callable[[str], Sequence[float]]


@dataclass(frozen=True)
class Passage:
    """A passage found for a question, with where it comes from."""

    chunk: StoredChunk
    score: float  # higher is better; BM25 (negated) or the merged rank score

    @property
    def citation(self) -> dict:
        """What an answer keeps of it: enough to show and check it without the library."""
        chunk, document = self.chunk, self.chunk.document
        return {"document": document.name, "sha256": document.sha256, "page": chunk.page,
                "place": chunk.place, "chunk": chunk.key, "score": float(f"{self.score:.4g}"),
                "text": chunk.text}


def citation_label(citation: dict) -> str:
    """'[2] lease.pdf, page 14': a citation as people read it (safe to show)."""
    return printable(f"[{citation.get('number', '?')}] {citation.get('document', '?')}, "
                     f"{citation.get('place') or 'whole document'}")


MOST_TERMS = 32  # a question pasted from a long text is searched by its first words


def search_terms(question: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(question[:20_000])]
    seen: dict[str, None] = {}
    for word in words:
        if (len(word) > 1 or word.isdigit()) and word not in _COMMON:
            seen.setdefault(word, None)
    return list(seen)[:MOST_TERMS]


def fts_query(terms: list[str]) -> str:
    """An FTS5 query matching any of ``terms``, each quoted (so nothing in a question is
    read as query syntax)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def search(libraries: Libraries, library: Library | Sequence[Library], question: str,
           limit: int = DEFAULT_PASSAGES, embed: Embed | None = None,
           model_sha256: str | None = None) -> list[Passage]:
    """The passages of ``library`` (or of several together) that best answer
    ``question``, best first."""
    searched = [library] if isinstance(library, Library) else list(library)
    ranked = _keyword_ranking(libraries, searched, question)
    if embed is not None and model_sha256 is not None:
        vector_ranked = _vector_ranking(libraries, searched, embed(question), model_sha256)
        if vector_ranked:
            ranked = _merged(ranked, vector_ranked)
    chunks = libraries.chunks([chunk_id for chunk_id, _ in ranked[:limit]])
    scores = dict(ranked)
    return [Passage(chunk, scores[chunk.id]) for chunk in chunks]


def _keyword_ranking(libraries: Libraries, searched: list[Library],
                     question: str) -> list[tuple[int, float]]:
    """BM25's best passages in ``searched``: first the best of the whole index, kept if
    theirs (one cheap pass over the index, no join); only when too few of those are
    theirs, and more matches lie beyond, the slower search joined to their documents."""
    terms = search_terms(question)
    if not terms or not searched:
        return []
    db = libraries.conversations.database
    query = fts_query(terms)
    top = db.execute("SELECT rowid, bm25(chunk_text) AS score FROM chunk_text "
                     "WHERE chunk_text MATCH ? ORDER BY score LIMIT ?",
                     (query, FIRST_LOOK)).fetchall()
    theirs = libraries.in_libraries([chunk_id for chunk_id, _ in top], searched)
    ranked = [(chunk_id, -score) for chunk_id, score in top if chunk_id in theirs]
    if len(ranked) >= CANDIDATES or len(top) < FIRST_LOOK:
        return ranked[:CANDIDATES]
    marks = ",".join("?" * len(searched))
    rows = db.execute(
        "SELECT chunk_text.rowid, bm25(chunk_text) AS score FROM chunk_text "
        "JOIN chunks c ON c.id = chunk_text.rowid JOIN documents d ON d.id = c.document_id "
        f"WHERE chunk_text MATCH ? AND d.library_id IN ({marks}) AND d.status = 'indexed' "
        "ORDER BY score LIMIT ?", (query, *[lib.id for lib in searched], CANDIDATES))
    return [(chunk_id, -score) for chunk_id, score in rows]


def _vector_ranking(libraries: Libraries, searched: list[Library],
                    question_vector: Sequence[float], model_sha256: str) -> list[tuple[int, float]]:
    query = np.asarray(question_vector, dtype=np.float32)
    query /= max(float(np.linalg.norm(query)), 1e-12)
    ids, similarities = [], []
    for library in searched:
        part_ids, matrix = libraries.vectors(library, model_sha256)
        if part_ids and matrix.shape[1] == len(query):  # another model's vectors: not these
            ids += part_ids
            similarities.append(matrix @ query)
    if not ids:
        return []
    similarity = np.concatenate(similarities)
    best = np.argsort(-similarity)[:CANDIDATES]
    return [(ids[i], float(similarity[i])) for i in best if similarity[i] >= MIN_SIMILARITY]


def _merged(*rankings: list[tuple[int, float]]) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (chunk_id, _score) in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda item: -item[1])

