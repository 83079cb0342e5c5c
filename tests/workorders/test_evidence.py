"""Evidence from the field: each kind checked, measured ones judged against the thresholds, stored once."""

import io
import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from PIL import Image

from cos.choices import AddressStatus
from cos.errors import ApplicationError
from cos.models import ONT
from marketplace import services as marketplace_services
from marketplace.choices import OrderStatus
from tests.cos.factories import AddressFactory, ONTFactory
from tests.marketplace.factories import world
from tests.workorders.factories import (
    assign,
    image_bytes,
    installation_work_order,
    photo_upload,
    prove,
    record,
    signature_data_url,
    task_at,
)
from workorders import services
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.forms import LightLevelForm, SpeedTestForm
from workorders.models import Evidence, WorkOrder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]

DROP, ONT_STEP, LIGHT, SPEED, SIGN_OFF = 1, 3, 4, 6, 8


@pytest.fixture
def job(crew):
    """An installation job with every task given to the operator's technician."""
    work_order = installation_work_order()
    assign(work_order, user=crew.staff_tech)
    return work_order


@pytest.fixture
def tech(crew):
    return crew.staff_tech


# --- light level -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-50.01", "10.01", "-120", "42", "abc", "", "NaN", "Infinity"])
def test_a_light_level_that_is_no_real_reading_is_refused(job, tech, value):
    # when
    with pytest.raises(ValidationError):
        record(task_at(job, LIGHT), tech, "light_level", light_level_dbm=value)
    # then
    assert not Evidence.objects.exists()
    job.refresh_from_db()
    assert job.status == WorkOrderStatus.CREATED


@pytest.mark.parametrize(
    ("value", "stored", "passed"),
    [
        ("-20", Decimal("-20.00"), True),
        ("-30", Decimal("-30.00"), False),
        ("-27", Decimal("-27.00"), True),
        ("-8", Decimal("-8.00"), True),
        ("-7.99", Decimal("-7.99"), False),
        ("-19,5", Decimal("-19.50"), True),
        ("-50", Decimal("-50.00"), False),
        ("10", Decimal("10.00"), False),
    ],
)
def test_a_light_level_passes_within_the_window(job, tech, value, stored, passed):
    # when
    record(task_at(job, LIGHT), tech, "light_level", light_level_dbm=value)
    # then
    (reading,) = Evidence.objects.all()
    assert (reading.kind, reading.light_level_dbm, reading.passed) == ("light_level", stored, passed)


def test_the_light_level_window_comes_from_the_settings(job, tech, settings):
    # given: a network with a more sensitive optical budget
    settings.FIELD_LIGHT_LEVEL_PASS_MIN_DBM = -32.0
    settings.FIELD_LIGHT_LEVEL_PASS_MAX_DBM = -22.0
    # when
    weak = record(task_at(job, LIGHT), tech, "light_level", light_level_dbm="-30")
    strong = record(task_at(job, LIGHT), tech, "light_level", light_level_dbm="-20")
    # then
    assert (weak.passed, strong.passed) == (True, False)


def test_the_first_evidence_starts_the_job(job, tech):
    # when
    record(task_at(job, LIGHT), tech, "light_level", light_level_dbm="-20")
    # then
    job.refresh_from_db()
    assert job.status == WorkOrderStatus.IN_PROGRESS


# --- speed test ------------------------------------------------------------------------------------


@pytest.fixture
def ordered_job(crew, deliver):
    """A connection job for an accepted order of a 1000/1000 internet product."""
    w = world()
    order, _ = deliver(marketplace_services.order_place, request=w.request())
    work_order = WorkOrder.objects.get(orders=order)
    assign(work_order, user=crew.staff_tech)
    return work_order


@pytest.mark.parametrize(
    ("down", "up", "passed"),
    [("850", "820", True), ("500", "900", False), ("800", "800", True), ("900", "799.99", False)],
)
def test_a_speed_test_passes_at_80_percent_of_the_ordered_speed(ordered_job, tech, down, up, passed):
    # given
    speed_task = ordered_job.tasks.get(evidence_required=["speed_test"])
    # when
    result = record(speed_task, tech, "speed_test", download_mbps=down, upload_mbps=up)
    # then
    result.refresh_from_db()
    assert (result.download_mbps, result.upload_mbps, result.passed) == (Decimal(down), Decimal(up), passed)


