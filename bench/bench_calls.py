#!/usr/bin/env python3
"""bench/bench_calls.py - calls through the whole gateway, figures only.

  bench_calls.py cps [-n calls] [-r rate] [-s spans] [-d hold-ms] [-T t1]
  bench_calls.py concurrent [-s spans,spans,...] [-d seconds] [-r rate]

SIPp places SIP calls, junctiond routes them onto virtual E1 PRI spans,
pstnsim answers them and junction-mg carries their audio.  Each call:
INVITE (PCMA and telephone-event, as a SIP trunk offers) to number 2000
-> PRI SETUP on the lowest free B-channel -> pstnsim answers at once and
plays the 1004 Hz milliwatt tone -> 200 -> ACK -> hold -> BYE.  The
call's SDP names the port of bench/rtp_echo, which sends every RTP packet
back to its sender (with -E, SIPp does it: -rtp_echo), so the audio flows
both ways: the tone goes PSTN -> RTP -> echo -> RTP -> PSTN, where
pstnsim hears its own tone come back.

Run it from the build directory: the daemons are the build tree's, the
SIPp scenario and harness.py come from the source tree this script lives
in (or $JUNCTION_SRCDIR).  Needs `sipp` on PATH.  Everything runs on
loopback in a private run directory, bounded in calls and in time.
"""

import argparse
import csv
import datetime
import glob
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("JUNCTION_SRCDIR") or \
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["JUNCTION_SRCDIR"] = SRC
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402
from harness import Gateway, Pstnsim, free_port, wait_for  # noqa: E402

SCENARIO = os.path.join(SRC, "tests", "integration", "sipp", "gw_call.xml")
NUMBER = "2000"			# pstnsim: answer, play the milliwatt tone
CHANS_PER_SPAN = 30		# E1: timeslots 1-15 and 17-31
RTP_PORTS = (20000, 29999)	# an RTP/RTCP pair per call: 5,000 calls
TICK = os.sysconf("SC_CLK_TCK")


def gw_conf(spans, ec, batch, log_level):
    """junctiond's config: the spans in one group, every call from
    loopback routed to it, the limits out of the way."""
    text = f"""
[general]
rundir = ${{JUNCTION_RUNDIR}}
log_level = {log_level}

[junctiond]
socket = junctiond.sock
stop_timeout_ms = 5000

[mg]
local = yes
socket = junction-mg.sock
rtp_port_min = {RTP_PORTS[0]}
rtp_port_max = {RTP_PORTS[1]}
echo_cancel = {"yes" if ec else "no"}
io_uring = {"yes" if batch else "no"}

[calls]
causes = {os.path.join(SRC, "etc", "causes.csv")}
max_calls = 100000
"""
    for i in range(1, spans + 1):
        text += (f"\n[span {i}]\ntype = e1\nsignalling = pri_cpe\n"
                 "switchtype = euroisdn_e1\n")
    return text + f"""
[group pstn]
spans = 1-{spans}

[route sip-to-pstn]
match = any
from = addr:127.0.0.0/8
target = group:pstn
"""


def sim_conf(spans, log_level):
    text = f"""
[pstnsim]
rundir = ${{JUNCTION_RUNDIR}}
socket = pstnsim.sock
log_level = {log_level}

[number {NUMBER}]
behaviour = milliwatt
answer_delay_ms = 0
"""
    for i in range(1, spans + 1):
        text += (f"\n[span {i}]\ntype = e1\nsignalling = pri_net\n"
                 "switchtype = euroisdn_e1\n")
    return text


def proc_usage(pid):
    """(CPU seconds, user + system of every thread; RSS in KiB; the
    system part of the CPU seconds: the kernel's work in the process's
    system calls, loopback delivery of what it sends included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            rss = [int(line.split()[1]) for line in f
                   if line.startswith("VmRSS:")]
    except OSError:
        return 0.0, 0, 0.0
    return ((int(fields[11]) + int(fields[12])) / TICK,
            rss[0] if rss else 0, int(fields[12]) / TICK)


def udp_drops(lo, hi):
    """Datagrams the kernel dropped on full receive buffers, summed over
    the UDP sockets bound to ports lo..hi (/proc/net/udp)."""
    n = 0
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            v = line.split()
            if lo <= int(v[1].split(":")[1], 16) <= hi:
                n += int(v[-1])
    return n


def machine_busy():
    """Busy and total jiffies of every CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


