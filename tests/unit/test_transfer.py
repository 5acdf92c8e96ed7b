"""transfer_all: every transfer once, FILES_AT_A_TIME at a time, results in order, failures stop it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from shared.contract.transfer import FILES_AT_A_TIME, transfer_all


class Tracker:
    """Counts the transfers running at once; the first FILES_AT_A_TIME wait for each other."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self.threads: set[str] = set()
        self.first_wave = threading.Barrier(FILES_AT_A_TIME, timeout=30)

    def transfer(self, number: int, fail: bool = False) -> Callable[[], str]:
        def run() -> str:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.started.append(number)
                self.threads.add(threading.current_thread().name)
            if number < FILES_AT_A_TIME:
                self.first_wave.wait()  # fails unless FILES_AT_A_TIME transfers run at once
            with self.lock:
                self.running -= 1
            if fail:
                raise OSError(f"transfer {number} failed")
            return f"result {number}"

        return run


def test_every_transfer_runs_once_files_at_a_time_and_results_keep_the_given_order() -> None:
    tracker = Tracker()
    keys = [f"file-{number:02d}" for number in range(25)]
    results = transfer_all((key, tracker.transfer(number)) for number, key in enumerate(keys))
    assert list(results) == keys
    assert list(results.values()) == [f"result {number}" for number in range(25)]
    assert sorted(tracker.started) == list(range(25))
    assert tracker.most == FILES_AT_A_TIME
    assert all(name.startswith("ion-transfer-") for name in tracker.threads)


def test_one_transfer_runs_on_the_calling_thread_and_none_is_fine() -> None:
    tracker = Tracker()
    assert transfer_all([]) == {}
    single = transfer_all([("only", lambda: threading.current_thread().name)])
    assert single == {"only": threading.current_thread().name}
    assert tracker.started == []


def test_after_a_failure_no_transfer_starts_and_the_failure_is_raised() -> None:
    started: list[int] = []
    failing_thread: list[threading.Thread] = []
    failed = threading.Event()
    first_wave = threading.Barrier(FILES_AT_A_TIME, timeout=30)

    def transfer(number: int) -> Callable[[], None]:
        def run() -> None:
            started.append(number)
            first_wave.wait()  # transfer 0 fails once the whole first wave is under way
            if number == 0:
                failing_thread.append(threading.current_thread())
                failed.set()
                raise OSError("transfer 0 failed")
            # The others of the first wave end only once the failing thread is gone, its failure noted.
            assert failed.wait(30)
            failing_thread[0].join(30)

        return run

    with pytest.raises(OSError, match="transfer 0 failed"):
        transfer_all((number, transfer(number)) for number in range(40))
    assert sorted(started) == list(range(FILES_AT_A_TIME))  # the first wave ended; no other started
