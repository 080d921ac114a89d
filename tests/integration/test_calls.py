"""tests/integration/test_calls.py - the gateway doing its job: SIP calls
out on the PRI spans and PRI calls in as SIP, through the whole thing —
junctiond (SIP, PRI, call control, H.248 as the MGC) and the junction-mg
it starts (the MG, the media), with pstnsim as the PSTN switch and SIPp
(sip-tester) as the SIP peer.  The RFC 3666 flows that apply to ISDN
PRI: successful calls both ways with their audio measured, busy,
unallocated, congestion, no answer and CANCEL, and network failure; the
causes as the SIP side sees them, and the CDR each call leaves."""

import os
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_CONF, SPANS_CONF, Gateway, Pstnsim, SRC,  # noqa: E402
                     Tap, check, free_port, wait_for)
import rtp  # noqa: E402
import subprocess  # noqa: E402

tap = Tap()
SCEN = os.path.join(SRC, "tests", "integration", "sipp")


def gateway(mg_extra="", span_extra="", extra=""):
    """pstnsim and the gateway in one run directory; the PBX trunk (a
    SIPp UAS when a test starts one) on its own port.  mg_extra: more
    [mg] settings; span_extra: more settings of both spans; extra: more
    sections."""
    pbx = free_port("udp", 12400, 400)
    spans = SPANS_CONF.replace("[span 1]\n", "[span 1]\n" + span_extra) \
        .replace("[span 2]\n", "[span 2]\n" + span_extra)
    conf = DEFAULT_CONF.replace("[mg]\n", "[mg]\n" + mg_extra) + \
        spans + extra + f"""
[trunk pbx]
host = 127.0.0.1
port = {pbx}

[group pstn]
spans = 1,2

[route pstn-to-pbx]
match = any
from = span:1,2
target = trunk:pbx

[route sip-to-pstn]
match = any
from = addr:127.0.0.0/8
target = group:pstn
"""
    gw = Gateway(conf, name="calls")
    sim = Pstnsim(rundir=gw.rundir)
    sim.start()
    # start-up takes longer while the machine is loaded (CI builds the
    # fuzzers beside the tests): wait for it generously
    gw.start(wait=False)
    check(gw.wait_ready(30), "junctiond did not come up",
          gw.logtext()[-3000:])
    gw.pbx = pbx
    gw.sip = gw.ports["sip"]
    up = wait_for(lambda: (gw.subsystem(gw.ctl_json("status"), "mgc") or
                           {}).get("mg") == "up", 15)
    check(up, "the MG did not register", gw.logtext()[-3000:])
    check(wait_for(lambda: all(s["dchan"] == "up" for s in
                               gw.ctl_json("spans")["spans"]), 15),
          "D-channels not up", gw.ctl_json("spans"))
    return gw, sim


def sipp(args, timeout=40):
    cmd = ["sipp", "-nostdin", "-timeout", f"{timeout - 5}s",
           "-timeout_error", "-max_recv_loops", "1000", "-trace_err",
           "-i", "127.0.0.1"] + args
    cwd = tempfile.mkdtemp(prefix="sipp-")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, cwd=cwd)
    p.cwd_dir = cwd		# where -trace_* files go
    return p


def sipp_call(gw, scenario, number, *extra, timeout=40):
    """SIPp calls number at the gateway; returns (rc, output)."""
    p = sipp([f"127.0.0.1:{gw.sip}", "-sf", os.path.join(SCEN, scenario),
              "-s", number, "-m", "1", "-p",
              str(free_port("udp", 12400, 400)), *extra], timeout)
    out, _ = p.communicate(timeout=timeout + 5)
    return p.returncode, out


def pbx(port, rtp_port=9, calls=1, scenario="gw_uas.xml"):
    """A SIPp UAS on port, as a PBX or SIP trunk behind the gateway:
    answers calls calls with its media at rtp_port (see the scenario)."""
    return sipp(["-sf", os.path.join(SCEN, scenario), "-p", str(port),
                 "-m", str(calls), "-key", "rtp_port", str(rtp_port)])


