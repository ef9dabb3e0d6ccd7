from django.urls import path

from . import views, webhooks

urlpatterns = [
    path("stripe-webhooks/", webhooks.stripe_webhook, name="stripe-webhooks"),
    path("stripe/config/", views.ConfigView.as_view(), name="stripe-config"),
    path(
        "stripe/create-subscription/",
        views.CreateSubscriptionView.as_view(),
        name="stripe-create-subscription",
    ),
    path("stripe/subscription/", views.SubscriptionView.as_view(), name="stripe-subscription"),
    path(
        "stripe/subscription/sync/",
        views.SubscriptionSyncView.as_view(),
        name="stripe-subscription-sync",
    ),
    path(
        "stripe/cancel-subscription/",
        views.CancelSubscriptionView.as_view(),
        name="stripe-cancel-subscription",
    ),
    path(
        "stripe/resume-subscription/",
        views.ResumeSubscriptionView.as_view(),
        name="stripe-resume-subscription",
    ),
    path("stripe/promotion-code/", views.PromotionCodeView.as_view(), name="stripe-promotion-code"),
    path(
        "stripe/subscription/preview-change/",
        views.PlanChangePreviewView.as_view(),
        name="stripe-subscription-preview-change",
    ),
    path(
        "stripe/subscription/change/",
        views.PlanChangeView.as_view(),
        name="stripe-subscription-change",
    ),
    path(
        "stripe/subscription/cancel-change/",
        views.PlanChangeCancelView.as_view(),
        name="stripe-subscription-cancel-change",
    ),
    path("stripe/payment-method/", views.PaymentMethodView.as_view(), name="stripe-payment-method"),
    path("stripe/setup-intent/", views.SetupIntentView.as_view(), name="stripe-setup-intent"),
    path("stripe/invoices/", views.InvoiceListView.as_view(), name="stripe-invoices"),
    # Any id reaches the view, which answers 404 for whatever is not the caller's invoice.
    path(
        "stripe/invoices/<str:invoice_id>/pay/",
        views.InvoicePayView.as_view(),
        name="stripe-invoice-pay",
    ),
    path("stripe/portal-session/", views.PortalSessionView.as_view(), name="stripe-portal-session"),
]
