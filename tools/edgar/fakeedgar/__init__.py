"""Offline EDGAR stand-in: :class:`~fakeedgar.server.EdgarServer` serves a folder laid out like
``https://www.sec.gov/Archives``; :func:`~fakeedgar.generate.quarter_write` fills such a folder."""
