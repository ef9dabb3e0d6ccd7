"""Accounts API: session helpers, the account summary, and tokens for API scripts."""

from typing import cast

from django.contrib.auth import logout
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import APIJWTAuthentication, BearerChallenge
from .models import User
from .selectors import account_summary
from .serializers import (
    AccountSerializer,
    AuthErrorSerializer,
    RefreshedPairSerializer,
    RefreshInputSerializer,
    TokenPairSerializer,
)
from .services import token_pair_issue, token_pair_refresh, token_revoke
from .throttles import TokenIssueThrottle

UNAUTHORIZED = OpenApiResponse(
    AuthErrorSerializer, description="Not signed in, or the token was refused."
)
INVALID_BODY = OpenApiResponse(
    AuthErrorSerializer, description="No `refresh` in the body, or it is empty or too long."
)


class ViaBrowserSession(BasePermission):
    """Signed in through the browser session (not with a bearer token)."""

    message = "API tokens are issued from a signed-in browser session, not from another token."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.successful_authenticator, SessionAuthentication)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfCookieView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Set the csrftoken cookie",
        description="The SPA calls this first; it sends the cookie back as X-CSRFToken.",
        responses={204: None},
        tags=["accounts"],
    )
    def get(self, request: Request) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutView(APIView):
    authentication_classes = [SessionAuthentication]  # CSRF-checked when signed in
    permission_classes = [AllowAny]

    @extend_schema(
        summary="End the browser session", request=None, responses={204: None}, tags=["accounts"]
    )
    def post(self, request: Request) -> Response:
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="The signed-in account",
        responses={200: AccountSerializer, 401: UNAUTHORIZED},
        tags=["accounts"],
    )
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)  # IsAuthenticated
        return Response(account_summary(user=user, request=request))


class TokenIssueView(APIView):
    # The JWT class comes first only for its 401 challenge; the permission then
    # requires that the caller was recognised by the (CSRF-checked) session.
    authentication_classes = [APIJWTAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, ViaBrowserSession]
    throttle_classes = [TokenIssueThrottle]

    @extend_schema(
        summary="Issue an access + refresh token pair for API scripts",
        request=None,
        responses={
            201: TokenPairSerializer,
            401: UNAUTHORIZED,
            403: AuthErrorSerializer,
            429: OpenApiResponse(
                AuthErrorSerializer, description="Too many pairs issued; see `Retry-After`."
            ),
        },
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        user = cast(User, request.user)  # IsAuthenticated
        return Response(token_pair_issue(user=user), status=status.HTTP_201_CREATED)


class TokenRefreshView(APIView):
    authentication_classes = [BearerChallenge]
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Rotate a refresh token",
        description="The presented refresh token is blacklisted; use the returned one next time.",
        request=RefreshInputSerializer,
        responses={200: RefreshedPairSerializer, 400: INVALID_BODY, 401: UNAUTHORIZED},
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(token_pair_refresh(refresh=data.validated_data["refresh"]))


class TokenRevokeView(APIView):
    authentication_classes = [BearerChallenge]
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Revoke a refresh token",
        request=RefreshInputSerializer,
        responses={204: None, 400: INVALID_BODY, 401: UNAUTHORIZED},
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token_revoke(refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)
