"""Key-shaped test data, built at run time.

A literal such as ``sk_<live>_51H8...`` in a file of the repository trips secret scanners (GitHub
push protection, gitleaks) as if a real Stripe key had leaked. Tests that need one build it
here from its parts, so no source file holds the whole shape (test_no_live_keys.py checks).
"""


def stripe_key(kind: str, mode: str, body: str) -> str:
    """``stripe_key("sk", "live", "51H8abc")`` is the secret-key shape ``<kind>_<mode>_<body>``."""
    return "_".join((kind, mode, body))
