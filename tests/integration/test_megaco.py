"""tests/integration/test_megaco.py - junction-mg as an H.248 MG under a
softswitch: the project's MGC test driver on the Erlang/OTP megaco stack
(mgc_driver.erl) registers it, audits it, builds TDM + RTP contexts, plays
tones and digits, collects digits through a digit map, reads statistics,
and fails over between two MGCs.  The PSTN side is pstnsim over the
virtual spans, its calls placed by a tdmprobe on the D-channel; the IP
side a plain RTP peer (rtp.py).  What goes through is measured: the
milliwatt tone's frequency and level, the digits collected."""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Pstnsim, Tap, check, free_port, on_exit,  # noqa: E402
                     probe_events, probe_start, prog, wait_for)
from mgc import (Mgc, context_id, errors,  # noqa: E402
                 local_sdp, observed_events, service_change_params,
                 statistics, terminations)
import rtp  # noqa: E402

tap = Tap()


class Mg:
    """junction-mg alone, its spans under the [mgc ext] softswitch."""

    def __init__(self, sim, mgc_ports, version=3, encoding="pretty",
                 timeout_ms=30000, mg_extra="", spans=2):
        self.sim = sim
        self.port = free_port("udp", 13000, 300)
        rtp_lo = 20000 + (os.getpid() % 200) * 40
        addrs = ", ".join(f"127.0.0.1:{p}" for p in mgc_ports)
        self.conf = os.path.join(sim.rundir, "mg.conf")
        with open(self.conf, "w") as f:
            f.write(f"""
[general]
rundir = {sim.rundir}
log_level = info,mg=debug

[mg]
local = no
socket = junction-mg.sock
rtp_port_min = {rtp_lo}
rtp_port_max = {rtp_lo + 39}
max_wait_ms = 50
{mg_extra}

[mgc ext]
address = {addrs}
mg_port = {self.port}
version = {version}
encoding = {encoding}
request_timeout_ms = {timeout_ms}
""")
            for i in range(1, spans + 1):
                f.write(f"\n[span {i}]\ncontrol = mgc:ext\n")
        self.log = os.path.join(sim.rundir, "mg.log")
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([prog("junction-mg"), "-F", "-c",
                                      self.conf], stdout=logf,
                                     stderr=subprocess.STDOUT)
        logf.close()
        on_exit(self.stop)

    def ctl(self, cmd):
        import json
        r = subprocess.run([prog("junctionctl"), "-s",
                            os.path.join(self.sim.rundir, "junction-mg.sock"),
                            "--json", cmd], capture_output=True, text=True,
                           timeout=10)
        return json.loads(r.stdout)

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def setup(version=3, encoding="pretty", mgcs=1, timeout_ms=30000,
          mg_extra="", spans=2):
    from harness import SIM_CONF
    sim = Pstnsim(conf=SIM_CONF + "".join(
        f"\n[span {i}]\ntype = e1\nsignalling = pri_net\n"
        "switchtype = euroisdn_e1\n" for i in range(3, spans + 1)))
    sim.start()
    ports = [free_port("udp", 13400 + 100 * i, 100) for i in range(mgcs)]
    drivers = []
    for p in ports:
        d = Mgc(p, version=version, encoding=encoding)
        on_exit(d.stop)
        drivers.append(d)
    mg = Mg(sim, ports, timeout_ms=timeout_ms, mg_extra=mg_extra,
            spans=spans)
    mg.registered = drivers[0].wait_connected(10)
    drivers[0].wait_servicechange(1)     # the registration itself
    return sim, mg, drivers


def pstn_call(sim, number, span=1):
    """A PRI call from the CPE side to number; its timeslot."""
    dp = probe_start(sim.rundir, "-D", "call", "5551234", number, "600000",
                     span=span)

    def connected():
        return [e for e in probe_events(dp) if e["event"] == "connect"]
    check(wait_for(connected, 10), "no connect", probe_events(dp))
    return dp, [e for e in probe_events(dp) if e.get("ts")][0]["ts"]


def add_call(mgc, ts, peer, extra_tdm=""):
    """Context $ { tdm/1/ts, an RTP termination sending to peer }."""
    r = mgc.send(
        "Context = $ { Add = tdm/1/%d { Media { LocalControl { Mode = "
        "SendReceive } }%s }, Add = $ { Media { Stream = 1 { LocalControl "
        "{ Mode = SendReceive }, Local { v=0\nc=IN IP4 $\nm=audio $ RTP/AVP "
        "8 }, Remote { v=0\nc=IN IP4 %s\nm=audio %d RTP/AVP 8 } } } } }"
        % (ts, extra_tdm, peer.host, peer.port))
    check(not errors(r), r)
    ctx = context_id(r)
    tdm, rtpt = terminations(r)
    sdp = local_sdp(r, rtpt)
    port = int([ln for ln in sdp.splitlines()
                if ln.startswith("m=audio")][0].split()[1])
    peer.remote = ("127.0.0.1", port)
    return ctx, tdm, rtpt, sdp


