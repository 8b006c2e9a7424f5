"""UnionPay ZM's fast paths agree with the slow ones they shortcut: the ten-digit trace time
built directly (cached) against strptime over every year, the bulk path's (the year found
per month and day) against the reference's, and an ASCII record sliced in one match against
slicing field by field."""

from __future__ import annotations

from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from recon_service.adapters.statements import unionpay, unionpay_bulk
from recon_service.adapters.statements.bulk import utc_text
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import to_utc


def strptime_nearest(text: str, day: date) -> datetime | None:
    best: datetime | None = None
    for year in (day.year - 1, day.year, day.year + 1):
        try:
            candidate = datetime.strptime(f"{year}{text}", "%Y%m%d%H%M%S")  # noqa: DTZ007
        except ValueError:
            continue
        if best is None or abs(candidate.date() - day) < abs(best.date() - day):
            best = candidate
    return None if best is None else to_utc(best)


TRACE_TEXTS = st.text(st.sampled_from("0123456789"), min_size=10, max_size=10) | st.sampled_from(
    ["0229120000", "1231235959", "0101000000", "1301010000", "0230000000", "0229246000",
     "²²01010000", "０１０１１２００００"]
)  # fmt: skip


@given(text=TRACE_TEXTS, day=st.dates(date(2001, 1, 1), date(2098, 12, 31)))
def test_the_trace_time_is_the_one_strptime_gives(text: str, day: date) -> None:
    assert unionpay._nearest(text, day) == strptime_nearest(text, day)


@settings(max_examples=400)
@given(text=TRACE_TEXTS, day=st.dates(date(1985, 1, 1), date(2098, 12, 31)))
def test_trace_times_the_bulk_path_builds_are_the_references(text: str, day: date) -> None:
    try:
        expected: str | None = utc_text(unionpay._trace_time(text, day, 0))
    except StatementFormatError:
        expected = None
    try:
        built: str | None = unionpay_bulk.TraceTimes(day)(text)
    except StatementFormatError:
        built = None

    assert built == expected


def slow_fields(raw: bytes) -> list[str] | str:
    record = raw.ljust(unionpay.RECORD_BYTES, b" ")
    fields = []
    for start, end in unionpay.SPANS:
        if end < unionpay.RECORD_BYTES and record[end : end + 1] != unionpay.SEPARATOR:
            return "separator"
        fields.append(record[start:end].decode("gb18030").strip())
    return fields


@given(chars=st.lists(st.sampled_from([" ", "0", "9", "A", "z", "\t", "\x1f", "-"]), max_size=607))
def test_an_ascii_record_is_sliced_as_field_by_field(chars: list[str]) -> None:
    raw = "".join(chars).encode("ascii")
    spaced = bytearray(raw.ljust(unionpay.RECORD_BYTES, b" "))
    for _, end in unionpay.SPANS[:-1]:
        spaced[end] = 32 if chars and chars[0] != "-" else spaced[end]
    record = bytes(spaced)
    try:
        fast: list[str] | str = unionpay._fields(record, 1)
    except StatementFormatError as exc:
        fast = "separator" if "is not the separator" in exc.message else exc.message
    assert fast == slow_fields(record)
