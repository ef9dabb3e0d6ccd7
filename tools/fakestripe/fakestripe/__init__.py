"""Offline Stripe stand-in: PyPI's localstripe, patched in memory to speak the current API.

* ``python -m fakestripe`` — the server (see ``server.py``);
* ``fakestripe.launcher.FakeStripe`` — start/stop it from tests;
* ``devtools.stripe_proxy.stripe_proxy`` — same-origin dev proxy view for the browser.

See README.md in this folder.
"""

from .launcher import FakeStripe

__all__ = ["FakeStripe"]
