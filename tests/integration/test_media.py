"""tests/integration/test_media.py - audio through the real pieces: RTP from
a test peer <-> media/ (mediaprobe, on the vspan bearer) <-> pstnsim's
behaviours, the call set up over PRI by a tdmprobe beside it.  Tones are
measured for frequency and level, DTMF digits counted each way."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, Pstnsim, Tap, check, on_exit, probe_events,  # noqa: E402
                     probe_start, wait_for)
import rtp  # noqa: E402

tap = Tap()


def media_start(rundir, ts, peer, *extra):
    exe = os.path.join(BUILD, "tests", "integration", "mediaprobe")
    pr = subprocess.Popen([exe, "-b", os.path.join(rundir, "span1.bearer"),
                           "-s", str(ts), "-r", f"{peer.host}:{peer.port}",
                           "-T", "60", *extra],
                          stdout=subprocess.PIPE, text=True)
    on_exit(lambda: pr.poll() is None and (pr.kill(), pr.wait()))
    os.set_blocking(pr.stdout.fileno(), False)
    pr.events = []
    ev = wait_for(lambda: [e for e in probe_events(pr)
                           if e["event"] == "rtp"], 5)
    check(ev, "mediaprobe did not start")
    peer.remote = (peer.host, ev[0]["port"])
    return pr


def media_stop(pr):
    pr.terminate()
    pr.wait(5)
    return [e for e in probe_events(pr) if e["event"] == "stats"]


def call(sim, number, peer, *media_args):
    """A PRI call to number (D-channel by tdmprobe -D), its media by
    mediaprobe on the channel the switch gave."""
    dp = probe_start(sim.rundir, "-D", "call", "5551234", number, "600000")

    def connected():
        return [e for e in probe_events(dp) if e["event"] == "connect"]
    check(wait_for(connected, 10), "no connect", probe_events(dp))
    ts = [e for e in probe_events(dp) if e.get("ts")][0]["ts"]
    mp = media_start(sim.rundir, ts, peer, *media_args)
    return dp, mp


def observation(sim, number):
    c = [c for c in sim.calls() if c["called"] == number]
    return (c[-1].get("observations") or {}) if c else {}


@tap.test
def milliwatt_arrives_in_rtp():
    sim = Pstnsim()
    sim.start()
    peer = rtp.RtpPeer()
    dp, mp = call(sim, "2000", peer)
    peer.stream_silence(2.5)          # symmetric RTP: our packets first
    audio = peer.audio()[-8000:]
    check(len(audio) == 8000, f"only {len(peer.audio())} samples arrived")
    f = rtp.dominant_freq(audio)
    lvl = rtp.level_dbm0(audio)
    print(f"# milliwatt in RTP: {f:.2f} Hz at {lvl:.2f} dBm0")
    check(abs(f - 1004) <= 2, f"frequency {f:.2f} Hz")
    check(abs(lvl + 10) <= 1, f"level {lvl:.2f} dBm0")
    st = media_stop(mp)
    check(st and st[0]["rx_packets"] > 100, st)


@tap.test
def rtp_tone_reaches_the_line_and_echoes_back():
    sim = Pstnsim()
    sim.start()
    peer = rtp.RtpPeer()
    dp, mp = call(sim, "1000", peer)
    peer.stream_tone(1020, -10, 3.0)
    obs = observation(sim, "1000")     # its level is over the last second
    peer.stream_silence(1.0)
    tone = obs.get("tone") or {}
    print(f"# pstnsim heard {obs}")
    check(tone, "pstnsim saw no tone", obs)
    f = tone.get("freq_hz") or tone.get("frequency") or 0
    lvl = tone.get("level_dbm0") if "level_dbm0" in tone else tone.get("level")
    check(abs(f - 1020) <= 2, f"TDM side frequency {f}")
    check(abs(lvl + 10) <= 1, f"TDM side level {lvl}")
    # The 500 ms echo comes back through the whole path.
    seg = peer.audio()[8000:16000]    # seconds 1-2: the echo, 500 ms late
    f2 = rtp.dominant_freq(seg)
    lvl2 = rtp.level_dbm0(seg)
    print(f"# echo back in RTP: {f2:.2f} Hz at {lvl2:.2f} dBm0")
    check(abs(f2 - 1020) <= 2 and abs(lvl2 + 10) <= 1, (f2, lvl2))
    media_stop(mp)


@tap.test
def dtmf_both_ways_exactly_once():
    sim = Pstnsim()
    sim.start()
    peer = rtp.RtpPeer()
    dp, mp = call(sim, "3000", peer, "-e", "101")
    peer.stream_silence(0.5)
    digits = "1234567890*#"
    peer.send_digits(digits, 100, 150)
    peer.stream_silence(2.0)
    obs = observation(sim, "3000")
    heard = obs.get("digits", "")
    back = peer.digits()
    print(f"# sent {digits}; pstnsim heard {heard!r}; came back {back!r}")
    check(heard == digits, f"in-band at the line: {heard!r}")
    check(back == digits, f"RFC 4733 back: {back!r}")
    st = media_stop(mp)
    check(st and st[0]["digits_rtp"] == len(digits)
          and st[0]["digits_tdm"] == len(digits), st)


SIPP_PCAPS = "/usr/share/sip-tester"


@tap.test
def sipp_rfc2833_pcaps_each_digit_once():
    """SIPp's recorded RFC 2833 digits (sip-tester's dtmf_2833_*.pcap)
    replayed into the gateway's media: each reaches the line in-band
    once, and pstnsim's DTMF echo comes back as RFC 4733 once."""
    names = [str(d) for d in range(10)] + ["star", "pound"]
    files = [os.path.join(SIPP_PCAPS, f"dtmf_2833_{n}.pcap") for n in names]
    check(all(os.path.exists(f) for f in files),
          "sip-tester's pcaps are missing (apt-get install sip-tester)")
    sim = Pstnsim()
    sim.start()
    peer = rtp.RtpPeer()
    dp, mp = call(sim, "3000", peer, "-e", "101")
    peer.stream_silence(0.5)
    want = ""
    for n, f in zip(names, files):
        pk = rtp.pcap_rtp(f)
        check(pk and all(p[1][1] & 0x7F == 101 for p in pk), f)
        rtp.replay(peer, pk)
        want += {"star": "*", "pound": "#"}.get(n, n)
        peer.stream_silence(0.3)
    peer.stream_silence(1.5)
    heard = observation(sim, "3000").get("digits", "")
    back = peer.digits()
    print(f"# pcaps {want}; the line heard {heard!r}; RFC 4733 back {back!r}")
    check(heard == want, f"in-band at the line: {heard!r}")
    check(back == want, f"RFC 4733 back: {back!r}")
    media_stop(mp)


if __name__ == "__main__":
    tap.run()
