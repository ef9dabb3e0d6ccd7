"""Settings per environment: ``local`` (make run), ``test`` (pytest), ``production``.

All of them read the environment through :mod:`config.env` only.
"""