@tap.test
def registers_and_audits():
    sim, mg, (mgc,) = setup(version=2, encoding="compact")
    mid, ver = mg.registered
    print(f"# registered {mid} MEGACO/{ver}")
    check(mid == f"[127.0.0.1]:{mg.port}", mid)
    check(ver == 2, "version not negotiated down to 2", ver)
    r = mgc.send("Context = - { AuditValue = ROOT { Audit { Packages } } }")
    for pkg in ("g-1", "root-1", "dg-1", "dd-1", "cg-1", "nt-1", "rtp-1",
                "tdmc-1"):
        check(pkg in r, f"{pkg} not in Packages", r)
    check(r.startswith("!/2") or r.startswith("MEGACO/2"), r)
    r = mgc.send("Context = - { AuditCapability = tdm/1/1 { Audit { "
                 "Media, Events, Signals } } }")
    check("cg/rt" in r and "dd/ce" in r, r)
    r = mgc.send("Context = - { AuditValue = tdm/1/17 { Audit { Media } } }")
    check("InService" in r or "IV" in r, r)
    st = mg.ctl("megaco")["megaco"]["mgs"][0]
    check(st["state"] == "registered" and st["version"] == 2, st)


@tap.test
def errors_as_h248_says():
    sim, mg, (mgc,) = setup()
    cases = [
        ("Context = - { Modify = tdm/9/1 }", 430),
        ("Context = 77 { Modify = tdm/1/1 }", 411),
        ("Context = - { Modify = tdm/1/1 { Events = 1 { xyz/abc } } }", 440),
        ("Context = - { Modify = tdm/1/1 { Events = 1 { dd/zz } } }", 451),
        ("Context = $ { Add = tdm/1/16 }", 430),   # the D-channel
        ("Context = $ { Add = ROOT }", 410),
        ("Context = $ { Add = $ { Media { Stream = 1 { Remote { v=0\n"
         "c=IN IP4 127.0.0.1\nm=audio 4000 RTP/AVP 99\na=rtpmap:99 "
         "X-NONE/8000 } } } } }", 510),
    ]
    for text, code in cases:
        got = [c for c, _ in errors(mgc.send(text))]
        print(f"# {text[:50]!r} -> {got}")
        check(code in got, f"{text}: {got}, not {code}")
    # Busy: the second Add of one timeslot is 433; the first stays.
    r = mgc.send("Context = $ { Add = tdm/1/3 }")
    ctx = context_id(r)
    got = [c for c, _ in errors(mgc.send("Context = $ { Add = tdm/1/3 }"))]
    check(433 in got, got)
    # A failed command stops its transaction (s.8): the Add after it is
    # not executed, so tdm/1/5 stays free.
    r = mgc.send(f"Context = {ctx} {{ Modify = tdm/9/9, "
                 "Add = tdm/1/5 }")
    check("tdm/1/5" not in r.split("Error")[-1], r)
    r = mgc.send("Context = $ { Add = tdm/1/5 }")
    check(not errors(r), "tdm/1/5 was taken by a command after an error", r)
    # Garbage gets a 400, and the association lives on.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(b"MEGACO/3 [127.0.0.1]:1 Transaction = 5 { Context = $ "
             b"{ Sideways = x } }", ("127.0.0.1", mg.port))
    reply = s.recv(2000).decode()
    print(f"# garbage -> {reply!r}")
    check("Error" in reply or "ER" in reply, reply)
    s.close()
    r = mgc.send("Context = - { AuditValue = ROOT { Audit { } } }")
    check(not errors(r), r)


@tap.test
def softswitch_call_carries_milliwatt():
    sim, mg, (mgc,) = setup()
    dp, ts = pstn_call(sim, "2000")
    peer = rtp.RtpPeer()
    ctx, tdm, rtpt, sdp = add_call(mgc, ts, peer)
    print(f"# context {ctx}: {tdm} + {rtpt}, Local {sdp.splitlines()}")
    peer.stream_silence(2.5)          # symmetric RTP: our packets first
    audio = peer.audio()[-8000:]
    check(len(audio) == 8000, f"only {len(peer.audio())} samples arrived")
    f = rtp.dominant_freq(audio)
    lvl = rtp.level_dbm0(audio)
    print(f"# milliwatt in RTP: {f:.2f} Hz at {lvl:.2f} dBm0")
    check(abs(f - 1004) <= 2, f"frequency {f:.2f} Hz")
    check(abs(lvl + 10) <= 1, f"level {lvl:.2f} dBm0")
    r = mgc.send(f"Context = {ctx} {{ Subtract = {tdm}, Subtract = {rtpt} }}")
    st = statistics(r, rtpt)
    print(f"# Subtract statistics of {rtpt}: {st}")
    check(st.get("rtp/pr", 0) > 80 and st.get("rtp/ps", 0) > 80, st)
    check(st.get("nt/dur", 0) >= 2000, st)
    check(mg.ctl("megaco")["megaco"]["contexts"] == [], "context left")


