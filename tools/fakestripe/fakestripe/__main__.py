"""Entry point: ``python -m fakestripe [--host] [--port] [--state-dir]``."""

import sys

from .server import main

sys.exit(main())
