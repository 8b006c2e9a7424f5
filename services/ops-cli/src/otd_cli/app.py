"""The ``otd`` commands. Each one prints a rich table for a person or JSON with ``--json``."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO, Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from otd_cli.client import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    SERVICES,
    TIMEOUT_S,
    CliFailure,
    Cluster,
    answer,
    load_cluster,
    metric_values,
    ready,
    var_dir,
)

RECON_SOURCES = ("wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire")
app = typer.Typer(help="OTD Pay operations.", no_args_is_help=True, add_completion=False)
recon = typer.Typer(help="Reconciliation runs and statement fetch.", no_args_is_help=True)
statements = typer.Typer(help="Statements.", no_args_is_help=True)
dead_letters = typer.Typer(help="Events parked by consumers.", no_args_is_help=True)
dev = typer.Typer(help="Dev tokens and console users under var/.", no_args_is_help=True)
sap = typer.Typer(help="SAP posting.", no_args_is_help=True)
for sub, name in (
    (recon, "recon"),
    (statements, "statements"),
    (dead_letters, "dead-letters"),
    (dev, "dev"),
    (sap, "sap"),
):
    app.add_typer(sub, name=name)
out = Console()
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def run(json_out: bool, work: Callable[[], Any], render: Callable[[Any], None]) -> None:
    """Do the work, print it, exit with its code (CliFailure → its code and message)."""
    try:
        data = work()
    except CliFailure as failure:
        if json_out:
            print(json.dumps({"error": failure.message, "body": failure.body}))  # noqa: T201
        else:
            err.print(f"[red]error:[/red] {failure.message}")
        raise typer.Exit(failure.exit_code) from None
    if json_out:
        print(json.dumps(data, default=str, ensure_ascii=False))  # noqa: T201
    else:
        render(data)
    code = data.get("exit_code", EXIT_OK) if isinstance(data, dict) else EXIT_OK
    raise typer.Exit(code)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A rich table."""
    shown = Table(title=title)
    for column in columns:
        shown.add_column(column)
    for row in rows:
        shown.add_row(*(str(v) for v in row))
    out.print(shown)


# --- status -----------------------------------------------------------------------------


@app.command()
def status(json_out: JsonOpt = False) -> None:
    """Each service's readiness; exit 3 when any is not ready."""

    def work() -> dict[str, Any]:
        cluster = load_cluster()
        verdicts = {name: ready(url) for name, url in cluster.urls.items()}
        bad = any(v != "ready" for v in verdicts.values())
        return {
            "services": [
                {"service": n, "url": cluster.urls[n], "status": v} for n, v in verdicts.items()
            ],
            "kafka": cluster.info.get("kafka_bootstrap_servers"),
            "exit_code": EXIT_UNREACHABLE if bad else EXIT_OK,
        }

    def render(data: dict[str, Any]) -> None:
        table(
            "OTD Pay",
            ["service", "url", "status"],
            [[s["service"], s["url"], _colour(s["status"])] for s in data["services"]],
        )

    run(json_out, work, render)


def _colour(state: str) -> str:
    return f"[green]{state}[/green]" if state == "ready" else f"[red]{state}[/red]"


# --- recon ------------------------------------------------------------------------------


