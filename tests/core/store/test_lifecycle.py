"""Model version states: the rules of each change, the retention clock, a store from
before states, two processes at once, and a kill in the middle of a removal."""

from __future__ import annotations

import json
import os
import random
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from strongroom.core.store.lifecycle import (
    ACTIVE,
    PREVIOUS,
    RETIRED,
    STAGED,
    Lifecycle,
    LifecycleError,
    NeedsOverride,
)
from strongroom.core.store.model_store import ModelStore
from strongroom.core.transfer.drive import open_drive
from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest
from tests.helpers.kills import IN_MOVED_TO, run_and_kill

NAME = "SmolLM2-135M-Instruct"
PASSED = {"passed": True, "at": "2026-01-01T00:00:00+00:00", "problems": []}


def no_problems(_version):
    return []


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 1, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


def import_two(tmp_path, demo_model, clock=None):
    """A store with two versions of the demo model (the second adds a notes file), each
    staged as the import workflow does (without ``clock``: not staged, as before states)."""
    store = ModelStore(tmp_path / "store")
    versions = []
    for index, extra in enumerate(([], ["notes"])):
        drive = tmp_path / f"drive{index}"
        sources = [demo_model]
        if extra:
            notes = tmp_path / "NOTES.txt"
            notes.write_text("second\n")
            sources.append(notes)
        prepare_local(drive, NAME, sources)
        write_transfer_manifest(drive)
        opened = open_drive(drive)
        versions.append(store.import_model(opened, opened.models[0]).version)
        if clock is not None:
            Lifecycle(store, clock=clock).stage(versions[-1])
    return store, versions


@pytest.fixture(scope="module")
def two_versions_template(tmp_path_factory, demo_model):
    """The two versions imported once for the module (not yet staged)."""
    return import_two(tmp_path_factory.mktemp("two-versions"), demo_model)


@pytest.fixture
def two_versions(tmp_path, two_versions_template):
    """This test's own copy of the two versions, both staged. `cp -a` keeps the store's
    own hard links (blob and version file) and makes no link to the template."""
    template, (first, second) = two_versions_template
    subprocess.run(["cp", "-a", str(template.root), str(tmp_path / "store")], check=True)
    store = ModelStore(tmp_path / "store")
    versions = [next(v for v in store.versions() if v.version == old.version) for old in (first, second)]
    lifecycle = Lifecycle(store, clock=Clock())
    with lifecycle._changing() as records:  # as two imports, one after the other, leave them
        for version in versions:
            records[version.store_id] = lifecycle._record(STAGED)
    return store, versions


def staged(store, _versions, clock=None):
    return Lifecycle(store, clock=clock or Clock())


def state_names(lifecycle):
    return {s.version.version: s.state for s in lifecycle.states()}


def test_a_store_from_before_states_keeps_its_newest_version_in_use(tmp_path, demo_model):
    store, (first, second) = import_two(tmp_path, demo_model)
    lifecycle = Lifecycle(store)
    assert state_names(lifecycle) == {second.version: ACTIVE, first.version: PREVIOUS}
    assert not any(s.recorded for s in lifecycle.states())


def test_promotion_needs_a_passed_smoke_test_or_an_override(two_versions):
    store, (first, second) = two_versions
    lifecycle = staged(store, [first, second])
    with pytest.raises(NeedsOverride, match="not had its smoke test"):
        lifecycle.promote(first, verified=no_problems)
    lifecycle.record_smoke_test(first, {**PASSED, "passed": False, "problems": ["empty"]})
    with pytest.raises(NeedsOverride, match="failed its smoke test"):
        lifecycle.promote(first, verified=no_problems)
    lifecycle.promote(first, verified=no_problems, override=True)
    assert state_names(lifecycle)[first.version] == ACTIVE


def test_promote_keeps_the_old_version_and_rollback_returns_to_it(two_versions):
    store, (first, second) = two_versions
    lifecycle = staged(store, [first, second])
    for version in (first, second):
        lifecycle.record_smoke_test(version, PASSED)
    assert lifecycle.promote(first, verified=no_problems) is None
    assert lifecycle.promote(second, verified=no_problems).version == first.version
    assert state_names(lifecycle) == {first.version: PREVIOUS, second.version: ACTIVE}
    assert lifecycle.active(NAME).version == second.version
    now_active, rolled_back = lifecycle.rollback(NAME)
    assert (now_active.version, rolled_back.version) == (first.version, second.version)
    assert state_names(lifecycle) == {first.version: ACTIVE, second.version: STAGED}
    with pytest.raises(LifecycleError, match="nothing to roll back to"):
        lifecycle.rollback(NAME)


def test_a_version_that_no_longer_verifies_is_not_promoted(two_versions):
    store, (first, _second) = two_versions
    lifecycle = staged(store, [first])
    before = lifecycle.path.read_bytes()
    with pytest.raises(LifecycleError, match="no longer verifies.*bytes differ"):
        lifecycle.promote(first, verified=lambda v: ["bytes differ"], override=True)
    assert lifecycle.path.read_bytes() == before


