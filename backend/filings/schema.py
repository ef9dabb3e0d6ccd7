"""OpenAPI: describe the project's Bearer-JWT class like simplejwt's own (``jwtAuth``).

Loaded from ``FilingsConfig.ready``. If ``accounts`` registers its own extension for
``APIJWTAuthentication``, this one can go.
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class APIJWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.APIJWTAuthentication"
    name = "jwtAuth"