def test_the_speed_test_share_comes_from_the_settings(ordered_job, tech, settings):
    # given
    settings.FIELD_SPEED_TEST_PASS_SHARE = 0.9
    speed_task = ordered_job.tasks.get(evidence_required=["speed_test"])
    # when
    result = record(speed_task, tech, "speed_test", download_mbps="850", upload_mbps="920")
    # then
    assert result.passed is False


def test_field_work_starts_the_fulfillment_of_the_order(ordered_job, tech):
    # given
    speed_task = ordered_job.tasks.get(evidence_required=["speed_test"])
    # when
    record(speed_task, tech, "speed_test", download_mbps="950", upload_mbps="940")
    # then
    assert ordered_job.orders.get().status == OrderStatus.IN_FULFILLMENT


def test_without_an_ordered_speed_any_working_connection_passes(job, tech):
    # given: nobody has ordered at this address yet
    # when
    result = record(task_at(job, SPEED), tech, "speed_test", download_mbps="100", upload_mbps="50")
    # then
    assert result.passed is True


@pytest.mark.parametrize(("down", "up"), [("-1", "100"), ("100", "100001"), ("fast", "100")])
def test_an_impossible_speed_is_refused(ordered_job, tech, down, up):
    # when
    with pytest.raises(ValidationError):
        record(
            ordered_job.tasks.get(evidence_required=["speed_test"]),
            tech,
            "speed_test",
            download_mbps=down,
            upload_mbps=up,
        )
    # then
    assert not Evidence.objects.exists()


# --- ONT serial ------------------------------------------------------------------------------------


@pytest.mark.parametrize("serial", ["ADTN123", "ADTN1234567G", "1234ABCD5678", "ADTN 1234 5678", ""])
def test_a_serial_in_the_wrong_format_is_refused(job, tech, serial):
    # when
    with pytest.raises(ValidationError):
        record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=serial)
    # then
    assert not Evidence.objects.exists()


def test_an_unknown_serial_is_refused(job, tech):
    # when
    with pytest.raises(ValidationError, match="not in the inventory"):
        record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial="ADTN0000BEEF")
    # then
    assert not Evidence.objects.exists()


def test_an_ont_installed_at_another_address_is_refused_and_stays_there(job, tech):
    # given
    elsewhere = AddressFactory(status=AddressStatus.CONNECTED)
    ont = ONTFactory(address=elsewhere)
    # when
    with pytest.raises(ValidationError, match="already installed"):
        record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=ont.serial)
    # then
    ont.refresh_from_db()
    assert (ont.address, ont.bound_at) == (elsewhere, None)
    assert not Evidence.objects.exists()


def test_a_spare_ont_is_bound_to_the_jobs_address(job, tech):
    # given
    ont = ONTFactory(serial="ADTN00C0FFEE")
    # when: typed in lower case from the label
    evidence = record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=" adtn00c0ffee ")
    # then
    ont.refresh_from_db()
    assert ont.address == job.address
    assert ont.bound_at is not None
    assert evidence.ont_serial == "ADTN00C0FFEE"


def test_scanning_the_same_ont_again_at_its_address_is_fine(job, tech):
    # given
    ont = ONTFactory()
    record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=ont.serial)
    bound_at = ONT.objects.get(pk=ont.pk).bound_at
    # when
    record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=ont.serial)
    # then
    ont.refresh_from_db()
    assert (ont.address, ont.bound_at) == (job.address, bound_at)
    assert Evidence.objects.filter(kind="ont_serial").count() == 2


# --- photos and signatures -------------------------------------------------------------------------