REJECT = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="gateway call refused">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:5551000@[local_ip]:[local_port]>;tag=[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio 9 RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="{status}">
    <action>
      <ereg regexp="Reason: Q.850;cause={cause}" search_in="msg"
            check_it="true" assign_to="r"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:5551000@[local_ip]:[local_port]>;tag=[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <Reference variables="r"/>
</scenario>
"""


def reject_scenario(status, cause):
    """A SIPp UAC expecting status with Reason: Q.850;cause=cause."""
    fd, path = tempfile.mkstemp(prefix="gw-reject-", suffix=".xml")
    with os.fdopen(fd, "w") as f:
        f.write(REJECT.replace("{status}", str(status))
                .replace("{cause}", str(cause)))
    return path


def heard(peer, seconds):
    """At least seconds of audio received (polling the socket)."""
    def enough():
        peer.poll()
        return len(peer.audio()) >= 8000 * seconds
    return wait_for(enough, 10)


def tone(audio):
    """(frequency, level in dBm0, 20 ms blocks missing) of a received
    tone: a block the MG concealed as silence (a late media tick on a
    loaded machine) is counted apart rather than lowering the level."""
    blocks = [audio[i:i + 160] for i in range(0, len(audio) - 159, 160)]
    gaps = [b for b in blocks if rtp.level_dbm0(b) < -40]
    kept = [x for b in blocks if b not in gaps for x in b]
    return rtp.dominant_freq(kept), rtp.level_dbm0(kept), len(gaps)


def last_cdr(gw):
    rows = gw.ctl_json("cdr")["cdr"]
    return rows[-1] if rows else {}


def wait_idle(gw, sim):
    check(wait_for(lambda: not gw.ctl_json("calls")["calls"], 10),
          "calls left in junctiond", gw.ctl_json("calls"))
    chans = gw.ctl_json("channels")["channels"]
    check(all(c["state"] == "idle" for c in chans),
          "channels left busy", [c for c in chans if c["state"] != "idle"])


@tap.test
def sip_to_pstn_call_carries_milliwatt():
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=sipp_call(gw, "gw_call.xml", "2000", "-key", "rtp_port",
                    str(peer.port), "-d", "3000")))
    t.start()
    # The MG sends to the offer's port; what arrives is pstnsim's tone.
    check(heard(peer, 2), "no audio reached the SIP side",
          len(peer.audio()))
    f, lvl, gaps = tone(peer.audio()[-8000:])
    print(f"# SIP side hears {f:.2f} Hz at {lvl:.2f} dBm0 ({gaps} of 50 "
          "blocks missing)")
    check(abs(f - 1004) <= 2 and abs(lvl + 10) <= 1 and gaps <= 5,
          (f, lvl, gaps))
    t.join(45)
    rc, out = result["r"]
    check(rc == 0, "SIPp call failed", out[-2000:])
    cdr = last_cdr(gw)
    print(f"# CDR {cdr}")
    check(cdr.get("disposition") == "ANSWERED" and cdr.get("q850") == 16
          and cdr.get("sip") == 200 and cdr.get("direction") == "out", cdr)
    check(cdr.get("called_out") == "2000" and cdr.get("span") == 1, cdr)
    wait_idle(gw, sim)


@tap.test
def pstn_to_sip_call_carries_milliwatt():
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    uas = pbx(gw.pbx, peer.port)
    time.sleep(0.5)
    r = sim.cmd({"cmd": "call", "from": "5551234", "to": "7001",
                 "span": 1, "then": "milliwatt", "call_length_s": 4})
    check(r.get("ok"), r)
    check(heard(peer, 2), "no audio reached the PBX", len(peer.audio()))
    calls = gw.ctl_json("calls")["calls"]
    print(f"# live: {calls}")
    check(calls and calls[0]["direction"] == "in" and
          calls[0]["state"] == "answered" and calls[0]["to"] == "7001",
          calls)
    f, lvl, gaps = tone(peer.audio()[-8000:])
    print(f"# the PBX hears {f:.2f} Hz at {lvl:.2f} dBm0 ({gaps} of 50 "
          "blocks missing)")
    check(abs(f - 1004) <= 2 and abs(lvl + 10) <= 1 and gaps <= 5,
          (f, lvl, gaps))
    out, _ = uas.communicate(timeout=30)
    check(uas.returncode == 0, "the PBX scenario failed (BYE with a "
          "Reason?)", out[-2000:])
    cdr = last_cdr(gw)
    print(f"# CDR {cdr}")
    check(cdr.get("disposition") == "ANSWERED" and cdr.get("direction") ==
          "in" and cdr.get("q850") == 16, cdr)
    wait_idle(gw, sim)


@tap.test
def busy_unallocated_congestion_map_to_sip():
    """RFC 3398 s.8.2.6.1: cause 17 -> 486, 1 -> 404, 34 -> 503, each
    with its Reason header (RFC 3326)."""
    gw, sim = gateway()
    for number, cause, status, disp in (("4000", 17, 486, "BUSY"),
                                        ("6000", 1, 404, "FAILED"),
                                        ("7000", 34, 503, "FAILED")):
        rc, out = sipp_call(gw, reject_scenario(status, cause), number)
        cdr = last_cdr(gw)
        print(f"# {number}: SIP {cdr.get('sip')}, cause {cdr.get('q850')}"
              f", {cdr.get('disposition')}")
        check(rc == 0, f"{number}: not {status} with cause {cause}",
              out[-1500:])
        check(cdr.get("q850") == cause and cdr.get("sip") == status and
              cdr.get("disposition") == disp, cdr)
    wait_idle(gw, sim)


@tap.test
def no_answer_then_cancel():
    gw, sim = gateway()
    rc, out = sipp_call(gw, "uac_cancel.xml", "5000")
    check(rc == 0, "CANCEL did not end in 487", out[-1500:])
    cdr = last_cdr(gw)
    print(f"# CDR {cdr}")
    check(cdr.get("disposition") in ("CANCELLED", "NOANSWER"), cdr)
    check(wait_for(lambda: all(c["state"] == "released"
                               for c in sim.calls()), 10), sim.calls())
    wait_idle(gw, sim)


@tap.test
def local_ringback_toward_the_sip_caller():
    """[calls] local_ringback: the PSTN alerts without in-band
    information (5000 never answers), so the SIP caller gets 183 with SDP
    and hears the MG's ringback (ITU: 425 Hz, 1 s on, 4 s off); CANCEL
    then ends it with 487."""
    gw, sim = gateway(extra="""
[calls]
local_ringback = yes
""")
    peer = rtp.RtpPeer()
    rc, out = sipp_call(gw, "gw_ringback_cancel.xml", "5000", "-key",
                        "rtp_port", str(peer.port))
    check(rc == 0, "no 183, or CANCEL did not end in 487", out[-1500:])
    peer.poll()
    audio = peer.audio()
    blocks = [audio[i:i + 160] for i in range(0, len(audio) - 159, 160)]
    loud = [x for b in blocks if rtp.level_dbm0(b) > -40 for x in b]
    f = rtp.dominant_freq(loud) if loud else 0
    print(f"# the caller hears {len(loud) / 8000:.2f} s of {f:.1f} Hz in "
          f"{len(audio) / 8000:.2f} s")
    check(len(loud) >= 6000 and abs(f - 425) <= 2, len(loud), f)
    wait_idle(gw, sim)


@tap.test
def no_free_channel_while_the_dchannels_are_down():
    gw, sim = gateway()
    # Every B-channel blocked: D-channel down on both spans.
    for span in (1, 2):
        sim.cmd({"cmd": "dchan", "span": span, "up": False})
    # libpri sees the link go after T200 x N200 (about 4 s)
    check(wait_for(lambda: all(s["dchan"] == "down" for s in
                               gw.ctl_json("spans")["spans"]), 20),
          "D-channels still up", gw.ctl_json("spans"))
    rc, out = sipp_call(gw, reject_scenario(503, 34), "2000")
    check(rc == 0, "no free channel is not 503 with cause 34", out[-1500:])
    for span in (1, 2):
        sim.cmd({"cmd": "dchan", "span": span, "up": True})


@tap.test
def mg_failure_clears_the_call():
    """Network failure: junction-mg dies during a call; junctiond clears
    it toward SIP with Reason cause 41 and restarts the MG."""
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    p = sipp([f"127.0.0.1:{gw.sip}", "-sf",
              os.path.join(SCEN, "gw_call_bye_in.xml"), "-s", "2000",
              "-m", "1", "-p", str(free_port("udp", 12400, 400)), "-key",
              "rtp_port", str(peer.port)])
    check(wait_for(lambda: gw.ctl_json("calls")["calls"] and
                   gw.ctl_json("calls")["calls"][0]["state"] == "answered",
                   10), "no answered call", gw.ctl_json("calls"))
    os.kill(gw.mg_pid(), signal.SIGKILL)
    out, _ = p.communicate(timeout=40)
    check(p.returncode == 0, "no BYE with a Q.850 cause", out[-1500:])
    cdr = last_cdr(gw)
    print(f"# CDR {cdr}")
    check(cdr.get("q850") == 41, cdr)
    check(wait_for(lambda: (gw.subsystem(gw.ctl_json("status"), "mgc") or
                            {}).get("mg") == "up", 20), "MG not back")
    wait_idle(gw, sim)


def identity_scenario():
    """gw_call.xml with a caller that asserts 5559999, asks for privacy
    and was diverted from 5550000 (RFC 3325, 3323, 5806)."""
    with open(os.path.join(SCEN, "gw_call.xml")) as f:
        text = f.read()
    text = text.replace(
        "      Max-Forwards: 70\n      Content-Type: application/sdp",
        "      Max-Forwards: 70\n"
        "      P-Asserted-Identity: <sip:5559999@[local_ip]>\n"
        "      Privacy: id\n"
        "      Diversion: <sip:5550000@[local_ip]>;reason=no-answer;"
        "counter=1\n"
        "      Content-Type: application/sdp", 1)
    fd, path = tempfile.mkstemp(prefix="gw-identity-", suffix=".xml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


@tap.test
def caller_id_privacy_and_diversion_reach_the_pstn():
    """RFC 3398 s.7.2.1.3: the asserted number is the calling number,
    Privacy: id makes it presentation restricted, Diversion the
    redirecting number with its reason (no reply: Q.952 2)."""
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    rc, out = sipp_call(gw, identity_scenario(), "2000", "-key",
                        "rtp_port", str(peer.port), "-d", "500")
    check(rc == 0, out[-1500:])
    c = [c for c in sim.calls() if c["called"] == "2000"][-1]
    print(f"# the PSTN saw: calling {c['calling']}, {c['presentation']}, "
          f"screening {c['screening']}, redirecting {c['redirecting']}")
    check(c["calling"] == "5559999" and c["presentation"] == "restricted",
          c)
    check(c["redirecting"] and c["redirecting"]["number"] == "5550000" and
          c["redirecting"]["reason"] == 2, c)
    wait_idle(gw, sim)


@tap.test
def live_quality_and_mos_in_the_record():
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    t = threading.Thread(target=lambda: sipp_call(
        gw, "gw_call.xml", "1000", "-key", "rtp_port", str(peer.port),
        "-d", "4000"))
    t.start()
    check(heard(peer, 2), "no audio")
    calls = gw.ctl_json("calls")["calls"]
    print(f"# live: {calls}")
    q = calls[0]["quality"] if calls else None
    check(q and q["packets_out"] > 50 and q["mos"] > 4.0, calls)
    t.join(30)
    cdr = last_cdr(gw)
    print(f"# CDR mos {cdr.get('mos')}, loss {cdr.get('loss')}")
    check(cdr.get("mos") and cdr["mos"] > 4.0, cdr)
    wait_idle(gw, sim)


@tap.test
def blocked_span_drains_and_refuses_new_calls():
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    t = threading.Thread(target=lambda: sipp_call(
        gw, "gw_call.xml", "2000", "-key", "rtp_port", str(peer.port),
        "-d", "3000"))
    t.start()
    check(heard(peer, 1), "no audio")
    for span in (1, 2):
        r = gw.ctl_json("block", f"span={span}")
        check(r.get("ok"), r)
    # the call in progress goes on; a new one finds no channel
    rc, out = sipp_call(gw, reject_scenario(503, 34), "2000")
    check(rc == 0, "a blocked gateway took a call", out[-1500:])
    check(gw.ctl_json("calls")["calls"], "the call did not survive")
    t.join(30)
    check(wait_for(lambda: all(c["state"] == "blocked" for c in
                               gw.ctl_json("channels")["channels"]), 10),
          "not all channels blocked after the drain",
          gw.ctl_json("channels")["channels"])
    gw.ctl_json("unblock", "span=1")
    rc, out = sipp_call(gw, "gw_call.xml", "2000", "-key", "rtp_port",
                        str(peer.port), "-d", "300")
    check(rc == 0, "unblocked span 1 took no call", out[-1500:])


def transfer(attended):
    """A SIP caller talking to the PSTN REFERs it to the PBX: the PBX
    gets the PSTN party (its audio), the caller NOTIFY 200 and a BYE.
    Attended: the Refer-To carries Replaces (escaped, RFC 3891 s.7.1)
    and the INVITE to the PBX must carry it."""
    gw, sim = gateway()
    peer = rtp.RtpPeer()
    pbx_peer = rtp.RtpPeer()
    target = f"7001@127.0.0.1:{gw.pbx}"
    if attended:
        target += ("?Replaces=xfer-dialog%40pbx%3Bto-tag%3Dpbx-1"
                   "%3Bfrom-tag%3Da-1")
    uas = pbx(gw.pbx, pbx_peer.port, scenario="gw_uas_replaces.xml"
              if attended else "gw_uas.xml")
    rc, out = sipp_call(gw, "gw_refer.xml", "2000", "-key", "rtp_port",
                        str(peer.port), "-key", "refer_target", target)
    check(rc == 0, "REFER did not end in NOTIFY 200 and BYE", out[-1500:])
    check(heard(pbx_peer, 1), "the PBX does not hear the PSTN party")
    audio = pbx_peer.audio()[-4000:]
    f = rtp.dominant_freq(audio)
    print(f"# after the transfer the PBX hears {f:.1f} Hz")
    check(abs(f - 1004) <= 2, f)
    calls = gw.ctl_json("calls")["calls"]
    check(calls, "the transferred call is gone")
    gw.ctl_json("call", "action=hangup", f"call={calls[0]['id']}")
    out, _ = uas.communicate(timeout=30)
    check(uas.returncode == 0, "the transfer target's scenario failed",
          out[-1500:])
    wait_idle(gw, sim)


@tap.test
def blind_transfer_moves_the_pstn_party():
    transfer(attended=False)


@tap.test
def attended_transfer_replaces_at_the_target():
    transfer(attended=True)


@tap.test
def replacing_invite_takes_over_the_sip_leg():
    """An INVITE with Replaces naming a call's SIP leg (RFC 3891, the
    last step of an attended transfer to a PSTN party behind the
    gateway): the new caller hears the PSTN party, the old leg gets a
    BYE, and the record follows the new dialog."""
    gw, sim = gateway()
    peer_a, peer_c = rtp.RtpPeer(), rtp.RtpPeer()
    a = sipp([f"127.0.0.1:{gw.sip}", "-sf",
              os.path.join(SCEN, "gw_call_replaced.xml"), "-s", "2000",
              "-m", "1", "-p", str(free_port("udp", 12400, 400)), "-key",
              "rtp_port", str(peer_a.port), "-trace_logs"])
    check(wait_for(lambda: gw.ctl_json("calls")["calls"] and
                   gw.ctl_json("calls")["calls"][0]["state"] == "answered",
                   10), "no answered call", gw.ctl_json("calls"))
    check(heard(peer_a, 1), "the first caller hears nothing")

    def logged():
        for name in os.listdir(a.cwd_dir):
            if name.endswith("_logs.log"):
                with open(os.path.join(a.cwd_dir, name)) as f:
                    for line in f:
                        if line.startswith("replaces "):
                            return line.split(None, 1)[1].strip()
        return None
    check(wait_for(lambda: logged() is not None, 5), "no Replaces logged")
    c = sipp([f"127.0.0.1:{gw.sip}", "-sf",
              os.path.join(SCEN, "gw_call_replacing.xml"), "-s", "2000",
              "-m", "1", "-p", str(free_port("udp", 12400, 400)), "-key",
              "rtp_port", str(peer_c.port), "-key", "replaces", logged()])
    check(heard(peer_c, 1), "the replacing caller hears nothing",
          len(peer_c.audio()))
    f = rtp.dominant_freq(peer_c.audio()[-4000:])
    out, _ = c.communicate(timeout=30)
    check(c.returncode == 0, "the replacing call failed", out[-1500:])
    out, _ = a.communicate(timeout=30)
    check(a.returncode == 0, "the replaced leg got no BYE (cause 16)",
          out[-1500:])
    print(f"# the replacing caller hears {f:.1f} Hz")
    check(abs(f - 1004) <= 2, f)
    wait_idle(gw, sim)
    cdr = last_cdr(gw)
    print(f"# CDR {cdr}")
    # SIPp's Call-ID is [call_number]-[pid]@[local_ip]
    check(cdr.get("disposition") == "ANSWERED" and cdr.get("q850") == 16 and
          cdr.get("sip_call_id") == f"1-{c.pid}@127.0.0.1", cdr)


@tap.test
def overlap_receiving_until_the_number_is_complete():
    """PRI SETUPs without the whole number on a span with overlap (Q.931
    s.5.1.3): the rest in INFO digits until the dial plan's length for
    the route (7 digits for numbers starting 700), a '#', or T302
    running out; each call reaches the PBX with its whole number."""
    gw, sim = gateway(span_extra="overlap = yes\n", extra="""
[route seven-digits]
match = 700
digits = 7
from = span:1,2
target = trunk:pbx
""")
    uas = pbx(gw.pbx, calls=3)
    time.sleep(0.5)
    t0 = time.monotonic()
    for to, n, hash_ in (("7001234", 3, False), ("6001234", 2, True),
                         ("600123", 2, False)):
        r = sim.cmd({"cmd": "call", "from": "5551234", "to": to,
                     "span": 1, "then": "milliwatt", "call_length_s": 1,
                     "overlap": n, "digit_ms": 100, "hash": hash_})
        check(r.get("ok"), r)
    out, _ = uas.communicate(timeout=40)
    check(uas.returncode == 0, "the PBX did not get three calls",
          out[-1500:])
    took = time.monotonic() - t0
    wait_idle(gw, sim)
    rows = {r["called_in"]: r for r in gw.ctl_json("cdr")["cdr"]}
    print(f"# records: {sorted(rows)} in {took:.1f} s")
    check(set(rows) == {"7001234", "6001234", "600123"}, rows)
    check(all(r["disposition"] == "ANSWERED" and r["called_out"] ==
              r["called_in"] for r in rows.values()), rows)

    def secs(row):
        from datetime import datetime
        f = "%Y-%m-%dT%H:%M:%S.%fZ"
        return (datetime.strptime(row["answer"], f) -
                datetime.strptime(row["start"], f)).total_seconds()
    waits = {k: secs(r) for k, r in rows.items()}
    print(f"# SETUP to answer: {waits}")
    check(waits["7001234"] < 5 and waits["6001234"] < 5, waits)
    check(waits["600123"] >= 10, "routed before T302", waits)


@tap.test
def hold_plays_the_configured_tone_to_the_line():
    """The SIP side holds a call (a=sendonly) for three seconds with
    [calls] hold = cg/dt: the line hears that tone of the MG's plan (ITU
    dial tone, 425 Hz: continuous, so that pstnsim's one-second analysis
    measures it) while held, and the call goes on after resume."""
    gw, sim = gateway(extra="""
