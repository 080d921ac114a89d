"""tests/integration/mgc.py - a softswitch (MGC) for the integration tests,
driving junction-mg over H.248 text the way an external MGC does.

The protocol work is done by the Erlang/OTP megaco stack in mgc_driver.erl
(Debian: erlang-base, erlang-megaco); this module compiles it once, runs it
and talks to it over its line protocol (see the head of mgc_driver.erl).

    from mgc import Mgc, context_id, terminations, local_sdp, statistics

    with Mgc(2944, version=3, encoding="pretty") as mgc:
        mg_mid, version = mgc.wait_connected(10)
        r = mgc.send("Context = $ { Add = tdm/1/1, Add = $ { Media { Stream = 1 {"
                     " LocalControl { Mode = ReceiveOnly },"
                     " Local { v=0\\nc=IN IP4 $\\nm=audio $ RTP/AVP 8 } } } } }")
        ctx = context_id(r)                 # "1"
        tdm, rtp = terminations(r)          # "tdm/1/1", "rtp/1"
        sdp = local_sdp(r, rtp)             # "v=0\\nc=IN IP4 ...\\nm=audio ..."
        n = mgc.wait_notify(lambda t: "g/sc" in t, 5)
        r = mgc.send(f"Context = {ctx} {{ Subtract = {tdm}, Subtract = {rtp} }}")
        stats = statistics(r, rtp)          # {"rtp/ps": 1200, ...}

Every wait has a timeout; a missing line raises MgcTimeout, a reply the
driver could not get (timeout, transport, bad text) raises MgcError.
Python 3.11 standard library only.
"""

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER_SRC = os.path.join(HERE, "mgc_driver.erl")


class MgcError(Exception):
    """The driver reported an error, or exited."""


class MgcTimeout(MgcError):
    """An expected line did not come in time."""


