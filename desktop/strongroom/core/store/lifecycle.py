"""Where each stored model version is in its life, following the reference update
procedure: bring the new version in, test it, switch over, keep the old one to roll back
to, remove retired versions after a retention period.

    staged    imported, not offered for chat until promoted
    active    the version a chat by the model's name uses (one per name)
    previous  was active; kept to roll back to
    retired   scheduled for removal once the retention period has passed

States live in ``store/lifecycle.json`` (written atomically, under the store's lock, so two
Strongroom processes never change them at once). Every change is an audit entry, which
also records the SHA-256 of the file as it now is, so an edit made outside Strongroom is
found by the compliance check. A version with no state at all comes from a store made
before states existed: while no version of its model has a state, the newest is active and
the others previous, as they were used before.

Removal is one rename out of ``models/`` into staging, then deletion: a kill at any moment
leaves the version whole or gone, and the next start clears what is left in staging.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from strongroom.core.atomic import fsync_path, write_atomic
from strongroom.core.audit.events import Auditor
from strongroom.core.display import printable
from strongroom.core.errors import StrongroomError
from strongroom.core.store.model_store import ModelStore, StoredVersion, _remove_tree

STAGED, ACTIVE, PREVIOUS, RETIRED = "staged", "active", "previous", "retired"
STATES = (STAGED, ACTIVE, PREVIOUS, RETIRED)
FILE = "lifecycle.json"
FORMAT = "strongroom.lifecycle"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LifecycleError(StrongroomError):
    """The change was refused; nothing changed. The message says why and what to do."""


class NeedsOverride(LifecycleError):
    """Promotion of a version whose smoke test failed or never ran: say so explicitly."""


@dataclass(frozen=True)
class VersionState:
    version: StoredVersion
    state: str
    since: str | None = None
    retired_at: str | None = None
    smoke_test: dict | None = None
    recorded: bool = True  # False: inferred for a store from before lifecycle states

    @property
    def store_id(self) -> str:
        return self.version.store_id

    @property
    def smoke_passed(self) -> bool | None:
        return None if self.smoke_test is None else bool(self.smoke_test.get("passed"))


def version_problems(store: ModelStore, audit_log: Path) -> Callable[[StoredVersion], list[str]]:
    """A function that hashes a stored version again and returns its problems (none when
    its files and its provenance record match what its import recorded)."""
    from strongroom.core.audit.reader import import_records

    recorded = import_records(audit_log) if audit_log.is_file() else {}

    def problems(version: StoredVersion) -> list[str]:
        report = store.verify(version, recorded.get(version.store_id))
        return report.problems + [r.line() for r in report.failures()]

    return problems


class Lifecycle:
    def __init__(self, store: ModelStore, auditor: Auditor | None = None,
                 clock: Callable[[], datetime] = _utc_now):
        self.store, self.auditor, self.clock = store, auditor, clock
        self.path = store.root / FILE

    # -- reading -----------------------------------------------------------------------------

    def _records(self) -> dict[str, dict]:
        try:
            raw = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise LifecycleError(f"The model states in {self.path} cannot be read ({error}). "
                                 "Nothing was changed; ask your security officer to check the "
                                 "store (`strongroom compliance`).") from None
        versions = raw.get("versions") if isinstance(raw, dict) else None
        if not isinstance(versions, dict):
            raise LifecycleError(f"The model states in {self.path} are not in Strongroom's format.")
        for store_id, record in versions.items():
            problem = _record_problem(record)
            if problem:
                raise LifecycleError(
                    f"The model states in {self.path} are damaged: the entry for "
                    f"{printable(str(store_id))} {problem}. Nothing was changed; ask your "
                    "security officer to check the store (`strongroom compliance`).")
        return versions

    def file_sha256(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except FileNotFoundError:
            return None

    def states(self, leaving: str | None = None) -> list[VersionState]:
        """Every stored version (but ``leaving``) with its state, by model name, newest
        import first."""
        records = self._records()
        versions = [v for v in self.store.versions() if v.store_id != leaving]
        recorded_names = {v.name for v in versions if v.store_id in records}
        found = []
        by_name: dict[str, list[StoredVersion]] = {}
        for version in versions:
            by_name.setdefault(version.name, []).append(version)
        for name, group in by_name.items():
            group.sort(key=_import_order, reverse=True)
            for index, version in enumerate(group):
                record = records.get(version.store_id)
                if record is not None:
                    found.append(VersionState(version, record["state"], record.get("since"),
                                              record.get("retired_at"), record.get("smoke_test")))
                elif name in recorded_names:
                    found.append(VersionState(version, STAGED, recorded=False))
                else:  # a store from before states: used as it was
                    found.append(VersionState(version, ACTIVE if index == 0 else PREVIOUS,
                                              recorded=False))
        return found

    def state_of(self, version: StoredVersion) -> VersionState:
        return next(s for s in self.states() if s.store_id == version.store_id)

    def active(self, name: str) -> StoredVersion | None:
        return next((s.version for s in self.states() if s.version.name == name and s.state == ACTIVE),
                    None)

    def find(self, name: str, version: str | None = None, default: str = ACTIVE) -> VersionState:
        """The version of model ``name`` whose id starts with ``version`` (when None, the
        newest in state ``default``); LifecycleError names what exists when there is none."""
        states = [s for s in self.states() if s.version.name == name]
        if not states:
            raise LifecycleError(f"The store has no model called {name!r}; `strongroom store list` "
                                 "shows what it has.")
        if version is None:
            matches = [s for s in states if s.state == default]
            if not matches:
                raise LifecycleError(f"{name} has no {default} version; name the version "
                                     f"({', '.join(s.version.version[:8] for s in states)}).")
            return matches[0]
        matches = [s for s in states if s.version.version.startswith(version)]
        if len(matches) != 1:
            raise LifecycleError(
                f"{name} has {'no' if not matches else 'more than one'} version starting with "
                f"{version!r}; its versions are {', '.join(s.version.version[:8] for s in states)}.")
        return matches[0]

    # -- changes -----------------------------------------------------------------------------

    def stage(self, version: StoredVersion, newly_stored: bool = True) -> None:
        """An imported version: newly stored, it waits as staged; the same bytes imported
        again keep the state they had."""
        with self._changing() as records:
            if version.store_id in records or not newly_stored:
                return
            self._adopt(records, version.name, leaving=version.store_id)
            records[version.store_id] = self._record(STAGED)
        self._audit("staged", version)

    def record_smoke_test(self, version: StoredVersion, result: dict) -> None:
        with self._changing() as records:
            self._adopt(records, version.name)
            record = records.setdefault(version.store_id, self._record(STAGED))
            record["smoke_test"] = result
        self._audit("smoke tested", version, passed=bool(result.get("passed")),
                    tokens_per_second=result.get("tokens_per_second"))

    def promote(self, version: StoredVersion, *, verified: Callable[[StoredVersion], list[str]],
                override: bool = False) -> StoredVersion | None:
        """Make ``version`` the active one; return the version it replaces. ``verified``
        hashes the version again and returns its problems (none: it may be promoted)."""
        current = self.state_of(version)
        if current.state == ACTIVE:
            raise LifecycleError(f"{version.store_id} is already the active version.")
        if not override and not current.smoke_passed:
            raise NeedsOverride(
                f"{version.store_id} has {'failed' if current.smoke_test else 'not had'} its smoke "
                "test. Run it first (`strongroom store smoke-test`), or promote anyway with "
                "--override, which is recorded as such.")
        problems = verified(version)
        if problems:
            raise LifecycleError(f"{version.store_id} no longer verifies, so it is not promoted: "
                                 f"{'; '.join(problems[:3])}. Import it again from its drive.")
        with self._changing() as records:
            self._adopt(records, version.name)
            replaced = self._replace_active(records, version.name, PREVIOUS)
            record = records.setdefault(version.store_id, self._record(STAGED))
            record.update(self._record(ACTIVE), smoke_test=record.get("smoke_test"))
            record.pop("retired_at", None)
        self._audit("promoted", version, from_state=current.state, override=override,
                    smoke_test_passed=current.smoke_passed,
                    replaced=replaced.version.version if replaced else None)
        return replaced.version if replaced else None

    def rollback(self, name: str) -> tuple[StoredVersion, StoredVersion]:
        """The active version back to staged, the latest previous one active again;
        returns (the version now active, the one rolled back from)."""
        states = [s for s in self.states() if s.version.name == name]
        active = next((s for s in states if s.state == ACTIVE), None)
        previous = sorted((s for s in states if s.state == PREVIOUS),
                          key=lambda s: s.since or "", reverse=True)
        if active is None or not previous:
            raise LifecycleError(f"{name} has no {'active' if active is None else 'previous'} "
                                 "version, so there is nothing to roll back to.")
        target = previous[0].version
        with self._changing() as records:
            self._adopt(records, name)
            records[active.store_id].update(self._record(STAGED))
            records[target.store_id].update(self._record(ACTIVE))
        self._audit("rolled back", target, rolled_back_from=active.version.version)
        return target, active.version

    def retire(self, version: StoredVersion) -> None:
        current = self.state_of(version)
        if current.state == ACTIVE:
            raise LifecycleError(f"{version.store_id} is the active version: promote another "
                                 f"version or roll back first (`strongroom store rollback "
                                 f"{version.name}`).")
        if current.state == RETIRED:
            return
        with self._changing() as records:
            self._adopt(records, version.name)
            record = records.setdefault(version.store_id, self._record(STAGED))
            record.update(self._record(RETIRED), smoke_test=record.get("smoke_test"))
            record["retired_at"] = record["since"]
        self._audit("retired", version, from_state=current.state)

    def remove(self, version: StoredVersion, reason: str = "asked") -> None:
        """Take the version out of the store; files other versions share stay."""
        current = self.state_of(version)
        if self.auditor is not None:
            self.auditor.require()  # a removal that cannot be recorded is not made
        with self._changing() as records:
            self._take_out(version)
            records.pop(version.store_id, None)
        self._audit("removed", version, from_state=current.state, reason=reason)

    def collect_garbage(self, retention_days: int) -> list[StoredVersion]:
        """Remove every version retired more than ``retention_days`` ago."""
        cutoff = self.clock() - timedelta(days=retention_days)
        due = [s.version for s in self.states()
               if s.state == RETIRED and s.retired_at and _parse(s.retired_at) <= cutoff]
        for version in due:
            self.remove(version, reason=f"retired over {retention_days} days ago")
        return due

    # -- inside ------------------------------------------------------------------------------

    def _record(self, state: str) -> dict:
        return {"state": state, "since": self.clock().isoformat(timespec="seconds")}

    def _adopt(self, records: dict, name: str, leaving: str | None = None) -> None:
        """Write down the inferred states of ``name``'s versions (but ``leaving``) before
        changing one."""
        for state in self.states(leaving):
            if state.version.name == name and not state.recorded and state.store_id not in records:
                records[state.store_id] = {"state": state.state, "since": None}

    def _replace_active(self, records: dict, name: str, new_state: str) -> VersionState | None:
        for state in self.states():
            if state.version.name == name and records.get(state.store_id, {}).get("state") == ACTIVE:
                records[state.store_id].update(self._record(new_state))
                return state
        return None

    def _take_out(self, version: StoredVersion) -> None:
        aside = self.store.staging / f"removing-{version.name}-{version.version}"
        os.chmod(version.folder, 0o700)  # moving a folder to a new parent rewrites its ".."
        os.rename(version.folder, aside)  # the moment the version is gone
        fsync_path(version.folder.parent)
        fsync_path(self.store.staging)
        _remove_tree(aside)
        if not any(version.folder.parent.iterdir()):
            version.folder.parent.rmdir()
        for blob in self.store.blobs.iterdir():
            if blob.is_file() and blob.stat().st_nlink == 1:  # no version links to it now
                blob.unlink()

    @contextmanager
    def _changing(self):
        """The states, read, changed by the caller and written back, all under the store's
        lock, so two Strongroom processes never change them at once; nothing is written
        when the change raises."""
        with self.store._locked(wait=False) as held:
            if not held:
                raise LifecycleError("Another Strongroom window or command is changing the "
                                     "model store right now; try again when it has finished.")
            records = self._records()
            yield records
            body = {"format": FORMAT, "format_version": 1, "versions": records}
            write_atomic(self.path, json.dumps(body, indent=2, sort_keys=True).encode(), 0o600)

    def _audit(self, action: str, version: StoredVersion, **details) -> None:
        if self.auditor is not None:
            self.auditor.model_lifecycle(action, version.name, version.version,
                                         lifecycle_sha256=self.file_sha256(), **details)


def _record_problem(record: object) -> str | None:
    """What is wrong with one entry of the states file (None: nothing)."""
    if not isinstance(record, dict):
        return "is not a record"
    if record.get("state") not in STATES:
        return f"has an unknown state {printable(str(record.get('state')))!r}"
    for stamp in ("since", "retired_at"):
        value = record.get(stamp)
        if value is None:
            continue
        try:
            _parse(value)
        except (TypeError, ValueError):
            return f"has an unreadable time in {stamp!r}"
    if record.get("state") == RETIRED and record.get("retired_at") is None:
        return "is retired without a time"
    if not isinstance(record.get("smoke_test"), (dict, type(None))):
        return "has an unreadable smoke test result"
    return None


def _import_order(version: StoredVersion) -> tuple[str, int]:
    """Newest import last: the recorded time (to the second), then when its folder arrived."""
    try:
        arrived = version.folder.stat().st_ctime_ns
    except OSError:
        arrived = 0
    return str(version.provenance.get("imported_at", "")), arrived


def _parse(stamp: str) -> datetime:
    if not isinstance(stamp, str):
        raise TypeError(stamp)
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
