"""tests/integration/test_call_faults.py - calls through the whole gateway
(junctiond, the junction-mg it starts, pstnsim as the PSTN switch, SIPp
as the SIP peer) when something goes wrong in the middle: the D-channel
fails, the SIP side vanishes, a CANCEL crosses the answer, more calls
come than there are B-channels, junctiond is killed with calls up,
both ends seize the same B-channel at once, the network offers a call
on a channel whose call is still being cleared, and the line's frames
stop for a moment.  Each test ends with every
channel idle again, as junctiond and pstnsim each see it."""

import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_CONF, SIM_CONF, SPANS_CONF, Gateway,  # noqa: E402
                     Pstnsim, SRC, Tap, check, free_port, on_exit, wait_for)
import rtp  # noqa: E402
# the call helpers of the successful-call tests (importing runs none)
from test_calls import (heard, learn_remote, pbx, sipp,  # noqa: E402
                        sipp_call, tone)

tap = Tap()
SCEN = os.path.join(SRC, "tests", "integration", "sipp")

# Q.921 defaults: an idle link is polled after T203 (10 s) and declared
# down when N200 (3) polls go unanswered T200 (1 s) each: about 13 s
# after the last frame; 20 s leaves room for a loaded machine.
DCHAN_LOSS_S = 20


def gateway(mg_extra="", spans="1,2", hunt="ascending", sim_extra="",
            extra="", sim_span1=""):
    """pstnsim and the gateway in one run directory, as in test_calls.py,
    with the group's spans and hunting order, more [mg] settings, more
    pstnsim numbers, more settings of pstnsim's span 1 and more gateway
    sections."""
    pbx = free_port("udp", 12400, 400)
    conf = DEFAULT_CONF.replace("[mg]\n", "[mg]\n" + mg_extra) + \
        SPANS_CONF + f"""
[trunk pbx]
host = 127.0.0.1
port = {pbx}

[group pstn]
spans = {spans}
hunt = {hunt}

[route pstn-to-pbx]
match = any
from = span:1,2
target = trunk:pbx

[route sip-to-pstn]
match = any
from = addr:127.0.0.0/8
target = group:pstn
""" + extra
    gw = Gateway(conf, name="faults")
    sim = Pstnsim(rundir=gw.rundir, conf=SIM_CONF.replace(
        "[span 1]\n", "[span 1]\n" + sim_span1) + sim_extra)
    sim.start()
    start_gateway(gw)
    gw.pbx = pbx
    gw.sip = gw.ports["sip"]
    return gw, sim


def start_gateway(gw):
    """junctiond up, its MG registered, both D-channels established."""
    gw.start(wait=False)
    check(gw.wait_ready(30), "junctiond did not come up",
          gw.logtext()[-3000:])
    check(wait_for(lambda: (gw.subsystem(gw.ctl_json("status"), "mgc") or
                            {}).get("mg") == "up", 15),
          "the MG did not register", gw.logtext()[-3000:])
    check(wait_for(lambda: all(s["dchan"] == "up" for s in
                               gw.ctl_json("spans")["spans"]), 15),
          "D-channels not up", gw.ctl_json("spans"))


def log_path():
    """A file for SIPp's <log> actions (-trace_logs -log_file)."""
    fd, path = tempfile.mkstemp(prefix="sipp-log-", suffix=".log")
    os.close(fd)
    on_exit(lambda: os.path.exists(path) and os.unlink(path))
    return path


def log_lines(path):
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def logged(path, key):
    """The value of the last "key=value" SIPp logged, or None."""
    for line in reversed(log_lines(path)):
        for word in line.split():
            if word.startswith(key + "="):
                return word[len(key) + 1:]
    return None


def cdrs(gw, n=100):
    return gw.ctl_json("cdr", f"limit={n}")["cdr"]


def cdr_of(gw, call_id):
    rows = [r for r in cdrs(gw) if r.get("id") == call_id]
    return rows[-1] if rows else {}


def answered_calls(gw, n=1, timeout=15):
    """Wait for n answered calls in junctiond; returns them."""
    def ok():
        calls = [c for c in gw.ctl_json("calls")["calls"]
                 if c["state"] == "answered"]
        return calls if len(calls) >= n else None
    calls = wait_for(ok, timeout, 0.05)
    check(calls, f"not {n} answered call(s)", gw.ctl_json("calls"))
    return calls


def sim_spans(sim):
    return {s["id"]: s for s in sim.cmd({"cmd": "spans"})["spans"]}


