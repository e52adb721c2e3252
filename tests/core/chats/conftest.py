"""What the chat session tests share: the demo model as loaded, and a session using it."""

import pytest

from strongroom.core.chats.session import ChatSession
from strongroom.core.inference.identity import LoadedModel, identify_file


@pytest.fixture
def loaded(demo_model):
    return LoadedModel(identify_file(demo_model, name="Demo", model_id="org/demo"), "CPU", 1024,
                       None, False, "ab" * 32)


@pytest.fixture
def session(workspace, loaded):
    chat = ChatSession(workspace.audit, workspace.settings, workspace.chats)
    chat.use_model(loaded)
    return chat
