"""``otd`` against the running cluster, as a script would call it: exit codes and --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster
from recon_service.testing.statement_files import Txn, wechat_bill

pytestmark = pytest.mark.e2e


def otd(cluster: RunningCluster | None, *args: str, var_dir: Path | None = None) -> tuple[int, Any]:
    env = dict(os.environ)
    if cluster is not None:
        env["OTD_CLUSTER_FILE"] = str(cluster.var_dir / "cluster.json")
        env["AUTH_TOKENS_FILE"] = str(cluster.var_dir / "dev-tokens.json")
        env["OTD_VAR_DIR"] = str(cluster.var_dir)
        for key in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PREFIX"):
            env.pop(key, None)  # the cluster file says where they are
    if var_dir is not None:
        env["OTD_VAR_DIR"] = str(var_dir)
        env["OTD_CLUSTER_FILE"] = str(var_dir / "cluster.json")
    done = subprocess.run(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "otd_cli", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, json.loads(lines[-1]) if lines else done.stderr


def test_status_lists_every_service_ready(running_cluster: RunningCluster) -> None:
    code, body = otd(running_cluster, "status")
    assert code == 0, body
    assert {s["service"] for s in body["services"]} == set(running_cluster.urls)
    assert all(s["status"] == "ready" for s in body["services"])


def test_an_unreachable_cluster_exits_3(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text(
        json.dumps({"services": {"order-service": "http://127.0.0.1:9"}})
    )
    code, body = otd(None, "status", var_dir=tmp_path)
    assert code == 3
    assert body["services"][0]["status"] == "unreachable"
    code, _ = otd(None, "status", var_dir=tmp_path / "nothing-here")
    assert code == 3


def _bill(day: date, lines: int) -> bytes:
    at = datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)
    tag = uuid.uuid4().hex[:6].upper()
    return wechat_bill(
        [
            Txn(
                out_trade_no=f"CLI{tag}{n:08d}",
                channel_txn_id=f"4200{tag}{n:018d}",
                amount_fen=5_000 + n,
                at=at + timedelta(seconds=n),
                fee_fen=30,
            )
            for n in range(lines)
        ]
    )


def test_upload_then_recon_run_and_the_exit_codes(
    running_cluster: RunningCluster, tmp_path: Path
) -> None:
    day = date(2026, 4, 7)
    bill = tmp_path / "bill.csv"
    bill.write_bytes(_bill(day, 50))
    code, loaded = otd(running_cluster, "statements", "upload", "wechatpay", str(bill))
    assert code == 0, loaded
    assert loaded["lines"] == 50
    assert loaded["statement_date"] == day.isoformat()

    code, runs = otd(
        running_cluster,
        "recon",
        "run",
        "--date",
        day.isoformat(),
        "--source",
        "wechatpay",
        "--source",
        "alipay",
    )
    assert code == 1  # alipay has no statement
    by_source = {r["source"]: r for r in runs["runs"]}
    assert by_source["wechatpay"]["status"] == "reconciled"
    assert by_source["wechatpay"]["counts"]["channel_only"] == 50
    assert by_source["alipay"]["status"] == "statement_missing"
    metrics = httpx.get(running_cluster.urls["recon-service"] + "/metrics", timeout=10).text
    assert 'recon_run_duration_seconds_count{source="wechatpay"}' in metrics

    code, again = otd(
        running_cluster, "recon", "run", "--date", day.isoformat(), "--source", "wechatpay"
    )
    assert code == 0
    assert again["runs"][0]["counts"] == by_source["wechatpay"]["counts"]

    code, _ = otd(running_cluster, "recon", "run", "--date", day.isoformat(), "--source", "paypal")
    assert code == 2


def test_a_broken_statement_exits_1_with_the_line(
    running_cluster: RunningCluster, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"not,a,bill\r\n1,2\r\n")
    code, body = otd(running_cluster, "statements", "upload", "wechatpay", str(broken))
    assert code == 1
    assert body["body"]["code"].startswith("statement_")


def test_dead_letters_outbox_and_sap(running_cluster: RunningCluster) -> None:
    code, letters = otd(running_cluster, "dead-letters", "list")
    assert code == 0
    assert letters["total"] == len(letters["items"])
    code, backlog = otd(running_cluster, "outbox")
    assert code == 0
    assert {r["service"] for r in backlog["services"]} == {
        "order-service",
        "billing-service",
        "payment-gateway",
        "ledger-service",
        "recon-service",
    }
    assert all(isinstance(r["backlog"], int) for r in backlog["services"])
    billing = httpx.get(running_cluster.urls["billing-service"] + "/metrics", timeout=10).text
    lag = [line for line in billing.splitlines() if line.startswith("consumer_group_lag{")]
    assert any("billing-service.billing-order-events" in line for line in lag), billing[-2000:]
    assert "outbox_oldest_unpublished_age_seconds" in billing
    code, posted = otd(running_cluster, "sap", "post", "--date", "2026-04-07")
    assert code == 0
    assert posted["date"] == "2026-04-07"
    code, _ = otd(running_cluster, "sap", "post", "--date", "2026-02-30")
    assert code == 2


def test_dev_tokens_and_users_are_created_once(tmp_path: Path) -> None:
    code, tokens = otd(None, "dev", "tokens", var_dir=tmp_path)
    assert code == 0
    assert {"finance", "sre", "cashier"} <= set(tokens["roles"])
    first = (tmp_path / "dev-tokens.json").read_text()
    otd(None, "dev", "tokens", var_dir=tmp_path)
    assert (tmp_path / "dev-tokens.json").read_text() == first
    code, users = otd(None, "dev", "users", var_dir=tmp_path)
    assert code == 0
    assert set(users["users"]) == {"finance", "finance-approver", "cashier", "marketing"}


def test_replay_feeds_a_consumer_and_the_inbox_skips_what_it_applied(
    running_cluster: RunningCluster,
) -> None:
    order = httpx.post(
        running_cluster.urls["order-service"] + "/v1/orders",
        headers=running_cluster.auth("app-backend"),
        json={
            "customer_id": "cust-replay",
            "vehicle_model": "OTD-S",
            "price_fen": 10_000_000,
            "loan_fen": 0,
            "charging_pile": False,
        },
        timeout=10,
    )
    assert order.status_code == 201, order.text
    topic = running_cluster.topic_prefix + "otd.orders"
    code, body = otd(
        running_cluster,
        "replay",
        "billing-service",
        "billing-order-events",
        topic,
        "--from-offset",
        "0",
    )
    assert code == 0, body
    assert body["read"] >= 1
    assert all(p["next_offset"] == p["from_offset"] + p["read"] for p in body["partitions"])
    code, again = otd(
        running_cluster,
        "replay",
        "billing-service",
        "billing-order-events",
        topic,
        "--from-offset",
        "0",
    )
    assert code == 0
    # Every handled event the first replay read was applied by then: the inbox skips all of
    # them. Only events the cluster published since (its consumers may lag on a busy machine)
    # can still be new.
    assert again["applied"] <= again["read"] - body["read"]
    code, _ = otd(
        running_cluster,
        "replay",
        "billing-service",
        "no-such-consumer",
        topic,
        "--from-offset",
        "0",
    )
    assert code == 2