@tap.test
def tone_signal_completes_and_digit_map_collects():
    sim, mg, (mgc,) = setup()
    dp, ts = pstn_call(sim, "3000")    # pstnsim echoes DTMF in-band
    peer = rtp.RtpPeer()
    ctx, tdm, rtpt, sdp = add_call(mgc, ts, peer)
    # Ringback for 400 ms, its completion notified (E.1.2 g/sc).
    r = mgc.send(f"Context = {ctx} {{ Modify = {tdm} {{ Events = 2 {{ g/sc }}, "
                 "Signals { cg/rt { SignalType = TimeOut, Duration = 400, "
                 "NotifyCompletion = { TimeOut } } } } }")
    check(not errors(r), r)
    n = mgc.wait_notify(r"g/sc", 5)
    ev = observed_events(n)
    print(f"# {ev}")
    check(ev and ev[0][0] == "g/sc" and ev[0][1].get("meth") == "to", ev)
    # A digit map, and the digits played toward the line: pstnsim echoes
    # them in-band, the MG detects and collects them (E.6 dd/ce).
    r = mgc.send(f"Context = {ctx} {{ Modify = {tdm} {{ Events = 3 {{ dd/ce "
                 "{ DigitMap = plan } }, DigitMap = plan { (0|00|[1-7]xxx|"
                 "8xxxxxxx|Fxxxxxxx|Exx|91xxxxxxxxxx|9011x.) }, Signals { "
                 "SignalList = 1 { dg/d4, dg/d3, dg/d2, dg/d1 } } } }")
    check(not errors(r), r)
    n = mgc.wait_notify(r"dd/ce", 10)
    ev = observed_events(n)
    print(f"# {ev}")
    check(ev and ev[0][0] == "dd/ce", ev)
    check(ev[0][1].get("ds", "").strip('"') == "4321", ev)
    check(ev[0][1].get("meth") == "um", ev)
    mgc.send(f"Context = {ctx} {{ Subtract = {tdm}, Subtract = {rtpt} }}")


@tap.test
def span_alarm_is_a_service_change():
    sim, mg, (mgc,) = setup()
    dp, ts = pstn_call(sim, "1000")
    peer = rtp.RtpPeer()
    ctx, tdm, rtpt, sdp = add_call(mgc, ts, peer)
    sim.cmd({"cmd": "alarm", "span": 1, "alarm": "ais", "on": True})
    sc = mgc.wait_servicechange(10)
    p = service_change_params(sc)
    print(f"# span 1 in alarm: {p}")
    check("tdm/1/*" in sc and p.get("method") in ("forced", "fo"), sc)
    # The timeslot left its context (s.7.2.8 Forced); the RTP
    # termination stays for the MGC to subtract.
    r = mgc.send(f"Context = {ctx} {{ AuditValue = {tdm} {{ Audit {{ }} }} }}")
    check(any(c == 435 for c, _ in errors(r)), r)
    r = mgc.send(f"Context = {ctx} {{ Subtract = {rtpt} }}")
    check(not errors(r), r)
    sim.cmd({"cmd": "alarm", "span": 1, "alarm": "ais", "on": False})
    sc = mgc.wait_servicechange(10)
    p = service_change_params(sc)
    check(p.get("method") in ("restart", "rs") and "900" in
          str(p.get("reason")), sc)


@tap.test
def fails_over_to_the_second_mgc():
    sim, mg, (first, second) = setup(mgcs=2, timeout_ms=2000)
    r = first.send("Context = $ { Add = tdm/1/1 }")
    ctx = context_id(r)
    # A signal whose completion the MG will notify in 300 ms; the first
    # MGC dies meanwhile, and the MG finds out when its Notify goes
    # unanswered (T-MAX, here 2 s).
    r = first.send(f"Context = {ctx} {{ Modify = tdm/1/1 {{ Events = 2 {{ "
                   "g/sc }, Signals { cg/rt { SignalType = TimeOut, "
                   "Duration = 300, NotifyCompletion = { TimeOut } } } } }")
    check(not errors(r), r)
    first.stop()
    t0 = time.time()
    mid, ver = second.wait_connected(15)
    sc = [ln for ln in second.lines if ln.startswith("servicechange")]
    p = service_change_params(sc[-1].split(" ", 1)[1]) if sc else {}
    print(f"# {time.time() - t0:.1f} s to fail over: {p}")
    check(p.get("method") in ("failover", "fl") and "909" in
          str(p.get("reason")), sc)
    st = mg.ctl("megaco")["megaco"]["mgs"][0]
    check(st["failovers"] >= 1 and st["mgc"].endswith(
        str(second.port)), st)
    # The context survived, now under the second MGC.
    r = second.send(f"Context = {ctx} {{ Subtract = tdm/1/1 }}")
    check(not errors(r), r)


