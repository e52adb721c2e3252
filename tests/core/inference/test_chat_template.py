import pytest

from strongroom.core.inference.chat_template import (
    CHATML_TEMPLATE,
    ChatTemplate,
    ChatTemplateError,
)

MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]


def test_chatml_fallback_renders():
    text = ChatTemplate(CHATML_TEMPLATE).render(MESSAGES)
    assert text == ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_demo_model_template(demo_model):
    from strongroom.core.inference.gguf_header import read_gguf_info

    template = ChatTemplate(read_gguf_info(demo_model).chat_template)
    text = template.render(MESSAGES)
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nHi<|im_end|>" in text


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ messages.__class__.__init__.__globals__ }}",
    "{% set x = messages.append({'role': 'x'}) %}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
])
def test_template_code_is_never_executed(source):
    with pytest.raises(ChatTemplateError, match="unsafe|failed"):
        ChatTemplate(source).render(MESSAGES)


def test_raise_exception_and_invalid_syntax():
    with pytest.raises(ChatTemplateError, match="refused the conversation: roles must alternate"):
        ChatTemplate("{{ raise_exception('roles must alternate') }}").render(MESSAGES)
    with pytest.raises(ChatTemplateError, match="not valid Jinja"):
        ChatTemplate("{% for %}")
