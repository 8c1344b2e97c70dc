"""URLs of the app: ``path("pipes/", include("django_workos_pipes.urls"))``."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "workos_pipes"

urlpatterns = [
    path("connect/<str:provider>/", views.connect, name="connect"),
    path("reauthorize/<str:provider>/", views.reauthorize, name="reauthorize"),
    path("connections/", views.connections, name="connections"),
    path("disconnect/<str:provider>/", views.disconnect, name="disconnect"),
    path("choose/<str:provider>/", views.choose_account, name="choose_account"),
    path("webhook/", views.webhook, name="webhook"),
]