# -- packages: tonegen, tonedet, ct; embedded descriptors; LockStep ---------

FAX_CONF = """
[number 8000]
behaviour = fax-receive
file = fax-{id}.tif
"""


def setup_fax(**kw):
    """setup() with pstnsim's plan plus 8000, a fax machine that answers
    (T.30: CED, then the V.21 preamble of its DIS)."""
    from harness import SIM_CONF
    sim = Pstnsim(conf=SIM_CONF + FAX_CONF)
    sim.start()
    port = free_port("udp", 13400, 100)
    mgc = Mgc(port)
    on_exit(mgc.stop)
    mg = Mg(sim, [port])
    mg.registered = mgc.wait_connected(10)
    mgc.wait_servicechange(1)
    return sim, mg, mgc


def sim_tone(sim, number):
    """The tone pstnsim heard in its last one-second window on its call
    to number: (Hz, dBm0), or None."""
    for c in sim.calls():
        if str(c.get("to", "")).startswith(number):
            t = (c.get("observations") or {}).get("tone")
            if t and t.get("age_ms", 0) <= 1100:
                return (t["freq_hz"], t["level_dbm0"])
    return None


def wait_sim_tone(sim, number, hz, timeout=4.0):
    """Wait until pstnsim hears hz (None: no tone) on its call to number;
    what it last heard."""
    end = time.time() + timeout
    while True:
        t = sim_tone(sim, number)
        if (t is None) if hz is None else (t and abs(t[0] - hz) < 10):
            return t
        if time.time() > end:
            return t
        time.sleep(0.1)


def notify_at(n):
    """The ObservedEvents timestamp of a Notify (yyyymmddThhmmsshh)."""
    import re
    m = re.search(r"(\d{8}T\d{8}):", n)
    return m.group(1) if m else None


@tap.test
def packages_claimed_are_whole():
    sim, mg, (mgc,) = setup()
    r = mgc.send("Context = - { AuditValue = ROOT { Audit { Packages } } }")
    for pkg in ("tonegen-1", "tonedet-1", "ct-1", "cd-1"):
        check(pkg in r, f"{pkg} not in Packages", r)
    r = mgc.send("Context = - { AuditCapability = tdm/1/1 { Audit { "
                 "Media, Events, Signals } } }")
    for item in ("tonedet/std", "tonedet/etd", "tonedet/ltd", "dd/std",
                 "ct/cmp", "ct/ct", "ct/rsp", "tonegen/pt", "cd/std",
                 "cd/bt", "cd/sit"):
        check(item in r, f"{item} not in the capabilities", r)
    ctx = context_id(mgc.send("Context = $ { Add = tdm/1/9, Add = $ { "
                              "Media { Stream = 1 { Local { v=0\nc=IN IP4 "
                              "$\nm=audio $ RTP/AVP 8 } } } } }"))
    rtpt = terminations(mgc.send(f"Context = {ctx} {{ AuditValue = * {{ "
                                 "Audit { } } }"))
    rtpt = [t for t in rtpt if t.startswith("rtp/")][0]
    cases = [
        # E.7.3 tones no tone plan provides: unequipped, not unknown
        (f"Modify = tdm/1/9 {{ Signals {{ cg/wt }} }}", 513),
        (f"Modify = tdm/1/9 {{ Signals {{ tonegen/pt {{ tl = prt }} }} }}",
         513),
        (f"Modify = tdm/1/9 {{ Signals {{ tonegen/pt {{ tl = xyz }} }} }}",
         449),
        (f"Modify = tdm/1/9 {{ Signals {{ tonegen/pt }} }}", 457),
        (f"Modify = tdm/1/9 {{ Events = 1 {{ tonedet/std {{ tl = xyz }} "
         "} }", 449),
        (f"Modify = tdm/1/9 {{ Events = 1 {{ tonedet/ltd {{ tl = cng }} "
         "} }", 457),
        # toward IP only cg's tones are played, fax tones come from the
        # line
        (f"Modify = {rtpt} {{ Signals {{ ct/ct }} }}", 513),
        (f"Modify = {rtpt} {{ Signals {{ dg/d5 }} }}", 513),
        (f"Modify = {rtpt} {{ Events = 1 {{ ct/cmp }} }}", 512),
        (f"Modify = {rtpt} {{ Events = 1 {{ tonedet/std {{ tl = ans }} }} "
         "}", 512),
        # E.8: the plan's tones, from the line; E.7.3's others unequipped
        (f"Modify = tdm/1/9 {{ Events = 1 {{ cd/prt }} }}", 512),
        (f"Modify = tdm/1/9 {{ Events = 1 {{ cd/std {{ tl = wt }} }} }}",
         512),
        (f"Modify = tdm/1/9 {{ Events = 1 {{ cd/std {{ tl = d5 }} }} }}",
         449),
        (f"Modify = {rtpt} {{ Events = 1 {{ cd/bt }} }}", 512),
        (f"Modify = {rtpt} {{ Events = 1 {{ cd/etd {{ tl = rt }} }} }}",
         512),
    ]
    for text, code in cases:
        got = [c for c, _ in errors(mgc.send(f"Context = {ctx} {{ {text} }}"))]
        print(f"# {text[:60]!r} -> {got}")
        check(code in got, f"{text}: {got}, not {code}")
    # a ringback toward IP (local ringback for a SIP caller)
    r = mgc.send(f"Context = {ctx} {{ Modify = {rtpt} {{ Signals {{ cg/rt "
                 "} } }")
    check(not errors(r), r)
    # DTMF from IP is a tone too (E.6 extends E.4)
    r = mgc.send(f"Context = {ctx} {{ Modify = {rtpt} {{ Events = 4 {{ "
                 "dd/std { tl = * }, tonedet/etd { tl = d5 } } } }")
    check(not errors(r), r)
    mgc.send(f"Context = {ctx} {{ Subtract = tdm/1/9, Subtract = {rtpt} }}")