def sim_idle(sim):
    if any(c["state"] != "released" for c in sim.calls()):
        return False
    return all(s.get("calls", 0) == 0 and
               s.get("channels", {}).get("in_use", 0) == 0
               for s in sim_spans(sim).values())


def gw_idle(gw, allow_blocked=False):
    if gw.ctl_json("calls")["calls"]:
        return False
    ok = ("idle", "blocked") if allow_blocked else ("idle",)
    return all(c["state"] in ok for c in gw.ctl_json("channels")["channels"])


def all_idle(gw, sim, timeout=15):
    """Every channel idle again: junctiond's calls and channels, and
    pstnsim's calls and spans."""
    check(wait_for(lambda: gw_idle(gw), timeout, 0.1),
          "junctiond: calls or channels left",
          gw.ctl_json("calls")["calls"],
          [c for c in gw.ctl_json("channels")["channels"]
           if c["state"] != "idle"])
    check(wait_for(lambda: sim_idle(sim), timeout, 0.1),
          "pstnsim: calls or channels left",
          [c for c in sim.calls() if c["state"] != "released"],
          sim_spans(sim))


def sim_call_for(sim, number):
    """pstnsim's newest call to number (calls from the gateway)."""
    calls = [c for c in sim.calls() if c["called"] == number]
    return calls[0] if calls else {}


# ---- 1. the D-channel fails during a call ----------------------------

@tap.test
def dchannel_loss_clears_the_call_with_cause_38():
    """Q.931 s.5.8.9 / Q.921: the data link fails while a SIP -> PSTN
    call is up.  junctiond clears the SIP side with BYE and Reason
    Q.850 cause 38 (network out of order, RFC 3398 s.8.2.6.1) once
    Q.921 declares the link down; the B-channel is free again once the
    link is back, and takes a new call."""
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    log = log_path()
    p = sipp([f"127.0.0.1:{gw.sip}", "-sf",
              os.path.join(SCEN, "gw_call_bye_reason.xml"), "-s", "2000",
              "-m", "1", "-p", str(free_port("udp", 12400, 400)), "-key",
              "rtp_port", str(peer.port), "-trace_logs", "-log_file", log],
             timeout=60)
    call = answered_calls(gw)[0]
    span, ts = call["span"], call["ts"]
    t0 = time.monotonic()
    r = sim.cmd({"cmd": "dchan", "span": span, "up": False})
    check(r.get("ok"), r)
    out, _ = p.communicate(timeout=60)
    took = time.monotonic() - t0
    cause = logged(log, "cause")
    print(f"# D-channel of span {span} failed: BYE after {took:.1f} s, "
          f"Reason cause {cause}")
    check(p.returncode == 0, "no BYE with a Q.850 Reason", out[-2000:])
    check(cause == "38", f"Reason cause {cause}, not 38")
    check(took < DCHAN_LOSS_S, f"BYE only after {took:.1f} s")
    check(wait_for(lambda: {s["id"]: s for s in gw.ctl_json("spans")[
        "spans"]}[span]["dchan"] == "down", 5), "span's D-channel not down",
          gw.ctl_json("spans"))
    chan = [c for c in gw.ctl_json("channels")["channels"]
            if c["span"] == span and c["ts"] == ts][0]
    print(f"# while the link is down: channel {span}/{ts} {chan['state']}, "
          f"calls {[c['state'] for c in gw.ctl_json('calls')['calls']]}")
    # the link comes back: the channel is released on both sides
    r = sim.cmd({"cmd": "dchan", "span": span, "up": True})
    check(r.get("ok"), r)
    check(wait_for(lambda: all(s["dchan"] == "up" for s in
                               gw.ctl_json("spans")["spans"]), 15),
          "the D-channel did not come back", gw.ctl_json("spans"))
    all_idle(gw, sim, 20)
    row = cdr_of(gw, call["id"])
    pc = sim_call_for(sim, "2000")
    print(f"# CDR {row.get('disposition')} q850 {row.get('q850')} sip "
          f"{row.get('sip')}; pstnsim: {pc.get('state')} cause "
          f"{pc.get('cause')} cleared by {pc.get('cleared_by')}")
    check(row.get("q850") == 38 and row.get("disposition") == "ANSWERED"
          and row.get("sip") == 200 and row.get("answer") and
          row.get("end"), row)
    # a new call on the same channel (ascending hunt: the lowest free)
    rc, out = sipp_call(gw, "gw_call.xml", "2000", "-key", "rtp_port",
                        str(peer.port), "-d", "500")
    check(rc == 0, "no call after the link came back", out[-1500:])
    all_idle(gw, sim)
    row = cdrs(gw)[-1]
    check(row.get("disposition") == "ANSWERED" and row.get("q850") == 16 and
          row.get("span") == span and row.get("ts") == ts, row)


