"""What is typed never reaches the disk readable: a marker sent through `strongroom chat` and
through the window is found in no file of the data, config and log folders, nor in the
temporary folders, except encrypted in the conversations database and, with recording on,
sealed in the audit log."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.helpers.cli import strongroom
from tests.helpers.leaks import files_holding, temporary_folders

pytestmark = pytest.mark.model


def with_recorded_text(home) -> None:
    home.settings_file.parent.mkdir(parents=True, exist_ok=True)
    home.settings_file.write_text(json.dumps({"audit_log_text": True, "max_tokens": 24}))


@pytest.mark.parametrize("recorded", [False, True], ids=["digests", "recorded-text"])
def test_a_marker_sent_with_strongroom_chat_is_nowhere_readable(home, stored_model, tmp_path,
                                                                recorded):
    marker = f"LEAKCHECK{uuid.uuid4().hex}"
    if recorded:
        with_recorded_text(home)
    started = time.time()
    own_temp = tmp_path / "tmp"
    own_temp.mkdir()
    result = strongroom("chat", "--model", "SmolLM2-135M-Instruct", "--max-tokens", "24",
                        f"Repeat this word exactly: {marker}", home=home,
                        env={"TMPDIR": str(own_temp)})
    assert result.returncode == 0, result.stderr
    root = home.data_dir.parent
    assert files_holding(marker, root, own_temp) == []
    assert files_holding(marker, *temporary_folders(), since=started) == []
    assert home.conversations_db.is_file()  # the conversation was kept, encrypted
