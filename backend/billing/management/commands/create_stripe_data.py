"""Create (or find) the Premium product and its monthly price in Stripe. Safe to run twice."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing import services, stripe_client
from billing.exceptions import BillingError, stripe_errors

PRODUCT_NAME = "Open SEC Data Premium Subscription"
PRODUCT_DESCRIPTION = "Unlimited SEC 13F API access and premium-only pages."
PRODUCT_TAG = ("opensecdata_product", "premium")
UNIT_AMOUNT = 2000
CURRENCY = "usd"
INTERVAL = "month"


class Command(BaseCommand):
    help = "Create or find the Premium product and its USD 20/month price; print the price id."

    def handle(self, *args: Any, **options: Any) -> None:
        lookup_key = settings.STRIPE_PRICE_LOOKUP_KEY
        try:
            with stripe_errors():
                price = stripe_client.price_by_lookup_key(lookup_key)
                if price is not None:
                    self.stdout.write(f"Found price {price['id']} (lookup key {lookup_key}).")
                else:
                    product = stripe_client.product_find(
                        metadata_key=PRODUCT_TAG[0], metadata_value=PRODUCT_TAG[1]
                    )
                    if product is None:
                        product = stripe_client.product_create(
                            name=PRODUCT_NAME,
                            description=PRODUCT_DESCRIPTION,
                            metadata=dict([PRODUCT_TAG]),
                            idempotency_key=f"product-{PRODUCT_TAG[1]}",
                        )
                        self.stdout.write(f"Created product {product['id']}.")
                    else:
                        self.stdout.write(f"Found product {product['id']}.")
                    price = stripe_client.price_create(
                        product_id=product["id"],
                        unit_amount=UNIT_AMOUNT,
                        currency=CURRENCY,
                        interval=INTERVAL,
                        lookup_key=lookup_key,
                    )
                    self.stdout.write(f"Created price {price['id']} (lookup key {lookup_key}).")
        except BillingError as exc:
            raise CommandError(str(exc.detail)) from exc
        services.price_cache(price)
        # The last line is the price id alone, for scripts:
        #   PRICE=$(manage.py create_stripe_data | tail -1)
        self.stdout.write(price["id"])