[calls]
hold = cg/dt
""")
    p = sipp([f"127.0.0.1:{gw.sip}", "-sf",
              os.path.join(SCEN, "gw_hold.xml"), "-s", "2000", "-m", "1",
              "-p", str(free_port("udp", 12400, 400))])

    def line_tone():
        calls = [c for c in sim.calls() if c["called"] == "2000"]
        tone = (calls[-1].get("observations") or {}).get("tone") if calls \
            else None
        return tone if tone and abs(tone["freq_hz"] - 425) < 10 else None
    check(wait_for(line_tone, 8), "the line heard no hold tone",
          sim.calls())
    print(f"# the held line hears {line_tone()}")
    out, _ = p.communicate(timeout=30)
    check(p.returncode == 0, "hold and resume failed", out[-1500:])
    log = gw.logtext()
    check("held by the SIP side" in log and "resumed by the SIP side" in log,
          "hold and resume not seen", log[-2000:])
    wait_idle(gw, sim)


@tap.test
def shutdown_drains_calls():
    """SIGTERM with [calls] drain_s: the call in progress goes on to its
    own end, a new one is refused (503, cause 41) meanwhile, and
    junctiond then stops at once, well before the limit, the call's
    record complete."""
    gw, sim = gateway(extra="""
[calls]
drain_s = 20
""")
    peer = rtp.RtpPeer()
    call = sipp([f"127.0.0.1:{gw.sip}", "-sf",
                 os.path.join(SCEN, "gw_call.xml"), "-s", "2000", "-m", "1",
                 "-p", str(free_port("udp", 12400, 400)), "-key",
                 "rtp_port", str(peer.port), "-d", "4000"])
    check(heard(peer, 1), "no audio before the shutdown")
    t0 = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    rc, out = sipp_call(gw, reject_scenario(503, 41), "2000")
    check(rc == 0, "a new call during the drain was not refused with "
          "503 / cause 41", out[-1500:])
    out, _ = call.communicate(timeout=30)
    check(call.returncode == 0, "the call in progress did not end on its "
          "own", out[-1500:])
    check(gw.proc.wait(20) == 0, "junctiond exit status")
    took = time.monotonic() - t0
    print(f"# junctiond stopped {took:.1f} s after SIGTERM")
    check(took < 15, "junctiond waited for the limit", took)
    check("draining 1 call(s)" in gw.logtext(), gw.logtext()[-2000:])
    import sqlite3
    db = sqlite3.connect(os.path.join(gw.rundir, "cdr.sqlite"))
    rows = db.execute("SELECT disposition, q850 FROM cdr "
                      "ORDER BY seq").fetchall()
    print(f"# records {rows}")
    check(rows and rows[0] == ("ANSWERED", 16) and
          rows[-1][0] == "FAILED" and rows[-1][1] == 41, rows)


@tap.test
def trunk_failover_on_503():
    """A route to a trunk with a failover: the first trunk answers 503,
    the call goes to the next one, which answers and hears the line."""
    first = free_port("udp", 12400, 400)
    second = free_port("udp", 12400, 400)
    gw, sim = gateway(extra=f"""
