"""A failure core explains (`StrongroomError`) reaches the person as one line and an exit
code, whichever command met it: the commands let it rise and `cli.main` prints it, so no
command can forget to (a traceback is a fault in Strongroom, never a message)."""

import pytest

from strongroom.core.errors import EXIT_FAILURE, StrongroomError
from tests.helpers.cli import strongroom

# Commands that record what they do, so refuse when the audit log cannot be written.
RECORDING = {
    "trust require": ("trust", "require", "on"),
    "audit checkpoint": ("audit", "checkpoint", "--out", "{tmp}/checkpoint.json"),
    "store verify": ("store", "verify"),
    "server remove": ("server", "remove", "nowhere"),
    "library remove": ("library", "remove", "Contracts", "--yes"),
    "chats recovery-key --stored": ("chats", "recovery-key", "--stored"),
}


@pytest.fixture
def broken_log_home(home):
    """A home whose audit log was started, then had its last entry altered."""
    started = strongroom("audit", "init", home=home)
    assert started.returncode == 0, started.stderr
    lines = home.audit_log.read_text().splitlines(keepends=True)
    altered = lines[-1].replace('"timestamp": "2', '"timestamp": "1', 1)
    assert altered != lines[-1]
    lines[-1] = altered
    home.audit_log.write_text("".join(lines))
    return home


@pytest.mark.parametrize("command", RECORDING)
def test_a_refusal_is_one_line_and_an_exit_code(broken_log_home, tmp_path, command):
    args = [arg.format(tmp=tmp_path) for arg in RECORDING[command]]
    before = broken_log_home.audit_log.read_bytes()
    result = strongroom(*args, home=broken_log_home)
    assert result.returncode == EXIT_FAILURE, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("strongroom: ")]
    assert len(said) == 1 and "audit log" in said[0], result.stderr
    assert broken_log_home.audit_log.read_bytes() == before  # nothing was added to it


def test_the_errors_people_read_share_one_base():
    """Every error core raises for a person to read is a StrongroomError, so the commands
    and the window handle them in one place."""
    from strongroom.core.audit.events import AuditUnavailable
    from strongroom.core.chats.database import ConversationStoreError
    from strongroom.core.documents.library import LibraryError
    from strongroom.core.inference.engine import EngineError
    from strongroom.core.remote.connection import RemoteError
    from strongroom.core.remote.servers import ServerError
    from strongroom.core.store.lifecycle import LifecycleError
    from strongroom.core.store.model_store import ImportRefused
    from strongroom.core.transfer.manifests import ManifestError
    from strongroom.core.transfer.prepare import PrepareError
    from strongroom.core.transfer.signatures import SigningError

    for error in (AuditUnavailable, ConversationStoreError, LibraryError, EngineError,
                  RemoteError, ServerError, LifecycleError, ImportRefused, ManifestError,
                  PrepareError, SigningError):
        assert issubclass(error, StrongroomError), error
    assert issubclass(ManifestError, ValueError)  # still caught where a ValueError was