class Rig:
    """pstnsim and the gateway (junctiond and its junction-mg) with
    `spans` virtual E1 spans between them, every D-channel up."""

    def __init__(self, spans, ec=False, batch=True, log_level="warn",
                 sipp_echo=False):
        self.gw = gw = Gateway(gw_conf(spans, ec, batch, log_level),
                               name="bench")
        self.sim = Pstnsim(rundir=gw.rundir, conf=sim_conf(spans, log_level))
        self.sim.start()
        gw.start(wait=False)
        if not gw.wait_ready(60) or not wait_for(lambda: (gw.subsystem(
                gw.ctl_json("status"), "mgc") or {}).get("mg") == "up", 30):
            sys.exit("the gateway did not come up:\n" + gw.logtext()[-2000:])
        # libpri brings each D-channel up on its own (Q.921 SABME, UA)
        if not wait_for(lambda: all(s["dchan"] == "up" for s in
                                    gw.ctl_json("spans")["spans"]), 30, 0.5):
            sys.exit("D-channels not up:\n" + gw.logtext()[-2000:])
        self.pids = {"junctiond": gw.proc.pid, "junction-mg": gw.mg_pid(),
                     "pstnsim": self.sim.proc.pid}
        self.echo_port = free_port("udp", 12400, 400)	# the calls' RTP
        self.echo = None
        if not sipp_echo:
            self.echo = subprocess.Popen(
                [os.path.join(harness.BUILD, "bench", "rtp_echo"), "-p",
                 str(self.echo_port)])
            harness.on_exit(self.echo.kill)
            self.pids["rtp_echo"] = self.echo.pid

    def stop(self):
        self.gw.stop()
        self.sim.stop()
        if self.echo:
            self.echo.kill()
            self.echo.wait()
        harness._run_cleanups()

    def in_use(self):
        """B-channels junctiond holds, and junction-mg's contexts."""
        spans = self.ctl("spans").get("spans", [])
        st = self.ctl("status", sock=self.gw.mg_socket)
        return (sum(s["channels"]["in_use"] for s in spans),
                (self.gw.subsystem(st, "megaco") or {}).get("contexts"))

    def ctl(self, *args, sock=None):
        """A status command's reply; {} from a daemon that is gone."""
        return self.gw.ctl_json(*args, sock=sock, check=False) or {}

    def snapshot(self):
        """CPU and RSS of each process, and the clean-media counters:
        late ticks of junction-mg's media workers; slips, gaps and bad
        frames of its spans (frames the far end never sent among them);
        slips pstnsim counted (its own clock late, or a frame the gateway
        did not answer exactly once); RTP datagrams dropped on full
        socket buffers, junction-mg's and the echo's."""
        snap = {"t": time.monotonic(), "machine": machine_busy()}
        for name, pid in self.pids.items():
            snap[name] = proc_usage(pid)
        st = self.ctl("status", sock=self.gw.mg_socket)
        snap["workers"] = (self.gw.subsystem(st, "bearer") or
                           {}).get("workers", [])
        snap["late"] = sum(w["late_ticks"] for w in snap["workers"])
        snap["ticks"] = sum(w["ticks"] for w in snap["workers"])
        spans = self.ctl("spans", sock=self.gw.mg_socket).get("spans", [])
        snap["mg_slips"] = sum(s["counters"][k] for s in spans
                               for k in ("slips", "gaps", "bad_frames"))
        spans = (self.sim.cmd({"cmd": "spans"}, check=False) or
                 {}).get("spans", [])
        snap["sim_slips"] = sum(s["counters"]["slips"] for s in spans)
        snap["mg_drops"] = udp_drops(*RTP_PORTS)
        snap["echo_drops"] = udp_drops(self.echo_port, self.echo_port)
        return snap

    def cdr(self, n):
        return self.ctl("cdr", f"limit={n}").get("cdr", [])

    def warnings(self, most=3):
        """The first few kinds of warning both daemons logged."""
        seen, keys = [], set()
        for line in self.gw.logtext().splitlines():
            part = line.split(" ", 1)[-1]
            key = re.sub(r"[0-9a-f]+-[0-9]+|[0-9]+", "N", part)
            if (" warn " in line or " error " in line) and key not in keys:
                keys.add(key)
                seen.append(part)
        return seen[:most]


