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
]
