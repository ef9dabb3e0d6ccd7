"""Premium's prices: the catalogue of what we sell (monthly first, then yearly) and which of
them a request names.

The two prices live in Stripe, found by their lookup keys (``STRIPE_PRICE_LOOKUP_KEY``,
``STRIPE_YEARLY_PRICE_LOOKUP_KEY``, made by ``manage.py create_stripe_data``) unless a fixed
id is set (``STRIPE_PRICE_ID``, ``STRIPE_YEARLY_PRICE_ID``). They are read once and cached for
an hour, so answering ``GET config/`` or checking a request's ``price`` costs no Stripe call.

A request names a price by its id or its lookup key; :func:`price_resolve` accepts exactly
our prices and refuses anything else (another product's price, an unknown or malformed id,
a number) with one answer, 400 ``invalid_price``, before Stripe is asked anything: a
customer can never subscribe to, or switch to, a price we do not sell.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import stripe
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from rest_framework import status

from . import stripe_client
from .djstripe_sync import djstripe_sync
from .exceptions import BillingError, StripeFailed, stripe_errors
from .stripe_objects import field, object_id

logger = logging.getLogger(__name__)

CACHE_SECONDS = 3600
MONTH = "month"
YEAR = "year"


class PriceMissing(StripeFailed):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE  # type: ignore[assignment]
    default_detail = (
        "Premium is not set up yet: no Stripe price was found. "
        "Run `manage.py create_stripe_data` (make run does it for you)."
    )
    default_code = "price_missing"


class InvalidPrice(BillingError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "That price is not one of Premium's prices."
    default_code = "invalid_price"


@dataclass(frozen=True)
class PriceInfo:
    """One of our prices, as the answers show it (:meth:`as_dict`, the contract's price
    object) plus its product's id (to recognise our product's prices)."""

    id: str
    lookup_key: str
    unit_amount: int
    currency: str
    interval: str
    product_name: str
    product_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lookup_key": self.lookup_key,
            "unit_amount": self.unit_amount,
            "currency": self.currency,
            "interval": self.interval,
            "product_name": self.product_name,
        }


def price_info_from(price: Any, *, product_name: str = "") -> PriceInfo:
    """A Stripe price (its ``product`` expanded or an id) as a :class:`PriceInfo`."""
    product = field(price, "product")
    expanded = product is not None and not isinstance(product, str)
    name = field(product, "name", "") if expanded else ""
    return PriceInfo(
        id=str(field(price, "id") or ""),
        lookup_key=str(field(price, "lookup_key") or ""),
        unit_amount=int(field(price, "unit_amount") or 0),
        currency=str(field(price, "currency") or ""),
        interval=str(field(field(price, "recurring"), "interval", "") or ""),
        product_name=str(name or product_name),
        product_id=object_id(product),
    )


def _sources() -> list[tuple[str, str]]:
    """``(fixed id, lookup key)`` of the monthly and the yearly price, in that order."""
    return [
        (settings.STRIPE_PRICE_ID, settings.STRIPE_PRICE_LOOKUP_KEY),
        (settings.STRIPE_YEARLY_PRICE_ID, settings.STRIPE_YEARLY_PRICE_LOOKUP_KEY),
    ]


def _cache_key() -> str:
    # The API host is part of the key: a price of one Stripe (or stand-in) means nothing to
    # another; so are the settings, so that changing one is seen at once.
    host = settings.STRIPE_API_HOST_OVERRIDE or "stripe"
    names = ",".join(price_id or key for price_id, key in _sources())
    return f"billing:prices:{host}:{names}"


def _cache_get(key: str) -> Any:
    """The cached catalogue, or None if absent or the cache cannot be read.

    The catalogue is read inside syncs and purchases, which run in a transaction: a cache that
    fails (Redis down, a database cache's table missing) is a cache miss, never their failure,
    and its error stays in a savepoint (PostgreSQL would otherwise refuse the rest of the
    transaction).
    """
    try:
        with transaction.atomic():
            return cache.get(key)
    except Exception as exc:  # any cache failure: read Stripe instead
        logger.warning("Price catalogue cache not readable (%s: %s)", type(exc).__name__, exc)
        return None


def _cache_set(key: str, value: Any) -> None:
    try:
        with transaction.atomic():
            cache.set(key, value, CACHE_SECONDS)
    except Exception as exc:  # not cached this time: read again next time
        logger.warning("Price catalogue not cached (%s: %s)", type(exc).__name__, exc)


def _price_read(price_id: str, lookup_key: str) -> stripe.Price | None:
    if price_id:
        return stripe_client.price_retrieve(price_id)
    return stripe_client.price_by_lookup_key(lookup_key)


def prices_get() -> list[PriceInfo]:
    """Our prices, monthly first, then yearly (cached for an hour).

    No monthly price is 503 ``price_missing`` (nothing can be sold). A missing yearly price
    (a deployment that has not run ``create_stripe_data`` since the yearly price came) is
    left out and logged: monthly keeps selling meanwhile.
    """
    cached = _cache_get(_cache_key())
    if cached:
        return [PriceInfo(**entry) for entry in cached]
    with stripe_errors():
        found = [_price_read(price_id, key) for price_id, key in _sources()]
    monthly, yearly = found
    if monthly is None:
        raise PriceMissing()
    if yearly is None:
        logger.warning(
            "No yearly Premium price (lookup key %s): run manage.py create_stripe_data",
            settings.STRIPE_YEARLY_PRICE_LOOKUP_KEY,
        )
    return prices_cache([price for price in found if price is not None])


def prices_cache(prices: list[Any]) -> list[PriceInfo]:
    """Remember ``prices`` (monthly first) as the catalogue and mirror them into dj-stripe."""
    infos = [price_info_from(price) for price in prices]
    _cache_set(_cache_key(), [asdict(info) for info in infos])
    for price in prices:
        djstripe_sync(price)
    return infos


def price_get() -> PriceInfo:
    """The monthly price: the default of a purchase, and config's ``price`` for old clients."""
    return prices_get()[0]


def price_resolve(value: object) -> PriceInfo:
    """The price a request names: ``None`` is the monthly one; an id or a lookup key of one
    of our prices is that price; anything else is 400 ``invalid_price`` (no Stripe call
    beyond reading the catalogue)."""
    if value is None:
        return price_get()
    if isinstance(value, str) and value:
        for price in prices_get():
            if value in (price.id, price.lookup_key):
                return price
    raise InvalidPrice()


def price_known(price_id: str) -> PriceInfo | None:
    """The catalogue's entry for ``price_id``, or None (not one of ours)."""
    if not price_id:
        return None
    return next((price for price in prices_get() if price.id == price_id), None)
