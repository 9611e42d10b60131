"""Too few votes to retrain: the message says what to do, which after `simulate` is a setting."""

import pytest
from helpers import record_answer

from core.database import open_database
from core.errors import SupportLoopError
from core.records import Records
from training.datasets import build_dataset


@pytest.fixture
def records(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield Records(database)
    database.close()


def simulated_votes(records: Records, n: int) -> None:
    for i in range(n):
        records.vote(record_answer(records, f"question {i}", "a"), "sim", 1, simulated=True)


def test_enough_simulated_votes_point_at_the_setting_that_uses_them(records):
    simulated_votes(records, 5)
    with pytest.raises(SupportLoopError) as raised:
        build_dataset(records.db, min_votes=5)
    message = str(raised.value)
    assert "at least 5 real votes; there are 0" in message
    assert "set SUPPORTLOOP_RETRAIN_FEEDBACK=simulated" in message
    assert "supportloop simulate" not in message


def test_too_few_votes_of_any_kind_say_to_collect_or_simulate(records):
    simulated_votes(records, 4)
    with pytest.raises(SupportLoopError, match="run `supportloop simulate --votes N`") as raised:
        build_dataset(records.db, min_votes=5)
    assert "RETRAIN_FEEDBACK" not in str(raised.value)
