from django.urls import include, path

urlpatterns = [
    path("", include("example_project.demo.urls")),
    # connect/ and reauthorize/ start the flows; webhook/ is where the emulator (or
    # WorkOS) posts its signed events.
    path("pipes/", include("django_workos_pipes.urls")),
]