@tap.test
def fax_tones_detected_with_embedded_descriptors():
    sim, mg, mgc = setup_fax()
    dp, ts = pstn_call(sim, "8000")
    tdm = f"tdm/1/{ts}"
    # CED starts: report it, then (embedded, s.7.1.9) play busy tone and
    # watch for its end and for the V.21 preamble instead.
    r = mgc.send(f"Context = $ {{ Add = {tdm} {{ Events = 20 {{ "
                 "tonedet/std { tl = ans, Embed { Signals { cg/bt }, "
                 "Events = 21 { tonedet/etd { tl = ans }, tonedet/std { "
                 "tl = v21flag } } } } } } }")
    check(not errors(r), r)
    ctx = context_id(r)
    n = mgc.wait_notify(r"tonedet/std", 8)
    ev = observed_events(n)
    print(f"# {ev}")
    check(ev[0][0] == "tonedet/std" and ev[0][1].get("tid") == "ans", ev)
    check("= 20" in n or "=20" in n, n)
    r = mgc.send(f"Context = {ctx} {{ AuditValue = {tdm} {{ Audit {{ "
                 "Signals, Events } } }")
    print(f"# after CED: {r!r}")
    check("cg/bt" in r and "tonedet/etd" in r, r)
    n = mgc.wait_notify(r"tonedet/etd", 8)
    ev = observed_events(n)
    print(f"# {ev}")
    dur = int(ev[0][1].get("dur", 0))
    check(ev[0][1].get("tid") == "ans" and 1000 <= dur <= 4500, ev)
    check("= 21" in n or "=21" in n, n)
    n = mgc.wait_notify(r"v21flag", 8)
    print(f"# {observed_events(n)}")
    r = mgc.send(f"Context = {ctx} {{ Subtract = {tdm} }}")
    check(not errors(r), r)


@tap.test
def lockstep_buffers_events_until_new_events():
    sim, mg, mgc = setup_fax()
    dp, ts = pstn_call(sim, "8000")
    tdm = f"tdm/1/{ts}"
    # s.7.1.9 LockStep: after the first event, later ones wait in the
    # EventBuffer for the next Events descriptor.
    r = mgc.send(f"Context = $ {{ Add = {tdm} {{ Media {{ "
                 "TerminationState { Buffer = LockStep } }, EventBuffer { "
                 "tonedet/std { tl = * }, tonedet/etd { tl = * } }, "
                 "Events = 30 { tonedet/std { tl = * } } } }")
    check(not errors(r), r)
    ctx = context_id(r)
    n = mgc.wait_notify(r"tonedet/std", 8)
    check(observed_events(n)[0][1].get("tid") == "ans", n)
    r = mgc.send(f"Context = {ctx} {{ AuditValue = {tdm} {{ Audit {{ "
                 "Media, EventBuffer } } }")
    check("LockStep" in r or "SP" in r, r)
    time.sleep(5)           # CED ends, the V.21 preamble starts: held
    check(not [x for x in mgc.notifies() if "v21flag" in x],
          "notified while LockStep waited", mgc.notifies())
    t_asked = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    # A new Events descriptor: the etd of ans is not in it (discarded);
    # the std of v21flag is, with the time it was detected.
    r = mgc.send(f"Context = {ctx} {{ Modify = {tdm} {{ Events = 31 {{ "
                 "tonedet/std { tl = v21flag } } } }")
    check(not errors(r), r)
    n = mgc.wait_notify(r"v21flag", 3)
    print(f"# released: {observed_events(n)} at {notify_at(n)}")
    check("= 31" in n or "=31" in n, n)
    check(notify_at(n) and notify_at(n)[:15] < t_asked, n, t_asked)
    check(not [x for x in mgc.notifies() if "tonedet/etd" in x],
          mgc.notifies())
    # Off: the buffer is emptied, events are reported as they come
    r = mgc.send(f"Context = {ctx} {{ Modify = {tdm} {{ Media {{ "
                 "TerminationState { Buffer = Off } } } }")
    check(not errors(r), r)
    mgc.send(f"Context = {ctx} {{ Subtract = {tdm} }}")


