"""Read APIs for SEC 13F data. Every view counts against the caller's tier quota."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import APIJWTAuthentication
from billing.permissions import IsPremium
from quotas.throttling import TierQuotaMixin

from . import selectors
from .models import Filer, Filing, Holding
from .pagination import DataPagination
from .renderers import CSVRenderer
from .serializers import (
    DataErrorSerializer,
    FilerDetailSerializer,
    FilerListSerializer,
    FilingSummarySerializer,
    HolderSerializer,
    HoldingSerializer,
    HoldingsQuerySerializer,
)

# JWT first: its WWW-Authenticate header makes DRF answer 401, not 403, to a guest.
AUTHENTICATION = [APIJWTAuthentication, SessionAuthentication]

RATE_LIMIT_HEADERS = [
    OpenApiParameter(
        "X-RateLimit-Limit",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=True,
        description="Requests allowed per rolling day, or `unlimited` (Premium).",
    ),
    OpenApiParameter(
        "X-RateLimit-Remaining",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=True,
        description="Requests left in the rolling day (absent for Premium).",
    ),
    OpenApiParameter(
        "X-RateLimit-Reset",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=True,
        description="Unix time when the quota next gives room back (absent for Premium).",
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429],
        description="Seconds until a request is allowed again.",
    ),
]


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=DataErrorSerializer, description=description)


QUOTA_ERROR = _error(
    "Over the rolling-day quota (guest 20 per IP, free 200 per user); Premium lifts the limit."
)
PREMIUM_ERRORS = {
    401: _error("Not signed in (no session, no Bearer token)."),
    403: _error("Signed in without Premium; the sentence says where to get it (/premium)."),
}
QUOTA_NOTE = (
    "Open to guests and free users within their rolling-day quota (guest: per client IP, "
    "free: per user); Premium is unlimited."
)
PREMIUM_NOTE = (
    "Premium only: guests get 401, signed-in free users 403. Counted like every data request."
)


class DataAPIView(TierQuotaMixin, APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [AllowAny]


class FilerListView(TierQuotaMixin, generics.ListAPIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [AllowAny]
    serializer_class = FilerListSerializer
    pagination_class = DataPagination

    def get_queryset(self) -> Any:
        return selectors.filer_search(q=self.request.query_params.get("q", ""))

    @extend_schema(
        operation_id="filers_list",
        summary="Search filers",
        description=f"Filers by name (substring, any case) or CIK. {QUOTA_NOTE}",
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="part of the name, or the CIK"),
            *RATE_LIMIT_HEADERS,
        ],
        responses={
            200: FilerListSerializer(many=True),
            404: _error("`page` is past the end (or not a page number, e.g. 0)."),
            429: QUOTA_ERROR,
        },
        tags=["13F data"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class FilerDetailView(DataAPIView):
    @extend_schema(
        operation_id="filers_retrieve",
        summary="A filer, its latest filing and top 10 holdings",
        description=QUOTA_NOTE,
        parameters=[
            OpenApiParameter(
                "cik",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="SEC Central Index Key, leading zeros optional",
            ),
            *RATE_LIMIT_HEADERS,
        ],
        responses={
            200: FilerDetailSerializer,
            404: _error("No filer with this CIK."),
            429: QUOTA_ERROR,
        },
        tags=["13F data"],
    )
    def get(self, request: Request, cik: str) -> Response:
        filer = _filer_or_404(cik)
        return Response(FilerDetailSerializer(selectors.filer_detail(filer=filer)).data)


class FilerHoldingsView(TierQuotaMixin, generics.ListAPIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, IsPremium]
    renderer_classes = [JSONRenderer, CSVRenderer]
    serializer_class = HoldingSerializer
    queryset = Holding.objects.none()  # for the schema; rows come from selectors
    pagination_class = DataPagination
    csv_columns = HoldingSerializer.Meta.fields

    @extend_schema(
        operation_id="filers_holdings_list",
        summary="All holdings of a filer for one period",
        description=(
            "Positions (information-table rows of one CUSIP, put/call and SH/PRN type "
            "summed), largest value first, values in US dollars. The response also carries "
            "`filing`, the summary of the filing shown. `?format=csv` (or `Accept: text/csv`) "
            f"returns every position as a CSV download instead of a page. {PREMIUM_NOTE}"
        ),
        parameters=[
            OpenApiParameter("cik", OpenApiTypes.STR, OpenApiParameter.PATH),
            OpenApiParameter(
                "period",
                OpenApiTypes.DATE,
                description="period of report, YYYY-MM-DD (default: the latest on file)",
            ),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
            *RATE_LIMIT_HEADERS,
        ],
        responses={
            200: HoldingSerializer(many=True),
            400: _error("`period` is not a YYYY-MM-DD date."),
            **PREMIUM_ERRORS,
            404: _error("No filer with this CIK, or no filing of it for that period."),
            429: QUOTA_ERROR,
        },
        tags=["13F data"],
    )
    def get(self, request: Request, cik: str) -> Response:
        query = HoldingsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filer = _filer_or_404(cik)
        period = query.validated_data.get("period")
        filing = selectors.filing_for(filer=filer, period=period)
        if filing is None:
            when = f"for the period {period}" if period else "on file"
            raise exceptions.NotFound(f"{filer.name} has no 13F filing {when}.")
        holdings = selectors.holdings_of(filing=filing)

        if request.accepted_renderer.format == "csv":
            return Response(
                HoldingSerializer(holdings, many=True).data,
                headers={"Content-Disposition": f'attachment; filename="{_csv_name(filing)}"'},
            )
        page = self.paginate_queryset(holdings)
        response = self.get_paginated_response(HoldingSerializer(page, many=True).data)
        response.data["filing"] = FilingSummarySerializer(filing).data
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Errors are JSON even when CSV was asked for.
        if response.status_code >= 400 and isinstance(
            getattr(request, "accepted_renderer", None), CSVRenderer
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SecurityHoldersView(TierQuotaMixin, generics.ListAPIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsAuthenticated, IsPremium]
    serializer_class = HolderSerializer
    queryset = Holding.objects.none()  # for the schema; rows come from selectors
    pagination_class = DataPagination

    @extend_schema(
        operation_id="securities_holders_list",
        summary="Which filers hold a security",
        description=(
            "Current holders: the positions in this security in each filer's latest filing, "
            "largest first; a filer holding it through options appears once per put/call. "
            f"The response also carries `security`. {PREMIUM_NOTE}"
        ),
        parameters=[
            OpenApiParameter("cusip", OpenApiTypes.STR, OpenApiParameter.PATH),
            *RATE_LIMIT_HEADERS,
        ],
        responses={
            200: HolderSerializer(many=True),
            **PREMIUM_ERRORS,
            404: _error("No security with this CUSIP."),
            429: QUOTA_ERROR,
        },
        tags=["13F data"],
    )
    def get(self, request: Request, cusip: str) -> Response:
        security = selectors.security_by_cusip(cusip=cusip)
        if security is None:
            raise exceptions.NotFound(f"No security with CUSIP {cusip[:20]} is on file.")
        page = self.paginate_queryset(selectors.holders_of(security=security))
        response = self.get_paginated_response(HolderSerializer(page, many=True).data)
        response.data["security"] = {
            "cusip": security.cusip,
            "issuer_name": security.issuer_name,
            "title_of_class": security.title_of_class,
        }
        return response


def _filer_or_404(cik: str) -> Filer:
    filer = selectors.filer_by_cik(cik=cik)
    if filer is None:
        raise exceptions.NotFound(f"No filer with CIK {cik[:20]} is on file.")
    return filer


def _csv_name(filing: Filing) -> str:
    return f"13f-{filing.filer.cik}-{filing.period_of_report.isoformat()}-holdings.csv"