# ---- 2. the SIP side vanishes ----------------------------------------

@tap.test
def rtp_timeout_clears_a_vanished_sip_side():
    """The SIP peer stops sending RTP and never sends BYE.  The MG
    reports the RTP timeout (H.248.1 Annex E.11 nt/netfail, [mg]
    rtp_timeout_ms) and junctiond clears the call: DISCONNECT to the
    PSTN and BYE to SIP, both with cause 41 (temporary failure: the
    media path failed; RFC 3398 maps it to 503 where a response is
    still due)."""
    gw, sim = gateway("rtp_timeout_ms = 2000\n")
    peer = rtp.RtpPeer()
    log = log_path()
    p = sipp([f"127.0.0.1:{gw.sip}", "-sf",
              os.path.join(SCEN, "gw_call_bye_reason.xml"), "-s", "2000",
              "-m", "1", "-p", str(free_port("udp", 12400, 400)), "-key",
              "rtp_port", str(peer.port), "-trace_logs", "-log_file", log],
             timeout=40)
    call = answered_calls(gw)[0]
    learn_remote(peer)
    peer.stream_silence(1.0)        # talks for a second, then is gone
    t0 = time.monotonic()
    out, _ = p.communicate(timeout=40)
    took = time.monotonic() - t0
    cause = logged(log, "cause")
    print(f"# RTP stopped: BYE {took:.1f} s later, Reason cause {cause}")
    check(p.returncode == 0, "no BYE after the RTP timeout", out[-2000:],
          gw.logtext()[-2000:])
    check(1.5 <= took <= 8, f"BYE {took:.1f} s after the RTP stopped")
    check(cause == "41", f"Reason cause {cause}, not 41")
    check(wait_for(lambda: sim_call_for(sim, "2000").get("state") ==
                   "released", 10), sim.calls())
    pc = sim_call_for(sim, "2000")
    print(f"# pstnsim: cleared by {pc.get('cleared_by')}, cause "
          f"{pc.get('cause')}")
    check(pc.get("cleared_by") == "gateway" and pc.get("cause") == 41, pc)
    all_idle(gw, sim)
    row = cdr_of(gw, call["id"])
    print(f"# CDR {row.get('disposition')} q850 {row.get('q850')} sip "
          f"{row.get('sip')}")
    check(row.get("q850") == 41 and row.get("disposition") == "ANSWERED" and
          row.get("sip") == 200 and row.get("end"), row)


# ---- 3. CANCEL crosses CONNECT ---------------------------------------

# Lines that answer right after alerting, a little later each: the
# CANCEL that a UAC sends on the 180 meets the CONNECT at junctiond.
# Which one gets there first turns at about 1-2 ms on loopback; the
# delays around it are tried more than once.
RACE_DELAYS_MS = (0, 1, 1, 1, 2, 2, 2, 3, 5, 10)
RACE_NUMBERS = "".join(f"""
[number 210{i:02d}]
behaviour = milliwatt
answer_delay_ms = {d}
""" for i, d in enumerate(RACE_DELAYS_MS))


@tap.test
def cancel_racing_connect_ends_one_way_or_the_other():
    """RFC 3261 s.9.2 / RFC 3398 s.7.2.2: a CANCEL and the PSTN's CONNECT
    cross.  Whichever junctiond takes first decides, and the rest
    follows from it: 487 and the PSTN call released (CANCELLED), or 200,
    ACK and BYE (ANSWERED); one CDR row per attempt, no channel left."""
    gw, sim = gateway(sim_extra=RACE_NUMBERS)
    seen = {}
    for i, d in enumerate(RACE_DELAYS_MS):
        number = f"210{i:02d}"
        before = {r["id"] for r in cdrs(gw)}
        log = log_path()
        rc, out = sipp_call(gw, "uac_cancel_race.xml", number,
                            "-trace_logs", "-log_file", log)
        outcome = logged(log, "outcome")
        check(rc == 0 and outcome, f"{number}: an inconsistent ending",
              out[-2000:], gw.logtext()[-1500:])
        all_idle(gw, sim)
        rows = [r for r in cdrs(gw) if r["id"] not in before]
        pc = sim_call_for(sim, number)
        print(f"# answer after {d} ms: {outcome}; CDR "
              f"{[(r['disposition'], r['sip'], r['q850']) for r in rows]}; "
              f"pstnsim {pc.get('state')} "
              f"{'connected' if pc.get('times', {}).get('connect') else ''}"
              f" cause {pc.get('cause')}")
        check(len(rows) == 1, f"{number}: {len(rows)} CDR rows", rows)
        row = rows[0]
        if outcome == "cancelled":
            check(row["disposition"] == "CANCELLED" and row["sip"] == 487 and
                  not row["answer"], row)
        else:
            check(outcome == "answered", outcome)
            check(row["disposition"] == "ANSWERED" and row["sip"] == 200 and
                  row["answer"], row)
        check(pc.get("state") == "released", pc)
        seen[outcome] = seen.get(outcome, 0) + 1
    print(f"# outcomes over {len(RACE_DELAYS_MS)} races: {seen}")


