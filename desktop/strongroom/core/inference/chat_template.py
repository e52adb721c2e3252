"""Turning a conversation into the exact prompt text a model was trained on.

A GGUF file carries its chat template as Jinja source. Templates are data from the model
file, so they are rendered in Jinja's immutable sandbox: no attribute access to Python
internals, no mutation of our objects, no imports. A template that tries is refused with
a message instead of running. The sandbox does not bound time or memory: a model's own
template is therefore rendered in a separate process (`template_sandbox`), and only the
built-in ChatML template is rendered here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from strongroom.core.errors import StrongroomError

# Used when a model file has no template of its own. ChatML is the most common format
# among small instruction-tuned models; the model picker warns that it is a guess.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Real templates are a few kilobytes; the largest in common use are about 20 KB.
MAX_TEMPLATE_CHARS = 1_000_000


class ChatTemplateError(StrongroomError, ValueError):
    """The model's chat template cannot be used; the message says why."""


class TemplateUnsafe(ChatTemplateError):
    """The template tried to reach outside the sandbox."""


class TemplateOverBudget(ChatTemplateError):
    """The template used more time, memory, output or recursion than any real one does."""


def output_limit(messages: Sequence[dict[str, str]]) -> int:
    """The most text a template may make of ``messages``: the conversation itself, some
    times over, plus room for the template's own words. Beyond it a template is not
    formatting the conversation but flooding memory."""
    return 8 * sum(len(m.get("content", "")) for m in messages) + 1_000_000


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"the model's chat template refused the conversation: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    def __init__(self, source: str, bos_token: str = "", eos_token: str = ""):
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateOverBudget(f"the model's chat template is {len(source):,} characters "
                                     f"long; real templates are a few thousand")
        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.loopcontrols"],
            undefined=jinja2.Undefined,
        )
        environment.globals.update(raise_exception=_raise_exception, strftime_now=_strftime_now)
        try:
            self._template = environment.from_string(source)
        except jinja2.TemplateError as error:
            raise ChatTemplateError(f"the model's chat template is not valid Jinja: {error}") from None
        except RecursionError:
            raise TemplateOverBudget("the model's chat template is nested too deeply to read") from None
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True,
               stop_event=None) -> str:
        """The prompt text for ``messages``. (``stop_event`` is for the same call on a
        `TemplateSandbox`; rendering here is not interrupted.)"""
        limit = output_limit(messages)
        try:
            pieces, length = [], 0
            for piece in self._template.generate(
                messages=[dict(m) for m in messages],
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            ):
                length += len(piece)
                if length > limit:
                    raise TemplateOverBudget(
                        f"the model's chat template made more than {limit:,} characters of "
                        "text from this conversation and was stopped")
                pieces.append(piece)
            return "".join(pieces)
        except ChatTemplateError:
            raise
        except jinja2.exceptions.SecurityError as error:
            raise TemplateUnsafe(
                f"the model's chat template tried something unsafe and was stopped: {error}"
            ) from None
        except RecursionError:
            raise TemplateOverBudget("the model's chat template calls itself without end "
                                     "and was stopped") from None
        except MemoryError:
            raise TemplateOverBudget("the model's chat template tried to use more memory than "
                                     "any real template needs and was stopped") from None
        except Exception as error:  # templates are untrusted: any failure is the template's
            raise ChatTemplateError(f"the model's chat template failed: {error}") from None
