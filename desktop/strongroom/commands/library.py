"""`strongroom library`: document libraries, headless — add files or folders, list, read
again, remove. Answers that draw on a library come from `strongroom chat --library`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from strongroom.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail, open_workspace
from strongroom.commands.terminal import confirm
from strongroom.core.display import printable


def _progress(update) -> None:
    if update.current is None:
        return
    left = f" (about {update.seconds_left:.0f} s left)" if update.seconds_left else ""
    print(f"  [{update.done + 1}/{update.total}] {update.stage.lower()}: "
          f"{printable(update.current)}{left}", file=sys.stderr)


def _index_with(workspace, work) -> int:
    """Run ``work(indexer, embedder)``, the audit log required and the embedding model (if
    the store has one) loaded for it."""
    from strongroom.core.audit.events import AuditUnavailable
    from strongroom.core.documents.library import LibraryError
    from strongroom.core.inference.engine import EngineError

    try:
        workspace.audit.require()
        embedder = workspace.load_embedder()
    except EngineError as error:
        return fail(f"the store's embedding model cannot be used: {error}")
    try:
        return work(workspace.indexer(), embedder)
    except (LibraryError, AuditUnavailable) as error:
        return fail(str(error))
    finally:
        if embedder is not None:
            embedder.close()


def _finish(indexer, library, report, embedder) -> int:
    """Vectors for the new passages, then what happened, document by document."""
    if embedder is not None:
        computed = indexer.embed_pending(library, embedder, _progress)
        if computed:
            print(f"Computed {computed:,} passage vectors with {embedder.name}.", file=sys.stderr)
    for document in report.failed:
        print(f"could not read: {printable(document.problem or document.name)}", file=sys.stderr)
    for path, kept in report.duplicates:
        print(f"already in “{library.name}”: {printable(str(path))} (the same bytes as "
              f"{printable(kept.name)})", file=sys.stderr)
    for path in report.skipped:
        print(f"skipped (not PDF, Word, text or Markdown): {printable(str(path))}", file=sys.stderr)
    documents, passages = indexer.libraries.counts(library)
    print(f"“{printable(library.name)}”: {report.summary()}; it now holds {documents:,} "
          f"document(s), {passages:,} passages.")
    return EXIT_FAILURE if report.failed else EXIT_OK


def add(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        return fail(f"{missing[0]}: no such file or folder", EXIT_USAGE)

    def work(indexer, embedder) -> int:
        library = indexer.libraries.find(args.name)
        if library is None:
            library = indexer.create_library(args.name)
            print(f"Created the library “{printable(library.name)}”.", file=sys.stderr)
        report = indexer.add(library, args.paths, _progress)  # interrupted ones first
        return _finish(indexer, library, report, embedder)

    with open_workspace() as workspace:
        return _index_with(workspace, work)


def reindex(args: argparse.Namespace) -> int:
    def work(indexer, embedder) -> int:
        library = indexer.libraries.get(args.name)
        documents = _chosen(indexer.libraries, library, args.document)
        if documents is None:
            return fail(f"“{args.name}” has no document {args.document!r}", EXIT_USAGE)
        report = indexer.reindex(library, documents, _progress)
        return _finish(indexer, library, report, embedder)

    with open_workspace() as workspace:
        return _index_with(workspace, work)


def _chosen(libraries, library, document: str | None):
    """The library's documents, or those named by ``document`` (None if none is)."""
    if document is None:
        return libraries.documents(library)
    return libraries.find_documents(library, document) or None


