"""tests/integration/harness.py - run the real daemons in a private run
directory and talk to them as an operator would (through junctionctl).

Every test speaks TAP so that `make check` counts test cases.  Whatever a
test starts is stopped on every exit path: normal end, failure, exception
or a signal to the test itself.
"""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BUILD = os.environ.get("JUNCTION_BUILDDIR") or os.getcwd()
SRC = os.environ.get("JUNCTION_SRCDIR") or BUILD


def prog(name):
    """Path of a built program."""
    for sub in ("gateway", "sim", os.path.join("tests", "integration")):
        p = os.path.join(BUILD, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(name)


_cleanups = []


def on_exit(fn):
    _cleanups.append(fn)
    return fn


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # cleanup must go on
            traceback.print_exc(file=sys.stderr)


atexit.register(_run_cleanups)


def _on_signal(sig, frame):
    _run_cleanups()
    sys.exit(128 + sig)


for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def pids_using(rundir):
    """Processes whose command line or environment names rundir."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if ("JUNCTION_RUNDIR=" + rundir).encode() + b"\0" in env and pid_alive(int(d)):
            out.append(int(d))
    return out


def wait_for(pred, timeout=10.0, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            return v
        time.sleep(step)


DEFAULT_CONF = """
[general]
rundir = ${JUNCTION_RUNDIR}
log_level = ${JUNCTION_LOG_LEVEL:-info}

[junctiond]
socket = junctiond.sock
stop_timeout_ms = 5000

[mg]
local = yes
socket = junction-mg.sock
restart_min_ms = 200
restart_max_ms = 2000
megaco_port = ${JUNCTION_TEST_MEGACO_PORT}
mgc_port = ${JUNCTION_TEST_MGC_PORT}
rtp_port_min = ${JUNCTION_TEST_RTP_MIN}
rtp_port_max = ${JUNCTION_TEST_RTP_MAX}
"""


class Gateway:
    """junctiond (and the junction-mg it starts) in a private run directory."""

    def __init__(self, conf=DEFAULT_CONF, name="gw"):
        self.rundir = tempfile.mkdtemp(prefix=f"junction-{name}-")
        self.conf = os.path.join(self.rundir, "junction.conf")
        self.write_conf(conf)
        self.log = os.path.join(self.rundir, "junctiond.log")
        self.socket = os.path.join(self.rundir, "junctiond.sock")
        self.mg_socket = os.path.join(self.rundir, "junction-mg.sock")
        self.proc = None
        on_exit(self.cleanup)

    def env(self):
        e = dict(os.environ)
        e["JUNCTION_RUNDIR"] = self.rundir
        e["JUNCTION_SOCKET"] = self.socket
        self.private_ports("")
        e["JUNCTION_TEST_MEGACO_PORT"] = str(self.ports["megaco"])
        e["JUNCTION_TEST_MGC_PORT"] = str(self.ports["mgc"])
        e["JUNCTION_TEST_RTP_MIN"] = str(self.ports["rtp"][0])
        e["JUNCTION_TEST_RTP_MAX"] = str(self.ports["rtp"][1])
        return e

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(self.private_ports(text))

    def private_ports(self, text):
        """Give the gateway ports of its own (tests run side by side):
        SIP listeners, the H.248 pair and an RTP range; and the
        source tree's cause table; each unless the config sets it."""
        if not hasattr(self, "ports"):
            self.ports = {k: free_port("udp", 14000, 2000)
                          for k in ("sip", "megaco", "mgc")}
            lo = 16384 + (os.getpid() % 60) * 60
            self.ports["rtp"] = (lo, lo + 59)
        p = self.ports
        mg = []
        if "megaco_port" not in text:
            mg.append(f"megaco_port = {p['megaco']}")
        if "mgc_port" not in text:
            mg.append(f"mgc_port = {p['mgc']}")
        if "rtp_port_min" not in text:
            mg.append(f"rtp_port_min = {p['rtp'][0]}")
            mg.append(f"rtp_port_max = {p['rtp'][1]}")
        if "[mg]" in text:
            text = text.replace("[mg]\n", "[mg]\n" + "".join(
                line + "\n" for line in mg), 1)
        else:
            text += "\n[mg]\n" + "".join(line + "\n" for line in mg)
        causes = f"causes = {os.path.join(SRC, 'etc', 'causes.csv')}\n"
        if "[calls]" not in text:
            text += "\n[calls]\n" + causes
        elif "causes =" not in text:
            text = text.replace("[calls]\n", "[calls]\n" + causes, 1)
        if "[sip]" not in text:
            text += (f"\n[sip]\nlisten = udp:127.0.0.1:{p['sip']}, "
                     f"tcp:127.0.0.1:{p['sip']}\n")
        return text

    def run(self, *args, **kw):
        """Run junctiond with args to completion (for -t and friends)."""
        return subprocess.run([prog("junctiond"), *args], env=self.env(),
                              capture_output=True, text=True, timeout=30, **kw)

    def start(self, *extra, wait=True):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(
            [prog("junctiond"), "-F", "-c", self.conf, *extra],
            env=self.env(), stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        if wait and not self.wait_ready():
            raise RuntimeError("junctiond did not come up:\n" + self.logtext())
        return self.proc

    def wait_ready(self, timeout=10.0):
        def ready():
            r = self.ctl_json("status", check=False)
            if not r or not r.get("ok"):
                return False
            mg = self.subsystem(r, "mg")
            return mg is None or mg.get("state") in ("running", "off")
        return wait_for(ready, timeout)

    def ctl(self, *args, sock=None, timeout=10):
        """junctionctl as an operator types it; returns CompletedProcess."""
        cmd = [prog("junctionctl"), "-s", sock or self.socket, *args]
        return subprocess.run(cmd, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    def ctl_json(self, *args, sock=None, check=True):
        r = self.ctl("--json", *args, sock=sock)
        if r.returncode == 2 and not check:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            if check:
                raise RuntimeError(f"junctionctl {args}: rc={r.returncode} "
                                   f"out={r.stdout!r} err={r.stderr!r}")
            return None

    @staticmethod
    def subsystem(status, name):
        for s in status.get("subsystems", []):
            if s.get("name") == name:
                return s
        return None

    def mg_pid(self):
        st = self.ctl_json("status", check=False) or {}
        mg = self.subsystem(st, "mg") or {}
        return mg.get("pid")

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def leftovers(self):
        return pids_using(self.rundir)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if os.environ.get("JUNCTION_KEEP_RUNDIR"):
            return
        shutil.rmtree(self.rundir, ignore_errors=True)


class Tap:
    """A minimal TAP producer: one `ok`/`not ok` line per test function."""

    def __init__(self):
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self):
        print(f"1..{len(self.tests)}", flush=True)
        failed = 0
        for i, fn in enumerate(self.tests, 1):
            name = fn.__name__
            t0 = time.monotonic()
            try:
                fn()
                print(f"ok {i} - {name} ({time.monotonic() - t0:.2f}s)",
                      flush=True)
            except Exception as e:
                failed += 1
                print(f"not ok {i} - {name}", flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line)
                if isinstance(e, AssertionError) and e.args:
                    print("# " + str(e.args[0]).replace("\n", "\n# "))
            finally:
                _run_cleanups()
        sys.exit(1 if failed else 0)


def check(cond, msg="", *ctx):
    if not cond:
        raise AssertionError(str(msg) + "".join("\n" + str(c) for c in ctx))


def connect_unix(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


SPANS_CONF = """
[span 1]
type = e1
signalling = pri_cpe
switchtype = euroisdn_e1

[span 2]
type = e1
signalling = pri_cpe
switchtype = euroisdn_e1
"""

SIM_CONF = """
[pstnsim]
rundir = ${JUNCTION_RUNDIR}
socket = pstnsim.sock
log_level = ${PSTNSIM_LOG_LEVEL:-info}

[span 1]
type = e1
signalling = pri_net
switchtype = euroisdn_e1

[span 2]
type = e1
signalling = pri_net
switchtype = euroisdn_e1

[number 1000]
behaviour = echo
delay_ms = 500

[number 2000]
behaviour = milliwatt

[number 3000]
behaviour = dtmf-echo

[number 4000]
behaviour = busy

[number 5000]
behaviour = noanswer

[number 6000]
behaviour = unallocated

[number 7000]
behaviour = congestion
"""


class Pstnsim:
    """pstnsim, the simulated PSTN switch, in a run directory (shared with
    a Gateway when given one, so that the span sockets meet)."""

    def __init__(self, rundir=None, conf=SIM_CONF):
        self.own = rundir is None
        self.rundir = rundir or tempfile.mkdtemp(prefix="junction-sim-")
        self.conf = os.path.join(self.rundir, "pstnsim.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.socket = os.path.join(self.rundir, "pstnsim.sock")
        self.log = os.path.join(self.rundir, "pstnsim.log")
        self.proc = None
        on_exit(self.cleanup)

    def env(self):
        e = dict(os.environ)
        e["JUNCTION_RUNDIR"] = self.rundir
        return e

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([prog("pstnsim"), "-c", self.conf],
                                     env=self.env(), stdout=logf,
                                     stderr=subprocess.STDOUT)
        logf.close()
        ok = wait_for(lambda: (self.cmd({"cmd": "status"}, check=False)
                               or {}).get("ok"), 10)
        if not ok:
            raise RuntimeError("pstnsim did not come up:\n" + self.logtext())
        return self.proc

    def cmd(self, obj, check=True, timeout=30):
        r = subprocess.run([prog("junctionctl"), "-s", self.socket, "--json",
                            "-t", str(timeout * 1000), "raw", json.dumps(obj)],
                           capture_output=True, text=True, timeout=timeout + 5)
        try:
            return json.loads(r.stdout)
        except ValueError:
            if check:
                raise RuntimeError(f"pstnsim {obj}: rc={r.returncode} "
                                   f"out={r.stdout!r} err={r.stderr!r}")
            return None

    def calls(self):
        return self.cmd({"cmd": "calls"})["calls"]

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.own and not os.environ.get("JUNCTION_KEEP_RUNDIR"):
            shutil.rmtree(self.rundir, ignore_errors=True)


def probe(rundir, *args, span=1, timeout=30):
    """Run tdmprobe on span's sockets in rundir; returns (rc, events)."""
    exe = os.path.join(BUILD, "tests", "integration", "tdmprobe")
    r = subprocess.run([exe, "-d", os.path.join(rundir, f"span{span}.dchan"),
                        "-b", os.path.join(rundir, f"span{span}.bearer"),
                        "-T", str(timeout), *args],
                       capture_output=True, text=True, timeout=timeout + 10)
    events = [json.loads(line) for line in r.stdout.splitlines() if line]
    return r.returncode, events, r.stderr


def probe_start(rundir, *args, span=1, timeout=60):
    """tdmprobe in the background; read its events with probe_events."""
    exe = os.path.join(BUILD, "tests", "integration", "tdmprobe")
    pr = subprocess.Popen([exe, "-d", os.path.join(rundir, f"span{span}.dchan"),
                           "-b", os.path.join(rundir, f"span{span}.bearer"),
                           "-T", str(timeout), *args],
                          stdout=subprocess.PIPE, text=True)
    on_exit(lambda: pr.poll() is None and (pr.kill(), pr.wait()))
    os.set_blocking(pr.stdout.fileno(), False)
    pr.events = []
    return pr


def probe_events(pr):
    """Events the background probe printed so far."""
    while True:
        line = pr.stdout.readline()
        if not line:
            break
        pr.events.append(json.loads(line))
    return pr.events


PORTS_GIVEN = os.path.join(tempfile.gettempdir(), "junction-test-ports")
PORT_HOLD_S = 120


def free_port(proto="udp", base=12000, span=400):
    """A loopback port free for both UDP and TCP, from the SIP tests' own
    range (12000-12399: below the media tests' RTP ranges and the kernel's
    ephemeral ports, away from the demo's 5060/5070).  A port is mostly
    bound a while after it is chosen (by the gateway or SIPp), so none
    given in the last two minutes is given again, to this test or to one
    running beside it: the ports given are kept, under a lock, in
    PORTS_GIVEN."""
    import fcntl
    import random
    with open(PORTS_GIVEN, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        now = time.time()
        given = {}
        for line in f:
            try:
                port, when = line.split()
                if now - float(when) < PORT_HOLD_S:
                    given[int(port)] = float(when)
            except ValueError:
                pass
        for attempt in range(400):
            port = base + random.randrange(span)
            if port in given and attempt < 200:
                continue
            ok = True
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                finally:
                    s.close()
            if ok:
                given[port] = now
                f.seek(0)
                f.truncate()
                f.writelines(f"{p} {t}\n" for p, t in given.items())
                return port
    raise RuntimeError("no free port")


class Siptu:
    """The SIP test TU (tests/integration/siptu): sip/ and core/ only,
    answering INVITEs with a fixed SDP, or placing calls (-c)."""

    def __init__(self, *args):
        self.args = [prog("siptu")] + list(args)
        self.proc = None
        self.out = []
        on_exit(self.stop)

    def start(self, wait=True):
        import threading
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

        def reader():
            for line in self.proc.stdout:
                self.out.append(line.rstrip("\n"))
        self.reader = threading.Thread(target=reader, daemon=True)
        self.reader.start()
        if wait:
            check(wait_for(lambda: "ready" in self.out or
                           self.proc.poll() is not None, 10),
                  "siptu did not start", *self.out)
            check(self.proc.poll() is None, "siptu exited", *self.out)
        return self

    def lines(self, prefix=""):
        return [l for l in list(self.out) if l.startswith(prefix)]

    def wait_exit(self, timeout=30):
        """Its exit status once it exits by itself, with all it printed
        in out; None if it is still running after timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.reader.join(5)
        return rc

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.reader.join(5)
        return self.proc.returncode if self.proc else None


def sipp(*args, timeout=60):
    """Run SIPp (sip-tester) to its end; returns the CompletedProcess.
    SIPp exits 0 when every call succeeded."""
    cmd = ["sipp", "-nostdin", "-timeout", str(timeout - 5) + "s",
           "-timeout_error", "-max_recv_loops", "1000"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, cwd=tempfile.gettempdir())
