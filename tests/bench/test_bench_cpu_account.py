"""The e2e bench's CPU account: processes named from their command line, CPU read from
/proc of a real busy process, CPU-ms per notification and above the idle rate."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.cpu_account import GENERATOR, CpuAccount, Row, label, table


def test_processes_are_named_by_service_and_role() -> None:
    py = sys.executable
    assert label([py, "-m", "billing_service", "api", "--with-workers"]) == (
        "billing-service api+relay+consumers"
    )
    assert label([py, "-m", "billing_service", "consumer"]) == "billing-service consumer"
    assert label([py, "-m", "payment_gateway", "api", "--reuse-port"]) == "payment-gateway api"
    assert label([py, "-m", "otd_launcher"]) == "launcher"
    assert label(["/opt/bin/tansu", "broker", "--listener-url", "x"]) == "broker (tansu)"


def test_the_cpu_of_a_busy_process_is_counted() -> None:
    """The child burns 0.6 s of CPU between two handshakes, so however loaded the machine
    (and however long that takes in wall time) the account sees about that much."""
    busy = subprocess.Popen(  # noqa: S603  (this interpreter, a fixed snippet)
        [
            sys.executable,
            "-c",
            "import sys, time\nprint('ready', flush=True)\nsys.stdin.readline()\n"
            "end = time.process_time() + 0.6\n"
            "while time.process_time() < end: pass\nprint('done', flush=True)\ntime.sleep(60)",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert busy.stdin is not None
    assert busy.stdout is not None
    try:
        assert busy.stdout.readline().strip() == "ready"
        account = CpuAccount.start([busy.pid], [])
        busy.stdin.write("go\n")
        busy.stdin.flush()
        assert busy.stdout.readline().strip() == "done"
        rows = {r.pid: r for r in account.stop()}
    finally:
        busy.kill()
        busy.communicate()  # waits and closes its pipes
    assert rows[busy.pid].cpu_s >= 0.5
    assert rows[busy.pid].cpu_s < 1.0
    assert GENERATOR in {r.label for r in rows.values()}


def test_the_table_divides_by_applied_and_subtracts_the_idle_rate() -> None:
    rows = [Row("billing", 1, 2.0), Row("billing", 2, 1.0), Row("broker (tansu)", 3, 0.5)]
    lines = table(rows, applied=1000, wall_s=10.0, idle_rates={"billing": 0.1})
    billing = next(line for line in lines if "billing (x2)" in line).split()
    assert billing[-3:] == ["3.000", "2.000", "30.0"]  # 3 CPU-s; 1 s of it idle; 30 % core
    total = lines[-1].split()
    assert total == ["total", "3.500", "2.500", "35.0"]