def _open(field) -> Image.Image:
    with default_storage.open(field.name, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
        return image


@pytest.mark.parametrize(
    ("fmt", "name", "stored_as"), [("PNG", "drop.png", "drop.png"), ("JPEG", "drop.jpg", "drop.jpg")]
)
def test_a_photo_is_stored_with_a_thumbnail(job, tech, fmt, name, stored_as):
    # given
    content = image_bytes(fmt=fmt, size=(800, 600))
    task = task_at(job, DROP)
    # when
    evidence = record(task, tech, "photo", files={"photo": photo_upload(name, content, f"image/{fmt.lower()}")})
    # then
    evidence.refresh_from_db()
    folder = f"evidence/wo-{job.pk}/task-{task.pk}/"
    assert re.fullmatch(re.escape(folder) + "[0-9a-f]{16}-" + re.escape(stored_as), evidence.file.name)
    assert default_storage.exists(evidence.file.name)
    with default_storage.open(evidence.file.name, "rb") as handle:
        assert handle.read() == content
    assert evidence.thumbnail.name.startswith(folder)
    thumbnail = _open(evidence.thumbnail)
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == (320, 240)


def test_the_stored_name_follows_what_the_file_really_is(job, tech):
    # when: a JPEG sent with a .png name
    evidence = record(
        task_at(job, DROP), tech, "photo", files={"photo": photo_upload("IMG_0001.png", image_bytes(fmt="JPEG"))}
    )
    # then
    assert evidence.file.name.endswith("-IMG_0001.jpg")


def test_a_text_file_named_like_a_photo_is_refused(job, tech):
    # given
    fake = photo_upload("photo.jpg", b"this is not a picture", "image/jpeg")
    # when
    with pytest.raises(ValidationError, match="not an image"):
        record(task_at(job, DROP), tech, "photo", files={"photo": fake})
    # then
    assert not Evidence.objects.exists()
    assert not default_storage.exists("evidence")


def test_a_photo_over_the_size_limit_is_refused(job, tech, settings):
    # given
    content = image_bytes(fmt="PNG", size=(200, 200))
    settings.FIELD_PHOTO_MAX_BYTES = len(content) - 1
    # when
    with pytest.raises(ValidationError, match="larger than"):
        record(task_at(job, DROP), tech, "photo", files={"photo": photo_upload("big.png", content)})
    # then
    assert not Evidence.objects.exists()
    assert not default_storage.exists("evidence")


def test_a_missing_photo_is_refused(job, tech):
    # when
    with pytest.raises(ValidationError, match="Choose a photo"):
        record(task_at(job, DROP), tech, "photo")
    # then
    assert not Evidence.objects.exists()


def test_a_portrait_photo_from_a_phone_has_an_upright_thumbnail(job, tech):
    # given: the phone stores the sensor's landscape pixels and an EXIF orientation "rotate 90 degrees"
    exif = Image.Exif()
    exif[0x0112] = 6
    content = image_bytes(fmt="JPEG", size=(400, 200), exif=exif)
    # when
    evidence = record(task_at(job, DROP), tech, "photo", files={"photo": photo_upload("portrait.jpg", content)})
    # then: the thumbnail is portrait, as the photo is seen
    width, height = _open(evidence.thumbnail).size
    assert height > width


def test_a_signature_is_stored_as_a_png(job, tech):
    # given
    drawn = image_bytes(fmt="PNG", size=(600, 180), color=(255, 255, 255))
    task = task_at(job, SIGN_OFF)
    # when
    evidence = record(task, tech, "signature", signature=signature_data_url(drawn))
    # then
    evidence.refresh_from_db()
    assert re.fullmatch(f"evidence/wo-{job.pk}/task-{task.pk}/[0-9a-f]{{16}}-signature.png", evidence.file.name)
    with default_storage.open(evidence.file.name, "rb") as handle:
        assert handle.read() == drawn
    assert default_storage.exists(evidence.thumbnail.name)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a scribble",
        "data:image/jpeg;base64,AAAA",
        "data:image/png;base64,!!not base64!!",
        "data:image/png;base64,aGVsbG8gd29ybGQ=",
    ],
)
def test_a_signature_that_is_no_png_drawing_is_refused(job, tech, value):
    # when
    with pytest.raises(ValidationError):
        record(task_at(job, SIGN_OFF), tech, "signature", signature=value)
    # then
    assert not Evidence.objects.exists()


