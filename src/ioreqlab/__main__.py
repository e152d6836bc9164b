"""``python -m ioreqlab``: the same as the ``ioreqlab`` command."""

from ioreqlab.cli import main

raise SystemExit(main())
