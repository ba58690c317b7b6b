import pytest

from tests.integration.desk import make_desk


@pytest.fixture
def desk(tmp_path):
    """A small company on a fresh daemon (tests.integration.desk); test modules may override it."""
    d = make_desk(tmp_path)
    yield d
    d.close()
    d.z.kill()