[trunk first]
host = 127.0.0.1
port = {first}
failover = second

[trunk second]
host = 127.0.0.1
port = {second}

[route to-first]
match = 800
from = span:1,2
target = trunk:first
""")
    peer = rtp.RtpPeer()
    refuse = sipp(["-sf", os.path.join(SCEN, "gw_uas_503.xml"), "-p",
                   str(first), "-m", "1"])
    answer = pbx(second, peer.port)
    time.sleep(0.5)
    r = sim.cmd({"cmd": "call", "from": "5551234", "to": "8001",
                 "span": 1, "then": "milliwatt", "call_length_s": 2})
    check(r.get("ok"), r)
    check(heard(peer, 1), "the second trunk hears nothing")
    out, _ = refuse.communicate(timeout=30)
    check(refuse.returncode == 0, "the first trunk was not tried",
          out[-1500:])
    out, _ = answer.communicate(timeout=30)
    check(answer.returncode == 0, "the second trunk's call failed",
          out[-1500:])
    cdr = last_cdr(gw)
    print(f"# CDR {cdr}")
    check(cdr.get("disposition") == "ANSWERED" and
          cdr.get("route") == "to-first", cdr)
    wait_idle(gw, sim)


@tap.test
def pstn_call_to_a_registered_user():
    """A route to user:alice: a phone registers as alice at junctiond's
    registrar (from a trusted address: no challenge, but alice must be
    a [user]), and a PSTN call reaches it at its registered Contact."""
    sip_port = free_port("udp", 14000, 2000)
    phone = free_port("udp", 12400, 400)
    gw, sim = gateway(extra=f"""
