from strongroom.core.chats.markdown_stream import MarkdownSplitter


def feed_all(pieces):
    splitter = MarkdownSplitter()
    results = [splitter.feed(p) for p in pieces]
    return splitter, results


def test_settles_after_blank_lines():
    splitter, results = feed_all(["Intro para", "graph.\n", "\n", "Second", " one."])
    assert splitter.text == "Intro paragraph.\n\nSecond one."
    assert results == [0, 0, 18, 18, 18]
    assert splitter.text[:18] == "Intro paragraph.\n\n"


def test_never_splits_inside_a_code_fence():
    text = "Code:\n\n```python\nx = 1\n\ny = 2\n```\n\nAfter.\n"
    splitter, _ = feed_all(list(text))  # one character at a time
    assert splitter.settled == text.index("After.")
    fence_start = text.index("```python")
    # while the fence was open, nothing inside it was settled
    partial = MarkdownSplitter()
    partial.feed(text[: text.index("y = 2")])
    assert partial.settled == fence_start


def test_tilde_fences_and_unclosed_fences():
    splitter, _ = feed_all(["~~~\n", "a\n\n", "b\n"])
    assert splitter.settled == 0
    splitter.feed("~~~\n\n")
    assert splitter.settled == len(splitter.text)


def test_a_long_code_block_settles_in_pieces_that_say_which_fence_they_are_in():
    from strongroom.core.chats.markdown_stream import CODE_LINES_PER_PIECE

    code = "".join(f"line_{i} = {i}\n" for i in range(CODE_LINES_PER_PIECE * 2 + 3))
    text = "Code:\n\n```python\n" + code + "```\n\nAfter.\n"
    splitter, _ = feed_all([text[: text.index("line_13")]])
    first_piece = text.index(f"line_{CODE_LINES_PER_PIECE}")
    assert splitter.settled == first_piece and splitter.settled_in == "```python"
    splitter.feed(text[text.index("line_13"):])
    assert splitter.settled == text.index("After.") and splitter.settled_in is None
