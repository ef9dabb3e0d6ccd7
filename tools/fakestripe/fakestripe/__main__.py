"""Entry point: ``cd backend && python -m devtools.fakestripe [--host] [--port] [--state-dir]``."""

import sys

from .server import main

sys.exit(main())
