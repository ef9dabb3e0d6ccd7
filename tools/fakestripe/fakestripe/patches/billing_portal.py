"""Customer portal sessions (``POST /v1/billing_portal/sessions``) [localstripe: none].

Reproduces:

* ``POST /v1/billing_portal/sessions`` with ``customer`` (required; 404 "No such customer"),
  ``return_url`` (an absolute http(s) URL), ``configuration`` (the account's default
  configuration, ``bpc_offline0000000000``, is used when none is given; another id is a 404),
  ``locale`` (Stripe's list, ``auto`` by default), ``on_behalf_of``: a ``billing_portal.session``
  in Stripe's shape (``id`` ``bps_...``, ``configuration``, ``created``, ``customer``,
  ``customer_account``, ``flow``, ``livemode``, ``locale``, ``on_behalf_of``, ``return_url``,
  ``url``). There is no retrieve or list, as on Stripe.
* ``url`` is short-lived, as Stripe's: it opens the stand-in's portal page
  (``<public base>/_stripe/portal/<token>``, see ``hosted.py``) within 5 minutes of its creation;
  once opened the session lasts an hour. The page shows the customer, the card renewals charge,
  the subscriptions and the invoices (with links to their hosted pages) and "Return to ..."
  linking to ``return_url``.

Not reproduced: acting in the portal (changing the card, cancelling, switching plans: the page
is read-only — do those in the app), ``flow_data`` deep links (400), portal configurations
(``/v1/billing_portal/configurations``), ``billing_portal.session.created`` events (Stripe sends
none either).
"""

from __future__ import annotations

import secrets
import time

from localstripe import resources as R

from .. import hosted
from ..errors import invalid_request, resource_missing

DEFAULT_CONFIGURATION = "bpc_offline0000000000"
#: an unvisited session's URL stops working after this; a visited one lasts VISITED_LIFETIME
UNVISITED_LIFETIME = 5 * 60
VISITED_LIFETIME = 60 * 60
#: what Stripe accepts as ``locale`` (its API reference)
LOCALES = frozenset(
    (
        *("auto", "bg", "cs", "da", "de", "el", "en", "en-AU", "en-CA", "en-GB", "en-IE"),
        *("en-IN", "en-NZ", "en-SG", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr"),
        *("hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR"),
        *("ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW"),
    )
)


def _checked_return_url(return_url) -> str | None:
    if return_url is None:
        return None
    try:
        return hosted.checked_url(return_url)
    except ValueError:
        raise invalid_request(
            f"Not a valid URL: {return_url!r}. Give an absolute http(s) URL.", param="return_url"
        ) from None


class BillingPortalSession(R.StripeObject):
    """A customer's way into the portal, for a short while."""

    object = "billing_portal.session"
    _id_prefix = "bps_"

    def __init__(
        self,
        customer=None,
        return_url=None,
        configuration=None,
        locale=None,
        on_behalf_of=None,
        flow_data=None,
        customer_account=None,
        **kwargs,
    ):
        if kwargs:
            key = next(iter(kwargs))
            raise invalid_request(f"Received unknown parameter: {key}", param=key)
        if customer_account is not None:
            raise invalid_request(
                "customer_account (Accounts v2) is not reproduced offline; pass customer.",
                param="customer_account",
            )
        if not isinstance(customer, str) or not customer:
            raise invalid_request("Missing required param: customer.", param="customer")
        if R.store.get(f"customer:{customer}") is None:
            raise resource_missing("customer", customer, param="customer")
        if configuration is not None and configuration != DEFAULT_CONFIGURATION:
            raise resource_missing("billing_portal.configuration", str(configuration),
                                   param="configuration")  # fmt: skip
        if locale is not None and locale not in LOCALES:
            raise invalid_request(
                f"Invalid locale: must be one of {', '.join(sorted(LOCALES))}", param="locale"
            )
        if flow_data is not None:
            raise invalid_request(
                "flow_data (portal deep links) is not reproduced by the offline stand-in.",
                param="flow_data",
            )
        return_url = _checked_return_url(return_url)
        super().__init__()
        self.customer = customer
        self.return_url = return_url
        self.configuration = DEFAULT_CONFIGURATION
        self.locale = locale
        self.on_behalf_of = on_behalf_of or None
        self.customer_account = None
        self.flow = None
        # Stripe's session URLs carry a random secret, not the session id.
        self._fs_token = "test_" + secrets.token_urlsafe(32)
        self._fs_expires_at = self.created + UNVISITED_LIFETIME
        self._fs_visited = False

    @property
    def url(self) -> str:
        return hosted.portal_url(self._fs_token)

    def _fs_open(self, now: float | None = None) -> bool:
        """A visit: True if the session is still valid (the first one extends it)."""
        now = time.time() if now is None else now
        if now > self._fs_expires_at:
            return False
        if not self._fs_visited:
            self._fs_visited = True
            self._fs_expires_at = int(now) + VISITED_LIFETIME
        return True


def by_token(token: str):
    """The portal session whose URL token is ``token``, else None."""
    prefix = BillingPortalSession.object + ":"
    for key, value in list(R.store.items()):
        if key.startswith(prefix) and getattr(value, "_fs_token", None) == token:
            return value
    return None


def create_session(**data):
    """``POST /v1/billing_portal/sessions``."""
    return BillingPortalSession(**data)


def apply() -> None:
    """Nothing of localstripe to patch: the routes are added by app.py."""