def listing(args: argparse.Namespace) -> int:
    from strongroom.core.documents.library import LibraryError

    with open_workspace() as workspace:
        libraries = workspace.libraries
        try:
            chosen = [libraries.get(args.name)] if args.name else libraries.all()
        except LibraryError as error:
            return fail(str(error), EXIT_USAGE)
        shown = [(library, libraries.documents(library)) for library in chosen]
    if args.json:
        print(json.dumps([{"library": library.name, "created_at": library.created_at,
                           "documents": [_document_json(d) for d in documents]}
                          for library, documents in shown], indent=2))
        return EXIT_OK
    if not shown:
        print("There are no libraries yet: `strongroom library add NAME FILE_OR_FOLDER…` makes one.")
    for library, documents in shown:
        indexed = [d for d in documents if d.status == "indexed"]
        print(f"{printable(library.name)}: {len(indexed)} document(s), "
              f"{sum(d.chunk_count for d in indexed):,} passages")
        if args.name:
            for document in documents:
                print("  " + printable(_document_line(document)))
    return EXIT_OK


def _document_line(document) -> str:
    if document.status == "failed":
        return f"{document.name}: could not be read — {document.problem}"
    if document.status == "indexing":
        return f"{document.name}: reading was interrupted; `library add` or `reindex` reads it again"
    pages = f"{document.pages} pages, " if document.pages else ""
    return f"{document.name} ({document.kind}, {pages}{document.chunk_count} passages) sha256 {document.sha256}"


def _document_json(document) -> dict:
    return {"name": document.name, "source": document.source, "kind": document.kind,
            "sha256": document.sha256, "size": document.size, "pages": document.pages,
            "passages": document.chunk_count, "status": document.status,
            "problem": document.problem, "added_at": document.added_at}


def remove(args: argparse.Namespace) -> int:
    with open_workspace() as workspace:
        indexer = workspace.indexer()
        workspace.audit.require()
        library = indexer.libraries.get(args.name)
        if args.document is None:
            count = len(indexer.libraries.documents(library))
            if not args.yes and not confirm(f"Remove the library “{library.name}” and its "
                                            f"{count} document(s) from Strongroom?"):
                return fail("nothing was removed (give --yes to remove without asking)")
            indexer.remove_library(library)
            print(f"Removed the library “{printable(library.name)}” ({count} document(s)). "
                  "The files themselves are where they were.")
            return EXIT_OK
        documents = indexer.libraries.find_documents(library, args.document)
        if not documents:
            return fail(f"“{library.name}” has no document {args.document!r} (`strongroom "
                        f"library list {library.name}` names them)", EXIT_USAGE)
        for document in documents:
            indexer.remove(library, document)
            print(f"Removed {printable(document.name)} from “{printable(library.name)}”.")
    return EXIT_OK


def add_parsers(commands) -> None:
    parser = commands.add_parser("library", help="document libraries that answers can draw on")
    actions = parser.add_subparsers(dest="library_command", metavar="ACTION", required=True)

    adding = actions.add_parser(
        "add", help="add files or folders (PDF, Word, text, Markdown) to a library, making it "
                    "if needed",
        epilog="example: strongroom library add Contracts ~/Documents/contracts/ lease.pdf")
    adding.add_argument("name", help="the library's name")
    adding.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="a document, or a folder whose documents are all added")
    adding.set_defaults(handler=add)

    listed = actions.add_parser("list", help="the libraries, or one library's documents",
                                epilog="example: strongroom library list Contracts")
    listed.add_argument("name", nargs="?", help="list this library's documents")
    listed.add_argument("--json", action="store_true", help="machine-readable output")
    listed.set_defaults(handler=listing)

    removing = actions.add_parser(
        "remove", help="remove a document (by name or SHA-256) or a whole library",
        epilog="example: strongroom library remove Contracts lease.pdf")
    removing.add_argument("name", help="the library's name")
    removing.add_argument("document", nargs="?", help="the document's name or SHA-256 (its first "
                          "8 or more digits); without it the whole library is removed")
    removing.add_argument("--yes", action="store_true", help="remove a whole library without asking")
    removing.set_defaults(handler=remove)

    reading = actions.add_parser(
        "reindex", help="read documents again from where they were added from",
        epilog="example: strongroom library reindex Contracts lease.pdf")
    reading.add_argument("name", help="the library's name")
    reading.add_argument("document", nargs="?", help="one document (name or SHA-256); default: all")
    reading.set_defaults(handler=reindex)
