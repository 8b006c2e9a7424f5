"""Chaos with an acknowledged-money oracle: faults under a load of orders paid by every channel.

A cluster of its own: the launcher on free ports with ``OTD_RESTART_CHILDREN=1`` (a killed
service comes back, like a restarted pod), its own embedded PostgreSQL (restarted with
``pg_ctl stop -m immediate``: a crash, then recovery) and a Tansu broker on a fixed port
(restarted: memory only, every message and committed offset is lost).

The load: orders, each paid (its intent billing) through one channel the seed picks:
- WeChat Pay, Alipay (the app's signed order string) and Lakala (WeChat QR): the payment is
  started at the gateway, the channel sandbox pays it and posts the genuine notification,
  signed by the sandbox's channel module, retrying on the channel's schedule until the
  gateway answers success;
- UnionPay and Allinpay POS: an order QR, the store terminal's fetch (the reservation), then
  the sandbox's signed ACP back notification / Allinpay notification;
- cash: a receipt recorded by the store cashier (retried with its receipt number);
- wires: a transfer from the bank link matched by the payer's card last 4 (retried with its
  bank reference).
About one in ten notification-channel payments is started and never paid (nothing may be
applied for it). The chaos cluster lets the intent stage take every channel
(``STAGE_CHANNELS``), so each order carries exactly one payment; routing is tested elsewhere.

Meanwhile, in a seeded order: the broker is restarted ``OTD_CHAOS_BROKER_RESTARTS`` times;
PostgreSQL is crashed ``OTD_CHAOS_PG_RESTARTS`` times; with ``OTD_CHAOS_KILLS=1`` every money
service is SIGKILLed once (between its requests and batches, wherever it is); and the crash
points ``OTD_CHAOS_CRASH_POINTS`` (``service@point,...``; ``otd_shared.crash_points``) end a
service's process INSIDE a consumer batch under load: just before the batch's database
commit, or after it and before the offset commit (the batch comes again).

After the load stops and the system drains, the oracle checks every payment:
- acknowledged (the gateway answered the channel's notification with success, or answered
  the cashier's receipt / matched the bank's wire) → applied exactly once in each of: the
  gateway (one succeeded payment), billing (the intent's ``paid_fen``), the ledger (the
  order's deposit account credited once) and recon's projection (one ``succeeded`` payment
  row in ``recon.internal_records``);
- never paid at the channel → nothing applied anywhere;
- paid but never acknowledged (a notification whose answers were all lost) → the same in
  all four: nothing, or exactly once;
- per order the billing paid sum equals the ledger deposit and the journal lines balance;
  the trial balance balances; no outbox row of any service is left unsent.
It prints sent, acknowledged, applied, lost (must be 0) and duplicated (must be 0) in all
and per channel, the crash points that fired, the time to converge after the last fault
and the seed; ``OTD_CHAOS_SEED`` replays the fault order and the load.

Found by it (fixed):
- consumers kept their fetch position across a broker restart and skipped the events
  republished below it (seed 3242954113: 24 acknowledged, 7 lost); see
  ``otd_shared.consumer_loss``;
- a restarted (empty) Tansu auto-created our topics with ITS default of 4 partitions on the
  first consumer's or admin client's metadata request while the producers' metadata still
  said 6 (seed 7: 5 of 16 orders without a payable intent billing; with kills and a
  PostgreSQL crash 18 of 56 acknowledged notifications never applied); see
  ``otd_shared.kafka``, ``otd_shared.broker_loss`` and
  ``shared/tests/test_shared_topic_partitions.py``.

Runs: the defaults below are the short run in ``make test`` (16 orders at least, 2 broker
restarts, one crash point, no kills, no PostgreSQL crash); ``make chaos`` is the long one.
Figures: docs/hostile-input-and-faults.md and docs/status.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from otd_shared.crash_points import ENV as CRASH_POINTS_ENV
from otd_shared.crash_points import arm, fired
from otd_shared.infra import (
    Broker,
    ensure_database,
    free_port,
    restart_embedded_postgres,
    start_broker,
    start_embedded_postgres,
    stop_embedded_postgres,
)

pytestmark = pytest.mark.e2e

ORDERS = int(os.environ.get("OTD_CHAOS_ORDERS", "16"))
"""At least this many orders; the load goes on until the last fault struck."""
BROKER_RESTARTS = int(os.environ.get("OTD_CHAOS_BROKER_RESTARTS", "2"))
PG_RESTARTS = int(os.environ.get("OTD_CHAOS_PG_RESTARTS", "0"))
KILLS = os.environ.get("OTD_CHAOS_KILLS", "0") == "1"
"""SIGKILL every money service once (``make chaos``; off in the short run of ``make test``,
which would take 3-4 minutes with them)."""
CRASH_POINTS = tuple(
    tuple(entry.split("@", 1))
    for entry in os.environ.get(
        "OTD_CHAOS_CRASH_POINTS", "ledger-service@consumer_after_db_commit"
    ).split(",")
    if entry
)
"""(service, point) pairs: each ends that service's process once at that point of a consumer
batch (``otd_shared.crash_points``). The short run's: the ledger, which no journey waits on
(a crashed billing holds up every later order until its group rebalanced)."""
CONVERGE_TIMEOUT_S = float(os.environ.get("OTD_CHAOS_CONVERGE_S", "150"))
START_TIMEOUT_S = 120.0
READY_AFTER_KILL_S = 60.0
CRASH_FIRE_TIMEOUT_S = 30.0
FAULT_GAP_S = (0.5, 2.5)
ORDER_GAP_S = (0.15, 0.6)
RETRY_S = 0.5
ABANDON_RATE = 0.1
JUDGE_CONCURRENCY = 8
SHANGHAI = ZoneInfo("Asia/Shanghai")
KILLED = ("order-service", "billing-service", "payment-gateway", "ledger-service", "recon-service")
SERVICES = (*KILLED, "channel-sandbox", "finance-console")
ONLINE = {"wechatpay": None, "alipay": None, "lakala": "wechat_qr"}  # channel → method
POS = ("unionpay", "allinpay")
NOTIFIED = (*ONLINE, *POS)
CHANNELS = (*NOTIFIED, "cash", "wire")
ROUND_ROBIN = 2 * len(CHANNELS)
"""The first journeys go round the channels twice: every channel is under the faults."""
STAGES = ("intent", "firm", "final", "service", "installment", "payoff")
STORE = "CHAOS1"
TERMINALS = {"unionpay": "T-UP-CHAOS1", "allinpay": "T-AL-CHAOS1"}
SANDBOX_RETRY_SCALE = "0.05"
"""The channels' documented retry schedules × 0.05: UnionPay's 5 sends span 21 s, longer
than a service's restart after a SIGKILL (at 0.01 they gave up within 4 s)."""


