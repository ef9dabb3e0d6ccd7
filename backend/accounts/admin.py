from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class AccountUserAdmin(UserAdmin):
    list_display = ("username", "email", "name", "is_staff", "date_joined")
    search_fields = ("username", "email", "name")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Profile", {"fields": ("name",)}))
