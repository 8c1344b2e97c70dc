from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("favicon.ico", views.favicon),
    path("connected-apps/", views.connected_apps, name="connected_apps"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="demo/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("salesforce/", views.salesforce, name="salesforce"),
    path("team/salesforce/", views.team_salesforce, name="team_salesforce"),
    path("crm-and-chat/", views.crm_and_chat, name="crm_and_chat"),
    path("jira/", views.JiraIssues.as_view(), name="jira"),
]