@tap.test
def continuity_test_passes_on_a_loop_and_fails_without():
    sim, mg, (mgc,) = setup()
    # 1000 echoes what it hears 500 ms later: the check tone comes back
    dp, ts = pstn_call(sim, "1000")
    tdm = f"tdm/1/{ts}"
    t0 = time.time()
    r = mgc.send(f"Context = $ {{ Add = {tdm} {{ Events = 40 {{ ct/cmp }}, "
                 "Signals { ct/ct } } }")
    check(not errors(r), r)
    ctx = context_id(r)
    n = mgc.wait_notify(r"ct/cmp", 5)
    ev = observed_events(n)
    print(f"# loop: {ev} after {time.time() - t0:.2f} s")
    check(ev[0][1].get("res") == "success", ev)
    check(time.time() - t0 < 2.0, "slower than the 2 s of Q.764 T24")
    time.sleep(1.0)         # the loop's last 500 ms of tone die away
    # The same loop, but a test shorter than its delay: failure (E.10.5)
    t0 = time.time()
    r = mgc.send(f"Context = {ctx} {{ Modify = {tdm} {{ Signals {{ ct/ct {{ "
                 "Duration = 300 } } } }")
    check(not errors(r), r)
    n = mgc.wait_notify(r"ct/cmp", 5)
    ev = observed_events(n)
    print(f"# 300 ms on a 500 ms loop: {ev} after {time.time() - t0:.2f} s")
    check(ev[0][1].get("res") == "failure", ev)
    mgc.send(f"Context = {ctx} {{ Subtract = {tdm} }}")
    # 2000 sends its own 1004 Hz and no loop: failure at the timeout,
    # and what the far end heard was the 2010 Hz check tone
    dp2, ts2 = pstn_call(sim, "2000", span=2)
    tdm2 = f"tdm/2/{ts2}"
    r = mgc.send(f"Context = $ {{ Add = {tdm2} {{ Events = 41 {{ ct/cmp }}, "
                 "Signals { ct/ct } } }")
    check(not errors(r), r)
    ctx2 = context_id(r)
    heard = wait_sim_tone(sim, "2000", 2010, 1.9)
    print(f"# pstnsim heard {heard}")
    check(heard and abs(heard[0] - 2010) < 10 and abs(heard[1] + 12) < 1.5,
          heard)
    n = mgc.wait_notify(r"ct/cmp", 5)
    ev = observed_events(n)
    print(f"# no loop: {ev}")
    check(ev[0][1].get("res") == "failure", ev)
    mgc.send(f"Context = {ctx2} {{ Subtract = {tdm2} }}")


@tap.test
def continuity_respond_loops_the_line_back():
    sim, mg, (mgc,) = setup()
    dp, ts = pstn_call(sim, "2000")
    tdm = f"tdm/1/{ts}"
    r = mgc.send(f"Context = $ {{ Add = {tdm} {{ Signals {{ ct/rsp }} }} }}")
    check(not errors(r), r)
    ctx = context_id(r)
    heard = wait_sim_tone(sim, "2000", 1004)
    print(f"# with ct/rsp pstnsim hears {heard}")
    check(heard and abs(heard[0] - 1004) < 5 and abs(heard[1] + 10) < 1.5,
          heard)
    # the MGC removes it (E.10.5): the loop goes
    r = mgc.send(f"Context = {ctx} {{ Modify = {tdm} {{ Signals }} }}")
    check(not errors(r), r)
    heard = wait_sim_tone(sim, "2000", None)
    print(f"# after: {heard}")
    check(heard is None, heard)
    mgc.send(f"Context = {ctx} {{ Subtract = {tdm} }}")


@tap.test
def tonegen_plays_a_tone_list_and_keepactive_holds_it():
    sim, mg, (mgc,) = setup()
    dp, ts = pstn_call(sim, "1000")
    tdm = f"tdm/1/{ts}"
    r = mgc.send(f"Context = $ {{ Add = {tdm} {{ Events = 50 {{ g/sc }}, "
                 "Signals { tonegen/pt { tl = [cot, mwt], ind = 100, "
                 "Duration = 1500, NotifyCompletion = { TimeOut } } } } }")
    check(not errors(r), r)
    ctx = context_id(r)
    first = wait_sim_tone(sim, "1000", 2010, 1.4)
    second = wait_sim_tone(sim, "1000", 1004, 2.9)
    print(f"# pt heard: {first} then {second}")
    check(first and abs(first[0] - 2010) < 10, first)
    check(second and abs(second[0] - 1004) < 10, second)
    n = mgc.wait_notify(r"g/sc", 3)
    ev = observed_events(n)
    print(f"# {ev}")
    check(ev[0][1].get("sigid") == "tonegen/pt" and
          ev[0][1].get("meth") == "to", ev)
    # KeepActive (s.7.1.11): a digit detected does not stop the signal
    r = mgc.send(f"Context = {ctx} {{ Modify = {tdm} {{ Events = 51 {{ "
                 "dd/std { tl = * } }, Signals { cg/dt { KeepActive }, "
                 "dg/d7 } } }")
    check(not errors(r), r)
    n = mgc.wait_notify(r"dd/std", 5)      # our d7, echoed 500 ms later
    print(f"# {observed_events(n)}")
    r = mgc.send(f"Context = {ctx} {{ AuditValue = {tdm} {{ Audit {{ "
                 "Signals } } }")
    check("cg/dt" in r, "KeepActive signal stopped by an event", r)
    mgc.send(f"Context = {ctx} {{ Subtract = {tdm} }}")