def escape(text):
    """Newlines and carriage returns to the line protocol's \\n and \\r.
    Backslashes are left alone, so a text may also spell its SDP line ends
    as a literal backslash-n (H.248 text itself has no backslashes)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def unescape(text):
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            d = text[i + 1]
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(d, "\\" + d))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _cache_dir(tmpdir):
    base = tmpdir or os.environ.get("JUNCTION_MGC_EBIN") or os.path.join(
        tempfile.gettempdir(), f"junction-mgc-ebin-{os.getuid()}")
    os.makedirs(base, exist_ok=True)
    return base


def compile_driver(tmpdir=None):
    """Compile mgc_driver.erl into tmpdir unless the .beam there is newer;
    returns the directory that holds the .beam."""
    ebin = _cache_dir(tmpdir)
    beam = os.path.join(ebin, "mgc_driver.beam")
    try:
        if os.path.getmtime(beam) >= os.path.getmtime(DRIVER_SRC):
            return ebin
    except OSError:
        pass
    if not shutil.which("erlc"):
        raise MgcError("erlc not found (Debian: apt-get install erlang-base "
                       "erlang-megaco)")
    # compile aside, then rename: concurrent tests never see half a file
    work = tempfile.mkdtemp(prefix="mgc-build-", dir=ebin)
    try:
        r = subprocess.run(["erlc", "-o", work, DRIVER_SRC],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise MgcError("erlc mgc_driver.erl failed:\n" + r.stdout + r.stderr)
        os.replace(os.path.join(work, "mgc_driver.beam"), beam)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ebin


class Mgc:
    """One MGC listening on 127.0.0.1:port (UDP, or TCP/TPKT with tcp=True).

    version: the highest protocol version it accepts (1..3); encoding:
    'pretty' or 'compact' for what it sends; tmpdir: where the compiled
    driver is cached; log: file for the driver's stderr (default: a file in
    a fresh temporary directory, see .log)."""

    def __init__(self, port, version=3, encoding="pretty", tcp=False,
                 tmpdir=None, mid=None, trace=False, request_timer_ms=500,
                 retries=3, log=None, start=True):
        self.port = port
        self.version = version
        self.encoding = encoding
        self.tcp = tcp
        self.mid = mid or f"[127.0.0.1]:{port}"
        self.tmpdir = tmpdir
        self.trace = trace
        self.request_timer_ms = request_timer_ms
        self.retries = retries
        self.log = log
        self.proc = None
        self.mg_mid = None          # from the last `connected`
        self.mg_version = None
        self.lines = []             # every line received, raw, in order
        self._events = []           # [kind, rest, consumed] except replies
        self._replies = {}          # tag -> (kind, text)
        self._cond = threading.Condition()
        self._eof = False
        self._tag = 0
        self._wlock = threading.Lock()
        if start:
            self.start()

    # -- process ------------------------------------------------------------

    def start(self, timeout=20.0):
        ebin = compile_driver(self.tmpdir)
        if self.log is None:
            self._logdir = tempfile.mkdtemp(prefix="junction-mgc-")
            self.log = os.path.join(self._logdir, f"mgc-{self.port}.log")
        args = ["erl", "-noshell", "-pa", ebin, "-s", "mgc_driver", "main",
                "-extra", "--port", str(self.port), "--mid", self.mid,
                "--version", str(self.version), "--encoding", self.encoding,
                "--request-timer-ms", str(self.request_timer_ms),
                "--retries", str(self.retries)]
        if self.tcp:
            args.append("--tcp")
        if self.trace:
            args.append("--trace")
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=logf,
                                     text=True, bufsize=1,
                                     start_new_session=True)
        logf.close()
        atexit.register(self.stop)
        threading.Thread(target=self._reader, daemon=True,
                         name=f"mgc-{self.port}").start()
        self.wait_ready(timeout)
        return self

    def _reader(self):
        try:
            self._read_lines()
        except (ValueError, OSError):     # stdout closed by stop()
            pass
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _read_lines(self):
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            kind, _, rest = line.partition(" ")
            with self._cond:
                self.lines.append(line)
                if kind in ("reply", "error"):
                    tag, _, text = rest.partition(" ")
                    self._replies[tag] = (kind, unescape(text))
                else:
                    if kind == "connected":
                        mid, _, ver = rest.rpartition(" ")
                        self.mg_mid = mid
                        self.mg_version = int(ver) if ver.isdigit() else None
                    self._events.append([kind, rest, False])
                self._cond.notify_all()

    def _write(self, line):
        if not self.running():
            raise MgcError("mgc driver is not running\n" + self.logtext())
        with self._wlock:
            try:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError) as e:
                raise MgcError(f"mgc driver gone: {e}\n" + self.logtext())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        """Ask the driver to stop; kill it if it does not within timeout."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            try:
                with self._wlock:
                    p.stdin.write("stop\n")
                    p.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, 9)
                except ProcessLookupError:
                    pass
                p.wait(5)
        for f in (p.stdin, p.stdout):
            try:
                f.close()
            except Exception:
                pass
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    # -- waiting ------------------------------------------------------------

    def _wait(self, find, timeout, what):
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                v = find()
                if v is not None:
                    return v
                if self._eof:
                    raise MgcError(f"mgc driver exited while waiting for {what}"
                                   f" (rc={self.proc.poll()})\n" + self.logtext())
                left = end - time.monotonic()
                if left <= 0:
                    raise MgcTimeout(f"no {what} within {timeout} s; last lines:\n"
                                     + "\n".join(self.lines[-10:]))
                self._cond.wait(left)

    def _take(self, pred):
        for ev in self._events:
            if not ev[2] and pred(ev[0], ev[1]):
                ev[2] = True
                return ev
        return None

    def wait_line(self, prefix, timeout=10.0):
        """The next not yet consumed line of kind `prefix` (ready, connected,
        servicechange, notify, request, disconnected, syntax_error, ok, bad);
        returns the rest of the line, unescaped."""
        ev = self._wait(lambda: self._take(lambda k, r: k == prefix),
                        timeout, f"'{prefix}' line")
        return unescape(ev[1])

    def wait_ready(self, timeout=20.0):
        return int(self.wait_line("ready", timeout))

    def wait_connected(self, timeout=10.0):
        """Wait for an MG registration; returns (mg_mid, version)."""
        rest = self.wait_line("connected", timeout)
        mid, _, ver = rest.rpartition(" ")
        return mid, int(ver)

    def wait_servicechange(self, timeout=10.0):
        """Text of the next ServiceChange request from the MG."""
        return self.wait_line("servicechange", timeout)

    def wait_notify(self, match=None, timeout=10.0):
        """Text of the next Notify request matching `match`: None (any), a
        regular expression (searched, case-insensitive) or a predicate on
        the text. Notifies that do not match stay for later waits."""
        if match is None:
            def ok(t):
                return True
        elif callable(match):
            ok = match
        else:
            rx = re.compile(match, re.I)

            def ok(t):
                return rx.search(t) is not None
        ev = self._wait(lambda: self._take(
            lambda k, r: k == "notify" and ok(unescape(r))),
            timeout, f"notify matching {match!r}")
        return unescape(ev[1])

    def notifies(self):
        """All Notify texts received so far (consumed or not)."""
        with self._cond:
            return [unescape(r) for k, r, _ in self._events if k == "notify"]

    # -- commands -------------------------------------------------------------

    def send_async(self, text):
        """Send actionRequests text as one transaction; returns its tag."""
        with self._cond:
            self._tag += 1
            tag = f"t{self._tag}"
        self._write(f"send {tag} {escape(text.strip())}")
        return tag

    def wait_reply(self, tag, timeout=15.0, check=False):
        """The MG's reply (whole message text) to send_async's tag. Raises
        MgcError when there was none; with check=True also when the reply
        carries an Error descriptor."""
        kind, text = self._wait(lambda: self._replies.pop(tag, None),
                                timeout, f"reply to {tag}")
        if kind == "error":
            raise MgcError(f"{tag}: {text}")
        if check and errors(text):
            raise MgcError(f"{tag}: error reply:\n{text}")
        return text

    def send(self, text, timeout=15.0, check=False):
        """Send and wait for the reply text (see wait_reply)."""
        return self.wait_reply(self.send_async(text), timeout, check)

    def autoreply(self, what, *args, timeout=5.0):
        """autoreply('notify', 'ok' | 'none' | 'error', CODE [, text]),
        autoreply('servicechange', 'ok' | 'none' | 'redirect', MID |
        'version', N). Applies to requests arriving after it returns."""
        self._write(" ".join(["autoreply", what, *[str(a) for a in args]]))
        ev = self._wait(lambda: self._take(lambda k, r: k in ("ok", "bad")),
                        timeout, "autoreply acknowledgement")
        if ev[0] == "bad":
            raise ValueError(ev[1])


