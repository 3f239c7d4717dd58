"""Patchbay past one process, on one machine: Redis, PgBouncer in front of PostgreSQL, three
`patchbay serve` replicas, HAProxy in front of them (docs/deploy.md).

    deploy/up [--lb-port 8080] [--replica-ports 8001,8002,8003] [--pgbouncer-port 6432]
              [--redis-port 6390 | --redis-url URL] [--database-url URL] [--workers N]
              [--pool-mode transaction|session] [--run-dir DIR]
    deploy/down [--run-dir DIR]
    python -m deploy.topology status | restart N [--kill] | rolling-restart  [--run-dir DIR]

Everything runs as the invoking user from the run directory (configuration, pid files, logs,
sockets); nothing needs root but installing Debian's `haproxy` and `pgbouncer`. Settings of
the replicas come from the caller's PATCHBAY_* variables, plus those the topology sets
(database through PgBouncer, Redis, shutdown times).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from deploy.processes import (
    accepts,
    http_status,
    program,
    read_pid,
    render,
    server_states,
    user_exists,
    wait_gone,
    wait_until,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PATCHBAY = str(Path(sys.executable).parent / "patchbay")
DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/patchbay_deploy"
# /readyz answers 503 this long after SIGTERM while the replica still serves: longer than
# HAProxy needs to mark it down (fall 2 x inter 500 ms, haproxy.cfg.in), with room for a
# loaded machine.
UNREADY_SECONDS = 2.0
DRAIN_SECONDS = 10


@dataclass
class Topology:
    run_dir: str
    lb_port: int
    replica_ports: list[int]
    pgbouncer_port: int
    database_url: str  # PostgreSQL itself: migrations and the seed go there directly
    pool_mode: str
    workers: int
    redis_url: str
    own_redis_port: int | None  # a redis-server of the topology's own, or None
    pool_size: int = 10

    @property
    def run(self) -> Path:
        return Path(self.run_dir)

    @property
    def pooled_url(self) -> str:
        """The replicas' database: the same one, through PgBouncer."""
        url = make_url(self.database_url).set(host="127.0.0.1", port=self.pgbouncer_port)
        return url.render_as_string(hide_password=False)

    def replica_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PATCHBAY_DATABASE_URL": self.pooled_url,
            "PATCHBAY_DATABASE_POOLER": "pgbouncer",
            "PATCHBAY_DATABASE_POOL_SIZE": str(self.pool_size),
            "PATCHBAY_REDIS_URL": self.redis_url,
            "PATCHBAY_SHUTDOWN_UNREADY_SECONDS": os.environ.get(
                "PATCHBAY_SHUTDOWN_UNREADY_SECONDS", str(UNREADY_SECONDS)
            ),
            "PATCHBAY_SHUTDOWN_DRAIN_SECONDS": os.environ.get(
                "PATCHBAY_SHUTDOWN_DRAIN_SECONDS", str(DRAIN_SECONDS)
            ),
        }

    def save(self) -> None:
        (self.run / "topology.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, run_dir: str) -> Topology:
        path = Path(run_dir) / "topology.json"
        if not path.is_file():
            raise SystemExit(f"no topology runs from {run_dir} (no topology.json)")
        return cls(**json.loads(path.read_text()))


# --- starting ---------------------------------------------------------------------------


def up(topology: Topology) -> None:
    """Starts everything; what was started is stopped again if a part fails."""
    topology.run.mkdir(parents=True, exist_ok=True)
    # PgBouncer refuses to run as root and switches to another user: it must reach its files.
    topology.run.chmod(0o777 if os.geteuid() == 0 else 0o755)
    topology.save()
    try:
        _start_all(topology)
    except BaseException:
        down(topology)
        raise
    print(f"patchbay topology up: http://127.0.0.1:{topology.lb_port}/graphql")
    for number, port in enumerate(topology.replica_ports, 1):
        print(f"  replica {number}: http://127.0.0.1:{port}  (log {replica_log(topology, number)})")
    print(f"  PgBouncer ({topology.pool_mode} pooling): 127.0.0.1:{topology.pgbouncer_port}")
    print(f"  Redis: {topology.redis_url}")
    print(f"  stop with: deploy/down --run-dir {topology.run}")


def _start_all(topology: Topology) -> None:
    if topology.own_redis_port is not None:
        start_redis(topology)
    start_pgbouncer(topology)
    prepare_database(topology)
    for number in range(1, len(topology.replica_ports) + 1):
        start_replica(topology, number)
    for number in range(1, len(topology.replica_ports) + 1):
        wait_ready(topology, number)
    start_haproxy(topology)
    wait_until(
        lambda: all(state == "UP" for state in replica_states(topology).values()),
        what="HAProxy did not see every replica up",
    )


def start_redis(topology: Topology) -> None:
    binary = program("redis-server")
    subprocess.run(
        [
            binary,
            "--port",
            str(topology.own_redis_port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--pidfile",
            str(topology.run / "redis.pid"),
            "--dir",
            str(topology.run),
            "--logfile",
            str(topology.run / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
            # Bounded; the least recently used keys with an expiry (persisted queries) go first.
            "--maxmemory",
            "256mb",
            "--maxmemory-policy",
            "volatile-lru",
        ],
        check=True,
    )
    wait_until(lambda: accepts(topology.own_redis_port or 0), what="Redis did not start")


def start_pgbouncer(topology: Topology) -> None:
    database = make_url(topology.database_url)
    render(
        HERE / "pgbouncer.ini.in",
        topology.run / "pgbouncer.ini",
        port=topology.pgbouncer_port,
        pool_mode=topology.pool_mode,
        postgres_host=database.host or "127.0.0.1",
        postgres_port=database.port or 5432,
        server_pool_size=(topology.pool_size + 2) * len(topology.replica_ports) * topology.workers,
        run_dir=topology.run,
    )
    user = database.username or "postgres"
    (topology.run / "pgbouncer-users.txt").write_text(f'"{user}" ""\n')
    command = [program("pgbouncer"), "-d", str(topology.run / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[2:2] = ["-u", "postgres" if user_exists("postgres") else "nobody"]
    subprocess.run(command, check=True, cwd=topology.run)
    wait_until(lambda: accepts(topology.pgbouncer_port), what="PgBouncer did not start")


def prepare_database(topology: Topology) -> None:
    """The database, created if missing, migrated and seeded, directly on PostgreSQL: schema
    changes are not the pooler's business."""
    asyncio.run(_create_database(make_url(topology.database_url)))
    env = {**os.environ, "PATCHBAY_DATABASE_URL": topology.database_url}
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([PATCHBAY, *command], check=True, env=env, stdout=subprocess.DEVNULL)


async def _create_database(url: URL) -> None:
    import asyncpg  # the driver Patchbay uses

    admin = url.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{url.database}"')
    finally:
        await conn.close()


def start_replica(topology: Topology, number: int) -> None:
    """`patchbay serve` in a session of its own, under a shell that records its exit status."""
    port = topology.replica_ports[number - 1]
    files = replica_files(topology, number)
    for stale in (files["pid"], files["exit"]):
        stale.unlink(missing_ok=True)
    script = (
        '"$0" serve --host 127.0.0.1 --port "$1" --workers "$2" & child=$!; '
        'echo "$child" > "$3"; wait "$child"; echo $? > "$4"'
    )
    with replica_log(topology, number).open("ab") as log:
        subprocess.Popen(
            [
                "/bin/sh",
                "-c",
                script,
                PATCHBAY,
                str(port),
                str(topology.workers),
                str(files["pid"]),
                str(files["exit"]),
            ],
            env=topology.replica_env(),
            cwd=topology.run,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until(
        lambda: files["pid"].is_file() and files["pid"].read_text().strip() != "",
        what=f"replica {number} did not start",
    )


def wait_ready(topology: Topology, number: int) -> None:
    port = topology.replica_ports[number - 1]
    exit_file = replica_files(topology, number)["exit"]

    def ready() -> bool:
        if exit_file.is_file():
            log = replica_log(topology, number).read_text(errors="replace")[-3000:]
            raise SystemExit(f"replica {number} exited before it was ready:\n{log}")
        return http_status(f"http://127.0.0.1:{port}/readyz") == 200

    wait_until(ready, what=f"replica {number} was not ready")


def start_haproxy(topology: Topology) -> None:
    servers = "\n".join(
        f"    server replica{number} 127.0.0.1:{port}"
        for number, port in enumerate(topology.replica_ports, 1)
    )
    config = topology.run / "haproxy.cfg"
    render(
        HERE / "haproxy.cfg.in",
        config,
        lb_port=topology.lb_port,
        servers=servers,
        run_dir=topology.run,
    )
    subprocess.run([program("haproxy"), "-c", "-q", "-f", str(config)], check=True)
    subprocess.run([program("haproxy"), "-D", "-f", str(config)], check=True, cwd=topology.run)
    wait_until(lambda: accepts(topology.lb_port), what="HAProxy did not start")


# --- restarting and stopping -------------------------------------------------------------


def restart(topology: Topology, number: int, *, kill: bool = False) -> int | None:
    """Stops replica `number` (SIGTERM, or SIGKILL), starts it again and waits until HAProxy
    sends it traffic. Returns the stopped process's exit status."""
    status = stop_replica(topology, number, kill=kill)
    start_replica(topology, number)
    wait_ready(topology, number)
    wait_until(
        lambda: replica_states(topology).get(f"replica{number}") == "UP",
        what=f"HAProxy did not see replica {number} up again",
    )
    return status


def rolling_restart(topology: Topology) -> list[int | None]:
    return [restart(topology, n) for n in range(1, len(topology.replica_ports) + 1)]


def stop_replica(topology: Topology, number: int, *, kill: bool = False) -> int | None:
    """The replica's exit status, as its shell recorded it (None if it was not running)."""
    signal_replica(topology, number, signal.SIGKILL if kill else signal.SIGTERM)
    return replica_exit(topology, number)


def signal_replica(topology: Topology, number: int, sent: signal.Signals) -> None:
    files = replica_files(topology, number)
    pid = read_pid(files["pid"])
    if pid is not None and not files["exit"].is_file():
        with suppress(ProcessLookupError):
            os.kill(pid, sent)


def replica_exit(topology: Topology, number: int) -> int | None:
    files = replica_files(topology, number)
    if read_pid(files["pid"]) is None:
        return None
    wait_until(
        files["exit"].is_file,
        what=f"replica {number} did not exit",
        timeout=UNREADY_SECONDS + DRAIN_SECONDS + 15,
    )
    return int(files["exit"].read_text().strip() or "-1")


def down(topology: Topology) -> dict[str, int | None]:
    numbers = range(1, len(topology.replica_ports) + 1)
    for number in numbers:  # all at once: each drains on its own
        signal_replica(topology, number, signal.SIGTERM)
    statuses = {f"replica{n}": replica_exit(topology, n) for n in numbers}
    for name, stop in (
        ("haproxy", signal.SIGUSR1),
        ("pgbouncer", signal.SIGINT),
        ("redis", signal.SIGTERM),
    ):
        # HAProxy's SIGUSR1 and PgBouncer's SIGINT: finish the open connections, then exit.
        pid = read_pid(topology.run / f"{name}.pid")
        if pid is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, stop)
            if not wait_gone(pid, timeout=10):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    for name, status in statuses.items():
        print(f"{name}: exit status {status}")
    return statuses


def status(topology: Topology) -> None:
    for name, state in replica_states(topology).items():
        print(f"{name}: {state}")


# --- files of the run directory --------------------------------------------------------


def replica_states(topology: Topology) -> dict[str, str]:
    return server_states(topology.run / "haproxy.sock", "replicas")


def replica_files(topology: Topology, number: int) -> dict[str, Path]:
    return {
        "pid": topology.run / f"replica{number}.pid",
        "exit": topology.run / f"replica{number}.exit",
    }


def replica_log(topology: Topology, number: int) -> Path:
    return topology.run / f"replica{number}.log"


# --- command line ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-dir", default=str(HERE / "run"))
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up")
    start.add_argument("--lb-port", type=int, default=8080)
    start.add_argument("--replica-ports", default="8001,8002,8003")
    start.add_argument("--pgbouncer-port", type=int, default=6432)
    start.add_argument("--redis-port", type=int, default=6390, help="own redis-server's port")
    start.add_argument("--redis-url", help="an existing Redis instead of an own redis-server")
    start.add_argument("--database-url", default=DEFAULT_DATABASE, help="PostgreSQL itself")
    start.add_argument("--pool-mode", choices=["transaction", "session"], default="transaction")
    start.add_argument("--workers", type=int, default=1, help="uvicorn workers per replica")
    start.add_argument("--pool-size", type=int, default=10, help="connections per worker")
    commands.add_parser("down")
    commands.add_parser("status")
    commands.add_parser("rolling-restart")
    again = commands.add_parser("restart")
    again.add_argument("number", type=int)
    again.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
    for name in ("up", "down", "status", "rolling-restart", "restart"):
        commands.choices[name].add_argument("--run-dir", default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "up":
        ports = [int(port) for port in args.replica_ports.split(",")]
        up(
            Topology(
                run_dir=str(Path(args.run_dir).resolve()),
                lb_port=args.lb_port,
                replica_ports=ports,
                pgbouncer_port=args.pgbouncer_port,
                database_url=args.database_url,
                pool_mode=args.pool_mode,
                workers=args.workers,
                redis_url=args.redis_url or f"redis://127.0.0.1:{args.redis_port}/0",
                own_redis_port=None if args.redis_url else args.redis_port,
                pool_size=args.pool_size,
            )
        )
        return 0
    topology = Topology.load(args.run_dir)
    if args.command == "down":
        statuses = down(topology)
        return 0 if all(s in (0, None) for s in statuses.values()) else 1
    if args.command == "status":
        status(topology)
    elif args.command == "restart":
        print(
            f"replica {args.number}: exit status {restart(topology, args.number, kill=args.kill)}"
        )
    else:
        for number, code in enumerate(rolling_restart(topology), 1):
            print(f"replica {number}: exit status {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
