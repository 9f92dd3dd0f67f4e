"""``python -m toolweave``: the command line."""

import sys

from toolweave.cli import main

sys.exit(main())
