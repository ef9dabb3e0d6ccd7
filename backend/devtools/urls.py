"""Mounted only when settings.DEVTOOLS_ALLOWED (local and test settings)."""

from django.urls import path

urlpatterns: list = []
