"""Offline Stripe stand-in: PyPI's localstripe, patched in memory to speak the current API.

* ``python -m devtools.fakestripe`` — the server (see ``server.py``);
* ``devtools.fakestripe.launcher.FakeStripe`` — start/stop it from tests;
* ``devtools.fakestripe.proxy.stripe_proxy`` — same-origin dev proxy view for the browser.

See README.md in this folder.
"""

from .launcher import FakeStripe

__all__ = ["FakeStripe"]
