"""Suite-wide safety nets: no test writes to the user's real data cache."""
import pytest


@pytest.fixture(autouse=True)
def _isolated_data_home(tmp_path_factory, monkeypatch):
    """Point MEDLEARN_DATA at a per-session temp folder unless a test sets it itself."""
    monkeypatch.setenv("MEDLEARN_DATA", str(tmp_path_factory.getbasetemp() / "medlearn-data"))