@dataclass
class ChaosCluster:
    urls: dict[str, str]
    tokens: dict[str, str]
    var_dir: Path
    database_url: str
    broker_port: int
    brokers: list[Broker]
    pg_server: object

    @property
    def crash_dir(self) -> Path:
        return self.var_dir / "crash-points"

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def restart_broker(self) -> None:
        self.brokers[-1].stop()
        self.brokers.append(start_broker(self.broker_port))

    def restart_postgres(self) -> None:
        restart_embedded_postgres(self.pg_server)

    def kill(self, service: str) -> None:
        """SIGKILL the service's process group (the launcher starts it again)."""
        pids = json.loads((self.var_dir / "children.json").read_text())
        os.killpg(int(pids[service]), signal.SIGKILL)


@dataclass
class Journey:
    """One order of the load, its payment and what the cluster answered."""

    index: int
    channel: str
    abandoned: bool = False
    """Started and never paid at the channel (nothing may be applied)."""
    customer_id: str = field(default_factory=lambda: f"chaos-{uuid.uuid4().hex[:8]}")
    order_id: str | None = None
    billing_id: str | None = None
    amount_fen: int = 0
    out_trade_no: str | None = None
    paid_at_channel: bool = False
    """The channel paid (sandbox action accepted) or the money was handed over (cash, wire)."""
    acknowledged: bool = False
    """The gateway answered success: to the receipt or transfer (cash, wires), or to a
    notification (seen in the sandbox by the oracle; once seen, it stays so)."""
    errors: list[str] = field(default_factory=list)

    @property
    def payer_account(self) -> str:
        """A card whose last 4 no other journey's customer has."""
        return f"622202020011{self.index % 1000:03d}{self.index:04d}"


@pytest.fixture
def chaos_pg() -> Iterator[tuple[object, str]]:
    """A PostgreSQL server of the test's own, to restart. Not under pytest's tmp_path: the
    server runs as another user, and every pytest session resets that tree to 0700."""
    with tempfile.TemporaryDirectory(prefix="otd-chaos-pg-") as tmp:
        server, url = start_embedded_postgres(Path(tmp) / "pg")
        try:
            yield server, url
        finally:
            stop_embedded_postgres(server)


def _cluster_env(database: str, broker: Broker, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": f"chaos{uuid.uuid4().hex[:6]}.",
            "KAFKA_CONSUMER_GROUP_PREFIX": f"chaos{uuid.uuid4().hex[:6]}.",
            "OTD_VAR_DIR": str(var_dir),
            "OTD_RESTART_CHILDREN": "1",
            "BROKER_WATCH_INTERVAL_MS": "500",
            "STAGE_CHANNELS": json.dumps(dict.fromkeys(STAGES, list(CHANNELS))),
            "SANDBOX_RETRY_SCALE": SANDBOX_RETRY_SCALE,
            CRASH_POINTS_ENV: str(var_dir / "crash-points"),
        }
    )
    for name in SERVICES:
        env["OTD_PORT_" + name.upper().replace("-", "_")] = str(free_port())
    return env


