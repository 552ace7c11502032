"""What progress reporters hear: an epoch's last advance is its record, and a reporter serves each run it is given
alone."""

import io

import pytest

import sgdcli
from sgdcli import Reporter, TrainOptions



class Last(Reporter):
    """Each epoch's last advance beside its record."""

    def __init__(self):
        self.last, self.pairs = None, []

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        self.last = (epoch, iteration, rows)

    def epoch_end(self, record):
        self.pairs.append((self.last, (record["epoch"] - 1, record["iterations"], record["rows"])))


@pytest.mark.parametrize("options", [
    dict(batch_size=33),  # 3000 rows: 90 whole batches and one of 30, taken after the last kernel call
    dict(batch_size=32, val_fraction=0.1),
    dict(batch_size=33, drop_last=True),  # the 30 rows left out are no rows trained
    dict(batch_size=33, drop_last=True, threads=2, parallel="average", sync_every=8),
])
def test_the_last_advance_of_an_epoch_is_its_record(binary_file, options):
    """It was one iteration short (90 of 91), and with --drop-last counted the rows dropped."""
    heard = Last()
    sgdcli.train(binary_file, TrainOptions(epochs=2, **options), reporter=heard)
    assert len(heard.pairs) == 2
    for last, record in heard.pairs:
        assert last == record
    if options == dict(batch_size=33, drop_last=True):
        assert heard.pairs[0][1] == (0, 90, 2970)


def test_a_bar_reporter_given_to_a_second_run_sums_up_that_run_alone(tmp_path, binary_file):
    """Its loss curve went on from the first run's epochs."""
    from sgdcli.reporting.reporter import sparkline

    out = io.StringIO()
    bar = sgdcli.make_reporter("bar", stream=out)
    sgdcli.train(binary_file, TrainOptions(epochs=2), reporter=bar)
    second = sgdcli.train(binary_file, TrainOptions(epochs=3, batch_size=8), reporter=bar)
    losses = [r["train_loss"] for r in second.history]
    assert out.getvalue().strip().splitlines()[-1] == (
        f"loss per epoch: train {sparkline(losses)} {losses[0]:.4g} → {losses[-1]:.4g}")
