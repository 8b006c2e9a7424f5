"""What every statement parser shares: the parse context, a streaming line reader with the
named limits, text decoding, CSV splitting, columns by header name, money and time at the edge.

Parsers are generators ``parse(stream, ctx) -> Iterator[StatementLine]``: they read the file
line by line and never hold more of it than one line (zip archives need a seekable file, which
an upload spooled to disk is). Every problem is a ``StatementFormatError(line_no, message)``.
"""

from __future__ import annotations

import csv
import functools
import operator
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import IO, BinaryIO, Final, Protocol

from otd_shared import money
from recon_service.domain.errors import (
    StatementCharset,
    StatementDateMissing,
    StatementFormatError,
    StatementTooLarge,
    UnsafeArchive,
    WorkBudgetExceeded,
)
from recon_service.domain.statement import Source, StatementLimits, to_utc

UTF8_BOM: Final = b"\xef\xbb\xbf"
GZIP_MAGIC: Final = b"\x1f\x8b"
ZIP_MAGIC: Final = b"PK\x03\x04"
# What a broken compressed stream raises while it is read.
UNPACK_ERRORS: Final = (OSError, EOFError, zlib.error, zipfile.BadZipFile)
# What opening a hostile or broken archive raises (encrypted entries: RuntimeError, unknown
# methods: NotImplementedError).
OPEN_ERRORS: Final = (*UNPACK_ERRORS, ValueError, RuntimeError, NotImplementedError)
ZIP_METHODS: Final = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
ZIP_FLAG_ENCRYPTED: Final = 0x1
BUDGET_CHECK_EVERY_LINES: Final = 1024
ISO_SECONDS: Final = "%Y-%m-%d %H:%M:%S"
_ISO_SECONDS_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", re.ASCII
)
TIME_CACHE_SIZE: Final = 4096


class ByteStream(Protocol):
    """What the line reader needs: a file, a gzip stream or a zip entry opened for reading."""

    def readline(self, size: int = -1, /) -> bytes:
        """One line of at most ``size`` bytes, with its ending; b"" at the end."""
        ...


@dataclass
class ParseContext:
    """One parse: the source, its limits, what the caller knows, and the day once resolved.

    ``given_date`` is the day the caller names (upload form, daily job); a file that states
    another day is refused. Formats that do not state their day take it from the first row
    unless it is given; UnionPay's ZM needs it (its times have no year).
    """

    source: Source
    limits: StatementLimits
    filename: str | None = None
    given_date: date | None = None
    statement_date: date | None = None
    packed_bytes: int | None = None
    """The size of the file as received (bounds what compressed content may unpack to)."""
    deadline: float = 0.0
    """``time.monotonic()`` past which the parse stops (the work budget's seconds)."""

    def __post_init__(self) -> None:
        if self.statement_date is None:
            self.statement_date = self.given_date
        if not self.deadline:
            self.deadline = time.monotonic() + self.limits.max_parse_s

    def unpacked_limit(self) -> int:
        """What the compressed content of this file may unpack to (ratio and absolute)."""
        return self.limits.unpacked_limit(self.packed_bytes)

    def check_budget(self, line_no: int) -> None:
        """Refuse once the parse has used up its seconds."""
        if time.monotonic() > self.deadline:
            raise WorkBudgetExceeded(
                line_no, f"the parse took more than {self.limits.max_parse_s:g} s (work budget)"
            )

    def stated_date(self, found: date, line_no: int | None) -> date:
        """The file states its day: it must agree with the given one."""
        if self.statement_date is not None and self.statement_date != found:
            raise StatementFormatError(
                line_no,
                f"the file is for {found.isoformat()}, not {self.statement_date.isoformat()}",
            )
        self.statement_date = found
        return found

    def offered_date(self, found: date) -> date:
        """A row's day, used as the statement's day only when none is known yet."""
        if self.statement_date is None:
            self.statement_date = found
        return self.statement_date

    def required_date(self, why: str) -> date:
        """The day, which this format cannot do without."""
        if self.statement_date is None:
            raise StatementDateMissing(why)
        return self.statement_date


