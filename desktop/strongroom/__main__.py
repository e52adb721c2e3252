"""Allows `python -m strongroom`."""

from strongroom.cli import main

raise SystemExit(main())