class Sipp:
    """SIPp's UAC: calls at rate, at most limit at once, each held
    hold_ms after its answer, the calls' RTP to the rig's echo (SIPp's
    own when the rig has none)."""

    def __init__(self, rig, calls, rate, limit, hold_ms, timeout_s, tp):
        self.dir = tempfile.mkdtemp(prefix="bench-sipp-")
        mp = str(rig.echo_port)
        media = ["-mp", str(free_port("udp", 12400, 400))] if rig.echo \
            else ["-mp", mp, "-rtp_echo"]
        cmd = ["sipp", f"127.0.0.1:{rig.gw.ports['sip']}", "-sf", SCENARIO,
               "-s", NUMBER, "-i", "127.0.0.1", "-t", tp,
               "-p", str(free_port("udp", 12400, 400)),
               "-mi", "127.0.0.1", *media,
               "-key", "rtp_port", mp, "-d", str(hold_ms),
               "-r", str(rate), "-m", str(calls), "-l", str(limit),
               "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
               "-max_recv_loops", "1000", "-trace_err",
               "-trace_stat", "-stf", "stat.csv", "-fd", "1",
               "-trace_rtt", "-rtt_freq", "1"]
        with open(os.path.join(self.dir, "screen.log"), "w") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=out,
                                         stderr=subprocess.STDOUT)
        if not os.environ.get("JUNCTION_KEEP_RUNDIR"):
            harness.on_exit(lambda: shutil.rmtree(self.dir, True))
        harness.on_exit(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stats(self):
        """SIPp's cumulative counters, and why calls failed."""
        try:
            with open(os.path.join(self.dir, "stat.csv")) as f:
                rows = list(csv.DictReader(f, delimiter=";"))
        except OSError:
            rows = []
        n = {k: int(v) for k, v in (rows[-1] if rows else {}).items()
             if k.endswith("(C)") and v.isdigit()}
        why = [f"{k[6:-3]} {v}" for k, v in n.items()
               if k.startswith("Failed") and k != "FailedCall(C)" and v]
        return {"ok": n.get("SuccessfulCall(C)", 0),
                "failed": n.get("FailedCall(C)", 0),
                "retrans": n.get("Retransmissions(C)", 0), "why": why}

    def setup_ms(self):
        """(when, INVITE -> 200) of every call, by SIPp's clock."""
        out = []
        for path in glob.glob(os.path.join(self.dir, "*_rtt.csv")):
            with open(path) as f:
                for row in csv.reader(f, delimiter=";"):
                    try:
                        out.append((float(row[0]), float(row[1])))
                    except (ValueError, IndexError):
                        pass
        return sorted(out)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")


def dist(values):
    return (f"p50 {pct(values, 50):.0f}  p90 {pct(values, 90):.0f}  "
            f"p99 {pct(values, 99):.0f}  max {pct(values, 100):.0f}")


def cdr_setup_ms(rows):
    """INVITE in -> answer, by junctiond's clock, from its records."""
    t = datetime.datetime.fromisoformat
    return [(t(r["answer"].rstrip("Z")) - t(r["start"].rstrip("Z")))
            .total_seconds() * 1000 for r in rows if r.get("answer")]


def print_calls(st):
    why = f" ({', '.join(st['why'])})" if st["why"] else ""
    print(f"  calls        {st['ok']} ok, {st['failed']} failed{why}, "
          f"{st['retrans']} SIP retransmissions")


def print_usage(rig, base, a, b, sipp_cpu, calls, per_call):
    """Each process's CPU over a..b (per call made, or per call held
    per second) and RSS growth since base per call; the machine's load;
    the first kinds of warning logged; what is left once SIPp is done."""
    win = b["t"] - a["t"]
    for name in rig.pids:
        cpu = b[name][0] - a[name][0]
        kern = (b[name][2] - a[name][2]) / max(cpu, 1e-9) * 100
        use = f"{cpu * 1000 / calls:6.2f} ms CPU per call" if per_call \
            else f"{cpu / win / calls * 1e6:6.1f} us CPU/s per call"
        print(f"  {name:11}  {cpu / win * 100:5.1f} % of a core = {use} "
              f"({kern:3.0f} % kernel); "
              f"RSS {base[name][1]} -> {b[name][1]} KiB = "
              f"{(b[name][1] - base[name][1]) / calls:5.1f} KiB per call")
    busy = (b["machine"][0] - a["machine"][0]) / \
        max(b["machine"][1] - a["machine"][1], 1) * 100
    ours = sum(b[p][0] - a[p][0] for p in rig.pids) + sipp_cpu
    print(f"  machine      {busy:.0f} % busy over {os.cpu_count()} CPUs; "
          f"the rig {ours / win * 100:.0f} % of a core (SIPp "
          f"{sipp_cpu / win * 100:.0f} %), the rest other work")
    for w in rig.warnings():
        print(f"  log          {w[:150]}")
    if rig.gw.proc.poll() is not None:
        print(f"  junctiond    EXITED with status {rig.gw.proc.returncode}")
    elif rig.gw.mg_pid() != rig.pids["junction-mg"]:
        print("  junction-mg  RESTARTED during the run")
    left = wait_for(lambda: rig.in_use() == (0, 0), 10) or rig.in_use()
    print(f"  left over    {'none' if left is True else left} "
          "(B-channels in use, MG contexts, 10 s after the last call)")


def run_cps(o):
    calls = o.calls or int(o.rate * 10)
    rig = Rig(o.spans, ec=o.ec, batch=not o.syscalls,
              log_level=o.log_level, sipp_echo=o.sipp_echo)
    limit = o.spans * CHANS_PER_SPAN
    timeout = int(calls / o.rate + o.hold / 1000 + 60)
    a = rig.snapshot()
    sipp = Sipp(rig, calls, o.rate, limit, o.hold, timeout, o.transport)
    s0 = s1 = proc_usage(sipp.proc.pid)[0]
    while sipp.proc.poll() is None:	# SIPp's CPU, up to its exit
        s1 = proc_usage(sipp.proc.pid)[0] or s1
        time.sleep(0.2)
    rc = sipp.wait(timeout + 30)
    b = rig.snapshot()
    rtt = sipp.setup_ms()
    span_s = (rtt[-1][0] - rtt[0][0]) / 1000 if len(rtt) > 1 else 0
    print(f"cps: {calls} calls offered at {o.rate:g}/s, held {o.hold} ms, "
          f"{o.spans} spans ({limit} B-channels), SIP over "
          f"{'UDP' if o.transport == 'u1' else 'TCP'}; SIPp exit {rc}")
    print(f"  achieved     {(len(rtt) - 1) / span_s if span_s else 0:.1f} "
          f"answered calls/s (first to last 200 OK: {span_s:.2f} s)")
    print_calls(sipp.stats())
    print(f"  setup ms     INVITE->200 by SIPp: "
          f"{dist([x[1] for x in rtt])}")
    print(f"               INVITE->answer by junctiond: "
          f"{dist(cdr_setup_ms(rig.cdr(calls)))}")
    print_usage(rig, a, a, b, s1 - s0, calls, True)
    rig.stop()


def tone_back(sim):
    """Connected calls on which pstnsim hears its own 1004 Hz tone come
    back now: the audio went round through both directions."""
    back = 0
    for c in sim.calls():
        t = (c.get("observations") or {}).get("tone") or {}
        back += c["state"] == "connected" and \
            abs(t.get("freq_hz", 0) - 1004) < 5 and t.get("age_ms", 9e9) < 2000
    return back


def run_concurrent(o):
    for spans in o.spans_list:
        n = int(spans * CHANS_PER_SPAN * o.fill)
        rig = Rig(spans, ec=o.ec, batch=not o.syscalls,
                  log_level=o.log_level, sipp_echo=o.sipp_echo)
        ramp = n / o.rate
        timeout = int(2 * ramp + o.hold + 60)
        base = rig.snapshot()
        # every call holds long enough for all of them to be up together
        # for the measured window
        sipp = Sipp(rig, n, o.rate, n, int((ramp + o.hold + 10) * 1000),
                    timeout, o.transport)
        wait_for(lambda: rig.in_use()[0] >= n or
                 sipp.proc.poll() is not None, ramp + 60, 0.5)
        up, a = rig.in_use()[0], rig.snapshot()
        s0 = proc_usage(sipp.proc.pid)[0]
        time.sleep(o.hold)
        b, s1 = rig.snapshot(), proc_usage(sipp.proc.pid)[0]
        heard, down = tone_back(rig.sim), rig.in_use()[0]
        rc = sipp.wait(timeout + 30)
        st = sipp.stats()
        lossy = [r["loss"] for r in rig.cdr(n) if r.get("loss")]
        late, mg, sim = (b[k] - a[k] for k in ("late", "mg_slips",
                                                "sim_slips"))
        clean = not (late or mg or sim or st["failed"] or lossy) and \
            up == down == heard == n
        print(f"concurrent: {spans} spans, {n} calls (ramp at {o.rate:g}/s),"
              f" {up} up at the start of {b['t'] - a['t']:.0f} s, {down} at "
              f"its end; SIPp exit {rc}: {'CLEAN' if clean else 'NOT CLEAN'}")
        print_calls(st)
        print(f"  media        late ticks {late} of {b['ticks'] - a['ticks']}"
              f" (ramp {a['late'] - base['late']}); slips: junction-mg "
              f"{mg}, pstnsim {sim}; tone back on {heard} calls")
        print(f"  RTP          {len(lossy)} calls lost some (max "
              f"{max(lossy, default=0):.1f} %); socket drops in the window:"
              f" junction-mg {b['mg_drops'] - a['mg_drops']}, "
              f"{'echo' if rig.echo else 'SIPp'} "
              f"{b['echo_drops'] - a['echo_drops']}")
        for w in b["workers"]:
            print(f"  worker {w['worker']}     {w['channels']} channels, "
                  f"{w['cpu_pct']:.1f} % of a core")
        print_usage(rig, base, a, b, s1 - s0, n, False)
        rig.stop()
        if st["failed"] or up < n:
            break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("cps", help="call setups per second")
    c.add_argument("-n", "--calls", type=int, default=0,
                   help="calls (default: 10 s worth)")
    c.add_argument("-r", "--rate", type=float, default=50,
                   help="calls/s offered (default 50)")
    c.add_argument("-s", "--spans", type=int, default=16,
                   help="E1 spans (default 16)")
    c.add_argument("-d", "--hold", type=int, default=1000,
                   help="ms from the answer to the BYE (default 1000)")
    k = sub.add_parser("concurrent", help="concurrent calls with audio")
    k.add_argument("-s", "--spans", default="2,4,8,16,32,67",
                   help="span counts to try in turn (default 2,...,67)")
    k.add_argument("-d", "--hold", type=float, default=20,
                   help="seconds measured with every call up (default 20)")
    k.add_argument("-r", "--rate", type=float, default=100,
                   help="calls/s while ramping up (default 100)")
    k.add_argument("-f", "--fill", type=float, default=1.0,
                   help="share of the B-channels to fill (default 1)")
    for p in (c, k):
        p.add_argument("-e", "--ec", action="store_true",
                       help="echo cancellation on every call")
        p.add_argument("-S", "--syscalls", action="store_true",
                       help="media workers without io_uring: one system "
                       "call per datagram")
        p.add_argument("-E", "--sipp-echo", action="store_true",
                       help="SIPp echoes the RTP (-rtp_echo: one system "
                       "call per datagram, default buffer) instead of "
                       "bench/rtp_echo")
        p.add_argument("-T", "--transport", default="u1",
                       choices=("u1", "t1"), help="SIP over one UDP "
                       "socket (u1, default) or one TCP connection (t1)")
        p.add_argument("-l", "--log-level", default="warn",
                       help="of both daemons and pstnsim (default warn)")
    o = ap.parse_args()
    try:
        harness.prog("junctiond")
    except FileNotFoundError:
        sys.exit("run me from the build directory (gateway/junctiond)")
    # junction-mg holds two sockets per call
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
          f", open files {hard}, echo cancel {'on' if o.ec else 'off'}"
          f", media I/O {'system calls' if o.syscalls else 'io_uring'}"
          f", RTP echo {'SIPp' if o.sipp_echo else 'bench/rtp_echo'}")
    if o.mode == "cps":
        run_cps(o)
    else:
        o.spans_list = [int(x) for x in o.spans.split(",")]
        run_concurrent(o)


if __name__ == "__main__":
    main()
