"""What is typed in the window never reaches the disk readable (see tests/test_plaintext_leaks.py
for the command line)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.helpers.leaks import files_holding, temporary_folders
from tests.helpers.window import send

pytestmark = pytest.mark.model


def test_a_marker_typed_in_the_window_is_nowhere_readable(qtbot, window, home):
    marker = f"LEAKCHECK{uuid.uuid4().hex}"
    window.apply_settings({"audit_log_text": True})
    started = time.time()
    send(qtbot, window, f"Repeat this word exactly: {marker}")
    window.close()
    root = home.data_dir.parent
    assert files_holding(marker, root) == []
    assert files_holding(marker, *temporary_folders(), since=started) == []
    assert os.path.getsize(home.conversations_db) > 0
