"""Billing endpoints of the HTTP contract (docs/api.md, "Billing (Stripe)"). Thin: validate,
call one service, shape the answer."""

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import plan_changes, selectors, services
from .serializers import (
    INVOICE_ID,
    CancelSubscriptionSerializer,
    ConfigSerializer,
    CreateSubscriptionSerializer,
    ErrorSerializer,
    InvoiceListQuerySerializer,
    InvoiceListSerializer,
    InvoiceSerializer,
    PaymentMethodChangedSerializer,
    PaymentMethodChangeSerializer,
    PaymentMethodSerializer,
    PlanChangeConfirmSerializer,
    PlanChangedSerializer,
    PlanChangePreviewSerializer,
    PlanChangeSerializer,
    PortalSessionSerializer,
    PromotionCodeCheckSerializer,
    PromotionCodeSerializer,
    PurchaseSerializer,
    SetupIntentSerializer,
    StatusSerializer,
)
from .throttling import DeclineBrake, PurchaseIPThrottle, PurchaseUserThrottle, StripeCallThrottle

ERRORS: dict[int | str, Any] = {
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    502: OpenApiResponse(ErrorSerializer, description="Stripe answered with an error."),
    503: OpenApiResponse(ErrorSerializer, description="Stripe cannot be reached."),
}
THROTTLED = OpenApiResponse(
    ErrorSerializer, description="Too many requests (`Retry-After` says how long to wait)."
)


class StripeReadThrottle(StripeCallThrottle):
    """The account page's reads that ask Stripe (the card on file, the invoices): per user, a
    budget of their own (``BILLING_RATE_STRIPE_READS_USER``), so reading the page often never
    uses up the budget of sync, cancel or paying an invoice, and those never block the page."""

    scope = "stripe_reads"
    setting = "BILLING_RATE_STRIPE_READS_USER"


class ConfigView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Stripe publishable key, the Premium price and where to load Stripe.js",
        responses={200: ConfigSerializer, 503: ERRORS[503]},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        prices = services.prices_get()
        return Response(
            {
                "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
                "price": prices[0].as_dict(),
                "prices": [price.as_dict() for price in prices],
                "trial_days": max(0, settings.BILLING_TRIAL_DAYS),
                "js_url": settings.STRIPE_JS_URL,
                "portal": settings.BILLING_PORTAL_ENABLED,
            }
        )


