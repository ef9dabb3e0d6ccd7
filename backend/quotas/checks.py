"""System checks of the quotas app: the trusted proxies must be addresses or networks."""

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from .client_ip import trusted_proxies


@register()
def trusted_proxies_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    """A typo in TRUSTED_PROXIES would otherwise surface as an error on the first request."""
    try:
        trusted_proxies()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="quotas.E001")]
    return []
