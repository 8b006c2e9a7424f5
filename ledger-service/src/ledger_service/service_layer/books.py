"""The books on one session: open accounts, post journals (one, many, from a rule), reverse.

Used by the API commands (own unit of work, retried on lock conflicts) and by the event
handlers (the consumer's transaction). Every check is the domain's (`posting_checks`), so the
SQL books refuse exactly what `InMemoryLedger` refuses. A source id that is already posted
returns the journal posted first, whatever the new request says (DESIGN §3).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.accounts_repo import AccountRepository
from ledger_service.adapters.journal_repo import Announcement, JournalInsert, JournalRepository
from ledger_service.domain.accounts import OWNER_SEPARATOR, Account
from ledger_service.domain.chart import Family, check_against_chart
from ledger_service.domain.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    InvalidJournal,
    JournalNotFound,
    LedgerInvariantError,
    SourceConflict,
    UnknownAccount,
)
from ledger_service.domain.journal import Journal, JournalDraft, journal_id_for
from ledger_service.domain.journal import reverse as reversing_draft
from ledger_service.domain.memory import PostResult
from ledger_service.domain.posting_checks import check_account_reopen, check_legs, check_reversal
from ledger_service.domain.rules import PostingProposal
from ledger_service.service_layer.context import LedgerContext
from otd_shared.errors import DomainError
from otd_shared.observability import current_correlation_id

SHARD_KEY = "ledger_balance_shard"
ItemStatus = Literal["created", "duplicate", "rejected"]


@dataclass(frozen=True)
class ItemOutcome:
    """The fate of one journal of a batch."""

    index: int
    source_id: str | None
    status: ItemStatus
    journal_id: str | None = None
    error: DomainError | None = None


class Books:
    """Posting on one session. `cache_reads`: this transaction has written nothing yet, so
    accounts it reads are committed and may be cached (never true inside a consumer batch)."""

    def __init__(self, session: AsyncSession, ctx: LedgerContext, *, cache_reads: bool) -> None:
        self._session = session
        self._ctx = ctx
        self._cache_reads = cache_reads
        self.accounts = AccountRepository(session)
        self.journals = JournalRepository(session)
        self._correlation_id = current_correlation_id()

    @property
    def session(self) -> AsyncSession:
        """The session (its transaction) the books write in."""
        return self._session

    # --- accounts ---------------------------------------------------------------------------

    async def accounts_for(self, codes: Sequence[str]) -> dict[str, Account]:
        """The open accounts among `codes` (cache first, then the database)."""
        cache = self._ctx.accounts
        found: dict[str, Account] = {}
        missing: list[str] = []
        for code in codes:
            hit = cache.get(code)
            if hit is None:
                missing.append(code)
            else:
                found[code] = hit
        if missing:
            loaded = await self.accounts.get_many(missing)
            if self._cache_reads:
                cache.remember(loaded.values())
            found.update(loaded)
        return found

    async def open_account(self, account: Account) -> tuple[Account, bool]:
        """Open `account`; the same account again is fine (created False), another type 409."""
        check_against_chart(account, self._ctx.chart)
        inserted = await self.accounts.insert_missing([account])
        if account.code in inserted:
            return account, True
        existing = (await self.accounts.get_many([account.code]))[account.code]
        check_account_reopen(existing, account)
        return existing, False

    async def ensure_accounts(self, wanted: Sequence[Account]) -> None:
        """Open the accounts a rule proposal touches that are not open yet (409 on a clash)."""
        cache = self._ctx.accounts
        unsure = []
        for account in wanted:
            hit = cache.get(account.code)
            if hit is None:
                unsure.append(account)
            else:
                check_account_reopen(hit, account)
        if not unsure:
            return
        existing = await self.accounts.get_many(a.code for a in unsure)
        for account in unsure:
            check_against_chart(account, self._ctx.chart)
            check_account_reopen(existing.get(account.code), account)
        await self.accounts.insert_missing([a for a in unsure if a.code not in existing])

    # --- posting ----------------------------------------------------------------------------

    async def post(self, draft: JournalDraft, *, kind: str, path: str = "api") -> PostResult:
        """Post one journal whose accounts must be open, or return the source's first journal."""
        known = await self.accounts_for(draft.accounts)
        try:
            check_legs(draft, known)
        except (UnknownAccount, CurrencyMismatch):
            stored = await self.journals.by_source(draft.source_id)
            if stored is not None:
                return self._counted(PostResult(stored.journal, created=False), path)
            raise
        return await self._insert_one(draft, kind=kind, path=path)

    async def post_group(self, drafts: Sequence[JournalDraft]) -> list[PostResult | DomainError]:
        """Post concurrent callers' journals together; each gets what `post` would give it."""
        known = await self.accounts_for(list(dict.fromkeys(c for d in drafts for c in d.accounts)))
        first: dict[str, JournalDraft] = {}
        refused: dict[int, DomainError] = {}
        for index, draft in enumerate(drafts):
            try:
                check_legs(draft, known)
            except (UnknownAccount, CurrencyMismatch) as exc:
                refused[index] = exc
                continue
            first.setdefault(draft.source_id, draft)
        posted = {source: Journal.posted(draft) for source, draft in first.items()}
        created = await self.journals.insert(
            [self._insertion(journal, "manual") for journal in posted.values()],
            self._shard(),
            self._announcement(),
        )
        fresh = {s: journal for s, journal in posted.items() if journal.journal_id in created}
        created_here: dict[int, Journal] = {}
        for index, draft in enumerate(drafts):
            if index not in refused and (journal := fresh.pop(draft.source_id, None)):
                created_here[index] = journal  # the first draft of its source in this group
        others = [d.source_id for i, d in enumerate(drafts) if i not in created_here]
        earlier = await self.journals.by_sources(others) if others else {}
        results: list[PostResult | DomainError] = []
        for index, draft in enumerate(drafts):
            if index in created_here:
                results.append(self._counted(PostResult(created_here[index], True), "api"))
            elif draft.source_id in earlier:
                replay = PostResult(earlier[draft.source_id], created=False)
                results.append(self._counted(replay, "api"))
            elif index in refused:
                results.append(refused[index])
            else:  # its source conflicted yet no journal has it: append-only tables forbid this
                results.append(LedgerInvariantError(f"source {draft.source_id!r} lost"))
        return results

    async def post_proposal(self, proposal: PostingProposal, *, kind: str) -> PostResult:
        """Open the proposal's accounts and post its journal (idempotent by source id)."""
        await self.ensure_accounts(proposal.accounts)
        return await self._insert_one(proposal.journal, kind=kind, path="event")

    async def post_proposals(self, proposed: Sequence[Proposed]) -> None:
        """A consumer's run of rule proposals: their accounts opened together (two
        statements), their journals posted in one statement, each JournalPosted with its
        own event's correlation id; a source already posted (a replay) posts nothing, as
        `post_proposal` does. Two proposals that open one code as different accounts raise
        (the run is then applied event by event, where the later one is refused)."""
        wanted: dict[str, Account] = {}
        for item in proposed:
            for account in item.proposal.accounts:
                first = wanted.setdefault(account.code, account)
                check_account_reopen(first, account)
        await self.ensure_accounts(list(wanted.values()))
        firsts: dict[str, Proposed] = {}
        for item in proposed:
            firsts.setdefault(item.proposal.journal.source_id, item)
        journals = {
            source: Journal.posted(item.proposal.journal) for source, item in firsts.items()
        }
        created = await self.journals.insert(
            [
                replace(
                    self._insertion(journals[source], item.kind),
                    correlation_id=item.correlation_id,
                )
                for source, item in firsts.items()
            ],
            self._shard(),
            self._announcement(),
        )
        fresh = sum(1 for journal in journals.values() if journal.journal_id in created)
        self._ctx.metrics.journals.labels("event", "created").inc(fresh)
        self._ctx.metrics.journals.labels("event", "duplicate").inc(len(proposed) - fresh)

    async def post_many(
        self, items: Sequence[JournalDraft | DomainError], *, kind: str
    ) -> list[ItemOutcome]:
        """Post a batch, each item on its own: created, duplicate (source known) or rejected."""
        drafts = [item for item in items if isinstance(item, JournalDraft)]
        known = await self.accounts_for(list({leg.account for d in drafts for leg in d.legs}))
        outcomes: dict[int, ItemOutcome] = {}
        accepted: dict[str, tuple[int, Journal]] = {}
        refused: dict[int, tuple[JournalDraft, DomainError]] = {}
        for index, item in enumerate(items):
            if isinstance(item, DomainError):
                outcomes[index] = ItemOutcome(index, None, "rejected", error=item)
            elif item.source_id in accepted:
                outcomes[index] = _duplicate(index, item.source_id)
            else:
                try:
                    check_legs(item, known)
                    accepted[item.source_id] = (index, Journal.posted(item))
                except (UnknownAccount, CurrencyMismatch) as exc:
                    refused[index] = (item, exc)
        created = await self.journals.insert(
            [self._insertion(journal, kind) for _, journal in accepted.values()],
            self._shard(),
            self._announcement(),
        )
        for source_id, (index, journal) in accepted.items():
            status: ItemStatus = "created" if journal.journal_id in created else "duplicate"
            outcomes[index] = ItemOutcome(index, source_id, status, journal.journal_id)
        await self._settle_refused(refused, accepted, outcomes)
        tally = Counter(outcome.status for outcome in outcomes.values())
        for status in ("created", "duplicate"):
            self._ctx.metrics.journals.labels("batch", status).inc(tally[status])
        return [outcomes[index] for index in range(len(items))]

    async def _settle_refused(
        self,
        refused: dict[int, tuple[JournalDraft, DomainError]],
        accepted: dict[str, tuple[int, Journal]],
        outcomes: dict[int, ItemOutcome],
    ) -> None:
        # Like a single post: a refused journal whose source is already posted is a replay.
        for index, (draft, error) in refused.items():
            earlier = accepted.get(draft.source_id)
            known_source = (earlier is not None and earlier[0] < index) or (
                await self.journals.by_source(draft.source_id) is not None
            )
            outcomes[index] = (
                _duplicate(index, draft.source_id)
                if known_source
                else ItemOutcome(index, draft.source_id, "rejected", error=error)
            )

    async def reverse(
        self, journal_id: str, source_id: str, business_date: date, reason: str
    ) -> PostResult:
        """Post the reversal of `journal_id` under `source_id` (idempotent by that source)."""
        original = await self.journals.get(journal_id)
        if original is None:
            raise JournalNotFound(f"journal {journal_id} not found")
        existing = await self.journals.by_source(source_id)
        if existing is not None:
            if existing.journal.reverses_journal_id == journal_id:
                return self._counted(PostResult(existing.journal, created=False), "reversal")
            raise SourceConflict(
                f"source {source_id!r} already posted journal {existing.journal.journal_id}",
                field="source_id",
            )
        draft = reversing_draft(original.journal, source_id, business_date, reason)
        reversal = await self.journals.reversal_of(journal_id)
        check_reversal(
            draft, original.journal, None if reversal is None else reversal.journal.journal_id
        )
        try:
            return await self._insert_one(
                draft, kind="reversal", path="reversal", order_id=original.order_id
            )
        except IntegrityError as exc:  # a concurrent reversal of the same journal won
            if "reverses_journal_id" not in str(exc.orig):
                raise
            raise AlreadyReversed(f"journal {journal_id} was reversed concurrently") from None

    async def _insert_one(
        self, draft: JournalDraft, *, kind: str, path: str, order_id: str | None = None
    ) -> PostResult:
        journal = Journal.posted(draft)
        insertion = self._insertion(journal, kind, order_id)
        created = await self.journals.insert([insertion], self._shard(), self._announcement())
        if journal.journal_id in created:
            return self._counted(PostResult(journal, created=True), path)
        stored = await self.journals.by_source(draft.source_id)
        if stored is None:  # the conflicting row vanished: impossible for append-only tables
            raise InvalidJournal(f"source {draft.source_id!r} conflicted but is not stored")
        return self._counted(PostResult(stored.journal, created=False), path)

    def _insertion(self, journal: Journal, kind: str, order_id: str | None = None) -> JournalInsert:
        return JournalInsert(journal, kind, order_id or order_of(journal))

    def _announcement(self) -> Announcement:
        settings = self._ctx.settings
        return Announcement(self._ctx.topic, settings.service_name, self._correlation_id)

    def _shard(self) -> int:
        """This transaction's balance shard: random, so concurrent postings spread out."""
        info = self._session.info
        if SHARD_KEY not in info:
            info[SHARD_KEY] = secrets.randbelow(self._ctx.settings.balance_shards)
        shard: int = info[SHARD_KEY]
        return shard

    def _counted(self, result: PostResult, path: str) -> PostResult:
        self._ctx.metrics.journals.labels(path, "created" if result.created else "duplicate").inc()
        return result


@dataclass(frozen=True)
class Proposed:
    """A rule proposal of a consumed event, with what its journal is posted as."""

    proposal: PostingProposal
    kind: str
    correlation_id: str


def order_of(journal: Journal) -> str | None:
    """The order a journal belongs to: the owner of its first customer-deposits leg."""
    prefix = f"{Family.DEPOSITS.value}{OWNER_SEPARATOR}"
    for leg in journal.legs:
        if leg.account.startswith(prefix):  # codes are valid: the rest is the owner
            return leg.account[len(prefix) :]
    return None


def _duplicate(index: int, source_id: str) -> ItemOutcome:
    return ItemOutcome(index, source_id, "duplicate", journal_id_for(source_id))