@tap.test
def service_change_from_the_mgc():
    sim, mg, (mgc,) = setup()
    # on a termination: Forced takes it out and clears its context
    ctx = context_id(mgc.send("Context = $ { Add = tdm/1/7 }"))
    r = mgc.send("Context = - { ServiceChange = tdm/1/7 { Services { "
                 "Method = Forced, Reason = 905 } } }")
    check(not errors(r), r)
    check(mg.ctl("megaco")["megaco"]["contexts"] == [], "context left")
    got = [c for c, _ in errors(mgc.send("Context = $ { Add = tdm/1/7 }"))]
    check(531 in got, got)
    r = mgc.send("Context = - { ServiceChange = tdm/1/7 { Services { "
                 "Method = Restart, Reason = 900 } } }")
    check(not errors(r), r)
    ctx = context_id(mgc.send("Context = $ { Add = tdm/1/7 }"))
    # Graceful on ROOT (s.11.4): the call in progress stays, no new one
    r = mgc.send("Context = - { ServiceChange = ROOT { Services { "
                 "Method = Graceful, Reason = 905, Delay = 0 } } }")
    check(not errors(r), r)
    r = mgc.send(f"Context = {ctx} {{ AuditValue = tdm/1/7 {{ Audit {{ }} "
                 "} }")
    check(not errors(r), "Graceful cut the call", r)
    got = [c for c, _ in errors(mgc.send("Context = $ { Add = tdm/1/8 }"))]
    check(531 in got, got)
    # Restart on ROOT, MGC directed: every termination back in service
    r = mgc.send("Context = - { ServiceChange = ROOT { Services { "
                 "Method = Restart, Reason = 903 } } }")
    check(not errors(r), r)
    r = mgc.send("Context = $ { Add = tdm/1/8 }")
    check(not errors(r), r)
    r = mgc.send("Context = - { AuditValue = tdm/2/3 { Audit { Media } } }")
    check("InService" in r or "IV" in r, r)
    # Forced on ROOT: every context of this MG goes
    r = mgc.send("Context = - { ServiceChange = ROOT { Services { "
                 "Method = Forced, Reason = 905 } } }")
    check(not errors(r), r)
    check(mg.ctl("megaco")["megaco"]["contexts"] == [], "contexts left")
    mgc.send("Context = - { ServiceChange = ROOT { Services { "
             "Method = Restart, Reason = 900 } } }")


@tap.test
def seventy_spans_under_one_controller():
    """More spans than 64, 2,100 terminations: the MG takes them all, and
    a ServiceChange on ROOT (s.11.4) reaches every one of them."""
    sim, mg, (mgc,) = setup(spans=70)
    check(mg.registered, "no registration", mg.logtext()[-2000:])

    def take_last():
        """tdm/70/31 into a new context, once span 70 is up."""
        r = mgc.send("Context = $ { Add = tdm/70/31 }")
        return None if errors(r) else r
    r = wait_for(take_last, 15, 0.5)
    check(r, "tdm/70/31 never taken", mg.logtext()[-2000:])
    mgc.send(f"Context = {context_id(r)} {{ Subtract = tdm/70/31 }}")
    r = mgc.send("Context = - { ServiceChange = ROOT { Services { "
                 "Method = Forced, Reason = 905 } } }")
    check(not errors(r), r)
    for tid in ("tdm/1/1", "tdm/70/31"):
        got = [c for c, _ in errors(mgc.send(f"Context = $ {{ Add = "
                                             f"{tid} }}"))]
        check(531 in got, tid, got)
    r = mgc.send("Context = - { ServiceChange = ROOT { Services { "
                 "Method = Restart, Reason = 900 } } }")
    check(not errors(r), r)
    r = take_last()
    check(r, "tdm/70/31 not back in service")
    mgc.send(f"Context = {context_id(r)} {{ Subtract = tdm/70/31 }}")


