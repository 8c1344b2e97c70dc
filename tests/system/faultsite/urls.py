from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.ready),
    path("salesforce/", views.salesforce),
    path("hubspot/", views.hubspot),
    path("slack/", views.slack),
    path("async/salesforce/", views.async_salesforce),
    path("token/<str:provider>/", views.token),
    path("direct/<str:provider>/", views.direct),
    path("pipes/", include("django_workos_pipes.urls")),
]
