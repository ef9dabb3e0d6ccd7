from django.urls import path

from . import views

urlpatterns = [
    path("auth/csrf/", views.CsrfCookieView.as_view(), name="auth-csrf"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/token/", views.TokenIssueView.as_view(), name="auth-token"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/token/revoke/", views.TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("account/", views.AccountView.as_view(), name="account"),
]