@pytest.fixture
async def chaos_cluster(
    chaos_pg: tuple[object, str], tmp_path: Path
) -> AsyncIterator[ChaosCluster]:
    pg_server, server_url = chaos_pg
    var_dir = tmp_path / "var"  # apart from the server's directory (the launcher locks it)
    (var_dir / "crash-points").mkdir(parents=True)
    database = await ensure_database(server_url, "otd")
    port = free_port()
    brokers = [start_broker(port)]
    log = (var_dir / "launcher.log").open("wb")
    launcher = subprocess.Popen(  # noqa: S603, ASYNC220  (our own launcher, started once)
        [sys.executable, "-m", "otd_launcher"],
        env=_cluster_env(database, brokers[0], var_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (var_dir / "cluster.json").exists():
            assert launcher.poll() is None, (var_dir / "launcher.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "chaos cluster did not start"
            await asyncio.sleep(0.3)
        info = json.loads((var_dir / "cluster.json").read_text())
        tokens = json.loads((var_dir / "dev-tokens.json").read_text())
        yield ChaosCluster(info["services"], tokens, var_dir, database, port, brokers, pg_server)
    finally:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
        log.close()
        for broker in brokers:
            broker.stop()


# ------------------------------------------------------------------ talking to the cluster


async def _json(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    try:
        response = await http.get(url, headers=headers)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


async def _until_answered(
    http: httpx.AsyncClient,
    journey: Journey,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: dict[str, Any],
    deadline: float,
) -> dict[str, Any] | None:
    """Send the same request (idempotent by its key or reference) until it gets a 200/201
    or the deadline passes; services die and come back meanwhile."""
    while time.monotonic() < deadline:
        try:
            response = await http.request(method, url, headers=headers, json=body)
        except httpx.HTTPError as exc:
            journey.errors.append(f"{url.rsplit('/', 2)[-1]}: {exc!r}")
        else:
            if response.status_code in (200, 201):
                answer: dict[str, Any] = response.json()
                return answer
            journey.errors.append(f"{url}: {response.status_code} {response.text[:200]}")
        await asyncio.sleep(RETRY_S)
    return None


async def _to_gateway(
    http: httpx.AsyncClient,
    cluster: ChaosCluster,
    journey: Journey,
    path: str,
    role: str,
    body: dict[str, Any],
    deadline: float,
    method: str = "POST",
) -> dict[str, Any] | None:
    """A request to the gateway as ``role``, sent again until answered (``_until_answered``)."""
    url = cluster.urls["payment-gateway"] + path
    headers = cluster.auth(role)
    return await _until_answered(
        http, journey, method, url, headers=headers, body=body, deadline=deadline
    )


async def _for_billing(
    http: httpx.AsyncClient,
    cluster: ChaosCluster,
    journey: Journey,
    path: str,
    role: str,
    deadline: float,
    **fields: str,
) -> dict[str, Any] | None:
    """The journey's billing and amount, with ``fields``, to the gateway (``_to_gateway``)."""
    body = {"billing_id": journey.billing_id, "amount_fen": journey.amount_fen, **fields}
    return await _to_gateway(http, cluster, journey, path, role, body, deadline)


async def _create_order(http: httpx.AsyncClient, cluster: ChaosCluster, journey: Journey) -> None:
    """One attempt: an order whose answer was lost is simply not acknowledged."""
    try:
        response = await http.post(
            cluster.urls["order-service"] + "/v1/orders",
            headers=cluster.auth("app-backend"),
            json={
                "customer_id": journey.customer_id,
                "vehicle_model": "OTD-S",
                "price_fen": journey.amount_fen * 10,
                "loan_fen": 0,
                "charging_pile": False,
            },
        )
    except httpx.HTTPError as exc:
        journey.errors.append(f"create: {exc!r}")
        return
    if response.status_code == 201:
        journey.order_id = str(response.json()["order_id"])


async def _intent_billings(
    http: httpx.AsyncClient, cluster: ChaosCluster, order_id: str
) -> list[dict[str, Any]]:
    url = cluster.urls["payment-gateway"] + f"/v1/orders/{order_id}/payable-billings"
    rows = await _json(http, url, cluster.auth("app-backend"))
    return [b for b in rows or [] if b["stage"] == "intent"]


async def _sandbox_pay(
    http: httpx.AsyncClient, cluster: ChaosCluster, journey: Journey, **extra: Any
) -> None:
    """The channel pays (and notifies, retrying on its schedule); the sandbox never dies."""
    assert journey.out_trade_no is not None
    if journey.abandoned:
        return
    action = await http.post(
        cluster.urls["channel-sandbox"] + "/sandbox/actions",
        json={
            "channel": journey.channel,
            "out_trade_no": journey.out_trade_no,
            "action": "pay",
            **extra,
        },
    )
    assert action.status_code == 202, action.text
    journey.paid_at_channel = True


# ------------------------------------------------------------------ paying, channel by channel


Payer = Callable[[httpx.AsyncClient, ChaosCluster, Journey, float], Awaitable[None]]


async def _pay_online(
    http: httpx.AsyncClient, cluster: ChaosCluster, journey: Journey, deadline: float
) -> None:
    """Start a payment (one Idempotency-Key while services die; a new one if the channel did
    not answer), then the app's customer pays at the channel."""
    body: dict[str, Any] = {
        "billing_id": journey.billing_id,
        "channel": journey.channel,
        "amount_fen": journey.amount_fen,
    }
    if ONLINE[journey.channel]:
        body["method"] = ONLINE[journey.channel]
    started = None
    while started is None and time.monotonic() < deadline:
        headers = {**cluster.auth("app-backend"), "Idempotency-Key": uuid.uuid4().hex}
        url = cluster.urls["payment-gateway"] + "/v1/payments"
        answer = await _until_answered(
            http, journey, "POST", url, headers=headers, body=body, deadline=deadline
        )
        if answer is not None and answer["status"] != "paying":  # e.g. unknown: start another
            journey.errors.append(f"payment: {answer['status']}")
            await asyncio.sleep(RETRY_S)
            continue
        started = answer
        if answer is None:
            return
    if started is None:
        return
    journey.out_trade_no = started["out_trade_no"]
    extra = (
        {"order_string": started["pay_params"]["order_string"]}
        if journey.channel == "alipay"
        else {}
    )
    await _sandbox_pay(http, cluster, journey, **extra)


async def _pay_pos(
    http: httpx.AsyncClient, cluster: ChaosCluster, journey: Journey, deadline: float
) -> None:
    """An order QR for the billing, the store terminal's fetch (the reservation), the swipe
    (the acquirer's signed notification)."""
    qr = await _for_billing(
        http, cluster, journey, "/v1/pos/order-qr", "app-backend", deadline, store_id=STORE
    )
    if qr is None:
        return
    fetch = {"terminal_id": TERMINALS[journey.channel], "channel": journey.channel}
    charge = await _to_gateway(
        http,
        cluster,
        journey,
        "/v1/pos/charges",
        "pos-integrator",
        {"token": qr["token"], **fetch},
        deadline,
    )
    if charge is None:
        return
    journey.out_trade_no = charge["out_trade_no"]
    await _sandbox_pay(http, cluster, journey, amount_fen=journey.amount_fen)


async def _pay_cash(
    http: httpx.AsyncClient, cluster: ChaosCluster, journey: Journey, deadline: float
) -> None:
    """The cashier records the receipt (retried with its number until answered)."""
    journey.paid_at_channel = True  # the customer handed the cash over
    receipt_no = f"R{journey.index:05d}{uuid.uuid4().hex[:6].upper()}"
    receipt = await _for_billing(
        http,
        cluster,
        journey,
        "/v1/cash-receipts",
        "cashier",
        deadline,
        receipt_no=receipt_no,
        store_id=STORE,
    )
    if receipt is not None and receipt["status"] == "succeeded":
        journey.out_trade_no = receipt["out_trade_no"]
        journey.acknowledged = True


async def _pay_wire(
    http: httpx.AsyncClient, cluster: ChaosCluster, journey: Journey, deadline: float
) -> None:
    """The bank link reports the transfer (retried with its reference until answered): it
    must be matched to the billing by the payer's last 4 and the exact amount."""
    journey.paid_at_channel = True  # the money left the customer's bank
    reference = f"CHAOS-{journey.index:05d}-{uuid.uuid4().hex[:8]}"
    transfer = {
        "bank_reference": reference,
        "payer_name": "Chaos Customer",
        "payer_account": journey.payer_account,
        "amount_fen": journey.amount_fen,
        "value_date": datetime.now(UTC).astimezone(SHANGHAI).date().isoformat(),
        "memo": "intent deposit",
    }
    intake = await _to_gateway(
        http, cluster, journey, "/v1/wires", "bank", {"transfers": [transfer]}, deadline
    )
    (result,) = intake["results"] if intake else [None]
    if result is None:
        return
    if result["status"] in ("matched", "duplicate") and result["billing_id"] == journey.billing_id:
        journey.out_trade_no = reference
        journey.acknowledged = True
    else:
        journey.errors.append(f"wire not matched: {result}")


PAYERS: dict[str, Payer] = {
    **dict.fromkeys(ONLINE, _pay_online),
    **dict.fromkeys(POS, _pay_pos),
    "cash": _pay_cash,
    "wire": _pay_wire,
}


async def _journey(http: httpx.AsyncClient, cluster: ChaosCluster, journey: Journey) -> None:
    deadline = time.monotonic() + CONVERGE_TIMEOUT_S
    if journey.channel == "wire":
        registered = await _to_gateway(
            http,
            cluster,
            journey,
            f"/v1/customers/{journey.customer_id}/payer-accounts",
            "app-backend",
            {"accounts": [journey.payer_account]},
            deadline,
            method="PUT",
        )
        if registered is None:
            return
    await _create_order(http, cluster, journey)
    if journey.order_id is None:
        return
    billing = None
    while billing is None and time.monotonic() < deadline:
        billings = await _intent_billings(http, cluster, journey.order_id)
        billing = billings[0] if billings else None
        await asyncio.sleep(RETRY_S)
    if billing is None:
        journey.errors.append("no payable intent billing")
        return
    journey.billing_id = billing["billing_id"]
    journey.amount_fen = billing["outstanding_fen"]
    await PAYERS[journey.channel](http, cluster, journey, deadline)


async def _open_store(http: httpx.AsyncClient, cluster: ChaosCluster) -> None:
    """The store of the load, with a UnionPay and an Allinpay terminal."""
    response = await http.put(
        cluster.urls["payment-gateway"] + f"/v1/pos/stores/{STORE}",
        headers=cluster.auth("sre"),
        json={"name": "Chaos store", "terminals": {t: c for c, t in TERMINALS.items()}},
    )
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------ faults


async def _wait_ready(http: httpx.AsyncClient, url: str) -> None:
    deadline = time.monotonic() + READY_AFTER_KILL_S
    while time.monotonic() < deadline:
        try:
            if (await http.get(url + "/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"{url} did not come back after the fault")


async def _crash_at(cluster: ChaosCluster, service: str, point: str) -> str | None:
    """Arm the crash point and wait until a consumer of ``service`` passed it (the group id
    that crashed), or None when none did within the timeout (then disarm it)."""
    arm(cluster.crash_dir, point, service)
    deadline = time.monotonic() + CRASH_FIRE_TIMEOUT_S
    while time.monotonic() < deadline:
        group = fired(cluster.crash_dir, point)
        if group:
            (cluster.crash_dir / f"{point}.fired").unlink()
            return group
        await asyncio.sleep(0.05)
    (cluster.crash_dir / point).unlink(missing_ok=True)
    return None


def _faults(rng: random.Random) -> list[str]:
    """Every fault once (the broker and PostgreSQL restarts as often as asked), shuffled."""
    faults = ["broker"] * BROKER_RESTARTS + ["postgres"] * PG_RESTARTS
    faults += list(KILLED) if KILLS else []
    faults += [f"crash:{service}:{point}" for service, point in CRASH_POINTS]
    rng.shuffle(faults)
    return faults


@dataclass
class FaultLog:
    last_at: float = 0.0
    crashes: list[str] = field(default_factory=list)
    """Crash points that fired, as ``point in group``."""
    missed: list[str] = field(default_factory=list)
    """Crash points that did not fire (no batch of that service within the timeout)."""
    timeline: list[str] = field(default_factory=list)
    """Each fault and when it struck, seconds after the load started."""


async def _inject(
    http: httpx.AsyncClient, cluster: ChaosCluster, fault: str, log: FaultLog, *, last: bool
) -> None:
    """Strike one fault; a service that dies is back (ready) before this returns, unless
    it is the last fault (the load then stops while it restarts)."""
    service = None
    if fault == "broker":
        cluster.restart_broker()
    elif fault == "postgres":
        cluster.restart_postgres()
    elif fault.startswith("crash:"):
        _, service, point = fault.split(":")
        group = await _crash_at(cluster, service, point)
        if group is None:
            log.missed.append(fault)
            service = None
        else:
            log.crashes.append(f"{point} in {group}")
    else:
        service = fault
        cluster.kill(service)
    log.last_at = time.monotonic()
    if service is not None and not last:
        await asyncio.sleep(1.0)  # the launcher notices within 0.3 s and starts it again
        await _wait_ready(http, cluster.urls[service])


async def _run_faults(
    http: httpx.AsyncClient, cluster: ChaosCluster, rng: random.Random, faults: list[str]
) -> FaultLog:
    """Strike the faults one after the other at random gaps while the load runs."""
    started = time.monotonic()
    log = FaultLog(last_at=started)
    for index, fault in enumerate(faults):
        await asyncio.sleep(rng.uniform(*FAULT_GAP_S))
        await _inject(http, cluster, fault, log, last=index == len(faults) - 1)
        log.timeline.append(f"{fault} +{log.last_at - started:.1f}s")
    return log


# ------------------------------------------------------------------ the oracle


@dataclass
class Views:
    """One payment as each service holds it: (rows, fen) at the gateway and in recon's
    projection, fen in billing and the ledger."""

    gateway: tuple[int, int]
    recon: tuple[int, int]
    billing_fen: int
    ledger_fen: int
    balanced: bool

    def fens(self) -> set[int]:
        return {self.gateway[1], self.recon[1], self.billing_fen, self.ledger_fen}

    def rows(self) -> set[int]:
        return {self.gateway[0], self.recon[0]}


@dataclass
class Verdict:
    """What the oracle found."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    unconfirmed: int = 0
    never_paid: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unacknowledged_applied: list[str] = field(default_factory=list)
    unbalanced: list[str] = field(default_factory=list)
    stuck_outbox: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.unacknowledged_applied
            or self.unbalanced
            or self.stuck_outbox
        )

    def judge(self, journey: Journey, acked: bool, views: Views) -> None:
        """Sort one payment (see the module)."""
        name = f"{journey.channel} {journey.order_id}"
        if not views.balanced:
            self.unbalanced.append(f"{name}: ledger lines do not balance")
        if views.billing_fen != views.ledger_fen:
            self.unbalanced.append(
                f"{name}: billing {views.billing_fen} != ledger {views.ledger_fen}"
            )
        if max(views.rows()) > 1 or max(views.fens()) > journey.amount_fen:
            self.duplicated.append(f"{name}: {views}")
            return
        if acked:
            self.acknowledged[journey.channel] = self.acknowledged.get(journey.channel, 0) + 1
            if views.fens() == {journey.amount_fen} and views.rows() == {1}:
                self.applied[journey.channel] = self.applied.get(journey.channel, 0) + 1
            else:
                self.lost.append(f"{name}: acknowledged {journey.amount_fen}, {views}")
        elif not journey.paid_at_channel:
            self.never_paid += 1
            if max(views.fens()) > 0:
                self.unacknowledged_applied.append(f"{name}: never paid, {views}")
        else:
            self.unconfirmed += 1
            if len(views.fens()) > 1:  # applied somewhere and not everywhere
                self.lost.append(f"{name}: paid, unacknowledged, {views}")


async def _acknowledged(http: httpx.AsyncClient, cluster: ChaosCluster, journey: Journey) -> bool:
    """The gateway answered success: to a notification of this payment (the sandbox saw
    it), or to the receipt / transfer."""
    if journey.acknowledged or journey.channel not in NOTIFIED:
        return journey.acknowledged
    if journey.out_trade_no is None or not journey.paid_at_channel:
        return False
    url = (
        cluster.urls["channel-sandbox"]
        + f"/sandbox/orders/{journey.channel}/{journey.out_trade_no}"
    )
    view = await _json(http, url, {})
    attempts = [a for d in (view or {}).get("notifications", []) for a in d.get("attempts", [])]
    journey.acknowledged = any(a.get("accepted") for a in attempts)
    return journey.acknowledged


async def _views(
    http: httpx.AsyncClient,
    cluster: ChaosCluster,
    journey: Journey,
    rows: dict[str, dict[str, tuple[int, int]]],
) -> Views | None:
    """The payment in the gateway and recon (``rows``: per view, billing id → (rows, fen)),
    billing and the ledger; None while billing does not know the order."""
    assert journey.order_id is not None
    fund, statement = await asyncio.gather(
        _json(
            http,
            cluster.urls["billing-service"] + f"/v1/orders/{journey.order_id}/fund-order",
            cluster.auth("app-backend"),
        ),
        _json(
            http,
            cluster.urls["ledger-service"] + f"/v1/orders/{journey.order_id}/statement",
            cluster.auth("finance"),
        ),
    )
    if fund is None:
        return None
    lines = (statement or {}).get("lines", [])
    return Views(
        gateway=rows["gateway"].get(str(journey.billing_id), (0, 0)),
        recon=rows["recon"].get(str(journey.billing_id), (0, 0)),
        billing_fen=sum(b["paid_fen"] for b in fund.get("billings", []) if b["stage"] == "intent"),
        ledger_fen=sum(
            line["credit_fen"] - line["debit_fen"]
            for line in lines
            if line["account"] == f"deposits:{journey.order_id}"
        ),
        balanced=sum(line["debit_fen"] for line in lines)
        == sum(line["credit_fen"] for line in lines),
    )


PAID_ROWS = {
    "gateway": "SELECT billing_id::text, count(*), sum(amount_fen) FROM payment.payments "
    "WHERE status = 'succeeded' GROUP BY billing_id",
    "recon": "SELECT billing_id, count(*), sum(amount_fen) FROM recon.internal_records "
    "WHERE kind = 'payment' AND status = 'succeeded' GROUP BY billing_id",
}


async def _paid_rows(db: Any) -> dict[str, dict[str, tuple[int, int]]]:
    """Succeeded payments per billing at the gateway and in recon's projection."""
    found: dict[str, dict[str, tuple[int, int]]] = {}
    for view, query in PAID_ROWS.items():
        found[view] = {row[0]: (int(row[1]), int(row[2])) for row in await db.fetch(query)}
    return found


async def _unsent_outbox_rows(db: Any) -> int:
    schemas = await db.fetch(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
    )
    total = 0
    for row in schemas:
        schema = row["table_schema"]
        total += await db.fetchval(
            f'SELECT count(*) FROM "{schema}".outbox WHERE published_at IS NULL'  # noqa: S608
        )
    return int(total)


async def _observe(
    http: httpx.AsyncClient,
    cluster: ChaosCluster,
    journey: Journey,
    rows: dict[str, dict[str, tuple[int, int]]],
) -> tuple[list[dict[str, Any]], Views | None, bool]:
    """The journey's payable intent billings, its payment's views and acknowledgment."""
    assert journey.order_id is not None
    billings, views, acked = await asyncio.gather(
        _intent_billings(http, cluster, journey.order_id),
        _views(http, cluster, journey, rows),
        _acknowledged(http, cluster, journey),
    )
    return billings, views, acked


async def _judge(
    http: httpx.AsyncClient, cluster: ChaosCluster, journeys: list[Journey]
) -> Verdict:
    verdict = Verdict()
    db = await asyncpg.connect(cluster.database_url)
    try:
        rows = await _paid_rows(db)
        verdict.stuck_outbox = await _unsent_outbox_rows(db)
    finally:
        await db.close()
    ordered = [j for j in journeys if j.order_id is not None]
    limit = asyncio.Semaphore(JUDGE_CONCURRENCY)

    async def observe(journey: Journey) -> tuple[list[dict[str, Any]], Views | None, bool]:
        async with limit:
            return await _observe(http, cluster, journey, rows)

    seen = await asyncio.gather(*(observe(j) for j in ordered))
    for journey, (billings, views, acked) in zip(ordered, seen, strict=True):
        if len(billings) > 1:
            verdict.duplicated.append(f"{journey.order_id}: {len(billings)} intent billings")
        if views is None:
            verdict.lost.append(f"{journey.order_id}: billing has no fund order")
        elif journey.billing_id is None and not billings:
            verdict.lost.append(f"{journey.order_id}: no payable intent billing")
        else:
            verdict.judge(journey, acked, views)
    return verdict


async def _trial_balanced(http: httpx.AsyncClient, cluster: ChaosCluster) -> bool:
    today = datetime.now(UTC).astimezone(SHANGHAI).date().isoformat()
    trial = await _json(
        http,
        cluster.urls["ledger-service"] + f"/v1/trial-balance?date={today}",
        cluster.auth("finance"),
    )
    return bool(trial) and trial["total_debit_fen"] == trial["total_credit_fen"]


async def _converge(
    http: httpx.AsyncClient, cluster: ChaosCluster, journeys: list[Journey]
) -> tuple[Verdict, bool]:
    """Judge until the oracle is satisfied or the timeout passes; the last verdict."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT_S
    while True:
        verdict = await _judge(http, cluster, journeys)
        balanced = await _trial_balanced(http, cluster)
        if (verdict.ok and balanced) or time.monotonic() > deadline:
            return verdict, balanced
        await asyncio.sleep(1.0)


def _report(
    journeys: list[Journey], verdict: Verdict, faults: FaultLog, converged_s: float, seed: int
) -> str:
    per_channel = ", ".join(
        f"{c} {verdict.applied.get(c, 0)}/{verdict.acknowledged.get(c, 0)}" for c in CHANNELS
    )
    return (
        f"chaos: sent {len(journeys)} orders, acknowledged "
        f"{sum(1 for j in journeys if j.order_id)} orders; payments acknowledged "
        f"{sum(verdict.acknowledged.values())}, applied {sum(verdict.applied.values())} "
        f"(applied/acknowledged: {per_channel}), paid but unacknowledged "
        f"{verdict.unconfirmed}, never paid {verdict.never_paid}; lost {len(verdict.lost)}, "
        f"duplicated {len(verdict.duplicated)}; faults {faults.timeline}; "
        f"crash points fired {faults.crashes}; "
        f"converged {converged_s:.1f}s after the last fault; seed {seed}"
    )


LOG_TAIL_LINES = 25


def _log_tails(var_dir: Path) -> str:
    """On failure: where the services' logs are kept, and the last warnings and errors our
    code logged in each (broker-loss repairs, consumer rewinds, relay failures; not the
    client library's own, which a broker restart floods)."""
    logs = var_dir / "logs"
    parts = [f"service logs kept in {logs}"]
    for path in sorted(logs.glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()
        notable = [
            line
            for line in lines
            if ('"WARNING"' in line or '"ERROR"' in line) and '"logger": "otd_' in line
        ]
        shown = min(LOG_TAIL_LINES, len(notable))
        parts.append(f"--- {path.name}: last {shown} of {len(notable)} warnings/errors")
        parts.extend(line[:400] for line in notable[-LOG_TAIL_LINES:])
    return "\n".join(parts)


def _next_journey(rng: random.Random, index: int) -> Journey:
    """The first ROUND_ROBIN journeys pay by each channel in turn, paid; then channels at
    random, one in ten of the notified ones never paid."""
    if index < ROUND_ROBIN:
        channel, abandoned = CHANNELS[index % len(CHANNELS)], False
    else:
        channel = rng.choice(CHANNELS)
        abandoned = channel in NOTIFIED and rng.random() < ABANDON_RATE
    amount_fen = rng.randrange(2_000_000, 4_000_000)
    return Journey(index=index, channel=channel, abandoned=abandoned, amount_fen=amount_fen)


async def test_acknowledged_money_survives_kills_and_restarts(
    chaos_cluster: ChaosCluster,
) -> None:
    cluster = chaos_cluster
    seed = int(os.environ.get("OTD_CHAOS_SEED", random.randrange(2**32)))
    load_rng, fault_rng = random.Random(seed), random.Random(seed + 1)
    faults = _faults(fault_rng)
    print(f"chaos seed {seed} (OTD_CHAOS_SEED={seed} replays it); faults {faults}")  # noqa: T201
    journeys: list[Journey] = []
    tasks: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(timeout=10.0) as http:
        await _open_store(http, cluster)
        striking = asyncio.create_task(_run_faults(http, cluster, fault_rng, faults))
        while len(journeys) < max(ORDERS, ROUND_ROBIN) or not striking.done():
            journeys.append(_next_journey(load_rng, len(journeys)))
            tasks.append(asyncio.create_task(_journey(http, cluster, journeys[-1])))
            await asyncio.sleep(load_rng.uniform(*ORDER_GAP_S))
        fault_log = await striking
        await asyncio.gather(*tasks)
        verdict, balanced = await _converge(http, cluster, journeys)
        converged_s = time.monotonic() - fault_log.last_at
    print(_report(journeys, verdict, fault_log, converged_s, seed))  # noqa: T201
    if not (verdict.ok and balanced):
        print(_log_tails(cluster.var_dir))  # noqa: T201
    assert any(j.order_id for j in journeys), "the load got no order acknowledged"
    assert set(verdict.acknowledged) == set(CHANNELS), f"seed {seed}: {verdict.acknowledged}"
    assert fault_log.missed == [], f"seed {seed}: crash points never reached {fault_log.missed}"
    assert verdict.lost == [], f"seed {seed}: lost {verdict.lost}"
    assert verdict.duplicated == [], f"seed {seed}: applied twice {verdict.duplicated}"
    assert verdict.unacknowledged_applied == [], f"seed {seed}: {verdict.unacknowledged_applied}"
    assert verdict.unbalanced == [], f"seed {seed}: {verdict.unbalanced}"
    assert verdict.stuck_outbox == 0, f"seed {seed}: {verdict.stuck_outbox} outbox rows unsent"
    assert balanced, f"seed {seed}: the trial balance does not balance"
    assert verdict.applied == verdict.acknowledged


def test_the_oracle_tells_applied_once_from_lost_doubled_and_unacknowledged() -> None:
    """The oracle's judgement alone (pure): each kind of wrong money is named."""
    once = Views(gateway=(1, 500), recon=(1, 500), billing_fen=500, ledger_fen=500, balanced=True)
    nothing = Views(gateway=(0, 0), recon=(0, 0), billing_fen=0, ledger_fen=0, balanced=True)
    paid = Journey(index=0, channel="unionpay", order_id="o", amount_fen=500, paid_at_channel=True)
    never = Journey(index=1, channel="wechatpay", order_id="p", amount_fen=500)

    def verdict(journey: Journey, acked: bool, views: Views) -> Verdict:
        judged = Verdict()
        judged.judge(journey, acked, views)
        return judged

    assert verdict(paid, True, once).applied == {"unionpay": 1}
    assert verdict(paid, True, once).ok
    no_recon_row = Views((1, 500), (0, 0), 500, 500, True)
    assert verdict(paid, True, no_recon_row).lost, "recon's projection is part of 'applied'"
    assert verdict(paid, True, nothing).lost
    assert verdict(paid, True, Views((2, 1000), (1, 500), 500, 500, True)).duplicated
    assert verdict(paid, True, Views((1, 500), (1, 500), 1000, 1000, True)).duplicated
    assert verdict(paid, True, Views((1, 500), (1, 500), 500, 0, True)).unbalanced
    assert verdict(never, False, nothing).ok
    assert verdict(never, False, once).unacknowledged_applied
    assert verdict(paid, False, once).ok, "paid, every answer lost: applied once is right"
    assert verdict(paid, False, nothing).ok, "...and so is nothing, everywhere"
    assert verdict(paid, False, no_recon_row).lost, "but not applied in some services only"
