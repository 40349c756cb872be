"""``python -m paitui`` runs the same entry point as the ``paitui`` script."""

from paitui.cli.main import main

raise SystemExit(main())
