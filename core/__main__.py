"""``python -m core ...``: the headless CLI (see core/cli.py)."""

import sys

from core.cli import main

sys.exit(main())
