"""Photos and signatures are served only to people who may see the task, never from a guessable public path."""

import pytest

from tests.workorders.factories import (
    assign,
    image_bytes,
    installation_work_order,
    photo_upload,
    record,
    signature_data_url,
    task_at,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]

DROP, SIGN_OFF = 1, 8


@pytest.fixture
def photo(crew):
    """A drop photo taken by the contractor's technician on a task given to the contractor."""
    work_order = installation_work_order()
    assign(work_order, user=crew.contractor_tech, organization=crew.contractor)
    return record(task_at(work_order, DROP), crew.contractor_tech, "photo", files={"photo": photo_upload()})


def test_the_technician_who_took_the_photo_opens_it_and_its_thumbnail(client, crew, photo):
    # given
    client.force_login(crew.contractor_tech)
    # when
    full = client.get(photo.file_url)
    thumb = client.get(photo.thumbnail_url)
    # then
    assert (full.status_code, thumb.status_code) == (200, 200)
    assert full["Content-Type"] == "image/png"
    assert b"".join(full.streaming_content).startswith(b"\x89PNG")
    assert "private" in full["Cache-Control"]


@pytest.mark.parametrize("who", ["manager", "ops"])
def test_the_contractors_field_manager_and_operator_staff_open_it(client, crew, photo, who):
    client.force_login(getattr(crew, who))
    assert client.get(photo.file_url).status_code == 200


def test_a_technician_of_another_contractor_gets_nothing(client, crew, photo):
    # given
    client.force_login(crew.rival_tech)
    # when
    response = client.get(photo.file_url)
    # then: as if it did not exist
    assert response.status_code == 404
    assert b"PNG" not in response.content


def test_without_login_the_photo_asks_for_a_login(client, photo):
    response = client.get(photo.file_url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_the_storage_path_is_not_served_and_cannot_be_guessed(client, crew, photo, settings):
    # given: even with DEBUG on, the media path is no public route
    client.force_login(crew.contractor_tech)
    name = photo.file.name
    # when
    response = client.get(f"/{settings.MEDIA_URL}{name}")
    # then
    assert response.status_code == 404
    filename = name.rsplit("/", 1)[-1]
    assert filename != "drop.png"
    assert filename.endswith("-drop.png")  # a random part in front of the name


def test_a_signature_is_as_private_as_a_photo(client, crew):
    # given
    work_order = installation_work_order()
    assign(work_order, user=crew.staff_tech)
    signature = record(
        task_at(work_order, SIGN_OFF), crew.staff_tech, "signature", signature=signature_data_url(image_bytes())
    )
    # then
    client.force_login(crew.contractor_tech)
    assert client.get(signature.file_url).status_code == 404
    client.force_login(crew.staff_tech)
    assert client.get(signature.file_url).status_code == 200


@pytest.mark.parametrize(("mode", "header"), [("x-accel-redirect", "X-Accel-Redirect"), ("x-sendfile", "X-Sendfile")])
def test_behind_a_web_server_the_check_is_ours_and_the_sending_is_the_servers(
    client, crew, photo, settings, mode, header
):
    # given
    settings.EVIDENCE_SENDFILE = mode
    client.force_login(crew.contractor_tech)
    # when
    response = client.get(photo.file_url)
    # then: no body from the application, the web server's header names the file
    assert response.status_code == 200
    assert response.content == b""
    assert response[header].endswith(photo.file.name)
    # and someone not allowed still gets nothing to hand over
    client.force_login(crew.rival_tech)
    refused = client.get(photo.file_url)
    assert refused.status_code == 404
    assert header not in refused


def test_the_admin_shows_the_photo_through_the_checking_view(client, photo):
    # given
    from tests.cos.factories import UserFactory

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    # when
    page = client.get(f"/admin/workorders/evidence/{photo.pk}/change/").content.decode()
    # then
    assert f'href="{photo.file_url}"' in page
    assert f'src="{photo.thumbnail_url}"' in page
    assert "/media/" not in page
    assert client.get(photo.file_url).status_code == 200
