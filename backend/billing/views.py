"""Billing endpoints of the HTTP contract (docs/api.md, "Billing (Stripe)"). Thin: validate,
call one service, shape the answer."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .serializers import (
    CancelSubscriptionSerializer,
    ConfigSerializer,
    CreateSubscriptionSerializer,
    ErrorSerializer,
    PurchaseSerializer,
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


class ConfigView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Stripe publishable key, the Premium price and where to load Stripe.js",
        responses={200: ConfigSerializer, 503: ERRORS[503]},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        price = services.price_get()
        return Response(
            {
                "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
                "price": price.as_dict(),
                "js_url": settings.STRIPE_JS_URL,
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
            400: OpenApiResponse(ErrorSerializer, description="Bad payment method id."),
            402: OpenApiResponse(ErrorSerializer, description="Card declined."),
            409: OpenApiResponse(ErrorSerializer, description="Already premium."),
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
