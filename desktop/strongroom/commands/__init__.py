"""The `strongroom` subcommands, one module per area; `strongroom.cli` parses and dispatches."""

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    import sys

    print(f"strongroom: {message}", file=sys.stderr)
    return code
