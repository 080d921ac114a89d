"""tests/integration/test_megaco_demo.py - etc/megaco-demo.conf as shipped:
junctiond with two virtual MGs in its junction-mg, span 1 under junctiond
(the local MG registers with it) and span 2 under an external softswitch,
played by the project's MGC test driver on the Erlang/OTP megaco stack
(mgc_driver.erl).  The softswitch sees only span 2's terminations, and a
context it builds on span 2 carries pstnsim's milliwatt to an RTP peer.

The config is the real file; only its ports (through the ${...} references
it reads) and, in a copy, the cause table's path differ.  junctiond runs
no D-channel for span 2, an external softswitch's span: the PRI call is
placed by a tdmprobe on pstnsim's span 2 D-channel (the CPE side a
softswitch would drive through its own signalling), and the bearer is the
MGC's, through junction-mg."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SRC, Gateway, Pstnsim, Tap, check,  # noqa: E402
                     free_port, probe_events, probe_start, wait_for)
from mgc import (Mgc, context_id, errors, local_sdp,  # noqa: E402
                 statistics, terminations)
import rtp  # noqa: E402

tap = Tap()
DEMO = os.path.join(SRC, "etc", "megaco-demo.conf")


def demo_env():
    """Ports of this run's own, through the file's ${...} references."""
    mgc = free_port("udp", 13700, 100)
    env = {
        "JUNCTION_MGC_ADDRESS": f"127.0.0.1:{mgc}",
        "JUNCTION_MEGACO_MG_PORT": str(free_port("udp", 13800, 100)),
        "JUNCTION_SIP_PORT": str(free_port("udp", 13900, 100)),
        "JUNCTION_PBX_PORT": str(free_port("udp", 13600, 100)),
    }
    os.environ.update(env)
    return mgc, int(env["JUNCTION_MEGACO_MG_PORT"])


def demo_gateway():
    mgc_port, mg_port = demo_env()
    with open(DEMO) as f:
        text = f.read()
    text = text.replace("causes = causes.csv", "causes = " +
                        os.path.join(SRC, "etc", "causes.csv"))
    check("control = mgc:ext" in text, "no [span 2] control")
    mgc = Mgc(mgc_port, version=3, encoding="pretty")
    gw = Gateway(text, name="megaco-demo")
    sim = Pstnsim(rundir=gw.rundir)
    sim.start()
    gw.start()
    return gw, sim, mgc, mg_port


def pstn_call(sim, number, span):
    dp = probe_start(sim.rundir, "-D", "call", "5551234", number, "600000",
                     span=span)

    def connected():
        return [e for e in probe_events(dp) if e["event"] == "connect"]
    check(wait_for(connected, 10), "no connect", probe_events(dp))
    return dp, [e for e in probe_events(dp) if e.get("ts")][0]["ts"]


@tap.test
def demo_config_is_valid():
    demo_env()
    gw = Gateway()
    r = gw.run("-t", "-c", DEMO)
    check(r.returncode == 0, "junctiond -t rejected etc/megaco-demo.conf",
          r.stdout, r.stderr)
    with open(DEMO) as f:
        text = f.read()
    for line in ("control = mgc:ext", "127.0.0.1:2944}", "2946}",
                 "${JUNCTION_MEGACO_VERSION:-3}",
                 "${JUNCTION_MEGACO_ENCODING:-pretty}"):
        check(line in text, f"{line!r} not in the file")


@tap.test
def span_2_belongs_to_the_softswitch():
    gw, sim, mgc, mg_port = demo_gateway()
    up = wait_for(lambda: (gw.subsystem(gw.ctl_json("status"), "mgc") or
                           {}).get("mg") == "up", 15)
    check(up, "the local MG did not register with junctiond",
          gw.logtext()[-3000:])
    mid, ver = mgc.wait_connected(15)
    print(f"# ext MG registered as {mid}, MEGACO/{ver}")
    check(mid == f"[127.0.0.1]:{mg_port}", mid)
    check(ver == 3, ver)
    mgc.wait_servicechange(2)
    for ts in (1, 15, 17, 31):
        r = mgc.send(f"Context = - {{ AuditValue = tdm/2/{ts} "
                     "{ Audit { Media } } }")
        check(not errors(r), f"tdm/2/{ts}", r)
    for tid in ("tdm/2/16", "tdm/1/1", "tdm/1/17"):
        got = [c for c, _ in errors(mgc.send(
            f"Context = - {{ AuditValue = {tid} {{ Audit {{ Media }} }} }}"))]
        print(f"# AuditValue {tid} -> {got}")
        check(430 in got, f"{tid} answered the softswitch", got)
    # the whole span, and only it: tdm/2/* names 30 terminations
    r = mgc.send("Context = - { AuditValue = tdm/2/* { Audit { } } }")
    tids = [t for t in terminations(r) if t.startswith("tdm/")]
    check(len(tids) == 30 and all(t.startswith("tdm/2/") for t in tids)
          and "tdm/2/16" not in tids, tids)


@tap.test
def softswitch_call_on_span_2_carries_milliwatt():
    gw, sim, mgc, mg_port = demo_gateway()
    mgc.wait_connected(15)
    mgc.wait_servicechange(2)
    dp, ts = pstn_call(sim, "2000", span=2)
    peer = rtp.RtpPeer()
    r = mgc.send(
        "Context = $ { Add = tdm/2/%d { Media { LocalControl { Mode = "
        "SendReceive } } }, Add = $ { Media { Stream = 1 { LocalControl "
        "{ Mode = SendReceive }, Local { v=0\nc=IN IP4 $\nm=audio $ RTP/AVP "
        "8 }, Remote { v=0\nc=IN IP4 %s\nm=audio %d RTP/AVP 8 } } } } }"
        % (ts, peer.host, peer.port))
    check(not errors(r), r)
    ctx = context_id(r)
    tdm, rtpt = terminations(r)
    sdp = local_sdp(r, rtpt)
    port = int([ln for ln in sdp.splitlines()
                if ln.startswith("m=audio")][0].split()[1])
    peer.remote = ("127.0.0.1", port)
    print(f"# context {ctx}: {tdm} + {rtpt}")
    peer.stream_silence(2.5)
    audio = peer.audio()[-8000:]
    check(len(audio) == 8000, f"only {len(peer.audio())} samples arrived")
    f = rtp.dominant_freq(audio)
    lvl = rtp.level_dbm0(audio)
    print(f"# milliwatt in RTP: {f:.2f} Hz at {lvl:.2f} dBm0")
    check(abs(f - 1004) <= 2, f"frequency {f:.2f} Hz")
    check(abs(lvl + 10) <= 1, f"level {lvl:.2f} dBm0")
    r = mgc.send(f"Context = {ctx} {{ Subtract = {tdm}, Subtract = {rtpt} }}")
    st = statistics(r, rtpt)
    check(st.get("rtp/pr", 0) > 80 and st.get("rtp/ps", 0) > 80, st)
    # span 1 stayed junctiond's: its local MG still up
    check((gw.subsystem(gw.ctl_json("status"), "mgc") or {}).get("mg")
          == "up", gw.ctl_json("status"))


if __name__ == "__main__":
    sys.exit(tap.run())