[sip]
listen = udp:127.0.0.1:{sip_port}
registrar = yes
auth = yes
trusted = 127.0.0.1

[user alice]
password = secret

[route to-alice]
match = 900
from = span:1,2
target = user:alice
""")
    gw.sip = sip_port
    r = subprocess.run(["sipp", "-nostdin", "-timeout", "10s",
                        "-timeout_error", "-i", "127.0.0.1", "-p",
                        str(phone), "-m", "1", "-s", "alice", "-sf",
                        os.path.join(SCEN, "register_plain.xml"),
                        f"127.0.0.1:{sip_port}"], capture_output=True,
                       text=True, timeout=30, cwd=tempfile.gettempdir())
    check(r.returncode == 0, "alice did not register", r.stdout[-1500:])
    peer = rtp.RtpPeer()
    uas = pbx(phone, peer.port)
    time.sleep(0.5)
    r = sim.cmd({"cmd": "call", "from": "5551234", "to": "9001",
                 "span": 1, "then": "milliwatt", "call_length_s": 2})
    check(r.get("ok"), r)
    check(heard(peer, 1), "alice's phone hears nothing")
    out, _ = uas.communicate(timeout=30)
    check(uas.returncode == 0, "alice's phone got no call", out[-1500:])
    cdr = last_cdr(gw)
    print(f"# CDR {cdr}")
    check(cdr.get("disposition") == "ANSWERED" and
          cdr.get("route") == "to-alice", cdr)
    wait_idle(gw, sim)


@tap.test
def originate_rings_the_pstn_then_sip():
    """Click to call: pstnsim's milliwatt line first, then the PBX; the
    PBX hears the tone once both answered."""
    gw, sim = gateway()
    pbx_peer = rtp.RtpPeer()
    uas = pbx(gw.pbx, pbx_peer.port)
    time.sleep(0.5)
    r = gw.ctl_json("originate", "pstn=2000",
                    f"sip=sip:7001@127.0.0.1:{gw.pbx}", "from=5551000")
    check(r.get("ok") and r.get("call"), r)
    check(heard(pbx_peer, 1), "the PBX does not hear the PSTN party")
    f = rtp.dominant_freq(pbx_peer.audio()[-4000:])
    print(f"# originated call: the PBX hears {f:.1f} Hz")
    check(abs(f - 1004) <= 2, f)
    gw.ctl_json("call", "action=hangup", f"call={r['call']}")
    out, _ = uas.communicate(timeout=30)
    check(uas.returncode == 0, out[-1500:])
    cdr = last_cdr(gw)
    check(cdr.get("disposition") == "ANSWERED", cdr)
    wait_idle(gw, sim)


def learn_remote(peer):
    """The MG's RTP address, from the source of what it sends."""
    import socket as so
    peer.sock.setblocking(True)
    peer.sock.settimeout(5)
    data, addr = peer.sock.recvfrom(2048)
    peer.sock.setblocking(False)
    peer.remote = addr


