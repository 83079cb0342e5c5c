from django.urls import path

from assurance import views

urlpatterns = [
    path("ops/board/", views.board_page, name="ops-board"),
    path("ops/board.json", views.BoardJson.as_view(), name="ops-board-json"),
    path("ops/board/<slug:key>/", views.rows_page, name="ops-board-rows"),
]
