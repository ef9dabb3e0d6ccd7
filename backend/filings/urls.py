from django.urls import path

from . import views

urlpatterns = [
    path("filers/", views.FilerListView.as_view(), name="filer-list"),
    path("filers/<str:cik>/", views.FilerDetailView.as_view(), name="filer-detail"),
    path("filers/<str:cik>/holdings/", views.FilerHoldingsView.as_view(), name="filer-holdings"),
    path(
        "securities/<str:cusip>/holders/",
        views.SecurityHoldersView.as_view(),
        name="security-holders",
    ),
]