# -- reading H.248 text (pretty or compact, any case) --------------------------

_TOKENS = {
    "context": "context", "c": "context",
    "add": "add", "a": "add", "modify": "modify", "mf": "modify",
    "subtract": "subtract", "s": "subtract", "move": "move", "mv": "move",
    "auditvalue": "auditvalue", "av": "auditvalue",
    "auditcapability": "auditcapability", "ac": "auditcapability",
    "notify": "notify", "n": "notify",
    "servicechange": "servicechange", "sc": "servicechange",
    "media": "media", "m": "media", "stream": "stream", "st": "stream",
    "local": "local", "l": "local", "remote": "remote", "r": "remote",
    "localcontrol": "localcontrol", "o": "localcontrol",
    "statistics": "statistics", "sa": "statistics",
    "error": "error", "er": "error",
    "observedevents": "observedevents", "oe": "observedevents",
    "events": "events", "e": "events", "signals": "signals", "sg": "signals",
    "services": "services", "sv": "services",
    "terminationstate": "terminationstate", "ts": "terminationstate",
    "packages": "packages", "pg": "packages",
    "reply": "reply", "p": "reply", "transaction": "transaction", "t": "transaction",
    "mode": "mode", "mo": "mode", "method": "method", "mt": "method",
    "reason": "reason", "re": "reason", "version": "version", "v": "version",
    "profile": "profile", "pf": "profile", "mgcidtotry": "mgcidtotry",
    "mg": "mgcidtotry", "serviceChangeAddress".lower(): "servicechangeaddress",
    "ad": "servicechangeaddress",
}
_COMMANDS = {"add", "modify", "subtract", "move", "auditvalue",
             "auditcapability", "notify", "servicechange"}
_RAW = {"local", "remote"}      # their braces hold SDP, kept as text


class Node:
    """One `name [= value] [{ children }]` item of an H.248 text."""

    def __init__(self, name, value=None):
        self.name = name
        self.key = _TOKENS.get(name.lower(), name.lower())
        self.value = value
        self.children = []
        self.raw = None        # text between the braces of Local/Remote

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find(self, key):
        return [n for n in self.walk() if n.key == key]

    def __repr__(self):
        return f"Node({self.name!r}, {self.value!r}, {len(self.children)})"


def parse(text):
    """H.248 text (a whole message, or a part of one) -> list of Nodes.
    Forgiving: unknown tokens are kept under their own lower-case name."""
    pos = 0
    n = len(text)

    def skip():
        nonlocal pos
        while pos < n:
            c = text[pos]
            if c in " \t\r\n,":
                pos += 1
            elif c == ";":                       # comment to end of line
                while pos < n and text[pos] != "\n":
                    pos += 1
            else:
                break

    def word():
        nonlocal pos
        if pos < n and text[pos] == '"':
            end = text.find('"', pos + 1)
            end = n if end < 0 else end + 1
            w = text[pos:end]
            pos = end
            return w
        start = pos
        depth = 0
        while pos < n:
            c = text[pos]
            if c == "(":
                depth += 1
            elif c == ")":
                depth = max(0, depth - 1)
            elif depth == 0 and (c in " \t\r\n,{}=" or c == '"'):
                break
            pos += 1
        return text[start:pos]

    def block():
        nonlocal pos
        items = []
        while True:
            skip()
            if pos >= n:
                return items
            if text[pos] == "}":
                pos += 1
                return items
            if text[pos] == "{":                 # stray block: flatten it
                pos += 1
                items.extend(block())
                continue
            name = word()
            if name == "":
                pos += 1
                continue
            node = Node(name.strip('"'))
            # optional "= value"
            save = pos
            while pos < n and text[pos] in " \t\r\n":
                pos += 1
            if pos < n and text[pos] == "=":
                pos += 1
                while pos < n and text[pos] in " \t\r\n":
                    pos += 1
                if pos < n and text[pos] == "{":
                    node.value = ""
                else:
                    node.value = word().strip('"')
            else:
                pos = save
            # optional "{ ... }"
            save = pos
            while pos < n and text[pos] in " \t\r\n":
                pos += 1
            if pos < n and text[pos] == "{":
                pos += 1
                if node.key in _RAW:
                    end = text.find("}", pos)
                    end = n if end < 0 else end
                    node.raw = text[pos:end]
                    pos = min(n, end + 1)
                else:
                    node.children = block()
            else:
                pos = save
            items.append(node)

    return block()


