"""``python -m core ...``: the headless CLI (see core/cli/)."""

import sys

from core.cli import main

sys.exit(main())
