"""What the benchmarks share: machine facts, percentiles, the result table,
/proc readings of the daemon, a lean blocking NDJSON client, and the message
text generator (a Zipf-like Portuguese/English vocabulary).

Nothing here asserts a timing: figures are printed with PASS/MISS for the reader.
"""

from __future__ import annotations

import itertools
import math
import os
import platform
import random
import socket
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("ZING_BENCH_DIR") or ROOT / ".bench")

# Socket paths are limited to ~107 bytes; temp dirs for sockets go under here.
SOCK_TMP = Path(os.environ.get("TMPDIR", "/tmp"))


# -- machine ------------------------------------------------------------------
def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import uvloop
        uv = f"uvloop {uvloop.__version__}"
    except ImportError:
        uv = "no uvloop"
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1048576:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores ({cpu or platform.machine()}){mem}; Python {platform.python_version()}; "
            f"SQLite {sqlite3.sqlite_version}; {uv}; msgspec {msgspec.__version__}")


# -- statistics ---------------------------------------------------------------
def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def summary(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    return {"n": len(s), "p50": pct(s, 50), "p90": pct(s, 90), "p99": pct(s, 99), "max": s[-1] if s else float("nan"),
            "mean": sum(s) / len(s) if s else float("nan")}


def ms(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "n/a"
    v = seconds * 1000
    return f"{v:.3f} ms" if v < 10 else f"{v:.1f} ms"


def rate(x: float) -> str:
    return f"{x:,.0f}/s"


# -- the result table -----------------------------------------------------------
@dataclass
class Row:
    measure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


@dataclass
class Report:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, measure: str, value: str, baseline: str = "", ratio: float | None = None, target: str = "",
            ok: bool | None = None) -> None:
        self.rows.append(Row(measure, value, baseline, "" if ratio is None else f"{ratio:.2f}x", target,
                             "" if ok is None else ("PASS" if ok else "MISS")))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        head = Row("measure", "zing", "baseline", "ratio", "target", "")
        rows = [head, *self.rows]
        cols = ["measure", "value", "baseline", "ratio", "target", "verdict"]
        widths = {c: max(len(getattr(r, c)) for r in rows) for c in cols}
        lines = [f"== {self.title} ==", f"machine: {machine()}"]
        for i, r in enumerate(rows):
            lines.append("  ".join(getattr(r, c).ljust(widths[c]) for c in cols).rstrip())
            if i == 0:
                lines.append("  ".join("-" * widths[c] for c in cols).rstrip())
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def print(self) -> None:
        print("\n" + self.render(), flush=True)


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- /proc readings of another process -----------------------------------------------
def proc_mem(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB; (nan, nan) once the process is gone."""
    rss = hwm = float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, hwm


def thread_cpu(pid: int, labels: dict[int, str] | None = None) -> dict[str, float]:
    """CPU seconds (user+system) per thread of a process: labelled by thread id (the main
    thread's id is the pid), the rest summed as ``other``."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    labels = {pid: "main", **(labels or {})}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        name = labels.get(int(tid), "other")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(v - before.get(k, 0.0), 2) for k, v in after.items() if v - before.get(k, 0.0) > 0.005}


class MemSampler:
    """Samples a process's VmRSS every ``interval`` seconds in a thread; ``mark`` labels phases."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self.marks: list[tuple[str, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="mem-sampler")

    def start(self) -> MemSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, _ = proc_mem(self.pid)
            if rss == rss:
                self.samples.append((time.monotonic(), rss))
            self._stop.wait(self.interval)

    def mark(self, label: str) -> None:
        rss, hwm = proc_mem(self.pid)
        self.marks.append((label, rss, hwm))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max((r for _, r in self.samples), default=float("nan"))


# -- a lean blocking NDJSON JSON-RPC client --------------------------------------------
class LineClient:
    """One Unix-socket connection; ``roundtrip`` sends bytes and returns the next reply line.

    Deliberately lighter than zingd.rpc.client so the client's own cost weighs as little as
    possible against what is measured. Event notifications (if any) are skipped.
    """

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""
        self.ids = itertools.count(1)
        self.dec = msgspec.json.Decoder()
        self.enc = msgspec.json.Encoder()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def roundtrip(self, data: bytes) -> bytes:
        self.sock.sendall(data)
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk

    def request(self, method: str, params: dict[str, Any] | None = None) -> bytes:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self.ids), "method": method}
        if params is not None:
            msg["params"] = params
        return self.enc.encode(msg) + b"\n"

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        while True:
            reply = self.dec.decode(self.roundtrip(self.request(method, params)))
            if reply.get("method") == "event":
                continue
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply["result"]

    def timed(self, method: str, params: dict[str, Any] | None, n: int) -> tuple[list[float], bytes]:
        """n sequential calls; per-call round-trip seconds (send to complete reply line) and the last reply."""
        out = []
        frames = [self.request(method, params) for _ in range(n)]
        pc = time.perf_counter
        line = b""
        for frame in frames:
            t = pc()
            line = self.roundtrip(frame)
            out.append(pc() - t)
        return out, line


# -- customers and message text ------------------------------------------------------
def customer_number(k: int) -> str:
    """A Brazilian mobile number per customer index (13 digits)."""
    return f"55{11 + k % 89:02d}9{k:08d}"


# The head of the vocabulary, most common first: what customers and agents of a
# Brazilian/international helpdesk write. The tail is made of pseudo-words.
HEAD = """
pedido entrega obrigado ajuda bom dia order help please boleto pagamento não você
status cancelar assinatura preciso quero hoje amanhã prazo produto compra compras
thanks hello hi oi olá tarde noite atendimento horário suporte problema erro app
site login senha conta cadastro email telefone endereço cep frete rastreio código
nota fiscal troca devolução reembolso estorno cartão crédito débito pix transferência
desconto cupom promoção plano anual mensal fatura cobrança valor preço taxa juros
payment failed refund cancel subscription delivery address shipping tracking invoice
account password reset update change support issue problem question answer urgent
chegou atrasado atraso ainda quando onde como porque quanto qual quem sim ok certo
tudo bem claro perfeito ótimo excelente ruim péssimo reclamação elogio sugestão
loja filial gerente vendedor atendente agente cliente consumidor empresa serviço
instalação técnico visita agendamento agenda marcar remarcar confirmar confirmado
aguardando aguardo retorno resposta mensagem whatsapp ligação chamada protocolo
número documento cpf cnpj rg comprovante foto imagem arquivo anexo print tela
internet rede wifi sinal velocidade lento caiu fora ar funcionando funciona parou
bateria celular notebook computador impressora tv geladeira fogão máquina lavar
tamanho cor modelo marca garantia defeito quebrado danificado faltando errado
""".split()

SYLLABLES = ("ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu ga ge gi go gu la le li lo lu "
             "ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu "
             "va ve vi vo vu za ze zi zo zu lha nha cha que gui tra pro bri cla").split()


class Vocabulary:
    """Zipf-Mandelbrot word frequencies, tuned so the top word is in ``top_df`` of messages."""

    def __init__(self, size: int = 20000, top_df: float = 0.05, min_words: int = 3, max_words: int = 14,
                 seed: int = 7) -> None:
        rng = random.Random(seed)
        words = list(dict.fromkeys(HEAD))
        seen = set(words)
        while len(words) < size:
            w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words = words
        self.min_words, self.max_words = min_words, max_words
        q = self._tune(top_df)
        weights = [1.0 / (r + q) for r in range(1, size + 1)]
        self.cum = list(itertools.accumulate(weights))
        self.p_top = weights[0] / self.cum[-1]
        self.offset = q

    def _top_df(self, q: float) -> float:
        total = sum(1.0 / (r + q) for r in range(1, len(self.words) + 1))
        p = (1.0 / (1 + q)) / total
        lengths = range(self.min_words, self.max_words + 1)
        return 1 - sum((1 - p) ** n for n in lengths) / len(lengths)

    def _tune(self, top_df: float) -> float:
        lo, hi = 0.0, 10000.0
        for _ in range(40):
            mid = (lo + hi) / 2
            if self._top_df(mid) > top_df:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    def body(self, rng: random.Random) -> str:
        n = rng.randint(self.min_words, self.max_words)
        return " ".join(rng.choices(self.words, cum_weights=self.cum, k=n))

    def rank_word(self, rank: int) -> str:
        """The word of a 1-based frequency rank."""
        return self.words[rank - 1]


_VOCAB: Vocabulary | None = None


def vocabulary() -> Vocabulary:
    global _VOCAB
    if _VOCAB is None:
        _VOCAB = Vocabulary()
    return _VOCAB


def bodies(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    v = vocabulary()
    return [v.body(rng) for _ in range(n)]


# -- the daemon's own SQL, run raw ---------------------------------------------------
class _CaptureDB:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    async def all(self, sql: str, params: Any = ()) -> list:
        self.calls.append((sql, tuple(params)))
        return []

    async def one(self, sql: str, params: Any = ()) -> None:
        self.calls.append((sql, tuple(params)))
        return None

    async def value(self, sql: str, params: Any = ()) -> None:
        self.calls.append((sql, tuple(params)))
        return None

    async def page(self, sql: str, params: Any = ()) -> list:
        self.calls.append((sql, tuple(params)))
        return []


def captured_sql(service: Any, *args: Any, **kw: Any) -> tuple[str, tuple]:
    """The (last) SQL and parameters a read service of zingd runs: it is called with a stand-in
    database that records instead of answering, so the baseline runs exactly that query."""
    import asyncio

    db = _CaptureDB()
    asyncio.run(service(db, *args, **kw))
    return db.calls[-1]


def raw_sql_latency(db: Path, sql: str, args: tuple, n: int, warm: int = 20) -> dict[str, float]:
    """A query with plain sqlite3 on the same file (read-only, tuples, no JSON): the floor under an RPC read."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.execute("PRAGMA cache_size=-32000")  # the daemon's page cache (zingd.store.db.pragmas)
    conn.execute("PRAGMA temp_store=MEMORY")
    rows: list = []
    for _ in range(warm):
        rows = conn.execute(sql, args).fetchall()
    out = []
    pc = time.perf_counter
    for _ in range(n):
        t = pc()
        rows = conn.execute(sql, args).fetchall()
        out.append(pc() - t)
    conn.close()
    s = summary(out)
    s["rows"] = len(rows)
    return s


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def cpu_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over ``seconds`` (anything running on the machine)."""
    b0, t0 = _cpu_times()
    time.sleep(seconds)
    b1, t1 = _cpu_times()
    return (b1 - b0) / max(1, t1 - t0)


def wait_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """On a shared machine: wait (at most ``max_wait`` s) until other processes leave the CPUs alone.

    Returns the fraction of the CPUs busy just before the run (measured even without waiting)."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = cpu_busy(1.0 if max_wait <= 0 else 2.0)
        if max_wait <= 0:
            return busy
        if busy < threshold:
            progress(f"machine quiet ({busy:.0%} busy); measuring")
            return busy
        if time.monotonic() > deadline:
            progress(f"machine still {busy:.0%} busy after {max_wait:.0f} s; measuring anyway (figures will be noisy)")
            return busy
        progress(f"machine {busy:.0%} busy by other processes; waiting ...")


def busy_note(busy: float) -> str:
    noisy = " — other processes were running: expect noisy figures" if busy > 0.1 else ""
    return f"CPUs busy just before the run: {busy:.0%} (of {os.cpu_count()}){noisy}"


def stop_zingd(z: Any, timeout: float = 30.0) -> str | None:
    """SIGTERM a tests.helpers.Zingd; a warning (with the end of its log) if it did not stop cleanly."""
    import subprocess

    t0 = time.monotonic()
    try:
        code = z.stop(timeout)
    except subprocess.TimeoutExpired:
        tail = " | ".join(z.log.read_text(errors="replace").strip().splitlines()[-4:]) if z.log.exists() else ""
        return f"zingd did not exit within {timeout:.0f} s of SIGTERM and was killed; log ends: {tail[-600:]}"
    took = time.monotonic() - t0
    if code not in (0, None) or took > 10:
        return f"zingd exited with {code} {took:.1f} s after SIGTERM"
    return None
