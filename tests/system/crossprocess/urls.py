from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.ready),
    path("token/<str:provider>/", views.token),
    path("pipes/", include("django_workos_pipes.urls")),
]
