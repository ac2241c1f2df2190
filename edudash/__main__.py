"""`python -m edudash` runs the command line."""

from edudash.cli import main

raise SystemExit(main())
