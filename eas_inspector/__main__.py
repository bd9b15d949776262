"""`python -m eas_inspector`: the command line."""

from eas_inspector.cli import main

raise SystemExit(main())
