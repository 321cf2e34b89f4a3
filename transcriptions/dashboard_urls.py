"""Transcripts, usage and billing, and the staff overview (namespace `dashboard`)."""

from django.urls import path

from . import dashboard_views as views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("transcripts/", views.transcript_list_page, name="transcripts"),
    path("transcripts/<str:public_id>/", views.transcript_detail_page, name="transcript"),
    path(
        "transcripts/<str:public_id>/download.<str:fmt>",
        views.transcript_download,
        name="transcript-download",
    ),
    path("usage/", views.usage_page, name="usage"),
    path("usage/billing.csv", views.billing_csv_download, name="billing-csv"),
    path("overview/", views.overview_page, name="overview"),
]