@recon.command("run")
def recon_run(
    day: Annotated[str, typer.Option("--date", help="Business day YYYY-MM-DD.")],
    source: Annotated[list[str] | None, typer.Option(help="A source; repeat; default all.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run (or re-run: same result) reconciliation of a day for sources in the fixed order;
    exit 1 when any source could not be reconciled (e.g. no statement)."""
    chosen = _sources(source)

    def work() -> dict[str, Any]:
        cluster = load_cluster()
        _day(day)
        results = []
        for s in chosen:
            try:
                body = cluster.request(
                    "POST",
                    "recon-service",
                    "/v1/recon-runs",
                    "finance",
                    json={"source": s, "date": day},
                )
                results.append({"source": s, "status": "reconciled", **body})
            except CliFailure as failure:
                if failure.exit_code != EXIT_FAILED:
                    raise
                code = failure.body.get("code") if isinstance(failure.body, dict) else None
                results.append({"source": s, "status": code or "failed", "error": failure.message})
        failed = any(r["status"] != "reconciled" for r in results)
        return {"date": day, "runs": results, "exit_code": EXIT_FAILED if failed else EXIT_OK}

    def render(data: dict[str, Any]) -> None:
        rows = []
        for r in data["runs"]:
            counts = r.get("counts", {})
            rows.append(
                [
                    r["source"],
                    r["status"],
                    counts.get("matched", ""),
                    sum(v for k, v in counts.items() if k != "matched") if counts else "",
                    r.get("error", ""),
                ]
            )
        table(f"recon {data['date']}", ["source", "status", "matched", "other", "error"], rows)

    run(json_out, work, render)


@recon.command("fetch")
def recon_fetch(
    day: Annotated[str | None, typer.Option("--date", help="Default: yesterday.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Fetch the day's statements now and reconcile (recon-service's daily job, run here
    against the cluster's database); exit 1 when a source is not reconciled."""

    def work() -> dict[str, Any]:
        cluster = load_cluster()
        args = [sys.executable, "-m", "recon_service", "recon-daily"]
        if day:
            args += ["--date", _day(day).isoformat()]
        done = subprocess.run(  # noqa: S603  (our own interpreter and module)
            args, env=_service_env(cluster), capture_output=True, text=True, check=False
        )
        reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        if not reports and done.returncode != 0:
            raise CliFailure(f"recon-daily failed: {done.stderr.strip()[-500:]}")
        return {"reports": reports, "exit_code": EXIT_FAILED if done.returncode else EXIT_OK}

    def render(data: dict[str, Any]) -> None:
        table(
            "statement fetch and recon",
            ["source", "status", "detail"],
            [[r.get("source", ""), r.get("status", ""), _brief(r)] for r in data["reports"]],
        )

    run(json_out, work, render)


def _brief(report: dict[str, Any]) -> str:
    keep = {k: v for k, v in report.items() if k not in ("source", "status")}
    return json.dumps(keep, default=str)[:120]


def _service_env(cluster: Cluster) -> dict[str, str]:
    """The environment a service process would get from the launcher (local run)."""
    env = dict(os.environ)
    for key, name in (
        ("database_url", "DATABASE_URL"),
        ("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS"),
        ("kafka_topic_prefix", "KAFKA_TOPIC_PREFIX"),
        ("kafka_consumer_group_prefix", "KAFKA_CONSUMER_GROUP_PREFIX"),
    ):
        if cluster.info.get(key) is not None and name not in os.environ:
            env[name] = str(cluster.info[key])
    env.setdefault("AUTH_TOKENS_FILE", str(var_dir() / "dev-tokens.json"))
    env.setdefault("LOG_LEVEL", "WARNING")
    return env


def _sources(chosen: list[str] | None) -> list[str]:
    if not chosen:
        return list(RECON_SOURCES)
    unknown = [s for s in chosen if s not in RECON_SOURCES]
    if unknown:
        err.print(f"[red]unknown source {unknown[0]!r}[/red]; one of {', '.join(RECON_SOURCES)}")
        raise typer.Exit(EXIT_USAGE)
    return [s for s in RECON_SOURCES if s in chosen]


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliFailure(f"not a date (YYYY-MM-DD): {value!r}", EXIT_USAGE) from None


# --- statements -------------------------------------------------------------------------


class _Counted:
    """A file handle that advances a progress bar as httpx streams it."""

    def __init__(self, handle: IO[bytes], advance: Callable[[int], None]) -> None:
        self._handle = handle
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._advance(len(chunk))
        return chunk

    def fileno(self) -> int:
        return self._handle.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()


@statements.command("upload")
def upload(
    source: Annotated[str, typer.Argument(help="wechatpay, alipay, lakala, unionpay, …")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    day: Annotated[
        str | None, typer.Option("--date", help="Statement day if not in the file.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Upload a statement file with a progress bar; the parse result, or the error and line."""
    _sources([source])

    def work() -> dict[str, Any]:
        cluster = load_cluster()
        fields = {"source": source} | ({"statement_date": _day(day).isoformat()} if day else {})
        size = file.stat().st_size
        with (
            file.open("rb") as handle,
            Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=err,
                disable=json_out,
                transient=False,
            ) as progress,
        ):
            task = progress.add_task(f"upload {file.name}", total=size)
            counted = _Counted(handle, lambda n: progress.advance(task, n))
            try:
                with httpx.Client(timeout=TIMEOUT_S) as client:
                    response = client.post(
                        cluster.url("recon-service") + "/v1/statements",
                        headers=cluster.headers("finance"),
                        data=fields,
                        files={"file": (file.name, counted, "application/octet-stream")},  # type: ignore[dict-item]
                    )
            except httpx.HTTPError as exc:
                raise CliFailure(f"recon-service is unreachable: {exc}", EXIT_UNREACHABLE) from exc
        body = answer("recon-service", response)
        return dict(body)

    def render(s: dict[str, Any]) -> None:
        state = "loaded" if s.get("created") else "already loaded before"
        out.print(
            f"[green]{state}[/green]: {s['source']} {s['statement_date']}, {s['lines']} lines, "
            f"payments {s['payment_total_fen']} fen, refunds {s['refund_total_fen']} fen, "
            f"fees {s['fee_total_fen']} fen (statement {s['statement_id']})"
        )

    run(json_out, work, render)


# --- dead letters -----------------------------------------------------------------------


@dead_letters.command("list")
def dead_letters_list(
    service: Annotated[str | None, typer.Option(help="One service; default all.")] = None,
    include_resolved: Annotated[bool, typer.Option("--include-resolved")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Parked events of every service (or one), oldest first."""

    def work() -> dict[str, Any]:
        cluster = load_cluster()
        names = [service] if service else [s for s in SERVICES if s in cluster.urls]
        items = []
        for name in names:
            page = cluster.request(
                "GET",
                name,
                "/v1/ops/dead-letters",
                params={"include_resolved": str(include_resolved).lower(), "limit": 200},
            )
            items += [{"service": name, **i} for i in page["items"]]
        return {"items": items, "total": len(items)}

    def render(data: dict[str, Any]) -> None:
        table(
            f"dead letters ({data['total']})",
            ["service", "id", "consumer", "event", "order", "attempts", "parked", "error"],
            [
                [
                    i["service"],
                    i["id"],
                    i["consumer"],
                    i["event_type"],
                    i["order_id"],
                    i["attempts"],
                    str(i["parked_at"])[:19],
                    str(i["error"])[:60],
                ]
                for i in data["items"]
            ],
        )

    run(json_out, work, render)


@dead_letters.command("redrive")
def dead_letters_redrive(
    service: Annotated[str, typer.Argument()],
    dead_letter_id: Annotated[int, typer.Argument()],
    json_out: JsonOpt = False,
) -> None:
    """Apply one parked event through its consumer now; exit 1 when it fails again."""

    def work() -> dict[str, Any]:
        body = load_cluster().request(
            "POST", service, f"/v1/ops/dead-letters/{dead_letter_id}/redrive"
        )
        failed = body.get("result") == "failed"
        return {**body, "service": service, "exit_code": EXIT_FAILED if failed else EXIT_OK}

    def render(data: dict[str, Any]) -> None:
        out.print(
            f"dead letter {data['id']} of {data['service']}: {data['result']}"
            + (f" ({data['error']})" if data.get("error") else "")
        )

    run(json_out, work, render)


# --- outbox -----------------------------------------------------------------------------


@app.command()
def outbox(json_out: JsonOpt = False) -> None:
    """Outbox backlog (unpublished events) and the oldest one's age, per service."""

    def work() -> dict[str, Any]:
        cluster = load_cluster()
        rows = []
        for name in (s for s in SERVICES if s in cluster.urls):
            try:
                text = httpx.get(cluster.urls[name] + "/metrics", timeout=5.0).text
            except httpx.HTTPError as exc:
                raise CliFailure(f"{name} is unreachable: {exc}", EXIT_UNREACHABLE) from exc
            backlog = metric_values(text, "outbox_unpublished")
            age = metric_values(text, "outbox_oldest_unpublished_age_seconds")
            rows.append(
                {
                    "service": name,
                    "backlog": int(backlog[0][1]) if backlog else None,
                    "oldest_age_s": age[0][1] if age else None,
                }
            )
        return {"services": rows}

    def render(data: dict[str, Any]) -> None:
        table(
            "outbox",
            ["service", "unpublished", "oldest (s)"],
            [[r["service"], r["backlog"], r["oldest_age_s"]] for r in data["services"]],
        )

    run(json_out, work, render)


# --- replay -----------------------------------------------------------------------------


@app.command()
def replay(
    service: Annotated[str, typer.Argument(help="The service owning the consumer.")],
    consumer: Annotated[str, typer.Argument(help="The consumer's name in that service.")],
    topic: Annotated[str, typer.Argument(help="Full topic name (with the deployment prefix).")],
    from_offset: Annotated[int, typer.Option("--from-offset", min=0)],
    partition: Annotated[
        int | None, typer.Option(min=0, help="One partition; default every partition.")
    ] = None,
    max_records: Annotated[int, typer.Option(min=1, max=100_000)] = 10_000,
    json_out: JsonOpt = False,
) -> None:
    """Replay a topic partition from an offset into one consumer (the inbox skips what it
    already applied); runs here with the service's settings (DATABASE_URL, Kafka)."""

    def work() -> dict[str, Any]:
        if service not in SERVICES:
            raise CliFailure(
                f"unknown service {service!r}; one of {', '.join(SERVICES)}", EXIT_USAGE
            )
        env = _service_env(load_cluster())
        os.environ.update({k: v for k, v in env.items() if k not in os.environ})
        return asyncio.run(_replay(service, consumer, topic, partition, from_offset, max_records))

    def render(r: dict[str, Any]) -> None:
        table(
            f"{r['consumer']} ← {r['topic']} from offset {r['from_offset']}: "
            f"read {r['read']}, applied {r['applied']} new",
            ["partition", "read", "applied", "next offset"],
            [[p["partition"], p["read"], p["applied"], p["next_offset"]] for p in r["partitions"]],
        )

    run(json_out, work, render)


async def _replay(
    service: str,
    consumer: str,
    topic: str,
    partition: int | None,
    from_offset: int,
    max_records: int,
) -> dict[str, Any]:
    from otd_shared.replay import ReplayError, replay_all
    from otd_shared.replay import replay as replay_one

    entry = importlib.import_module(service.replace("-", "_") + ".bootstrap").ENTRY
    runtime = entry.build_runtime(entry.load_settings())
    try:
        if partition is None:
            results = await replay_all(runtime, consumer, topic, from_offset, max_records)
        else:
            results = [
                await replay_one(runtime, consumer, topic, partition, from_offset, max_records)
            ]
    except ReplayError as exc:
        raise CliFailure(str(exc), EXIT_USAGE) from exc
    finally:
        await runtime.engine.dispose()
    parts = [dict(vars(r)) for r in results]
    return {
        "consumer": consumer,
        "topic": topic,
        "from_offset": from_offset,
        "read": sum(p["read"] for p in parts),
        "applied": sum(p["applied"] for p in parts),
        "partitions": parts,
    }


# --- dev tokens and users ---------------------------------------------------------------


@dev.command("tokens")
def dev_tokens(json_out: JsonOpt = False) -> None:
    """Create the dev tokens missing from var/dev-tokens.json (one per role)."""

    def work() -> dict[str, Any]:
        from otd_launcher.devsecrets import ensure_dev_tokens

        path = var_dir() / "dev-tokens.json"
        return {"path": str(path), "roles": sorted(ensure_dev_tokens(path))}

    run(json_out, work, lambda d: out.print(f"{len(d['roles'])} roles in {d['path']}"))


@dev.command("users")
def dev_users(json_out: JsonOpt = False) -> None:
    """Create the console users missing from var/console-users.json (finance,
    finance-approver, cashier, marketing)."""

    def work() -> dict[str, Any]:
        from otd_launcher.devsecrets import ensure_console_users

        path = var_dir() / "console-users.json"
        users = ensure_console_users(path)
        return {"path": str(path), "users": {r: u["username"] for r, u in users.items()}}

    def render(d: dict[str, Any]) -> None:
        table(
            f"console users ({d['path']})",
            ["role", "username"],
            [[r, u] for r, u in d["users"].items()],
        )

    run(json_out, work, render)


# --- SAP --------------------------------------------------------------------------------


@sap.command("post")
def sap_post(
    day: Annotated[str, typer.Option("--date", help="Business day YYYY-MM-DD.")],
    json_out: JsonOpt = False,
) -> None:
    """Post a business day to SAP now (safe to repeat); exit 1 when a document is rejected."""

    def work() -> dict[str, Any]:
        body = load_cluster().request(
            "POST",
            "ledger-service",
            "/v1/sap/runs",
            "finance",
            json={"date": _day(day).isoformat()},
        )
        rejected = [d for d in body["documents"] if d["status"] == "rejected"]
        return {**body, "exit_code": EXIT_FAILED if rejected else EXIT_OK}

    def render(data: dict[str, Any]) -> None:
        table(
            f"SAP {data['date']}",
            ["reference", "status", "journals", "debit fen", "error"],
            [
                [
                    d["reference"],
                    d["status"],
                    d["journal_count"],
                    d["total_debit_fen"],
                    d.get("last_error") or "",
                ]
                for d in data["documents"]
            ],
        )

    run(json_out, work, render)


def main() -> None:
    """The ``otd`` entry point."""
    app(prog_name="otd")