# ---- 4. more calls than B-channels -----------------------------------

@tap.test
def twice_the_channels_offered_at_once():
    """Four INVITEs at once to a group with two free B-channels: two
    connect; two are refused with 503, Retry-After and Reason cause 34
    (no circuit/channel available, RFC 3398 s.8.2.6.1)."""
    gw, sim = gateway(spans="1")
    check(gw.ctl_json("block", "span=1").get("ok"), "block span 1")
    for ts in (1, 2):
        r = gw.ctl_json("unblock", "span=1", f"ts={ts}")
        check(r.get("ok"), r)
    free = [c for c in gw.ctl_json("channels")["channels"]
            if c["span"] == 1 and c["state"] == "idle"]
    check(len(free) == 2, "not two free channels", free)
    before = {r["id"] for r in cdrs(gw)}
    log = log_path()
    peer = rtp.RtpPeer()
    rc, out = sipp_call(gw, "uac_call_or_refused.xml", "2000", "-m", "4",
                        "-l", "4", "-r", "40", "-d", "2000", "-key",
                        "rtp_port", str(peer.port), "-trace_logs",
                        "-log_file", log)
    lines = log_lines(log)
    print("# " + "\n# ".join(lines))
    check(rc == 0, "a call neither answered nor refused cleanly",
          out[-2000:])
    answered = [x for x in lines if x.endswith(" answered")]
    refused = [x for x in lines if " refused " in x]
    check(len(answered) == 2 and len(refused) == 2, lines)
    for x in refused:
        check("cause=34" in x.split() and
              any(w.startswith("retry_after=") and w[12:].isdigit()
                  for w in x.split()), "503 without Retry-After or cause 34",
              x)
    # the records are final once the calls have ended on the PRI side
    check(gw.ctl_json("unblock", "span=1").get("ok"), "unblock span 1")
    all_idle(gw, sim)
    rows = [r for r in cdrs(gw) if r["id"] not in before]
    got = sorted((r["disposition"], r["sip"], r["q850"]) for r in rows)
    print(f"# CDR {got}")
    check(got == [("ANSWERED", 200, 16)] * 2 + [("FAILED", 503, 34)] * 2,
          rows)


# ---- 5. junctiond killed with calls up -------------------------------

@tap.test
def kill_9_keeps_every_answered_call_in_the_cdr_store():
    """junctiond dies (SIGKILL) with three answered calls: the CDR store
    (gateway/cdr.c: WAL, an answer committed on its own) is readable
    afterwards and holds each call with its answer time.  Started
    again, the gateway and the switch end with every channel idle."""
    gw, sim = gateway(extra="\n[cdr]\npath = faults-cdr.sqlite\n")
    db = os.path.join(gw.rundir, "faults-cdr.sqlite")
    peer = rtp.RtpPeer()
    p = sipp([f"127.0.0.1:{gw.sip}", "-sf",
              os.path.join(SCEN, "gw_call.xml"), "-s", "2000", "-m", "3",
              "-l", "3", "-r", "20", "-d", "60000", "-p",
              str(free_port("udp", 12400, 400)), "-key", "rtp_port",
              str(peer.port)], timeout=90)
    try:
        calls = answered_calls(gw, 3)
        ids = sorted(c["id"] for c in calls)
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(10)
        print(f"# junctiond killed with calls {ids} answered")
        con = sqlite3.connect(db, timeout=5)
        try:
            check(con.execute("PRAGMA integrity_check").fetchone()[0] ==
                  "ok", "the CDR database is damaged")
            rows = {r[0]: r for r in con.execute(
                "SELECT id, answer_ms, end_ms, disposition FROM cdr")}
        finally:
            con.close()
        for i in ids:
            print(f"# {i}: {rows.get(i)}")
            check(i in rows and rows[i][1], f"call {i} lost its answer",
                  rows)
    finally:
        if p.poll() is None:
            p.kill()
        p.communicate()
    # Started again: the D-channels come back and neither side keeps a
    # channel for the calls that died with it.
    start_gateway(gw)
    all_idle(gw, sim, 20)
    listed = {r["id"]: r for r in cdrs(gw)}
    check(all(listed.get(i, {}).get("answer") for i in ids),
          "the restarted gateway does not list the calls", listed)
    rc, out = sipp_call(gw, "gw_call.xml", "2000", "-key", "rtp_port",
                        str(peer.port), "-d", "300")
    check(rc == 0, "no call after the restart", out[-1500:])
    all_idle(gw, sim)


