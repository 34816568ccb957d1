"""The worker processes of a local batch run, each with a pipe of its own each way.

Why not `concurrent.futures.ProcessPoolExecutor`: its workers share one result pipe, and a
worker killed while it writes a large result leaves half a message in it. The executor's
manager thread then waits for the rest for ever, never sees the worker die, and the run
hangs (seen on CPython 3.12 with SIGKILL). With a pipe per worker, no other process holds
the writing end of a worker's result pipe, so its death reads as the end of the pipe, and
its process sentinel wakes the wait at once.

A worker gets its next chunk only once it has sent the result of the last one, so the
parent never blocks writing to a worker that is itself blocked writing to the parent.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import TypeVar

from service.batch_eval import Evaluator, Job, Outcome

T = TypeVar("T")  # what comes with each chunk, and goes back with its outcomes

PR_SET_PDEATHSIG = 1


class WorkerDied(Exception):
    """A worker process ended while the run still needed it; `how` says how."""

    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


def _serve(
    job: Job, parent: int, tasks: Connection, results: Connection, inherited: list[Connection]
) -> None:
    """A worker's life: compile the rules once, then evaluate chunks until told to stop."""
    for connection in inherited:  # the other workers' pipe ends, copied by fork
        connection.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:  # die with the parent, even by SIGKILL: an orphan would wait on its pipe for ever
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)
    evaluate = Evaluator(job)
    while True:
        try:
            chunk = tasks.recv()
        except EOFError:
            return
        if chunk is None:
            return
        outcomes: tuple[str, list[Outcome] | Exception]
        try:
            outcomes = ("ok", evaluate(chunk))
        except Exception as error:  # sent back, raised again in the parent
            outcomes = ("error", error)
        results.send(outcomes)


class _Worker:
    def __init__(self, process, tasks: Connection, results: Connection):
        self.process = process
        self.tasks = tasks
        self.results = results


class Workers:
    """`jobs` forked worker processes; `map` evaluates chunks over them, in input order."""

    def __init__(self, jobs: int, job: Job):
        context = multiprocessing.get_context("fork")
        self.workers: list[_Worker] = []
        try:
            for _ in range(jobs):
                tasks_out, tasks_in = context.Pipe(duplex=False)
                results_out, results_in = context.Pipe(duplex=False)
                inherited = [end for w in self.workers for end in (w.tasks, w.results)]
                process = context.Process(
                    target=_serve,
                    daemon=True,
                    name="dispute-guide batch worker",
                    args=(job, os.getpid(), tasks_out, results_in, inherited),
                )
                process.start()
                tasks_out.close()  # the worker's ends: its death closes the pipes
                results_in.close()
                self.workers.append(_Worker(process, tasks_in, results_out))
        except BaseException:
            self.close(finished=False)
            raise

    def map(self, chunks: Iterable[tuple[list, T]]) -> Iterator[tuple[list[Outcome], T]]:
        """Each chunk's outcomes with the tag that came with it, in input order; at most one
        chunk per worker is in flight, and at most that many results wait to be taken."""
        chunks = iter(chunks)
        idle = list(reversed(self.workers))
        busy: dict[_Worker, tuple[int, T]] = {}
        done: dict[int, tuple[list[Outcome], T]] = {}
        sent = taken = 0
        exhausted = False
        while True:
            while idle and not exhausted:
                item = next(chunks, None)
                if item is None:
                    exhausted = True
                    break
                worker = idle.pop()
                self._send(worker, item[0])
                busy[worker] = (sent, item[1])
                sent += 1
            while taken in done:
                yield done.pop(taken)
                taken += 1
            if not busy:
                return
            for worker in self._ready(busy):
                number, tag = busy.pop(worker)
                done[number] = (self._receive(worker), tag)
                idle.append(worker)

    def _send(self, worker: _Worker, chunk: list) -> None:
        try:
            worker.tasks.send(chunk)
        except OSError:  # a broken pipe: the worker is gone
            raise WorkerDied(self._how(worker)) from None

    def _receive(self, worker: _Worker) -> list[Outcome]:
        try:
            status, value = worker.results.recv()
        except (EOFError, OSError):
            raise WorkerDied(self._how(worker)) from None
        if status == "error":
            raise value
        return value

    def _ready(self, busy: Iterable[_Worker]) -> list[_Worker]:
        """The busy workers with a result to read; a worker that ended fails the run, busy
        or idle."""
        by_connection = {worker.results: worker for worker in busy}
        sentinels = {worker.process.sentinel: worker for worker in self.workers}
        ready = wait([*by_connection, *sentinels])
        for item in ready:
            if item in sentinels and sentinels[item] not in busy:
                raise WorkerDied(self._how(sentinels[item]))
        return [by_connection[item] for item in ready if item in by_connection]

    @staticmethod
    def _how(worker: _Worker) -> str:
        """`killed by signal 9 (SIGKILL)`, as far as the process tells."""
        worker.process.join(5)
        code = worker.process.exitcode
        if code is not None and code < 0:
            return f"killed by signal {-code} ({signal.Signals(-code).name})"
        if code is not None and code > 0:
            return f"exit status {code}"
        return "killed by a signal, as by the out-of-memory killer"

    def close(self, finished: bool = True) -> None:
        """Stop every worker and reap it. After a finished run the workers are idle and told
        to stop; after a failed one, or if one does not stop within seconds, it is killed."""
        for worker in self.workers:
            if not finished:
                worker.process.kill()
                continue
            try:
                worker.tasks.send(None)
            except OSError:  # it is gone already
                pass
        for worker in self.workers:
            worker.process.join(5 if finished else None)
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()
            worker.tasks.close()
            worker.results.close()
