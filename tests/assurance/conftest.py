from tests.billing.conftest import goodwill  # noqa: F401 - fixtures
from tests.workorders.conftest import crew, deliver, templates  # noqa: F401 - fixtures