def _scope(text, termination):
    nodes = parse(text)
    if termination is None:
        return [x for top in nodes for x in top.walk()]
    out = []
    for top in nodes:
        for x in top.walk():
            if x.key in _COMMANDS and (x.value or "").lower() == termination.lower():
                out.extend(x.walk())
    return out


def context_id(text):
    """The first context id in a reply or request ("1", "-", "$", "*"), or None."""
    for top in parse(text):
        for x in top.walk():
            if x.key == "context" and x.value:
                return x.value
    return None


def context_ids(text):
    return [x.value for top in parse(text) for x in top.walk()
            if x.key == "context" and x.value]


def terminations(text):
    """Termination ids of the commands (or command replies), in order."""
    return [x.value for top in parse(text) for x in top.walk()
            if x.key in _COMMANDS and x.value]


def commands(text):
    """[(command, termination id)] e.g. [('add', 'tdm/1/1'), ('add', 'rtp/1')]."""
    return [(x.key, x.value) for top in parse(text) for x in top.walk()
            if x.key in _COMMANDS and x.value]


def _sdp(text, termination, key):
    for x in _scope(text, termination):
        if x.key == key and x.raw is not None:
            lines = [ln.strip() for ln in x.raw.replace("\r", "").split("\n")]
            return "\n".join(ln for ln in lines if ln)
    return None


def local_sdp(text, termination=None):
    """SDP of the first Local descriptor (of that termination), '\\n' line
    ends, no blank lines; None when there is none."""
    return _sdp(text, termination, "local")


def remote_sdp(text, termination=None):
    return _sdp(text, termination, "remote")


def _number(v):
    for conv in (int, float):
        try:
            return conv(v)
        except (TypeError, ValueError):
            pass
    return v


def statistics(text, termination=None):
    """{name: value} from the Statistics descriptors (of that termination);
    numbers converted, the first occurrence of a name wins."""
    out = {}
    for x in _scope(text, termination):
        if x.key == "statistics":
            for s in x.children:
                out.setdefault(s.name.lower(), _number(s.value))
    return out


def errors(text):
    """[(code, text)] of every Error descriptor."""
    out = []
    for top in parse(text):
        for x in top.walk():
            if x.key == "error" and x.value and x.value.isdigit():
                msg = " ".join(c.name for c in x.children)
                out.append((int(x.value), msg))
    return out


def observed_events(text):
    """[(event name, {param: value})] of the ObservedEvents descriptors;
    a leading timestamp ("20240101T12000000:") is dropped."""
    out = []
    for top in parse(text):
        for x in top.walk():
            if x.key == "observedevents":
                for ev in x.children:
                    name = ev.name.split(":", 1)[-1] if re.match(
                        r"^\d{8}T\d{8}:", ev.name) else ev.name
                    params = {}
                    m = re.match(r"^([^()]*)\((.*)\)$", name)
                    if m:                         # name(p=v,...) form
                        name = m.group(1)
                        for kv in m.group(2).split(","):
                            k, _, v = kv.partition("=")
                            params[k.strip().lower()] = v.strip().strip('"')
                    for c in ev.children:
                        params[c.name.lower()] = (c.value or "").strip('"')
                    out.append((name.lower(), params))
    return out


_METHODS = {"rs": "restart", "fo": "forced", "gr": "graceful",
            "fl": "failover", "dc": "disconnected", "ho": "handoff"}


def service_change_params(text):
    """{method, reason, version, profile, mgcidtotry, ...} of the first
    Services descriptor: long lower-case keys; the method as a long
    lower-case name (restart, forced, graceful, failover, disconnected,
    handoff); other values as written."""
    for top in parse(text):
        for x in top.walk():
            if x.key == "services":
                out = {c.key: (c.value or "") for c in x.children}
                if "method" in out:
                    m = out["method"].lower()
                    out["method"] = _METHODS.get(m, m)
                return out
    return {}