class CreateSubscriptionView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [PurchaseUserThrottle, PurchaseIPThrottle, DeclineBrake]

    @extend_schema(
        summary="Buy Premium",
        request=CreateSubscriptionSerializer,
        responses={
            200: OpenApiResponse(PurchaseSerializer, description="Same answer as before."),
            201: PurchaseSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="Bad payment method id, or `invalid_price`: not one of Premium's "
                "prices, or `invalid_promotion_code` (with the reason), or a code together "
                "with the trial.",
            ),
            402: OpenApiResponse(ErrorSerializer, description="Card declined."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="Already premium, or `trial_not_available` (not a first "
                "subscription, or no trial offered).",
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many purchase attempts (per user or per address), or card "
                "purchases paused after many declines (`purchases_paused`).",
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = CreateSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        purchase = services.subscription_create(
            user=request.user,  # type: ignore[arg-type]
            payment_method_id=serializer.validated_data.get("payment_method_id"),
            price=serializer.validated_data.get("price"),
            offer=services.Offer(
                promotion_code=serializer.validated_data.get("promotion_code") or "",
                trial=serializer.validated_data["trial"],
            ),
        )
        code = status.HTTP_201_CREATED if purchase.created else status.HTTP_200_OK
        return Response(purchase.as_dict(), status=code)


class SubscriptionView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="The caller's subscription status",
        responses={200: StatusSerializer, 401: ERRORS[401]},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.subscription_status(request.user))  # type: ignore[arg-type]


class SubscriptionSyncView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="Re-read the caller's subscription from Stripe now",
        request=None,
        responses={200: StatusSerializer, 429: THROTTLED, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        return Response(services.subscription_sync(user=request.user))  # type: ignore[arg-type]


class CancelSubscriptionView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="Cancel at the end of the paid period (default) or now",
        request=CancelSubscriptionSerializer,
        responses={
            200: StatusSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`at_period_end` is not a boolean."),
            404: OpenApiResponse(ErrorSerializer, description="No subscription."),
            429: THROTTLED,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = CancelSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            services.subscription_cancel(
                user=request.user,  # type: ignore[arg-type]
                at_period_end=serializer.validated_data["at_period_end"],
            )
        )


class ResumeSubscriptionView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="Undo a cancel-at-period-end before the period ends",
        request=None,
        responses={
            200: StatusSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Nothing to resume."),
            429: THROTTLED,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        return Response(services.subscription_resume(user=request.user))  # type: ignore[arg-type]


class PromotionCodeView(APIView):
    permission_classes = [IsAuthenticated]
    # Each check asks Stripe, and guessing codes is what a limit is for.
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="Check a promotion code and preview the first payment with it",
        request=PromotionCodeCheckSerializer,
        responses={
            200: PromotionCodeSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="`invalid_promotion_code` with the reason's sentence, "
                "`invalid_price`, or no `code`.",
            ),
            429: THROTTLED,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = PromotionCodeCheckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            services.promotion_code_preview(
                user=request.user,  # type: ignore[arg-type]
                code=serializer.validated_data["code"],
                price=serializer.validated_data.get("price"),
            )
        )


# --- After the purchase: the card, the invoices, the portal --------------------------------


class PaymentMethodView(APIView):
    permission_classes = [IsAuthenticated]

    def get_throttles(self) -> list:
        # A card change may attach and charge a card: the purchase limits and the
        # declined-card brake apply (card testing); reading the card is an account-page read.
        if self.request.method == "POST":
            return [PurchaseUserThrottle(), PurchaseIPThrottle(), DeclineBrake()]
        return [StripeReadThrottle()]

    @extend_schema(
        summary="The card the next renewal will charge",
        responses={200: PaymentMethodSerializer, 429: THROTTLED, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(services.payment_method_get(user=request.user))  # type: ignore[arg-type]

    @extend_schema(
        summary="Make a new card the default, paying an open invoice with it",
        request=PaymentMethodChangeSerializer,
        responses={
            200: PaymentMethodChangedSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Not a pm_... id, unknown, or not the caller's card."
            ),
            402: OpenApiResponse(
                ErrorSerializer, description="The card was refused; the old card stays."
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many attempts (per user or per address), or card payments "
                "paused after many declines (`purchases_paused`).",
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = PaymentMethodChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            services.payment_method_set(
                user=request.user,  # type: ignore[arg-type]
                payment_method_id=serializer.validated_data["payment_method_id"],
            )
        )


class SetupIntentView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="A SetupIntent secret, to collect a new card in the browser",
        request=None,
        responses={201: SetupIntentSerializer, 429: THROTTLED, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        return Response(
            services.setup_intent_create(user=request.user),  # type: ignore[arg-type]
            status=status.HTTP_201_CREATED,
        )


class InvoiceListView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeReadThrottle]

    @extend_schema(
        summary="The caller's invoices, newest first",
        parameters=[InvoiceListQuerySerializer],
        responses={
            200: InvoiceListSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A malformed query parameter."),
            404: OpenApiResponse(
                ErrorSerializer, description="`starting_after` is not one of the caller's invoices."
            ),
            429: THROTTLED,
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        query = InvoiceListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(
            services.invoices_list(
                user=request.user,  # type: ignore[arg-type]
                starting_after=query.validated_data.get("starting_after"),
                limit=query.validated_data["limit"],
            )
        )


class InvoicePayView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="Pay one of the caller's open invoices with the card on file",
        request=None,
        parameters=[
            OpenApiParameter(
                "invoice_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description=f"The invoice id ({INVOICE_ID}); anything else answers 404.",
            )
        ],
        responses={
            200: OpenApiResponse(
                InvoiceSerializer,
                description="Paid, or `open` with `client_secret` when 3-D Secure is needed.",
            ),
            402: OpenApiResponse(ErrorSerializer, description="The card was refused."),
            404: OpenApiResponse(ErrorSerializer, description="Not an invoice of the caller."),
            409: OpenApiResponse(
                ErrorSerializer, description="The invoice is not open, or no card is on file."
            ),
            429: THROTTLED,
            **ERRORS,
        },
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        return Response(
            services.invoice_pay(user=request.user, invoice_id=invoice_id)  # type: ignore[arg-type]
        )


class PortalSessionView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="A link to Stripe's customer portal, back to /account",
        request=None,
        responses={
            200: PortalSessionSerializer,
            404: OpenApiResponse(
                ErrorSerializer,
                description="The portal is not offered here, or the caller has no Stripe "
                "customer yet.",
            ),
            429: THROTTLED,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        return Response(services.portal_session_create(user=request.user))  # type: ignore[arg-type]


# --- Changing plans (monthly <-> yearly) -----------------------------------------------------

PLAN_CHANGE_ERRORS: dict[int | str, Any] = {
    400: OpenApiResponse(
        ErrorSerializer, description="`invalid_price`: not one of Premium's prices."
    ),
    404: OpenApiResponse(ErrorSerializer, description="`no_subscription`."),
    409: OpenApiResponse(
        ErrorSerializer,
        description="`same_plan` (already on it, or already scheduled), or `not_changeable` "
        "(incomplete, past due, cancelling or trialing: the sentence says which).",
    ),
    429: THROTTLED,
    **ERRORS,
}


class PlanChangePreviewView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="What changing plans would charge, and when (Stripe's invoice preview)",
        request=PlanChangeSerializer,
        responses={200: PlanChangePreviewSerializer, **PLAN_CHANGE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = PlanChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            plan_changes.subscription_change_preview(
                user=request.user,  # type: ignore[arg-type]
                price=serializer.validated_data["price"],
            )
        )


class PlanChangeView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="Change plans: to yearly now (prorated charge), to monthly at the period end",
        request=PlanChangeConfirmSerializer,
        responses={
            200: PlanChangedSerializer,
            **PLAN_CHANGE_ERRORS,
            400: OpenApiResponse(
                ErrorSerializer,
                description="`invalid_price`: not one of Premium's prices; `preview_expired`: "
                "`proration_date` is more than an hour old (preview again).",
            ),
            402: OpenApiResponse(
                ErrorSerializer, description="The card was refused; nothing changed."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = PlanChangeConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            plan_changes.subscription_change(
                user=request.user,  # type: ignore[arg-type]
                price=serializer.validated_data["price"],
                proration_date=serializer.validated_data.get("proration_date"),
            )
        )


class PlanChangeCancelView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [StripeCallThrottle]

    @extend_schema(
        summary="Cancel the plan change scheduled for the end of the paid period",
        request=None,
        responses={
            200: StatusSerializer,
            409: OpenApiResponse(ErrorSerializer, description="`no_scheduled_change`."),
            429: THROTTLED,
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        return Response(
            plan_changes.subscription_change_cancel(user=request.user)  # type: ignore[arg-type]
        )