def test_the_active_version_is_not_retired(two_versions):
    store, (first, _second) = two_versions
    lifecycle = staged(store, [first])
    lifecycle.promote(first, verified=no_problems, override=True)
    with pytest.raises(LifecycleError, match="is the active version"):
        lifecycle.retire(first)


def test_retired_versions_go_only_after_the_retention_period(two_versions):
    store, (first, second) = two_versions
    clock = Clock()
    lifecycle = staged(store, [first, second], clock)
    lifecycle.promote(first, verified=no_problems, override=True)
    lifecycle.retire(second)
    assert state_names(lifecycle)[second.version] == RETIRED
    clock.now += timedelta(days=29, hours=23)
    assert lifecycle.collect_garbage(30) == []
    clock.now += timedelta(hours=1)
    assert [v.version for v in lifecycle.collect_garbage(30)] == [second.version]
    assert state_names(lifecycle) == {first.version: ACTIVE}
    assert not second.folder.exists()
    # The model file both versions shared stays; only the notes file's blob went.
    assert [p.name for p in first.folder.iterdir() if p.suffix == ".gguf"]
    assert len(list(store.blobs.iterdir())) == 1


def test_a_damaged_state_file_is_reported_not_reset(two_versions):
    store, (first, _second) = two_versions
    lifecycle = staged(store, [first])
    lifecycle.path.write_text("{ not json")
    with pytest.raises(LifecycleError, match="cannot be read"):
        lifecycle.states()
    with pytest.raises(LifecycleError):
        lifecycle.retire(first)
    assert lifecycle.path.read_text() == "{ not json"


def test_two_processes_do_not_change_the_states_at_once(two_versions):
    store, (first, _second) = two_versions
    lifecycle = staged(store, [first])
    with store._locked():  # another process importing, or promoting
        with pytest.raises(LifecycleError, match="Another Strongroom"):
            lifecycle.promote(first, verified=no_problems, override=True)
    assert state_names(lifecycle)[first.version] == STAGED


REMOVE = """
import sys
from strongroom.core.store.lifecycle import Lifecycle
from strongroom.core.store.model_store import ModelStore
store = ModelStore(__import__("pathlib").Path(sys.argv[1]))
lifecycle = Lifecycle(store)
lifecycle.remove(next(v for v in store.versions() if v.version == sys.argv[2]))
"""


@pytest.mark.parametrize("moment", ["on rename"] + [f"after {i}" for i in range(4)])
def test_a_kill_during_remove_leaves_the_version_whole_or_gone(two_versions, moment):
    store, (first, second) = two_versions
    staged(store, [first, second])
    env = {"PYTHONPATH": str(os.path.join(os.getcwd(), "desktop"))}
    command = [os.sys.executable, "-c", REMOVE, str(store.root), second.version]
    if moment == "on rename":
        outcome = run_and_kill(command, env, "on", str(store.staging), str(IN_MOVED_TO), second.version)
    else:
        outcome = run_and_kill(command, env, "after", str(random.Random(moment).uniform(0.05, 0.6)))
    store.clean_up()  # what every start does
    remaining = {v.version: v for v in store.versions()}
    assert first.version in remaining
    if second.version in remaining:  # whole: every file still verifies
        assert store.verify(remaining[second.version]).ok
    else:
        assert not any(store.staging.iterdir())
    assert store.verify(remaining[first.version]).ok
    json.loads(Lifecycle(store).path.read_text())  # the state file is whole either way
    assert outcome["killed"] or second.version not in remaining


@pytest.mark.parametrize("entry, problem", [
    ({"state": "in charge"}, "unknown state"),
    ({"state": "retired", "retired_at": "last tuesday"}, "unreadable time"),
    ({"state": "retired", "since": None}, "retired without a time"),
    ({"state": "staged", "smoke_test": ["passed"]}, "unreadable smoke test"),
    ("active", "is not a record"),
])
def test_an_edited_state_entry_is_named_not_trusted(two_versions, entry, problem):
    store, (first, _second) = two_versions
    lifecycle = Lifecycle(store)
    record = json.loads(lifecycle.path.read_text())
    record["versions"][first.store_id] = entry
    lifecycle.path.write_text(json.dumps(record))
    with pytest.raises(LifecycleError, match=f"entry for {first.store_id} .*{problem}"):
        lifecycle.collect_garbage(30)  # the window's start: an error it shows, not a crash


def test_a_smoke_test_result_is_shown_without_its_control_characters():
    from strongroom.core.store.smoke_test import describe

    shown = describe({"passed": False, "at": "2026\x1b[2J", "problems": ["\x1b]0;owned\x07slow"]})
    assert "\x1b" not in shown and "\x07" not in shown and "slow" in shown
