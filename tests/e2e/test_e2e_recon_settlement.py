"""Issue 11's money bug across the cluster: one Alipay line of 5,000.00 with a 30.00 fee,
uploaded to recon and reconciled three times, moves the books ONCE and gross (clearing
−5,000.00, bank +4,970.00, fees +30.00); a corrected statement of the same day posts only
the difference. recon → outbox → broker → ledger consumer, over real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster, eventually
from recon_service.testing.statement_files import Txn, alipay_zip

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2031, 7, 14)  # a day no other test settles on
ACCOUNTS = ("clearing:alipay", "bank:MAIN", "fees:alipay")


def _txn(n: int, fen: int, fee_fen: int) -> Txn:
    return Txn(
        out_trade_no=f"P{uuid.uuid4().hex[:16].upper()}",
        channel_txn_id=f"2031071422001{n:017d}",
        amount_fen=fen,
        fee_fen=fee_fen,
        at=datetime.combine(DAY, time(10, n), SHANGHAI),
    )


async def _balances(http: httpx.AsyncClient, cluster: RunningCluster) -> tuple[int, ...]:
    base, finance = cluster.urls["ledger-service"], cluster.auth("finance")
    found = []
    for code in ACCOUNTS:
        response = await http.get(f"{base}/v1/accounts/{code}", headers=finance)
        found.append(response.json()["net_debit_fen"] if response.status_code == 200 else 0)
    return tuple(found)


async def _upload_and_run(
    http: httpx.AsyncClient, cluster: RunningCluster, txns: list[Txn], runs: int
) -> list[dict[str, object]]:
    base, finance = cluster.urls["recon-service"], cluster.auth("finance")
    uploaded = await http.post(
        base + "/v1/statements",
        data={"source": "alipay"},
        files={"file": (f"2088000000000156_{DAY:%Y%m%d}.csv.zip", alipay_zip(txns, DAY))},
        headers=finance,
    )
    assert uploaded.status_code == 201, uploaded.text
    done = []
    for _ in range(runs):
        run = await http.post(
            base + "/v1/recon-runs",
            json={"source": "alipay", "date": DAY.isoformat()},
            headers=finance,
        )
        assert run.status_code == 201, run.text
        done.append(run.json())
    return done


async def test_a_settlement_reconciled_three_times_is_booked_once_and_gross(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    before = await _balances(http, running_cluster)

    def moved(now: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(b - a for a, b in zip(before, now, strict=True))

    first = _txn(1, 500_000, 3_000)
    runs = await _upload_and_run(http, running_cluster, [first], runs=3)
    assert {(r["gross_fen"], r["fee_fen"], r["settled_fen"]) for r in runs} == {
        (500_000, 3_000, 497_000)
    }
    assert {r["statement_version"] for r in runs} == {1}

    async def booked(expected: tuple[int, ...]) -> bool:
        return moved(await _balances(http, running_cluster)) == expected

    await eventually(lambda: booked((-500_000, 497_000, 3_000)), timeout_s=30)

    corrected = await _upload_and_run(http, running_cluster, [first, _txn(2, 100_000, 600)], runs=2)
    assert {r["statement_version"] for r in corrected} == {2}
    await eventually(lambda: booked((-600_000, 596_400, 3_600)), timeout_s=30)
    # A little longer: nothing else arrives from the re-runs.
    await eventually(lambda: booked((-600_000, 596_400, 3_600)), timeout_s=5)
    for version, count in ((1, 1), (2, 1), (3, 0)):
        journals = await http.get(
            running_cluster.urls["ledger-service"] + "/v1/journals",
            headers=running_cluster.auth("finance"),
            params={"source_id": f"settlement:alipay:{DAY.isoformat()}:v{version}"},
        )
        assert journals.status_code == 200, journals.text
        assert len(journals.json()["journals"]) == count, version
