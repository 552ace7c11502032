"""The CSV tokenizer's numbers (kernels/decimal.py) are Python's float() of the same text, bit for bit, or
handed back to Python; and its records are the csv module's."""

import csv
import io
import struct

import numpy as np
import pytest

from sgdcli.data.csvbytes import unquoted
from sgdcli.kernels import csvtokens
from sgdcli.kernels.decimal import parse_fields


def parsed(texts, decimal=".", thousands=None):
    data = "".join(texts).encode()
    ends = np.cumsum([len(t.encode()) for t in texts]).astype(np.int64)
    starts = np.concatenate(([0], ends[:-1])).astype(np.int64)
    values, status = np.empty(len(texts)), np.empty(len(texts), dtype=np.int8)
    parse_fields(np.frombuffer(data, dtype=np.uint8), starts, ends, ord(decimal), ord(thousands or "\0"), values,
                 status)
    return values, status


def test_every_number_read_is_floats_reading_of_it_bit_for_bit():
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.standard_normal(100_000), rng.standard_normal(20_000) * 1e300,
                        rng.standard_normal(20_000) * 1e-300, rng.uniform(0, 1e6, 20_000).round(2),
                        np.exp(rng.uniform(-700, 700, 40_000))])
    texts = ([repr(float(x)) for x in v] + [f"{x:.6g}" for x in v[:100_000]] + [f"{x:.17e}" for x in v[:50_000]]
             + [f"{x:.0f}" for x in v[100_000:120_000] if abs(x) < 1e25])
    texts += ["1", "-0", "0.0", "+3.5", ".5", "5.", "1e5", "1E-5", "  7 ", "0001.5000", "0.1", "9007199254740993",
              "17976931348623157e292", "2.2250738585072011e-308", "4.9e-324", "1e400", "1e-400", "123456789012345678901"]
    values, status = parsed(texts)
    read = status == 0
    assert read.mean() > 0.95  # all but a few: the rest go to Python
    for text, value, ok in zip(texts, values, read):
        if ok:
            assert struct.pack("<d", value) == struct.pack("<d", float(text)), text


def test_runs_of_digits_of_every_length_and_leading_zeros():
    """Digits are read 8 at a time: every run length, and zeros that do not count towards the 19 digits."""
    texts = []
    for k in range(1, 26):
        digits = "1234567890123456789012345"[:k]
        texts += [digits, "-" + digits, "0." + digits, digits + ".5", "0" * k + "7", "0." + "0" * k + "25",
                  "0" * k + "." + "0" * k, digits[::-1] + "e-3", f"{digits[:1]}.{digits[1:]}"]
    values, status = parsed(texts)
    for text, value, st in zip(texts, values, status):
        significant = len(text.replace("-", "").replace(".", "").split("e")[0].lstrip("0").rstrip("0") or "0")
        if significant <= 15:  # (Eisel–Lemire may leave more to Python, as it does a run of over 19)
            assert st == 0, text
        if st == 0:
            assert struct.pack("<d", value) == struct.pack("<d", float(text)), text


@pytest.mark.parametrize("text,status", [("", 1), ("   ", 1), ("abc", 2), ("1e", 2), ("--1", 2), ("1.2.3", 2),
                                         ("inf", 2), ("nan", 2), ("NA", 2), ("0x10", 2), ("1 2", 2)])
def test_what_is_not_a_plain_number_is_left_to_python(text, status):
    assert parsed([text])[1][0] == status


def test_decimal_commas_and_thousands_separators():
    values, status = parsed(["1.234,5", "0,25", "12.000", "1,2,3"], decimal=",", thousands=".")
    assert values[:3].tolist() == [1234.5, 0.25, 12000.0] and status.tolist() == [0, 0, 0, 2]


def test_records_are_the_csv_modules_and_a_record_is_never_cut():
    text = ('a,"b, ""c""",1.5\r\n\n"x\ny",,2\n3,"4",5e3\n"1"5,"2" ,"x"y"z\n')
    rows = list(csv.reader(io.StringIO(text, newline="")))
    data = np.frombuffer(text.encode(), dtype=np.uint8)
    slots = np.arange(3, dtype=np.int64)
    for cut in range(1, len(data) + 1):  # a buffer that ends anywhere: whole records only, the rest kept
        values, status = np.empty((4, 3)), np.empty((4, 3), dtype=np.int8)
        spans, lines = np.empty((4, 3, 2), dtype=np.int64), np.empty(5, dtype=np.int64)
        got, pos, line = [], 0, 1
        for end, last in ((cut, cut == len(data)), (len(data), True)):
            n, pos, line, how, _ = csvtokens.tokenize(data, pos, end, last, ord(","), ord("."), 0, slots, values,
                                                      status, spans, lines, line)
            assert how == csvtokens.OK
            for r in range(n):
                got.append([unquoted(bytes(data[a:b]).decode()) if st == csvtokens.QUOTED_TEXT else
                            bytes(data[a:b]).decode() for (a, b), st in zip(spans[r], status[r])])
        assert got == [r for r in rows if r], cut  # text after a closing quote kept, as pandas keeps it
        assert pos == len(data) and line == 7


def test_a_quote_free_buffer_read_in_parts_on_all_threads_gives_the_same_file(tmp_path, monkeypatch):
    """Lines, values and errors as one thread reads them; a buffer with a quote is read by one thread."""
    import h5py

    from sgdcli import convert
    from sgdcli.data import csvbytes

    rng = np.random.default_rng(3)
    X = rng.standard_normal((30_000, 5))
    lines = ["a,b,c,d,e,label"] + [",".join(repr(float(v)) for v in row) + f",{i % 2}" for i, row in enumerate(X)]
    lines[20_001] = lines[20_001].replace(",1", ",x", 1) if ",1" in lines[20_001] else lines[20_001] + "x"
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines[:20_001]) + "\n\n" + "\n".join(lines[20_001:]) + "\n")
    calls = []
    original = csvbytes.tokenize_parts
    monkeypatch.setattr(csvbytes, "parts", lambda: 2)
    monkeypatch.setattr(csvbytes, "tokenize_parts", lambda *a: calls.append(1) or original(*a))
    out = {}
    for threads in (2, 1):
        monkeypatch.setattr(csvbytes, "parts", lambda threads=threads: threads)
        result = convert(path, tmp_path / f"{threads}.h5", bad_rows="skip", engine="python")
        with h5py.File(tmp_path / f"{threads}.h5") as f:
            out[threads] = (f["X"][()].tobytes(), f["y"][()].tobytes(), result.skipped)
        if threads == 2:
            assert calls, "the parts were not read on threads"
            with pytest.raises(Exception) as raised:
                convert(path, tmp_path / "e.h5", engine="python")
            message = str(raised.value)
    assert out[1] == out[2] and out[1][2] == 1
    assert "line 20003" in message  # after the blank line: the line count of the threads' parts adds up
