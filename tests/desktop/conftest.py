"""The real window on a real X display (Xvfb and openbox), typed into with xdotool."""

from __future__ import annotations

import pytest

from tests.helpers.x11 import XApp, XServer, missing_tools


@pytest.fixture(scope="module")
def x_server():
    missing = missing_tools()
    if missing:
        pytest.skip(f"no real X display here: {', '.join(missing)} not installed (Debian: apt "
                    "install xvfb openbox xdotool; .ci/run installs them)")
    server = XServer()
    yield server
    server.stop()


@pytest.fixture
def x_app(x_server, tmp_path):
    """A function that starts the real app on ``x_server`` (home: a folder, default the
    test's own), waits for its window, and closes it when the test ends."""
    apps = []

    def start(home=None, env=None, wait_for="main is not None and main.isVisible()"):
        app = XApp(x_server, home or tmp_path / "home", env)
        apps.append(app)
        app.wait_for(wait_for, timeout=120)
        return app

    yield start
    for app in apps:
        app.close()
