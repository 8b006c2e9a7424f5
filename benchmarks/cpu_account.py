"""CPU account of a load phase: CPU-ms per applied notification for every process.

Wall-clock rates on a shared machine say little; the CPU time each process spends per
applied notification holds under load. A ``CpuAccount`` snapshots utime + stime from
``/proc/<pid>/stat`` of the cluster's process tree (services, broker, console, sandbox),
the PostgreSQL backends serving the cluster's database and this process (the load
generator with the broker observer) before and after a phase; ``table`` lists each
process's CPU-ms per notification and the total, the budget the whole chain must fit
(2 cores / 500 notifications/s = 4 ms). "Above idle" subtracts what each process burns
on an idle cluster over the same time (polls, long-poll fetches, relays' safety polls):
on a starved machine the phase lasts long and that fixed cost swamps the per-event work.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
GENERATOR = "load generator (bench process + observer)"
POSTGRES = "postgres backends of the cluster's database"

_MODULE_SERVICES = {
    "order_service": "order-service",
    "billing_service": "billing-service",
    "payment_gateway": "payment-gateway",
    "ledger_service": "ledger-service",
    "recon_service": "recon-service",
    "channel_sandbox": "channel-sandbox",
    "finance_console": "finance-console",
    "otd_launcher": "launcher",
}


def label(cmdline: Sequence[str]) -> str:
    """What a process of the cluster is, from its command line.

    ``python -m billing_service api --with-workers`` → ``billing-service api+relay+consumers``;
    ``… consumer`` → ``billing-service consumer``; ``… api --reuse-port`` →
    ``payment-gateway api``; the Tansu binary → ``broker (tansu)``."""
    if "-m" in cmdline:
        at = list(cmdline).index("-m")
        module = cmdline[at + 1] if at + 1 < len(cmdline) else ""
        service = _MODULE_SERVICES.get(module, module)
        rest = list(cmdline[at + 2 :])
        if not rest:
            return service
        role = rest[0]
        if role == "api" and "--with-workers" in rest:
            role = "api+relay+consumers"
        return f"{service} {role}"
    name = Path(cmdline[0]).name if cmdline else "?"
    return "broker (tansu)" if "tansu" in name else name


def _ticks(pid: int) -> int | None:
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    return None


def process_ticks(pid: int) -> int:
    """utime + stime of a process in clock ticks (``CLK_TCK`` per second; 0 once it is gone)."""
    return _ticks(pid) or 0


def _cmdline(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    return []


@dataclass(frozen=True)
class Row:
    """One process's CPU over the phase."""

    label: str
    pid: int
    cpu_s: float


@dataclass
class CpuAccount:
    """Before/after CPU ticks of a set of processes, each with its label."""

    labels: dict[int, str]
    before: dict[int, int]

    @classmethod
    def start(cls, cluster_pids: Iterable[int], postgres_pids: Iterable[int]) -> CpuAccount:
        """Snapshot now: the cluster's processes, the PostgreSQL backends, this process."""
        labels = {pid: label(_cmdline(pid)) for pid in cluster_pids}
        labels.update(dict.fromkeys(postgres_pids, POSTGRES))
        labels[os.getpid()] = GENERATOR
        before = {pid: t for pid in labels if (t := _ticks(pid)) is not None}
        return cls(labels, before)

    def stop(self, new_postgres_pids: Iterable[int] = ()) -> list[Row]:
        """CPU of every process since ``start``. A backend that started during the phase
        counts whole (all its CPU is within the phase)."""
        for pid in new_postgres_pids:
            if pid not in self.labels:
                self.labels[pid] = POSTGRES
                self.before[pid] = 0
        rows = []
        for pid, was in self.before.items():
            now = _ticks(pid)
            if now is not None:
                rows.append(Row(self.labels[pid], pid, (now - was) / CLK_TCK))
        return rows


def by_label(rows: Iterable[Row]) -> dict[str, tuple[int, float]]:
    """(process count, CPU seconds) per label, largest first."""
    sums: dict[str, tuple[int, float]] = {}
    for row in rows:
        count, cpu = sums.get(row.label, (0, 0.0))
        sums[row.label] = (count + 1, cpu + row.cpu_s)
    return dict(sorted(sums.items(), key=lambda item: -item[1][1]))


def table(
    rows: Iterable[Row], applied: int, wall_s: float, idle_rates: Mapping[str, float]
) -> list[str]:
    """Lines: per label, CPU-ms per applied notification, the same above the label's idle
    rate (``idle_rates``: CPU-s per s measured on the idle cluster), % of one core; then
    the total."""
    sums = by_label(rows)
    per = max(applied, 1)
    head = f"    {'process (count)':50} {'ms/notif':>9} {'above idle':>10} {'% core':>7}"
    lines = [head]
    total = marginal_total = 0.0
    for name, (count, cpu) in sums.items():
        marginal = cpu - idle_rates.get(name, 0.0) * wall_s
        total, marginal_total = total + cpu, marginal_total + marginal
        lines.append(_line(f"{name} (x{count})", cpu, marginal, per, wall_s))
    lines.append(_line("total", total, marginal_total, per, wall_s))
    return lines


def _line(name: str, cpu_s: float, marginal_s: float, per: int, wall_s: float) -> str:
    ms, above = cpu_s * 1000 / per, marginal_s * 1000 / per
    return f"    {name:50} {ms:9.3f} {above:10.3f} {_pct(cpu_s, wall_s):7.1f}"


def _pct(cpu_s: float, wall_s: float) -> float:
    return 100.0 * cpu_s / wall_s if wall_s > 0 else float("nan")
