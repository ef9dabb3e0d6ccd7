"""Mounted only when settings.DEVTOOLS_ALLOWED (local and test settings)."""

from django.urls import include, path

from devtools import mailbox
from devtools.stripe_proxy import hosted_page_proxy

urlpatterns: list = [
    # The dev LinkedIn: an OpenID Connect provider the real social-auth backend talks to.
    path("oidc/", include("devtools.oidc.urls")),
    # The Stripe stand-in's hosted pages (invoice page and PDF, billing portal), same-origin:
    # its hosted_invoice_url / invoice_pdf / portal url point here (/_dev/_stripe/...).
    path("_stripe/<path:path>", hosted_page_proxy),
    # The dev mailbox: what the dev mail server of make run / make stack received (Maildir).
    path("mailbox/", mailbox.mailbox_index, name="dev_mailbox"),
    path("mailbox/<str:message_id>/", mailbox.mailbox_message, name="dev_mailbox_message"),
]