def test_the_thumbnail_of_a_signature_drawn_on_the_screen_is_readable(job, tech):
    # given: what the signature pad sends: dark strokes on a transparent canvas
    canvas = Image.new("RGBA", (600, 180), (0, 0, 0, 0))
    for x in range(50, 550):
        canvas.putpixel((x, 90), (29, 39, 51, 255))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    # when
    evidence = record(task_at(job, SIGN_OFF), tech, "signature", signature=signature_data_url(out.getvalue()))
    # then: the background is light, so the dark strokes show
    thumbnail = _open(evidence.thumbnail).convert("L")
    assert thumbnail.getpixel((5, 5)) > 200


# --- what any evidence obeys -----------------------------------------------------------------------


def test_evidence_the_task_does_not_take_is_refused(job, tech):
    # when: a light level on the drop step
    with pytest.raises(ValidationError, match="does not take light level"):
        record(task_at(job, DROP), tech, "light_level", light_level_dbm="-20")
    # then
    assert not Evidence.objects.exists()


def test_a_note_goes_with_any_task(job, tech):
    # when
    note = record(task_at(job, DROP), tech, "note", note="  Dog in the garden, ring first.  ")
    # then
    assert Evidence.objects.get().note == note.note == "Dog in the garden, ring first."


def test_the_same_submission_twice_stores_one_piece_of_evidence(job, tech):
    # given
    task = task_at(job, LIGHT)
    first = record(task, tech, "light_level", key="submit-1", light_level_dbm="-20")
    # when: the technician taps "save" again on a slow connection
    again = record(task, tech, "light_level", key="submit-1", light_level_dbm="-20")
    # then
    assert again.pk == first.pk
    assert Evidence.objects.count() == 1


def test_a_submission_without_its_key_is_refused(job, tech):
    # when
    with pytest.raises(ValidationError, match="submission key"):
        services.evidence_record(
            task_id=task_at(job, LIGHT).pk,
            actor=tech,
            kind="light_level",
            data={"light_level_dbm": "-20"},
            files={},
            submission_key="",
        )
    # then
    assert not Evidence.objects.exists()


def test_a_closed_task_takes_no_more_evidence(job, tech):
    # given
    drop = task_at(job, DROP)
    prove(drop, tech)
    services.task_close(task_id=drop.pk, actor=tech)
    # when
    with pytest.raises(ApplicationError) as refused:
        record(drop, tech, "photo", files={"photo": photo_upload()})
    # then
    assert refused.value.code == "task_closed"
    assert Evidence.objects.filter(task=drop).count() == 1


def test_evidence_from_someone_not_on_the_task_is_refused(job, crew):
    # when
    with pytest.raises(PermissionDenied):
        record(task_at(job, LIGHT), crew.contractor_tech, "light_level", light_level_dbm="-20")
    # then
    assert not Evidence.objects.exists()
    job.refresh_from_db()
    assert job.status == WorkOrderStatus.CREATED


# --- decimals as people type them ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored", "passed"),
    [("-2,5", Decimal("-2.50"), False), ("-20,5", Decimal("-20.50"), True), ("−19.25", Decimal("-19.25"), True)],
)
def test_a_light_level_with_a_decimal_comma_is_the_number_typed(job, tech, typed, stored, passed):
    # when: typed with a comma (once stored as -25.00 and passing) or a typographic minus
    item = record(task_at(job, LIGHT), tech, "light_level", light_level_dbm=typed)
    # then
    assert (item.light_level_dbm, item.passed) == (stored, passed)


def test_a_speed_with_spaces_between_digit_groups_and_a_comma_is_read(job, tech):
    # when
    item = record(task_at(job, SPEED), tech, "speed_test", download_mbps="1 000,5", upload_mbps="940,25")
    # then
    assert (item.download_mbps, item.upload_mbps) == (Decimal("1000.50"), Decimal("940.25"))


@pytest.mark.parametrize("typed", ["-1.000,5", "-2,5,1", "2,5 dBm"])
def test_a_number_that_could_be_read_two_ways_is_refused_not_guessed(job, tech, typed):
    # when
    with pytest.raises(ValidationError):
        record(task_at(job, LIGHT), tech, "light_level", light_level_dbm=typed)
    # then
    assert not Evidence.objects.exists()


