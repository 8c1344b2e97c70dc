from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from tests import views


def with_pipes(*patterns: URLPattern | URLResolver) -> list[URLPattern | URLResolver]:
    """A test URLconf: the package's views under ``pipes/``, then ``patterns``."""
    return [path("pipes/", include("django_workos_pipes.urls")), *patterns]


urlpatterns = with_pipes(
    path("sync/", views.sync_view),
    path("scoped/", views.scoped_view),
    path("async/", views.async_view),
    path("stacked/", views.stacked_view),
    path("stacked-async/", views.stacked_async_view),
    path("mixin/", views.MixinView.as_view()),
    path("mixin-multi/", views.MultiMixinView.as_view()),
    path("mixin-async/", views.AsyncMixinView.as_view()),
    path("decorated/", views.DecoratedView.as_view()),
    path("decorated-async/", views.AsyncDecoratedView.as_view()),
    path("status/", views.status_page),
    path("connections/", views.connections, name="connections"),
    path("connections/<str:provider>/", views.connections, name="connection"),
)