@tap.test
def call_progress_tone_detected_from_the_line():
    # pstnsim's busy numbers clear without a tone in-band, so the tone
    # comes from us: cg/bt toward the line on a call to 1000, whose echo
    # brings it back on the same timeslot's receive side, where cd
    # listens (before the echo canceller)
    sim, mg, (mgc,) = setup()
    dp, ts = pstn_call(sim, "1000")
    tdm = f"tdm/1/{ts}"
    r = mgc.send(f"Context = $ {{ Add = {tdm} {{ Events = 60 {{ "
                 "cd/bt { KeepActive }, cd/std { tl = bt }, "
                 "cd/etd { tl = bt }, cd/rt }, Signals { cg/bt } } }")
    check(not errors(r), r)
    ctx = context_id(r)
    n = mgc.wait_notify(r"cd/bt", 8)
    print(f"# {observed_events(n)}")
    check(n and "cd/bt" in n, "busy tone not detected", n)
    n = mgc.wait_notify(r"cd/std", 3)
    ev = observed_events(n)
    print(f"# {ev}")
    check(ev and ev[0][1].get("tid") == "bt", ev)
    # the tone stops: its end, with how long it was heard
    r = mgc.send(f"Context = {ctx} {{ Modify = {tdm} {{ Signals }} }}")
    check(not errors(r), r)
    n = mgc.wait_notify(r"cd/etd", 5)
    ev = observed_events(n)
    print(f"# {ev}")
    check(ev and ev[0][1].get("tid") == "bt" and
          int(ev[0][1].get("dur", "0")) >= 1000, ev)
    check(not [x for x in mgc.notifies() if "cd/rt" in x],
          "busy taken for ringback")
    mgc.send(f"Context = {ctx} {{ Subtract = {tdm} }}")


@tap.test
def graceful_shutdown_waits_for_the_calls():
    sim, mg, (mgc,) = setup(mg_extra="graceful_s = 20")
    ctx = context_id(mgc.send("Context = $ { Add = tdm/1/5 }"))
    t0 = time.time()
    mg.proc.terminate()
    sc = mgc.wait_servicechange(5)
    print(f"# {sc!r}")
    check(sc and "root" in sc.lower() and ("Graceful" in sc or "GR" in sc),
          sc)
    check("Delay = 20" in sc or "DL=20" in sc.replace(" ", ""), sc)
    # no new call; the controller's other requests are served
    got = [c for c, _ in errors(mgc.send("Context = $ { Add = tdm/1/6 }"))]
    check(521 in got, got)
    r = mgc.send(f"Context = {ctx} {{ AuditValue = tdm/1/5 {{ Audit {{ }} "
                 "} }")
    check(not errors(r), r)
    check(mg.proc.poll() is None, "stopped with a call up")
    r = mgc.send(f"Context = {ctx} {{ Subtract = tdm/1/5 }}")
    check(not errors(r), r)
    mg.proc.wait(5)
    took = time.time() - t0
    print(f"# stopped {took:.1f} s after SIGTERM")
    check(took < 10, took)
    check(mg.proc.returncode == 0, mg.proc.returncode)


@tap.test
def service_change_delay_from_the_mgc():
    sim, mg, (mgc,) = setup()
    # Graceful with a Delay (s.7.2.8): ServiceChanging until it ends
    r = mgc.send("Context = - { ServiceChange = tdm/1/9 { Services { "
                 "Method = Graceful, Reason = 905, Delay = 2 } } }")
    check(not errors(r), r)
    got = [c for c, _ in errors(mgc.send("Context = $ { Add = tdm/1/9 }"))]
    check(521 in got, got)
    r = mgc.send("Context = - { AuditValue = tdm/1/9 { Audit { Media } } }")
    check("InService" in r or "IV" in r, r)
    time.sleep(2.2)
    r = mgc.send("Context = - { AuditValue = tdm/1/9 { Audit { Media } } }")
    check("OutOfService" in r or "OS" in r, r)
    # Restart with a Delay: back in service once it has passed
    r = mgc.send("Context = - { ServiceChange = tdm/1/9 { Services { "
                 "Method = Restart, Reason = 900, Delay = 1 } } }")
    check(not errors(r), r)
    got = [c for c, _ in errors(mgc.send("Context = $ { Add = tdm/1/9 }"))]
    check(531 in got, got)
    time.sleep(1.2)
    r = mgc.send("Context = $ { Add = tdm/1/9 }")
    check(not errors(r), r)
    # Graceful, null Delay, on a termination in a call: in service until
    # it leaves its context
    ctx = context_id(r)
    r = mgc.send("Context = - { ServiceChange = tdm/1/9 { Services { "
                 "Method = Graceful, Reason = 905 } } }")
    check(not errors(r), r)
    r = mgc.send(f"Context = {ctx} {{ AuditValue = tdm/1/9 {{ Audit {{ "
                 "Media } } }")
    check("InService" in r or "IV" in r, r)
    mgc.send(f"Context = {ctx} {{ Subtract = tdm/1/9 }}")
    r = mgc.send("Context = - { AuditValue = tdm/1/9 { Audit { Media } } }")
    check("OutOfService" in r or "OS" in r, r)


if __name__ == "__main__":
    tap.run()