# ---- 6. glare ----------------------------------------------------------

def glare_gateway(sim_span1=""):
    """Span 1 alone, hunted from the top as pstnsim (the network side)
    hunts: both ends pick B-channel 31 first.  A PBX answers what comes
    from the PSTN."""
    gw, sim = gateway(spans="1", hunt="descending", sim_span1=sim_span1)
    gw.pbx_peer = rtp.RtpPeer()
    gw.uas = pbx(gw.pbx, gw.pbx_peer.port)
    time.sleep(0.3)
    return gw, sim


def seized(gw, ts, state):
    return [c for c in gw.ctl_json("channels")["channels"]
            if c["span"] == 1 and c["ts"] == ts and c["state"] == state]


def glare_outcome(gw, sim, caller, log, peer, sim_id):
    """However the collision was resolved, both ends agree: a call that
    connected is on the same B-channel in junctiond and in pstnsim, and
    carries pstnsim's tone; every channel is idle at the end."""
    def settled():
        sc = [c for c in sim.calls() if c["state"] not in
              ("setup", "proceeding", "alerting")]
        return len(sc) == len(sim.calls()) and \
            all(c["state"] != "setup" for c in gw.ctl_json("calls")["calls"])
    wait_for(settled, 5, 0.1)
    gw_calls = gw.ctl_json("calls")["calls"]
    sim_calls = sim.calls()
    print("# junctiond: " + str([(c["direction"], c["state"], c["ts"])
                                  for c in gw_calls]))
    print("# pstnsim: " + str([(c["direction"], c["state"], c["ts"],
                                c["cause"]) for c in sim_calls]))
    for c in gw_calls:
        if c["state"] != "answered":
            continue
        twin = [s for s in sim_calls if s["state"] == "connected" and
                s["direction"] == ("in" if c["direction"] == "out"
                                   else "out")]
        check(twin and twin[0]["ts"] == c["ts"],
              "a connected call is on different channels at the two ends",
              c, twin)
        if c["direction"] == "in":
            # pstnsim's milliwatt, through the channel it kept or got
            pbx = gw.pbx_peer
            check(wait_for(lambda: (pbx.poll(), len(pbx.audio()))[1] >=
                           8000, 5), "the PBX hears nothing")
            f = rtp.dominant_freq(pbx.audio()[-8000:-4000])
            print(f"# the PBX hears {f:.1f} Hz on ts {c['ts']}")
            check(abs(f - 1004) <= 2, f)
        if c["direction"] == "out":
            # a second of what comes after the answer
            peer.poll()
            n = len(peer.audio()) + 8000
            check(wait_for(lambda: (peer.poll(), len(peer.audio()))[1] >=
                           n, 5), "the caller hears nothing")
            f = rtp.dominant_freq(peer.audio()[-4000:])
            print(f"# the SIP caller hears {f:.1f} Hz on ts {c['ts']}")
            check(abs(f - 1004) <= 2, f)
    out, _ = caller.communicate(timeout=40)
    print("# SIP caller: " + "; ".join(log_lines(log)))
    check(caller.returncode == 0, out[-1500:])
    mine = sim_call(sim, sim_id)
    if mine.get("times", {}).get("connect") is None:
        gw.uas.kill()
    gw.uas.communicate(timeout=30)
    all_idle(gw, sim, 20)
    for c in sim.calls():
        print(f"# pstnsim {c['id']} {c['direction']} ts {c['ts']}: cause "
              f"{c['cause']} by {c['cleared_by']}")


def glare_caller(gw, peer, log):
    """A SIP call to 2000 (the milliwatt) that may be refused."""
    return sipp([f"127.0.0.1:{gw.sip}", "-sf",
                 os.path.join(SCEN, "uac_call_or_refused.xml"), "-s",
                 "2000", "-m", "1", "-d", "3000", "-p",
                 str(free_port("udp", 12400, 400)), "-key", "rtp_port",
                 str(peer.port), "-trace_logs", "-log_file", log])


