"""`python -m vidrag`: the same as the `vidrag` command."""

from vidrag.cli import main

raise SystemExit(main())
