"""The login password check goes through the operating system's PAM, with the password
handed over in PAM's own conversation. The test gives PAM a service of its own whose rule
(pam_exec) reads the password PAM collected and accepts only one."""

from __future__ import annotations

import os
import pwd

import pytest

from strongroom.core import os_login
from tests.helpers.pam import pam_service_accepting

pytestmark = pytest.mark.skipif(not os_login.available(), reason="no PAM library here")


@pytest.fixture
def pam_service(tmp_path):
    return pam_service_accepting(tmp_path, "correct horse ü")


def test_the_right_password_is_accepted(pam_service):
    assert os_login.password_accepted("correct horse ü", config_dir=pam_service)


@pytest.mark.parametrize("password", ["correct horse", "correct horse ü ", "", "x" * 10_000])
def test_anything_else_is_refused(pam_service, password):
    assert not os_login.password_accepted(password, config_dir=pam_service)


def test_the_user_is_the_process_owner_not_the_environment(monkeypatch):
    monkeypatch.setenv("USER", "someone-else")
    monkeypatch.setenv("LOGNAME", "someone-else")
    assert os_login.user_name() == pwd.getpwuid(os.getuid()).pw_name
