"""An import killed with SIGKILL at any moment leaves the store as if it never started,
or with the complete model: never a partial one.

`strongroom import DRIVE --yes` (the real demo model, 98 MB) runs in a child process and
is killed, together with its GGUF header-check child, at 20 moments drawn from a seeded
random generator, one in each twentieth of the measured duration of an uninterrupted
import's copy. The moments count from the import's work folder appearing in the store's
staging folder (an inotify event), not from the process's start, so they land in the copy
however slowly a busy machine starts Python. After each kill the store is opened the way the app opens it (`Workspace.open`,
which cleans up) and must show: no unfinished version, every visible version verifying
against its provenance, an empty staging folder and no blob that no version uses. The
store also holds a model from before, which must come through every crash intact. At the
end a normal import into a crashed store succeeds.

Random moments rarely hit the few milliseconds in which an import commits (blobs moved in,
the version renamed into place), so three more kills are triggered by those steps' own
file-system events (inotify), not by time.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.core.paths import app_paths
from strongroom.core.store.catalog import catalog_from_store
from strongroom.core.store.model_store import ModelStore
from strongroom.core.workspace import Workspace
from tests.helpers import REPO
from tests.helpers.kills import IN_CREATE, IN_MOVED_TO, run_and_kill
from tests.helpers.stores import store_with_small_model

KILLS = 20
SEED = 20240229
DEMO_NAME = "SmolLM2-135M-Instruct"
DEMO_SIZE = 98_362_432



@pytest.fixture(scope="module")
def store_with_a_model(tmp_path_factory) -> Path:
    """A store holding a small model imported before any crash; each run gets a copy."""
    return store_with_small_model(tmp_path_factory, "earlier")


def new_home(home: Path, template_store: Path) -> Path:
    """A STRONGROOM_HOME whose store is a copy of ``template_store`` (hard links kept)."""
    store = home / "data" / "store"
    folders = []
    inodes: dict[tuple[int, int], Path] = {}
    for folder, _dirs, files in os.walk(template_store):
        target = store / Path(folder).relative_to(template_store)
        target.mkdir(parents=True, exist_ok=True)
        folders.append((target, os.stat(folder).st_mode & 0o7777))
        for name in files:
            status = os.lstat(Path(folder) / name)
            key = (status.st_dev, status.st_ino)
            if key in inodes:
                os.link(inodes[key], target / name)
            else:
                shutil.copy2(Path(folder) / name, target / name)
                inodes[key] = target / name
    for folder, mode in reversed(folders):
        os.chmod(folder, mode)
    return home


def import_command(drive: Path) -> list[str]:
    return [sys.executable, "-m", "strongroom", "import", str(drive), "--yes"]


def import_and_kill(home: Path, drive: Path, *how: str) -> dict:
    """Run `strongroom import DRIVE --yes` under the supervisor, killed as ``how`` says."""
    return run_and_kill(import_command(drive), {"STRONGROOM_HOME": str(home)}, *how)


def import_to_the_end(home: Path, drive: Path, outcome: str = "imported into") -> float:
    """An uninterrupted `strongroom import DRIVE --yes`; returns how long it took."""
    started = time.monotonic()
    result = subprocess.run(import_command(drive), cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "STRONGROOM_HOME": str(home)}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{DEMO_NAME}: {outcome}" in result.stdout, result.stdout
    return time.monotonic() - started


def open_as_the_app_does(home: Path) -> ModelStore:
    """Workspace.open runs the store's clean-up of unfinished imports (with the keyring
    the killed import used)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRONGROOM_TEST_KEYRING", str(home / "test-keyring.json"))
        workspace = Workspace.open(app_paths({"STRONGROOM_HOME": str(home)}))
        workspace.close()
    return workspace.store