def test_the_forms_read_a_comma_and_render_a_text_input_with_the_decimal_keypad():
    # given: Chromium's type="number" input drops the comma in an English locale ("-2,5" is sent as "-25")
    # when
    light = LightLevelForm({"light_level_dbm": "-2,5"})
    speed = SpeedTestForm({"download_mbps": "1 000,5", "upload_mbps": "930"})
    html = str(LightLevelForm()["light_level_dbm"])
    # then
    assert light.is_valid()
    assert light.cleaned_data["light_level_dbm"] == Decimal("-2.5")
    assert speed.is_valid()
    assert speed.cleaned_data["download_mbps"] == Decimal("1000.5")
    assert 'type="text"' in html
    assert 'inputmode="decimal"' in html
    assert 'pattern="' in html
    assert 'type="number"' not in html


# --- removing and replacing ------------------------------------------------------------------------


def test_a_wrong_photo_is_removed_audited_and_its_file_kept(job, tech):
    # given
    drop = task_at(job, DROP)
    photo = record(drop, tech, "photo", files={"photo": photo_upload("wrong-wall.png")})
    # when
    services.evidence_remove(evidence_id=photo.pk, actor=tech)
    # then: it counts for nothing, the task needs a photo again, but the row and the file stay
    photo.refresh_from_db()
    assert photo.removed_by == tech
    assert photo.removed_at is not None
    assert default_storage.exists(photo.file.name)
    assert not Evidence.objects.current().filter(task=drop).exists()
    with pytest.raises(ApplicationError) as refused:
        services.task_close(task_id=drop.pk, actor=tech)
    assert refused.value.code == "evidence_missing"


def test_a_photo_is_replaced_in_one_step(job, tech):
    # given
    drop = task_at(job, DROP)
    wrong = record(drop, tech, "photo", files={"photo": photo_upload("wrong.png")})
    # when
    right = services.evidence_record(
        task_id=drop.pk,
        actor=tech,
        kind="photo",
        data={},
        files={"photo": photo_upload("right.png")},
        submission_key="replace-1",
        replaces=wrong.pk,
    )
    # then
    assert list(Evidence.objects.current().filter(task=drop)) == [right]
    wrong.refresh_from_db()
    assert wrong.removed_by == tech


def test_a_mistyped_reading_removed_no_longer_holds_the_task(job, tech):
    # given: a good reading, then a typing slip
    for position in (1, 2, 3):
        task = task_at(job, position)
        prove(task, tech)
        services.task_close(task_id=task.pk, actor=tech)
    light = task_at(job, LIGHT)
    record(light, tech, "light_level", light_level_dbm="-19.5")
    slip = record(light, tech, "light_level", light_level_dbm="-1,95")
    # when
    services.evidence_remove(evidence_id=slip.pk, actor=tech)
    services.task_close(task_id=light.pk, actor=tech)
    # then
    assert task_at(job, LIGHT).status == TaskStatus.DONE


def test_evidence_of_a_closed_task_or_someone_elses_is_not_removed(job, tech, crew):
    # given
    drop = task_at(job, DROP)
    photo = record(drop, tech, "photo", files={"photo": photo_upload()})
    # when: another technician tries
    with pytest.raises(PermissionDenied):
        services.evidence_remove(evidence_id=photo.pk, actor=crew.rival_tech)
    # when: the task is closed
    services.task_close(task_id=drop.pk, actor=tech)
    with pytest.raises(ApplicationError) as refused:
        services.evidence_remove(evidence_id=photo.pk, actor=tech)
    # then
    assert refused.value.code == "task_closed"
    photo.refresh_from_db()
    assert photo.removed_at is None


def test_a_scanned_ont_serial_stays_on_record(job, tech):
    # given
    ont_step = task_at(job, ONT_STEP)
    serial = record(ont_step, tech, "ont_serial", ont_serial=ONTFactory().serial)
    # when
    with pytest.raises(ApplicationError) as refused:
        services.evidence_remove(evidence_id=serial.pk, actor=tech)
    # then
    assert refused.value.code == "evidence_kept"
    serial.refresh_from_db()
    assert serial.removed_at is None