def pstnsim_calls_in(sim, length_s=2):
    """pstnsim calls the PBX over span 1, for length_s once answered;
    its call's id."""
    r = sim.cmd({"cmd": "call", "from": "5551234", "to": "7001", "span": 1,
                 "then": "milliwatt", "call_length_s": length_s})
    check(r.get("ok"), r)
    return r["id"]


def sim_call(sim, cid):
    """pstnsim's call cid as it is now."""
    return [c for c in sim.calls() if c["id"] == cid][0]


def setup_while_preparing(gw, sim, peer, log):
    """A SIP call reserves ts 31 while the MG is held (SIGSTOP) before
    it answers the Add; then pstnsim's SETUP names ts 31 and is
    answered.  Returns the SIP caller, pstnsim's call id and its call
    as it was answered."""
    mg = gw.mg_pid()
    os.kill(mg, signal.SIGSTOP)     # the MG is slow to answer the Add
    try:
        caller = glare_caller(gw, peer, log)
        check(wait_for(lambda: seized(gw, 31, "reserved"), 5, 0.05),
              "junctiond did not reserve ts 31", gw.ctl_json("channels"))
        sim_id = pstnsim_calls_in(sim)
        check(wait_for(lambda: sim_call(sim, sim_id)["state"] != "setup",
                       5, 0.05),
              "no answer to pstnsim's SETUP", sim.calls())
        mine = sim_call(sim, sim_id)
    finally:
        os.kill(mg, signal.SIGCONT)
    print(f"# pstnsim's call on ts {mine['ts']}: {mine['state']}, "
          f"cause {mine['cause']}")
    return caller, sim_id, mine


def both_connected(gw, sim, sim_id):
    """Both calls up: pstnsim's and junctiond's own; returns pstnsim's
    call and junctiond's outgoing one."""
    def up():
        out = [c for c in gw.ctl_json("calls")["calls"]
               if c["direction"] == "out" and c["state"] == "answered"]
        return sim_call(sim, sim_id)["state"] == "connected" and out
    check(wait_for(up, 10, 0.1), "the two calls are not both up",
          gw.ctl_json("calls"), sim.calls())
    mine = sim_call(sim, sim_id)
    out = [c for c in gw.ctl_json("calls")["calls"]
           if c["direction"] == "out"][0]
    return mine, out


@tap.test
def glare_on_the_channel_being_prepared():
    """pstnsim's SETUP names, as exclusive, the B-channel that junctiond
    has just reserved for a SIP call, while the MG is still building
    that call's context: the channel is taken, the network's call is
    refused with cause 44 (Q.931 s.5.2.3.1 c) and junctiond's goes on
    on its channel."""
    gw, sim = glare_gateway()
    peer = rtp.RtpPeer()
    log = log_path()
    caller, sim_id, mine = setup_while_preparing(gw, sim, peer, log)
    check(mine["cause"] == 44, "not refused with cause 44", mine)
    glare_outcome(gw, sim, caller, log, peer, sim_id)


@tap.test
def glare_preferred_channel_is_replaced():
    """As above, but pstnsim names the channel as preferred: junctiond
    takes the network's call on a free channel of its own choice, named
    in its first answer (Q.931 s.5.2.3.1 b), and both calls connect,
    each on its own B-channel at both ends."""
    gw, sim = glare_gateway(sim_span1="exclusive = no\n")
    peer = rtp.RtpPeer()
    log = log_path()
    caller, sim_id, _ = setup_while_preparing(gw, sim, peer, log)
    mine, out = both_connected(gw, sim, sim_id)
    print(f"# pstnsim's call on ts {mine['ts']}, junctiond's on {out['ts']}")
    check(mine["ts"] != 31 and out["ts"] == 31, mine, out)
    glare_outcome(gw, sim, caller, log, peer, sim_id)


@tap.test
def glare_setups_cross_on_the_link():
    """Both ends send a SETUP naming B-channel 31 of span 1 as exclusive
    at once: the D-channel is held silent for a moment so that the two
    SETUPs cross on the link (Q.921 delivers both when it recovers).
    Q.931 s.5.7 (and Annex D.3 b): the network's call has priority and
    keeps the channel, and the network clears junctiond's SETUP with
    cause 44.  junctiond, the user side, gives the channel up to the
    network's call at once and places its own again on another
    channel: both calls connect."""
    gw, sim = glare_gateway()
    peer = rtp.RtpPeer()
    log = log_path()
    r = sim.cmd({"cmd": "dchan", "span": 1, "up": False})
    check(r.get("ok"), r)
    caller = glare_caller(gw, peer, log)
    check(wait_for(lambda: seized(gw, 31, "in_use"), 5, 0.02),
          "junctiond did not seize ts 31", gw.ctl_json("channels"))
    sim_id = pstnsim_calls_in(sim)
    mine = sim_call(sim, sim_id)
    print(f"# pstnsim seized ts {mine['ts']} for its call")
    time.sleep(0.3)
    r = sim.cmd({"cmd": "dchan", "span": 1, "up": True})
    check(r.get("ok"), r)
    mine, out = both_connected(gw, sim, sim_id)
    print(f"# pstnsim's call on ts {mine['ts']}, junctiond's on {out['ts']}")
    check(mine["ts"] == 31 and out["ts"] not in (0, 31), mine, out)
    refused = [c for c in sim.calls() if c["direction"] == "in" and
               c["cause"] == 44]
    check(refused, "pstnsim did not refuse junctiond's first SETUP",
          sim.calls())
    glare_outcome(gw, sim, caller, log, peer, sim_id)


