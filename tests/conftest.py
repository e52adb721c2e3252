"""Shared fixtures: an isolated Strongroom home, the real demo model, and leak checks."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.helpers import DEMO_MODEL, EMBEDDING_MODEL

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.helpers.memory_keyring.MemoryKeyring"


def pytest_configure(config):
    """Under pytest-xdist each worker keeps to one CPU of its own, and so does everything it
    starts: llama.cpp then runs one thread per worker (it counts the CPUs it may use), not
    a pool per worker fighting for every core, which made two workers slower than one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[int(worker.removeprefix("gw")) % len(cpus)]})


@pytest.fixture(scope="session")
def demo_model() -> Path:
    """The real SmolLM2-135M-Instruct GGUF that scripts/bootstrap.sh fetched and checked."""
    path = Path(os.environ.get("STRONGROOM_DEMO_MODEL", DEMO_MODEL))
    if not path.is_file():
        pytest.fail(f"The demo model {path} is missing: run the tests with `make test`, "
                    "which fetches it.")
    return path


@pytest.fixture(scope="module")
def engine(demo_model):
    """The demo model loaded with a 1,024-token context, shared by a test module."""
    from strongroom.core.inference.engine import Engine, LoadOptions

    loaded = Engine.load(demo_model, LoadOptions(context_length=1024))
    yield loaded
    loaded.close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private STRONGROOM_HOME for one test; returns its AppPaths."""
    from strongroom.core.paths import app_paths

    root = tmp_path / "home"
    monkeypatch.setenv("STRONGROOM_HOME", str(root))
    return app_paths()


@pytest.fixture
def workspace(home):
    from strongroom.core.workspace import Workspace

    ws = Workspace.open(home)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def embedding_model() -> Path:
    """The real all-MiniLM-L6-v2 GGUF that scripts/bootstrap.sh made and checked."""
    if not EMBEDDING_MODEL.is_file():
        pytest.fail(f"The embedding model {EMBEDDING_MODEL} is missing: run the tests with "
                    "`make test`, which makes it first.")
    return EMBEDDING_MODEL


@pytest.fixture
def folder(tmp_path) -> Path:
    """A folder of documents as a user would point a library at (tests/helpers/documents)."""
    from tests.helpers.documents import make_library_folder

    return make_library_folder(tmp_path / "documents")


@pytest.fixture
def stored_embedding_model(home, embedding_model) -> Path:
    """The embedding model imported into this test's store from a drive, as every model
    comes in; returns its stored file."""
    from strongroom.core.store.model_store import ModelStore
    from strongroom.core.transfer.drive import open_drive
    from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest

    drive = home.data_dir.parent.parent / "embedding-drive"
    prepare_local(drive, "all-MiniLM-L6-v2", [embedding_model])
    write_transfer_manifest(drive)
    opened = open_drive(drive)
    ModelStore(home.store_dir).import_model(opened, opened.models[0])
    return ModelStore(home.store_dir).versions()[-1].gguf_files()[0]


@pytest.fixture(scope="session")
def demo_drive(tmp_path_factory, demo_model) -> Path:
    """A transfer drive holding the demo model, made by `prepare` as a user would."""
    from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest

    drive = tmp_path_factory.mktemp("demo-drive")
    prepare_local(drive, "SmolLM2-135M-Instruct", [demo_model])
    write_transfer_manifest(drive)
    return drive


@pytest.fixture(scope="session")
def second_version_drive(tmp_path_factory, demo_model) -> Path:
    """The demo model with release notes beside it: another version of it, sharing the
    model file."""
    from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest

    work = tmp_path_factory.mktemp("second-version")
    notes = work / "RELEASE-NOTES.txt"
    notes.write_text("Version 2 of the workstation's model.\n")
    drive = work / "drive"
    prepare_local(drive, "SmolLM2-135M-Instruct", [demo_model, notes])
    write_transfer_manifest(drive)
    return drive


@pytest.fixture(scope="session")
def demo_store_template(tmp_path_factory, demo_drive) -> Path:
    """A model store into which the demo drive was imported once for the whole session."""
    from strongroom.core.store.model_store import ModelStore
    from strongroom.core.transfer.drive import open_drive

    root = tmp_path_factory.mktemp("store-template") / "store"
    drive = open_drive(demo_drive)
    ModelStore(root).import_model(drive, drive.models[0])
    return root


@pytest.fixture
def stored_model(home, demo_store_template) -> Path:
    """The demo model in this test's own store (hard links to the session's copy, which
    is read-only); returns the path a chat loads."""
    replicate_tree(demo_store_template, home.store_dir)
    from strongroom.core.store.model_store import ModelStore

    return ModelStore(home.store_dir).versions()[0].gguf_files()[0]


@pytest.fixture(scope="module")
def firm(tmp_path_factory, demo_store_template):
    """The firm's inference server: a real `strongroom serve` on 127.0.0.1 serving the demo
    model from a store of its own, with TLS (a certificate from a test CA) and an API key."""
    from tests.helpers.serving import API_KEY, Firm, free_port, start_serve
    from tests.helpers.tls import make_ca

    work = tmp_path_factory.mktemp("firm-server")
    replicate_tree(demo_store_template, work / "home" / "data" / "store")
    ca = make_ca(work / "ca")
    issued = ca.issue(work / "tls")
    key_file = work / "api-key"
    key_file.write_text(API_KEY + "\n")
    served = start_serve(work / "home", "SmolLM2-135M-Instruct", "127.0.0.1", free_port(),
                         issued.cert, issued.key, key_file)
    yield Firm(ca, issued, served)
    served.stop()


def replicate_tree(source: Path, target: Path) -> None:
    """Copy a folder tree as hard links, keeping each folder's permissions."""
    folders = []
    for folder, _dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        folders.append((target / relative, os.stat(folder).st_mode & 0o777))
        for name in files:
            if not os.path.lexists(target / relative / name):  # e.g. the store's .lock
                os.link(Path(folder) / name, target / relative / name)
    for folder, mode in reversed(folders):
        os.chmod(folder, mode)


@pytest.fixture(autouse=True)
def _no_threads_left_behind():
    """Fail a test that leaves a Python thread or a QThread running."""
    before = set(threading.enumerate())
    started = []
    try:
        from PySide6.QtCore import QThread
    except ImportError:  # the Qt-free checks run without Qt
        QThread = None
    if QThread is not None:
        original_start = QThread.start

        def tracking_start(self, *args):
            started.append(self)
            return original_start(self, *args)

        QThread.start = tracking_start
    try:
        yield
    finally:
        if QThread is not None:
            QThread.start = original_start
    running = [t for t in started if _qthread_running(t)]
    for thread in running:
        thread.quit()
        thread.wait(5000)
    leftover = [t for t in threading.enumerate()
                if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)]
    for thread in leftover:
        thread.join(timeout=5)
    leftover = [t for t in leftover if t.is_alive()]
    assert not running, f"test left QThreads running: {running}"
    assert not leftover, f"test left threads running: {leftover}"


def _qthread_running(thread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is already gone
        return False