def byte_lines(
    stream: ByteStream, ctx: ParseContext, *, max_bytes: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(line_no, line)`` pairs, 1-based, without the CRLF/LF ending (a first-line UTF-8 BOM
    is kept: decoding decides). Enforces the size, line count, line length and time limits
    and refuses a NUL byte;
    ``max_bytes`` below the file limit is unpacked content (over it: a zip/gzip bomb)."""
    limits = ctx.limits
    byte_limit = limits.max_file_bytes if max_bytes is None else max_bytes
    read_max = limits.max_line_bytes + 2  # room for CRLF
    total = 0
    line_no = 0
    while True:
        try:
            raw = stream.readline(read_max)
        except UNPACK_ERRORS as exc:
            raise StatementFormatError(
                line_no + 1, f"compressed data is truncated or corrupt ({type(exc).__name__})"
            ) from None
        if not raw:
            return
        line_no += 1
        total += len(raw)
        if total > byte_limit:
            _over_bytes(byte_limit == limits.max_file_bytes, byte_limit, line_no)
        if line_no > limits.max_lines:
            raise WorkBudgetExceeded(line_no, f"more than {limits.max_lines} lines")
        if line_no % BUDGET_CHECK_EVERY_LINES == 0:
            ctx.check_budget(line_no)
        line = raw[:-1] if raw.endswith(b"\n") else raw
        line = line[:-1] if line.endswith(b"\r") else line
        if len(line) > limits.max_line_bytes or (not raw.endswith(b"\n") and len(raw) == read_max):
            raise StatementFormatError(line_no, f"line longer than {limits.max_line_bytes} bytes")
        if b"\x00" in line:  # no layout has one, and PostgreSQL text cannot hold it
            raise StatementFormatError(line_no, "a NUL byte (0x00) in the line")
        yield line_no, line


def _over_bytes(plain: bool, byte_limit: int, line_no: int) -> None:
    if plain:
        raise StatementTooLarge(f"the statement exceeds {byte_limit} bytes")
    raise UnsafeArchive(
        line_no, f"the compressed content unpacks to more than {byte_limit} bytes (zip bomb?)"
    )


def open_zip(stream: BinaryIO, ctx: ParseContext) -> zipfile.ZipFile:
    """The archive (entry names in GBK, as the channels write them), its entries checked:
    at most ``max_zip_entries``, no absolute or ``..`` paths, no encrypted entries, only
    stored/deflated, and every declared size within the unpack budget."""
    try:
        archive = zipfile.ZipFile(stream, metadata_encoding="gbk")
    except OPEN_ERRORS as exc:
        raise StatementFormatError(
            None, f"not a readable zip archive (truncated?): {exc}"
        ) from None
    infos = archive.infolist()
    if len(infos) > ctx.limits.max_zip_entries:
        archive.close()
        raise UnsafeArchive(None, f"more than {ctx.limits.max_zip_entries} entries in the archive")
    for info in infos:
        try:
            check_entry(info, ctx)
        except UnsafeArchive:
            archive.close()
            raise
    return archive


def check_entry(info: zipfile.ZipInfo, ctx: ParseContext) -> None:
    """One entry's path, encryption, method and declared size."""
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(None, f"unsafe entry path {name[:80]!r}")
    if info.flag_bits & ZIP_FLAG_ENCRYPTED:
        raise UnsafeArchive(None, f"entry {name[:80]!r} is encrypted")
    if info.compress_type not in ZIP_METHODS:
        raise UnsafeArchive(
            None, f"entry {name[:80]!r} uses compression method {info.compress_type} "
            "(only stored and deflated are read)"
        )  # fmt: skip
    limit = ctx.unpacked_limit()
    if info.file_size > limit:
        raise UnsafeArchive(None, f"entry {name[:80]!r} unpacks to more than {limit} bytes")


def open_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """An entry opened for reading (errors become format errors, never 500)."""
    try:
        return archive.open(info)
    except OPEN_ERRORS as exc:
        raise UnsafeArchive(None, f"entry {info.filename[:80]!r} cannot be read: {exc}") from None


def decode(raw: bytes, encoding: str, line_no: int) -> str:
    """Decode one line, refusing bytes that are not ``encoding`` (naming what they look like)."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        found = guess_charset(raw)
        looks = f"; the text looks {found}-encoded" if found and found != encoding else ""
        raise StatementCharset(
            line_no, f"not valid {encoding.upper()} text at byte {exc.start}{looks}"
        ) from None


def guess_charset(raw: bytes) -> str | None:
    """``utf-8`` or ``gbk`` when the bytes decode as one of them, else None."""
    for name, codec in (("utf-8", "utf-8"), ("gbk", "gb18030")):
        try:
            raw.decode(codec)
        except UnicodeDecodeError:
            continue
        return name
    return None


def text_lines(
    stream: ByteStream, ctx: ParseContext, encoding: str, *, max_bytes: int | None = None
) -> Iterator[tuple[int, str]]:
    """Decoded lines; a leading UTF-8 BOM is dropped; blank lines are skipped."""
    for line_no, raw in byte_lines(stream, ctx, max_bytes=max_bytes):
        if line_no == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        text = decode(raw, encoding, line_no)
        if text.strip():
            yield line_no, text


def split_csv(text: str, line_no: int) -> list[str]:
    """One CSV record on one line (quotes allowed, no line breaks inside fields)."""
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise StatementFormatError(line_no, f"not a CSV record: {exc}") from None
    return rows[0] if rows else []


Picker = Callable[[Sequence[str]], tuple[str, ...]]


class Columns:
    """Column positions by header name; aliases cover legacy spellings."""

    def __init__(
        self,
        header: Sequence[str],
        line_no: int,
        *,
        required: Iterable[str],
        aliases: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        names = [h.strip() for h in header]
        position = {name: i for i, name in enumerate(names) if name}
        self.width = len(names)
        self.line_no = line_no
        self._index: dict[str, int] = {}
        for canonical, spellings in (aliases or {}).items():
            for spelling in (canonical, *spellings):
                if spelling in position:
                    self._index[canonical] = position[spelling]
                    break
        for name, i in position.items():
            self._index.setdefault(name, i)
        missing = [name for name in required if name not in self._index]
        if missing:
            raise StatementFormatError(
                line_no, f"missing column(s) {', '.join(missing)} in the header"
            )

    def has(self, name: str) -> bool:
        """Whether the header has this column (or an alias of it)."""
        return name in self._index

    def check_width(self, fields: Sequence[str], line_no: int) -> None:
        """A row must have exactly as many fields as the header."""
        if len(fields) != self.width:
            raise StatementFormatError(
                line_no, f"{len(fields)} fields where the header has {self.width}"
            )

    def get(self, fields: Sequence[str], name: str) -> str:
        """The field of a column (a KeyError here is a parser bug: check ``has`` first)."""
        return fields[self._index[name]]

    def optional(self, fields: Sequence[str], name: str) -> str:
        """The field of a column, or "" when the header lacks it."""
        return fields[self._index[name]] if name in self._index else ""

    def picker(self, *names: str) -> Picker:
        """One call that reads the fields of ``names`` from a row, in that order ("" for a
        column the header lacks): for the parsers' hot loops."""
        width = self.width
        positions = [self._index.get(name, width) for name in names]
        pick = operator.itemgetter(*positions)
        if len(names) == 1:
            return lambda fields: (pick([*fields, ""]),)
        return lambda fields: pick([*fields, ""])


def yuan_fen(text: str, line_no: int, column: str, *, allow_negative: bool = False) -> int:
    """A yuan amount with at most two decimals, exactly, in fen."""
    try:
        return money.wire_yuan_to_fen(text.strip(), allow_negative=allow_negative)
    except money.MoneyError as exc:
        raise StatementFormatError(line_no, f"{column}: {exc}") from None


def fee_fen(text: str, line_no: int, column: str) -> int:
    """A fee in yuan with up to five decimals, in fen, ROUND_HALF_UP; signed."""
    try:
        return money.wire_fee_yuan_to_fen(text.strip())
    except money.MoneyError as exc:
        raise StatementFormatError(line_no, f"{column}: {exc}") from None


def fen(text: str, line_no: int, column: str, *, allow_negative: bool = False) -> int:
    """An amount already in fen, as a digit string."""
    try:
        return money.fen_text_to_fen(text.strip(), allow_negative=allow_negative)
    except money.MoneyError as exc:
        raise StatementFormatError(line_no, f"{column}: {exc}") from None


def positive(amount_fen: int, line_no: int, column: str) -> int:
    """A line moves money: zero is refused."""
    if amount_fen <= 0:
        raise StatementFormatError(line_no, f"{column}: the amount must be above zero")
    return amount_fen


def local_time(text: str, fmt: str, line_no: int, column: str) -> datetime:
    """An Asia/Shanghai wall-clock time in ``fmt`` as a UTC instant."""
    instant = _instant(text.strip(), fmt)
    if instant is None:
        raise StatementFormatError(
            line_no, f"{column}: {text.strip()[:32]!r} is not a time in the form {fmt}"
        )
    return instant


@functools.lru_cache(maxsize=TIME_CACHE_SIZE)
def _instant(text: str, fmt: str) -> datetime | None:
    """The UTC instant of a local time (None: not in ``fmt``). Bills list many lines per
    second, so instants are cached; ``YYYY-MM-DD HH:MM:SS`` written out in full is read by
    ``fromisoformat`` (same result as ``strptime``, a fraction of its cost)."""
    try:
        if fmt == ISO_SECONDS and _ISO_SECONDS_RE.fullmatch(text):
            naive = datetime.fromisoformat(text)  # a 31 February is refused here too
        else:
            naive = datetime.strptime(text, fmt)  # noqa: DTZ007  (local time, converted below)
    except ValueError:
        return None
    return to_utc(naive)


def local_date(text: str, fmt: str, line_no: int, column: str) -> date:
    """A calendar date in ``fmt``."""
    found = _date(text.strip(), fmt)
    if found is None:
        raise StatementFormatError(
            line_no, f"{column}: {text.strip()[:32]!r} is not a date in the form {fmt}"
        )
    return found


@functools.lru_cache(maxsize=TIME_CACHE_SIZE)
def _date(text: str, fmt: str) -> date | None:
    """The date of ``text`` in ``fmt`` (None: not one); cached, as every row of a day's
    statement names the same few dates."""
    try:
        return datetime.strptime(text, fmt).date()  # noqa: DTZ007  (a date, no zone)
    except ValueError:
        return None


def or_none(text: str, *empty: str) -> str | None:
    """The stripped text, or None when it is empty or one of the ``empty`` placeholders."""
    value = text.strip()
    return None if not value or value in empty else value


def refs(**fields: str | None) -> tuple[tuple[str, str], ...]:
    """Reference fields worth keeping (empty ones dropped), in a stable order."""
    return tuple((k, v) for k, v in fields.items() if v)


def gbk_text(raw: bytes, line_no: int) -> str:
    """A GBK line (decoded as GB18030, its superset)."""
    refuse_utf8(raw, line_no)
    return decode(raw, "gb18030", line_no)


def refuse_utf8(raw: bytes, line_no: int) -> None:
    """Refuse UTF-8 Chinese where GBK is due, by name: it would otherwise decode into
    nonsense that is caught later, if at all. (GBK text is almost never valid UTF-8.)"""
    if raw.isascii():
        return
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    raise StatementCharset(line_no, "the text is UTF-8 encoded; expected GBK")
