"""The HTTP layer's cost: the same lookups through the proxy and directly with psycopg.

The proxy runs as its own process (uvicorn, one worker, its connection pool), as ``make
run`` runs it; the direct calls open one transaction per call with the role and claims set
first, as PostgREST and the proxy do. Both sides are driven by the same Python threads, so
the client's own cost is the same on both.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from bench import data
from customer_management.local import keys
from customer_management.local.rpc_session import call_customer_management
from customer_management.local.server import free_port


@dataclass(frozen=True)
class HttpRun:
    """Lookups by one path at one client count."""

    path: str
    clients: int
    calls: int
    calls_per_second: float
    p50_ms: float
    p99_ms: float


def drive(
    make_call: Callable[[], Callable[[int], Any]], clients: int, seconds: float, customers: int
) -> tuple[int, list[float]]:
    """Run ``clients`` threads, each calling its own caller with random customers."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        call = make_call()
        mine: list[float] = []
        n = seed
        while time.perf_counter() < stop_at:
            n = data.mix(n, seed) % customers
            started = time.perf_counter()
            call(n)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i + 1,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), sorted(latencies)


def _summary(path: str, clients: int, seconds: float, latencies: list[float]) -> HttpRun:
    calls = len(latencies)
    return HttpRun(
        path=path,
        clients=clients,
        calls=calls,
        calls_per_second=round(calls / seconds, 1),
        p50_ms=round(statistics.median(latencies) * 1000, 3),
        p99_ms=round(latencies[min(calls - 1, int(calls * 0.99))] * 1000, 3),
    )


def compare(
    url: str,
    customers: int,
    seconds: float,
    client_counts: tuple[int, ...],
    rounds: int = 3,
) -> list[HttpRun]:
    """Lookups through the proxy and directly, at each client count, in ``rounds``
    alternating rounds of ``seconds`` each."""
    port = free_port()
    authenticator = url.replace("postgresql://postgres@", "postgresql://authenticator@")
    proxy = subprocess.Popen(
        [
            sys.executable, "-m", "customer_management", "serve",
            "--db-url", authenticator, "--port", str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    headers = {
        "apikey": keys.anon_key(),
        "Authorization": f"Bearer {keys.service_role_key()}",
        "Content-Type": "application/json",
    }
    try:
        _wait_for(base)

        def through_proxy() -> Callable[[int], Any]:
            # The standard library's keep-alive connection: as little client work as the
            # direct side's psycopg call, so the difference is the proxy's.
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

            def post(n: int) -> None:
                body = json.dumps({"phone": data.phone(n), "source": "chatbot"})
                connection.request("POST", "/rest/v1/rpc/customer_management", body, headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"the proxy answered {response.status}")

            return post

        def direct() -> Callable[[int], Any]:
            conn = psycopg.connect(url, autocommit=True)
            return lambda n: call_customer_management(
                conn, {"phone": data.phone(n), "source": "chatbot"}
            )

        paths = (("direct psycopg", direct), ("proxy (HTTP)", through_proxy))
        runs = []
        for clients in client_counts:
            for _, caller in paths:
                drive(caller, clients, min(2.0, seconds), customers)  # warm up
            # Alternating rounds, pooled: a noisy moment of a shared machine lands on both
            # paths instead of on whichever ran then.
            pooled: dict[str, list[float]] = {path: [] for path, _ in paths}
            for _ in range(rounds):
                for path, caller in paths:
                    _, latencies = drive(caller, clients, seconds, customers)
                    pooled[path].extend(latencies)
            for path, _ in paths:
                runs.append(_summary(path, clients, seconds * rounds, sorted(pooled[path])))
        return runs
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)


def _wait_for(base: str, timeout: float = 30.0) -> None:
    """Wait until the proxy answers /health."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the proxy did not come up")