def cleared_while_the_mg_is_held(pbx_calls):
    """Span 1 hunted from the top at both ends, a PBX for pbx_calls calls;
    pstnsim's call on ts 31 connects, the MG is held (SIGSTOP) and
    pstnsim clears the call: junctiond's call is left clearing, ts 31
    taken, until the MG is let go.  Returns the gateway, pstnsim, the
    PBX's RTP peer and the MG's pid, to SIGCONT."""
    gw, sim = gateway(spans="1", hunt="descending")
    peer = rtp.RtpPeer()
    gw.uas = pbx(gw.pbx, peer.port, calls=pbx_calls)
    time.sleep(0.3)
    first = pstnsim_calls_in(sim, 30)
    check(wait_for(lambda: sim_call(sim, first)["state"] == "connected",
                   10, 0.05), "the first call did not connect", sim.calls())
    check(sim_call(sim, first)["ts"] == 31, sim_call(sim, first))
    mg = gw.mg_pid()
    os.kill(mg, signal.SIGSTOP)     # the MG is slow to take it down
    try:
        r = sim.cmd({"cmd": "hangup", "id": first})
        check(r.get("ok"), r)
        check(wait_for(lambda: sim_call(sim, first)["state"] == "released",
                       5, 0.05), "pstnsim did not release", sim.calls())
        check(wait_for(lambda: [c for c in gw.ctl_json("calls")["calls"]
                                if c["state"] == "clearing"], 5, 0.05),
              "junctiond's call is not clearing", gw.ctl_json("calls"))
        check(not seized(gw, 31, "idle"), "ts 31 idle already",
              gw.ctl_json("channels"))
    except BaseException:
        os.kill(mg, signal.SIGCONT)
        raise
    return gw, sim, peer, mg


@tap.test
def setup_waits_for_the_channel_being_cleared():
    """pstnsim clears its call on B-channel 31 and at once offers another
    on the same channel (it hunts from the top, exclusive), while
    junctiond's MG is still taking the first call's context down (held
    with SIGSTOP, so the Subtract goes unanswered): the channel is
    taken for that long.  The new SETUP waits for it, unanswered,
    instead of being refused with cause 44, and connects on ts 31 once
    the context is gone; the span counts it in setups_waited."""
    gw, sim, peer, mg = cleared_while_the_mg_is_held(2)
    try:
        second = pstnsim_calls_in(sim)
        time.sleep(0.5)
        mine = sim_call(sim, second)
        print(f"# pstnsim's second call on ts {mine['ts']}, "
              f"{mine['state']} with the MG held")
        check(mine["ts"] == 31 and mine["state"] == "setup", mine)
    finally:
        os.kill(mg, signal.SIGCONT)
    check(wait_for(lambda: sim_call(sim, second)["state"] == "connected",
                   10, 0.05), "the second call did not connect", sim.calls())
    mine = sim_call(sim, second)
    print(f"# connected on ts {mine['ts']}")
    check(mine["ts"] == 31, mine)
    span = gw.ctl_json("spans")["spans"][0]
    print(f"# span 1: setups_waited {span['setups_waited']}, "
          f"calls_rejected {span['calls_rejected']}")
    check(span["setups_waited"] == 1 and span["calls_rejected"] == 0, span)
    check(wait_for(lambda: (peer.poll(), len(peer.audio()))[1] >= 8000, 5),
          "the PBX hears nothing")
    f = rtp.dominant_freq(peer.audio()[-8000:-4000])
    print(f"# the PBX hears {f:.1f} Hz")
    check(abs(f - 1004) <= 2, f)
    gw.uas.communicate(timeout=30)
    check(gw.uas.returncode == 0, "the PBX's SIPp failed")
    all_idle(gw, sim, 20)


