"""Create (or find) the Premium product and its two prices in Stripe, and on request the demo
promotion code. Safe to run again: everything is found by its lookup key, id or code first."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing import plans, stripe_client
from billing.exceptions import BillingError, stripe_errors

PRODUCT_NAME = "Open SEC Data Premium Subscription"
PRODUCT_DESCRIPTION = "Unlimited SEC 13F API access and premium-only pages."
PRODUCT_TAG = ("opensecdata_product", "premium")
CURRENCY = "usd"
#: (interval, unit amount in cents): USD 20 a month, USD 200 a year.
MONTHLY = ("month", 2000)
YEARLY = ("year", 20000)

#: The demo promotion code (``--demo-promotion-code``): 50 % off the first payment.
DEMO_COUPON_ID = "opensecdata_welcome50"
DEMO_COUPON_NAME = "50% off the first payment"
DEMO_CODE = "WELCOME50"


class Command(BaseCommand):
    help = (
        "Create or find the Premium product, its USD 20/month and USD 200/year prices (by "
        "lookup key) and, with --demo-promotion-code, the WELCOME50 code; print the monthly "
        "price id last."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo-promotion-code",
            action="store_true",
            help=f"Also make the coupon '{DEMO_COUPON_NAME}' with the promotion code "
            f"{DEMO_CODE} (development and test data; refused with a live key).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        demo_code = options["demo_promotion_code"]
        if demo_code and settings.STRIPE_SECRET_KEY.startswith("sk_live_"):
            # Anyone could type it: a public 50 % code has no place in a live account.
            raise CommandError(
                "--demo-promotion-code is for test data: refused with a live key (sk_live_...)."
            )
        try:
            with stripe_errors():
                product_id: str | None = None
                found = []
                for (interval, amount), lookup_key in (
                    (MONTHLY, settings.STRIPE_PRICE_LOOKUP_KEY),
                    (YEARLY, settings.STRIPE_YEARLY_PRICE_LOOKUP_KEY),
                ):
                    price = stripe_client.price_by_lookup_key(lookup_key)
                    if price is not None:
                        self.stdout.write(f"Found price {price['id']} (lookup key {lookup_key}).")
                        # A second price belongs to the product of the first.
                        product_id = product_id or plans.price_info_from(price).product_id
                    else:
                        product_id = product_id or self._product()
                        price = stripe_client.price_create(
                            product_id=product_id,
                            unit_amount=amount,
                            currency=CURRENCY,
                            interval=interval,
                            lookup_key=lookup_key,
                        )
                        self.stdout.write(f"Created price {price['id']} (lookup key {lookup_key}).")
                    found.append(price)
                if demo_code:
                    self._demo_promotion_code(plans.price_info_from(found[0]).product_id)
        except BillingError as exc:
            raise CommandError(str(exc.detail)) from exc
        # Warm the app's catalogue (a fixed STRIPE_PRICE_ID / STRIPE_YEARLY_PRICE_ID wins over
        # the lookup keys: then the app reads those).
        if not (settings.STRIPE_PRICE_ID or settings.STRIPE_YEARLY_PRICE_ID):
            plans.prices_cache(found)
        try:
            monthly = plans.price_get()
        except BillingError as exc:
            raise CommandError(str(exc.detail)) from exc
        # The last line is the monthly price id alone, for scripts:
        #   PRICE=$(manage.py create_stripe_data | tail -1)
        self.stdout.write(monthly.id)

    def _product(self) -> str:
        """The Premium product's id, made once (found by its metadata tag)."""
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
        return str(product["id"])

    def _demo_promotion_code(self, product_id: str) -> None:
        """The coupon (50 % off, once, our product only) and its code WELCOME50, made once."""
        coupon = stripe_client.coupon_retrieve(DEMO_COUPON_ID)
        if coupon is None:
            coupon = stripe_client.coupon_create(
                params={
                    "id": DEMO_COUPON_ID,
                    "name": DEMO_COUPON_NAME,
                    "percent_off": 50,
                    "duration": "once",
                    "applies_to": {"products": [product_id]},
                },
                idempotency_key=f"coupon-{DEMO_COUPON_ID}-{product_id}",
            )
            self.stdout.write(f"Created coupon {coupon['id']} ({DEMO_COUPON_NAME}).")
        else:
            self.stdout.write(f"Found coupon {coupon['id']}.")
        existing = stripe_client.promotion_codes_by_code(DEMO_CODE, active=True)
        if existing:
            self.stdout.write(f"Found promotion code {DEMO_CODE} ({existing[0]['id']}).")
            return
        promo = stripe_client.promotion_code_create(
            coupon_id=str(coupon["id"]),
            code=DEMO_CODE,
            metadata={"opensecdata_demo": "true"},
            idempotency_key=f"promotion-code-{DEMO_CODE}-{coupon['id']}",
        )
        self.stdout.write(f"Created promotion code {DEMO_CODE} ({promo['id']}).")
