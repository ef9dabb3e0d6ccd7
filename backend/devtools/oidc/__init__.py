"""A small OpenID Connect provider that stands in for LinkedIn in dev and tests.

Mounted at /_dev/oidc/ only when settings.DEVTOOLS_ALLOWED (accounts/checks.py refuses
it anywhere else). State shared by every server process: the RSA key in a 0600 file
under VAR_DIR, codes and access tokens in the Django cache (database-backed by default).
"""