def assert_store_consistent(store: ModelStore) -> list[str]:
    """No partial version, every version verifies, staging empty, every blob used.
    Returns the names of the stored models."""
    assert list(store.staging.iterdir()) == [], "staging was not emptied"

    versions = store.versions()
    finished = {v.folder for v in versions}
    for model in store.models_dir.iterdir():
        for version in model.iterdir():
            assert version in finished, f"{version} is an unfinished version left visible"
    for version in versions:
        report = store.verify(version)
        assert report.ok, report.summary()
        assert {item["path"] for item in version.files} == {
            p.relative_to(version.folder).as_posix() for p in version.folder.rglob("*")
            if p.is_file() and p.name != "provenance.json"}
    for entry in catalog_from_store(store).entries:  # what the model picker shows
        assert entry.usable, f"a visible model cannot be used: {entry.problem}"

    used = {item["blob"] for v in versions for item in v.files}
    blobs = {blob.name for blob in store.blobs.iterdir()}
    assert blobs == used, f"blobs no version uses: {sorted(blobs - used)}; missing: {sorted(used - blobs)}"
    for blob in store.blobs.iterdir():
        assert blob.stat().st_nlink >= 2, f"{blob.name} is linked from no version"
    return sorted(v.name for v in versions)


def check_after_crash(home: Path) -> list[str]:
    """Open the crashed store as the app does; check it; return the stored model names."""
    names = assert_store_consistent(open_as_the_app_does(home))
    assert "earlier" in names, "the model stored before the crash was lost"
    assert set(names) <= {"earlier", DEMO_NAME}
    if DEMO_NAME in names:
        stored = next(v for v in ModelStore(home / "data" / "store").versions() if v.name == DEMO_NAME)
        assert stored.gguf_files()[0].stat().st_size == DEMO_SIZE
    return names


def once_copying(home: Path, seconds: float) -> tuple[str, ...]:
    """Kill ``seconds`` after the import's work folder appears (copying starts)."""
    return "on", str(home / "data" / "store" / "staging"), str(IN_CREATE), "", "then", str(seconds)


def test_an_import_killed_at_20_moments_never_leaves_a_partial_model(tmp_path, demo_drive,
                                                                    store_with_a_model):
    # One uninterrupted import gives the copy's duration, which the kills are spread over.
    measure = new_home(tmp_path / "measure", store_with_a_model)
    run = import_and_kill(measure, demo_drive, *once_copying(measure, 600))
    assert not run["killed"] and run["returncode"] == 0, run
    duration = run["since_event"]

    rng = random.Random(SEED)
    moments = [rng.uniform(duration * i / KILLS, duration * (i + 1) / KILLS) for i in range(KILLS)]
    interrupted = []  # homes where an import was caught half-way
    outcomes = []
    for index, moment in enumerate(moments):
        home = new_home(tmp_path / f"kill-{index:02d}", store_with_a_model)
        run = import_and_kill(home, demo_drive, *once_copying(home, moment))
        half_done = any((home / "data" / "store" / "staging").iterdir())  # before the clean-up
        names = check_after_crash(home)
        if run["killed"] and half_done and DEMO_NAME not in names:
            interrupted.append(home)
        outcomes.append((round(moment, 2), run["killed"], half_done, DEMO_NAME in names))

    # The kills really landed inside imports, not only after them.
    print(f"copy {duration:.2f} s; {len(interrupted)} of {KILLS} kills caught an import half-way")
    assert len(interrupted) >= 5, (duration, outcomes)

    # A store that went through a crash takes a normal import.
    home = interrupted[-1]
    import_to_the_end(home, demo_drive)
    assert check_after_crash(home) == [DEMO_NAME, "earlier"]


@pytest.mark.parametrize("folder, event", [
    ("staging", IN_CREATE),  # the import's work folder appears: copying starts
    ("blobs", IN_MOVED_TO),  # the first checked file moves into the blobs: committing starts
    ("models", IN_CREATE),  # models/<name>/ is made, just before the version is renamed in
], ids=["work-folder-made", "first-blob-moved-in", "model-folder-made"])
def test_an_import_killed_at_a_commit_step_never_leaves_a_partial_model(
        tmp_path, demo_drive, store_with_a_model, folder, event):
    """Random moments rarely land in the few milliseconds in which the import commits; these
    kills are triggered by the store's own file-system events instead."""
    home = new_home(tmp_path / "home", store_with_a_model)
    run = import_and_kill(home, demo_drive, "on", str(home / "data" / "store" / folder), str(event), "")
    assert run["killed"], "the import ended before the event"
    # The last kill may land just before or just after the version's rename: either is whole.
    completed = DEMO_NAME in check_after_crash(home)
    import_to_the_end(home, demo_drive, "already in the store" if completed else "imported into")
    assert check_after_crash(home) == [DEMO_NAME, "earlier"]