@tap.test
def dtmf_both_ways_through_the_gateway():
    """RFC 4733 digits from SIP reach the line in-band (pstnsim's 3000
    hears them and plays them back), and come back as RFC 4733 events,
    each exactly once.  pstnsim plays each digit back within the echo
    canceller's tail, where a canceller rightly takes it for echo: this
    gateway's MG leaves tdmc/ec off unless told."""
    gw, sim = gateway("echo_cancel = no\n")
    peer = rtp.RtpPeer()
    t = threading.Thread(target=lambda: sipp_call(
        gw, "gw_call.xml", "3000", "-key", "rtp_port", str(peer.port),
        "-d", "6000"))
    t.start()
    learn_remote(peer)
    peer.stream_silence(0.5)
    digits = "1234567890*#"
    peer.send_digits(digits, 100, 150)
    peer.stream_silence(2.0)
    heard_line = [c for c in sim.calls() if c["called"] == "3000"][-1] \
        .get("observations", {}).get("digits", "")
    back = peer.digits()
    print(f"# sent {digits}; the line heard {heard_line!r}; back {back!r}")
    check(heard_line == digits, heard_line)
    check(back == digits, back)
    t.join(30)
    wait_idle(gw, sim)


@tap.test
def reload_keeps_calls_and_events_stream():
    """A new dial plan applies to new calls only; the call in progress
    goes on.  A subscriber sees the calls' events as JSON lines."""
    import json as js
    from harness import connect_unix
    gw, sim = gateway()
    sub = connect_unix(gw.socket)
    sub.sendall(b'{"cmd":"subscribe"}\n')
    peer = rtp.RtpPeer()
    t = threading.Thread(target=lambda: sipp_call(
        gw, "gw_call.xml", "2000", "-key", "rtp_port", str(peer.port),
        "-d", "3000"))
    t.start()
    check(heard(peer, 1), "no audio")
    # the new plan sends nothing to the spans: 404 / cause 1 for new calls
    with open(gw.conf) as f:
        text = f.read()
    gw.write_conf(text.replace("match = any\nfrom = addr:127.0.0.0/8",
                               "match = 9\nfrom = addr:127.0.0.0/8"))
    r = gw.ctl_json("reload")
    check(r.get("ok"), r)
    rc, out = sipp_call(gw, reject_scenario(404, 1), "2000")
    check(rc == 0, "the new dial plan is not in effect", out[-1500:])
    check(heard(peer, 2), "the call in progress lost its audio")
    t.join(30)
    sub.settimeout(5)
    lines = b""
    while lines.count(b"\n") < 4:
        try:
            lines += sub.recv(65536)
        except OSError:
            break
    evs = [js.loads(x) for x in lines.decode().splitlines() if x]
    what = [e.get("what") for e in evs if e.get("event") == "call"]
    print(f"# events: {what}")
    check("new" in what and "answered" in what and "ended" in what, evs)
    sub.close()


if __name__ == "__main__":
    tap.run()