@tap.test
def a_waiting_setup_is_cleared_or_refused_in_time():
    """As above, with the MG held for longer: a waiting SETUP the network
    clears itself is forgotten (no call is made of it when the channel
    comes free), and one still waiting after 2 s, inside the network's
    T303, is refused with cause 44.  Then every channel is idle."""
    gw, sim, peer, mg = cleared_while_the_mg_is_held(1)
    try:
        second = pstnsim_calls_in(sim, 30)
        time.sleep(0.3)
        check(sim_call(sim, second)["state"] == "setup",
              sim_call(sim, second))
        check(sim.cmd({"cmd": "hangup", "id": second}).get("ok"))
        check(wait_for(lambda: sim_call(sim, second)["state"] ==
                       "released", 5, 0.05),
              "the waiting call was not released", sim.calls())
        t0 = time.monotonic()
        third = pstnsim_calls_in(sim, 30)
        check(wait_for(lambda: sim_call(sim, third)["state"] ==
                       "released", 5, 0.05),
              "the third call was not refused", sim.calls())
        waited = time.monotonic() - t0
        mine = sim_call(sim, third)
        print(f"# the third call refused after {waited:.2f} s, cause "
              f"{mine['cause']}")
        check(mine["cause"] == 44 and 1.8 <= waited <= 3.5, mine, waited)
    finally:
        os.kill(mg, signal.SIGCONT)
    span = gw.ctl_json("spans")["spans"][0]
    print(f"# span 1: setups_waited {span['setups_waited']}, "
          f"calls_rejected {span['calls_rejected']}")
    check(span["setups_waited"] == 2 and span["calls_rejected"] == 1, span)
    all_idle(gw, sim, 20)
    time.sleep(0.5)
    calls = gw.subsystem(gw.ctl_json("status"), "calls")
    print(f"# junctiond's calls from the PSTN: {calls['in']}")
    check(calls["in"] == 1 and not gw.ctl_json("calls")["calls"],
          "a call was made of a SETUP that only waited", calls)
    gw.uas.communicate(timeout=30)


# ---- 7. the line's frames stop for a moment --------------------------

def mg_span_counters(gw, span):
    spans = gw.ctl_json("spans", sock=gw.mg_socket)["spans"]
    return [s for s in spans if s["id"] == span][0]["counters"]


@tap.test
def a_short_frame_gap_keeps_the_call():
    """The PSTN side stops sending frames for a second (pstnsim held
    with SIGSTOP): under the 2.5 s a framer gives a defect before it is
    an alarm, so the span stays in service, the frames lost count as
    gaps, and the call stays up and carries the tone again afterwards;
    it ends normally (cause 16)."""
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    t = threading.Thread(target=lambda: setattr(t, "result", sipp_call(
        gw, "gw_call.xml", "2000", "-key", "rtp_port", str(peer.port),
        "-d", "5000")))
    t.start()
    call = answered_calls(gw)[0]
    check(heard(peer, 1), "no audio before the gap")
    before = mg_span_counters(gw, call["span"])
    os.kill(sim.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(1.0)
    finally:
        os.kill(sim.proc.pid, signal.SIGCONT)
    check(wait_for(lambda: mg_span_counters(gw, call["span"])["gaps"] >=
                   before["gaps"] + 40, 5, 0.1),
          "the gap was not counted", mg_span_counters(gw, call["span"]))
    after = mg_span_counters(gw, call["span"])
    states = {s["id"]: s["state"] for s in
              gw.ctl_json("spans", sock=gw.mg_socket)["spans"]}
    print(f"# after the gap: gaps {before['gaps']} -> {after['gaps']}, "
          f"slips {before['slips']} -> {after['slips']}, spans {states}")
    check(states[call["span"]] == "up", "the span went out of service",
          states)
    check([c for c in gw.ctl_json("calls")["calls"]
           if c["id"] == call["id"] and c["state"] == "answered"],
          "the call did not survive the gap", gw.ctl_json("calls"))
    peer.poll()
    n = len(peer.audio())
    check(heard(peer, n / 8000 + 1), "no audio after the gap")
    f, level, gaps = tone(peer.audio()[n:])
    print(f"# after the gap the SIP side hears {f:.1f} Hz at "
          f"{level:.1f} dBm0")
    check(abs(f - 1004) <= 2, f)
    t.join(30)
    rc, out = t.result
    check(rc == 0, "the call did not end normally", out[-1500:])
    all_idle(gw, sim)
    row = cdr_of(gw, call["id"])
    check(row.get("disposition") == "ANSWERED" and row.get("q850") == 16,
          row)


if __name__ == "__main__":
    tap.run()
