"""The bundled program's entry point: the `strongroom` command."""

import multiprocessing

from strongroom.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
