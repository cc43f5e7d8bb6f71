"""Clients of a running Triton: single inferences and bounded closed-loop load."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping


def infer_http(url: str, model: str, value: float = 1.5, headers: Mapping[str, str] | None = None) -> float:
    import numpy as np
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url.removeprefix("http://"), network_timeout=30, connection_timeout=10)
    try:
        tensor = httpclient.InferInput("INPUT0", [1], "FP32")
        tensor.set_data_from_numpy(np.array([value], dtype=np.float32))
        result = client.infer(model, [tensor], headers=dict(headers or {}))
        return float(result.as_numpy("OUTPUT0")[0])
    finally:
        client.close()


def infer_grpc(url: str, model: str, value: float = 1.5) -> float:
    import numpy as np
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)
    try:
        tensor = grpcclient.InferInput("INPUT0", [1], "FP32")
        tensor.set_data_from_numpy(np.array([value], dtype=np.float32))
        result = client.infer(model, [tensor], client_timeout=30)
        return float(result.as_numpy("OUTPUT0")[0])
    finally:
        client.close()


class Load:
    """``concurrency`` closed-loop clients (gRPC) sending requests until stopped.

    Bounded twice: each client stops after ``max_requests_per_client`` requests and every client stops
    at ``deadline_seconds`` after start, whichever comes first.
    """

    def __init__(
        self,
        grpc_url: str,
        model: str,
        concurrency: int,
        deadline_seconds: float,
        max_requests_per_client: int = 10_000,
    ) -> None:
        self.grpc_url, self.model = grpc_url, model
        self.concurrency = concurrency
        self.deadline = time.monotonic() + deadline_seconds
        self.max_requests = max_requests_per_client
        self._stop = threading.Event()
        self.completed = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(concurrency)]
        for thread in self._threads:
            thread.start()

    def _client(self) -> None:
        import numpy as np
        import tritonclient.grpc as grpcclient

        client = grpcclient.InferenceServerClient(self.grpc_url)
        tensor = grpcclient.InferInput("INPUT0", [1], "FP32")
        tensor.set_data_from_numpy(np.array([1.0], dtype=np.float32))
        try:
            for _ in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() >= self.deadline:
                    break
                try:
                    client.infer(self.model, [tensor], client_timeout=30)
                    with self._lock:
                        self.completed += 1
                except Exception as error:  # noqa: BLE001 - recorded; the test decides
                    with self._lock:
                        self.errors.append(str(error))
                    if len(self.errors) > 20:
                        break
        finally:
            client.close()

    def stop(self, timeout: float = 35) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
