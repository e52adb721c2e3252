"""A model's own chat template is rendered in a limited child process: hostile templates
(endless loops, floods of text or memory, endless recursion) are stopped with a message,
a stop request ends a render at once, and the import's check refuses them."""

from __future__ import annotations

import os
import threading
import time

import pytest

from strongroom.core.inference.chat_template import (
    ChatTemplate,
    ChatTemplateError,
    TemplateOverBudget,
)
from strongroom.core.inference.template_sandbox import (
    RenderStopped,
    TemplateSandbox,
    check_template,
)

MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]

HOSTILE = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}"
                    "{% endfor %}{% endfor %}",
    "memory flood": "{{ 'x' * 10000000000 }}",
    "text flood": "{% for i in range(100000) %}{{ 'y' * 100000 }}{% endfor %}",
    "endless recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
}


@pytest.fixture
def sandbox_for():
    made: list[TemplateSandbox] = []

    def make(source: str, timeout: float = 2.0) -> TemplateSandbox:
        made.append(TemplateSandbox(source, "<s>", "</s>", timeout=timeout))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.close()


def test_renders_as_the_template_does_here(sandbox_for, demo_model):
    from strongroom.core.inference.gguf_header import read_gguf_info

    source = read_gguf_info(demo_model).chat_template
    sandbox = sandbox_for(source)
    assert sandbox.render(MESSAGES) == ChatTemplate(source, "<s>", "</s>").render(MESSAGES)
    assert sandbox.render(MESSAGES[1:], add_generation_prompt=False) == \
        ChatTemplate(source).render(MESSAGES[1:], add_generation_prompt=False)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_template_is_stopped_with_a_message(sandbox_for, name):
    sandbox = sandbox_for(HOSTILE[name], timeout=2.0)
    started = time.monotonic()
    with pytest.raises(TemplateOverBudget) as stopped:
        sandbox.render(MESSAGES)
    assert time.monotonic() - started < 2.0 + 5.0  # the render budget, plus the child's start
    assert "chat template" in str(stopped.value)
    # The renderer is usable afterwards, and says the same again.
    with pytest.raises(TemplateOverBudget):
        sandbox.render(MESSAGES)


def test_the_child_is_gone_after_a_timeout(sandbox_for):
    sandbox = sandbox_for(HOSTILE["nested loops"], timeout=0.5)
    sandbox.start()
    pid = sandbox._process.pid
    with pytest.raises(TemplateOverBudget, match="longer than 0.5 s"):
        sandbox.render(MESSAGES)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_stop_ends_a_render_at_once(sandbox_for):
    sandbox = sandbox_for(HOSTILE["nested loops"], timeout=60)
    stop = threading.Event()
    rendering = threading.Event()

    def press_stop() -> None:
        rendering.wait(30)
        stop.set()

    presser = threading.Thread(target=press_stop)
    presser.start()
    original = sandbox._send

    def send_then_signal(request):
        original(request)
        if request["op"] == "render":
            rendering.set()

    sandbox._send = send_then_signal
    started = time.monotonic()
    with pytest.raises(RenderStopped):
        sandbox.render(MESSAGES, stop_event=stop)
    presser.join()
    assert time.monotonic() - started < 10  # includes the child's start; the stop is ≤ 50 ms
    assert sandbox._process is None


def test_a_faulty_template_says_why_each_time(sandbox_for):
    sandbox = sandbox_for("{% for %}")
    for _ in range(2):
        with pytest.raises(ChatTemplateError, match="not valid Jinja"):
            sandbox.render(MESSAGES)
    refusing = sandbox_for("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(ChatTemplateError, match="roles must alternate"):
        refusing.render(MESSAGES)
    assert refusing._process is not None  # a refusal keeps the child


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
])
def test_template_code_is_never_executed_in_the_child(sandbox_for, source):
    with pytest.raises(ChatTemplateError, match="unsafe|failed"):
        sandbox_for(source).render(MESSAGES)


# -- the import's check -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_import_check_refuses_a_hostile_template(tmp_path, name):
    """As the import runs it: in the isolated, memory-limited header check."""
    from strongroom.core.transfer.gguf_check import check_gguf
    from tests.helpers.gguf_files import write_small_gguf

    path = write_small_gguf(tmp_path / "hostile.gguf", template=HOSTILE[name])
    started = time.monotonic()
    check = check_gguf(path)
    assert not check.ok
    assert check.problem.startswith("hostile.gguf: ") and "chat template" in check.problem
    assert "faulty or hostile" in check.problem
    assert time.monotonic() - started < 20  # a 2 s budget, plus the child's start


def test_the_import_check_accepts_real_and_merely_fussy_templates(demo_model):
    from strongroom.core.inference.gguf_header import read_gguf_info

    assert check_template(read_gguf_info(demo_model).chat_template) is None
    no_system = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
                 "supported') }}{% endif %}{% for m in messages %}{{ m['content'] }}{% endfor %}")
    assert check_template(no_system) is None
    assert check_template("{% for %}") is None  # chatting says it is broken; nothing is at risk
    assert "characters long" in check_template("x" * 2_000_000)


class _InterruptingEvent:
    """A stop event whose check is interrupted, as Ctrl+C interrupts a wait."""

    def __init__(self):
        self.checks = 0

    def is_set(self) -> bool:
        self.checks += 1
        if self.checks > 3:
            raise KeyboardInterrupt
        return False


def test_an_interrupted_render_leaves_no_process(sandbox_for):
    sandbox = sandbox_for(HOSTILE["nested loops"], timeout=60)
    sandbox.start()
    child = sandbox._process
    with pytest.raises(KeyboardInterrupt):
        sandbox.render(MESSAGES, stop_event=_InterruptingEvent())
    assert child.poll() is not None and sandbox._process is None


def test_the_child_dies_with_the_app(tmp_path):
    """The app killed with SIGKILL mid-render: its renderer goes too (it would otherwise
    spin for hours, reading nothing)."""
    import signal
    import subprocess
    import sys

    script = (  # the render request is sent before the child's pid is printed
        "import threading\n"
        "from strongroom.core.inference.template_sandbox import TemplateSandbox\n"
        f"sandbox = TemplateSandbox({HOSTILE['nested loops']!r}, timeout=600)\n"
        "sandbox.start()\n"
        "sandbox._answer(60, None, 'be read')\n"
        "sandbox._send({'op': 'render', 'messages': [{'role': 'user', 'content': 'hi'}],\n"
        "               'add_generation_prompt': True, 'bos': '', 'eos': ''})\n"
        "print(sandbox._process.pid, flush=True)\n"
        "threading.Event().wait()\n"
    )
    import select

    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(app.stdout.readline())
    watch = os.pidfd_open(child)  # readable once the process has ended
    try:
        app.send_signal(signal.SIGKILL)
        app.wait()
        app.stdout.close()
        ended, _, _ = select.select([watch], [], [], 10)
        assert ended, f"the renderer {child} outlived the app"
    finally:
        os.close(watch)

