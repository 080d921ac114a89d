"""tests/integration/test_spans.py - E1 PRI spans between the gateway and
pstnsim over virtual spans: D-channels, alarms, bearer frames, PRI calls
both ways through the hw/ layer, and faults of the link."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_CONF, SIM_CONF, SPANS_CONF, Gateway,  # noqa: E402
                     Pstnsim, Tap, check, probe, probe_events, probe_start,
                     wait_for)

tap = Tap()


def gateway_with_sim():
    gw = Gateway(DEFAULT_CONF + SPANS_CONF)
    sim = Pstnsim(gw.rundir)
    sim.start()
    gw.start()
    return gw, sim


def spans(gw):
    r = gw.ctl_json("spans")
    check(r["ok"], r)
    return {s["id"]: s for s in r["spans"]}


def all_up(gw):
    s = spans(gw)
    return len(s) == 2 and all(x["dchan"] == "up" and x["state"] == "up"
                               for x in s.values())


@tap.test
def dchannels_up_within_5s():
    gw = Gateway(DEFAULT_CONF + SPANS_CONF)
    sim = Pstnsim(gw.rundir)
    sim.start()
    t0 = time.monotonic()
    gw.start()
    check(wait_for(lambda: all_up(gw), 5), "spans not up in 5 s", spans(gw),
          gw.logtext())
    print(f"# both spans up {time.monotonic() - t0:.2f} s after start")
    s = spans(gw)[1]
    check(s["type"] == "e1" and s["signalling"] == "pri_cpe", s)
    check(s["channels"]["total"] == 30 and s["alarms"] == [], s)
    check(s["bearer"] == "up", "the MG's bearer is not up", s)
    r = gw.ctl_json("channels")
    chans = [c for c in r["channels"] if c["span"] == 1]
    check(len(chans) == 30 and all(c["state"] == "idle" for c in chans), r)
    check(16 not in [c["ts"] for c in chans], "D-channel listed as bearer")
    # The readable tables work too.
    out = gw.ctl("spans").stdout
    check("pri_cpe" in out and "up" in out, out)


@tap.test
def dchannel_down_and_up_through_pstnsim():
    gw, sim = gateway_with_sim()
    check(wait_for(lambda: all_up(gw), 5), "spans not up")
    r = sim.cmd({"cmd": "dchan", "span": 1, "up": False})
    check(r["ok"], r)
    t0 = time.monotonic()
    check(wait_for(lambda: spans(gw)[1]["dchan"] == "down", 20),
          "D-channel still up", spans(gw))
    down = time.monotonic() - t0
    check(spans(gw)[2]["dchan"] == "up", "span 2 affected")
    r = sim.cmd({"cmd": "dchan", "span": 1, "up": True})
    check(r["ok"], r)
    t0 = time.monotonic()
    check(wait_for(lambda: spans(gw)[1]["dchan"] == "up", 20),
          "D-channel did not recover", spans(gw))
    print(f"# D-channel seen down after {down:.1f} s (Q.921 T203+T200*N200),"
          f" up again after {time.monotonic() - t0:.1f} s")
    check(spans(gw)[1]["dchan_downs"] == 1)


@tap.test
def alarms_show_and_clear():
    gw, sim = gateway_with_sim()
    check(wait_for(lambda: all_up(gw), 5), "spans not up")
    for alarm in ("los", "ais", "rai"):
        r = sim.cmd({"cmd": "alarm", "span": 2, "alarm": alarm, "on": True})
        check(r["ok"], r)
        check(wait_for(lambda: alarm in spans(gw)[2]["alarms"], 3),
              f"{alarm} not shown", spans(gw))
        s = spans(gw)[2]
        check(s["state"] == "alarm", s)
        mg = gw.ctl_json("spans", sock=gw.mg_socket)["spans"][1]
        check(alarm in mg["alarms"], "the MG did not see it", mg)
        r = sim.cmd({"cmd": "alarm", "span": 2, "alarm": alarm, "on": False})
        check(r["ok"], r)
        check(wait_for(lambda: spans(gw)[2]["alarms"] == [], 3),
              f"{alarm} did not clear", spans(gw))
    check(wait_for(lambda: all_up(gw), 20), "spans not back up", spans(gw))
    r = sim.cmd({"cmd": "alarm", "span": 2, "alarm": "bogus", "on": True})
    check(not r["ok"], r)
    r = sim.cmd({"cmd": "alarm", "span": 2, "alarm": "los", "on": True,
                 "extra": 1})
    check(not r["ok"] and "extra" in r["error"], r)


@tap.test
def bearer_frames_intact_for_10s():
    gw, sim = gateway_with_sim()
    check(wait_for(lambda: all_up(gw), 5), "spans not up")
    r = gw.ctl_json("raw", '{"cmd":"loopback","span":1,"on":true}',
                    sock=gw.mg_socket)
    check(r["ok"], r)
    before = spans(gw)[1]["counters"]
    r = sim.cmd({"cmd": "bearer_test", "span": 1, "seconds": 10}, timeout=20)
    check(r["ok"], r)
    print(f"# bearer test: {r}")
    check(r["frames"] >= 490 and r["bad"] == 0 and r["slips"] == 0, r)
    check(r["timeslots"] == 30, r)
    after = spans(gw)[1]["counters"]
    check(after["slips"] == before["slips"], "the MG counted slips", after)
    r = gw.ctl_json("raw", '{"cmd":"loopback","span":1,"on":false}',
                    sock=gw.mg_socket)
    check(r["ok"], r)


@tap.test
def gateway_refuses_calls_it_has_no_route_for():
    gw, sim = gateway_with_sim()
    check(wait_for(lambda: all_up(gw), 5), "spans not up")
    r = sim.cmd({"cmd": "call", "from": "5551234", "to": "7001", "span": 1,
                 "then": "milliwatt"})
    check(r["ok"], r)
    cid = r["id"]

    def released():
        c = [c for c in sim.calls() if c["id"] == cid]
        return c[0] if c and c[0]["state"] == "released" else None
    c = wait_for(released, 10)
    # no [route] for it: unallocated number (the dial plan's 404 / 1)
    check(c and c["cause"] == 1, "expected cause 1", sim.calls())
    check(wait_for(lambda: all(ch["state"] == "idle" for ch in
                               gw.ctl_json("channels")["channels"]), 5),
          "a channel stayed busy")


def events(evs, name):
    return [e for e in evs if e["event"] == name]


@tap.test
def pri_call_to_pstnsim_full_sequence():
    sim = Pstnsim()
    sim.start()
    rc, evs, err = probe(sim.rundir, "call", "5551234", "2000123", "1500")
    names = [e["event"] for e in evs]
    check(rc == 0, names, err)
    for n in ("dchan_up", "setup_sent", "proceeding", "alerting", "connect",
              "release"):
        check(n in names, f"no {n}", names)
    check(names.index("proceeding") < names.index("alerting")
          < names.index("connect") < names.index("release"), names)
    ts = events(evs, "connect")[0]["ts"] or events(evs, "proceeding")[0]["ts"]
    check(1 <= ts <= 31 and ts != 16, evs)
    c = [c for c in sim.calls() if c["called"] == "2000123"]
    check(c and c[0]["calling"] == "5551234" and c[0]["direction"] == "in", c)
    check(c[0]["state"] == "released", c)


@tap.test
def pri_causes_arrive_intact():
    sim = Pstnsim()
    sim.start()
    for number, cause in (("4000", 17), ("6000", 1), ("7000", 34)):
        rc, evs, err = probe(sim.rundir, "call", "5551234", number)
        check(rc == 0, evs, err)
        disc = events(evs, "disconnect") or events(evs, "release")
        check(disc and disc[0]["cause"] == cause,
              f"{number}: expected cause {cause}", evs)
        check(not events(evs, "connect"), f"{number} was answered", evs)


@tap.test
def pri_call_from_pstnsim_full_sequence():
    sim = Pstnsim()
    sim.start()
    import subprocess
    exe = os.path.join(os.environ.get("JUNCTION_BUILDDIR", "."), "tests",
                       "integration", "tdmprobe")
    pr = subprocess.Popen([exe, "-d", os.path.join(sim.rundir, "span1.dchan"),
                           "-b", os.path.join(sim.rundir, "span1.bearer"),
                           "-T", "20", "answer", "1"],
                          stdout=subprocess.PIPE, text=True)
    try:
        check(wait_for(lambda: any(s.get("dchan") == "up" for s in
                                   sim.cmd({"cmd": "spans"})["spans"]
                                   if s["id"] == 1), 5), "D-channel not up")
        r = sim.cmd({"cmd": "call", "from": "0301234567", "to": "7001",
                     "span": 1, "then": "milliwatt"})
        check(r["ok"], r)
        cid = r["id"]
        check(wait_for(lambda: [c for c in sim.calls() if c["id"] == cid
                                and c["state"] == "connected"], 5),
              "not connected", sim.calls())
        r = sim.cmd({"cmd": "hangup", "id": cid})
        check(r["ok"], r)
        out, _ = pr.communicate(timeout=15)
    finally:
        if pr.poll() is None:
            pr.kill()
            pr.wait()
    import json
    evs = [json.loads(x) for x in out.splitlines() if x]
    names = [e["event"] for e in evs]
    check(pr.returncode == 0, names)
    setup = events(evs, "setup")
    check(setup and setup[0]["called"] == "7001"
          and setup[0]["calling"] == "0301234567", evs)
    check(setup[0]["layer1"] == 3, "not A-law", setup)
    check("disconnect" in names and "release" in names, names)
    check(events(evs, "disconnect")[0]["cause"] == 16, evs)


def connected_call(sim, number="2000"):
    """A probe call to number, answered; returns the probe and the ts."""
    pr = probe_start(sim.rundir, "call", "5551234", number, "600000")

    def connect():
        return [e for e in probe_events(pr) if e["event"] == "connect"]
    check(wait_for(connect, 10), "no connect", probe_events(pr))
    ev = [e for e in probe_events(pr) if e.get("ts")]
    return pr, ev[0]["ts"]


def released(pr, timeout):
    def rel():
        return [e for e in probe_events(pr) if e["event"] == "release"]
    return wait_for(rel, timeout)


@tap.test
def restart_in_the_middle_of_a_call():
    sim = Pstnsim()
    sim.start()
    pr, ts = connected_call(sim)
    r = sim.cmd({"cmd": "restart", "span": 1, "ts": ts})
    check(r["ok"], r)
    rel = released(pr, 5)
    check(rel, "the call survived a RESTART", probe_events(pr))
    names = [e["event"] for e in probe_events(pr)]
    check("restart" in names, names)
    pr.wait(5)
    check(wait_for(lambda: all(c["state"] == "released"
                               for c in sim.calls()), 5), sim.calls())
    r = sim.cmd({"cmd": "restart", "span": 1, "ts": 16})
    check(not r["ok"], "RESTART of the D-channel accepted", r)


@tap.test
def dchannel_lost_in_the_middle_of_a_call():
    sim = Pstnsim()
    sim.start()
    pr, ts = connected_call(sim)
    t0 = time.monotonic()
    check(sim.cmd({"cmd": "dchan", "span": 1, "up": False})["ok"])
    rel = released(pr, 40)
    check(rel, "the call was never cleared", probe_events(pr))
    print(f"# call on ts {ts} cleared {time.monotonic() - t0:.1f} s after "
          f"the D-channel failed, cause {rel[0].get('cause')}")
    check(rel[0].get("cause"), "no cause", rel)
    check(sim.cmd({"cmd": "dchan", "span": 1, "up": True})["ok"])


@tap.test
def far_end_that_never_answers_layer2():
    gw = Gateway(DEFAULT_CONF + SPANS_CONF)
    sim = Pstnsim(gw.rundir)
    sim.start()
    check(sim.cmd({"cmd": "dchan", "span": 1, "up": False})["ok"])
    gw.start()
    time.sleep(4)
    s = spans(gw)
    check(s[1]["dchan"] == "down" and s[1]["state"] == "down", s[1])
    check(s[2]["dchan"] == "up", s[2])
    check(gw.proc.poll() is None, "junctiond died")
    check(sim.cmd({"cmd": "dchan", "span": 1, "up": True})["ok"])
    check(wait_for(lambda: all_up(gw), 15), "span 1 never came up",
          spans(gw))


T1_CONF = """
[span 1]
type = t1
signalling = pri_cpe
switchtype = national
"""


@tap.test
def t1_span_service_and_mulaw_bearer():
    gw = Gateway(DEFAULT_CONF + T1_CONF)
    sim_conf = SIM_CONF.split("[span 1]")[0] + """
[span 1]
type = t1
signalling = pri_net
switchtype = national
"""
    sim = Pstnsim(gw.rundir, conf=sim_conf)
    sim.start()
    gw.start()

    def up():
        s = spans(gw)
        return s[1]["dchan"] == "up" and s[1]["state"] == "up"
    check(wait_for(up, 5), "T1 span not up", spans(gw))
    s = spans(gw)[1]
    check(s["type"] == "t1" and s["channels"]["total"] == 23, s)

    def chan(ts):
        return [c for c in gw.ctl_json("channels")["channels"]
                if c["ts"] == ts][0]
    r = sim.cmd({"cmd": "service", "span": 1, "ts": 5, "in": False})
    check(r["ok"], r)
    check(wait_for(lambda: chan(5)["state"] == "blocked", 5),
          "ts 5 not blocked", chan(5))
    r = sim.cmd({"cmd": "service", "span": 1, "ts": 5, "in": True})
    check(r["ok"], r)
    check(wait_for(lambda: chan(5)["state"] == "idle", 5), chan(5))
    r = gw.ctl_json("raw", '{"cmd":"loopback","span":1,"on":true}',
                    sock=gw.mg_socket)
    check(r["ok"], r)
    r = sim.cmd({"cmd": "bearer_test", "span": 1, "seconds": 3}, timeout=10)
    check(r["ok"] and r["timeslots"] == 23 and r["bad"] == 0
          and r["slips"] == 0 and r["frames"] >= 140, r)


@tap.test
def vspan_peer_loss_and_return():
    gw, sim = gateway_with_sim()
    check(wait_for(lambda: all_up(gw), 5), "spans not up")
    sim.stop()
    check(wait_for(lambda: all(s["state"] == "down" for s in
                               spans(gw).values()), 5),
          "spans not down", spans(gw))
    check(gw.proc.poll() is None, "junctiond died")
    sim.start()
    check(wait_for(lambda: all_up(gw), 20), "spans did not come back",
          spans(gw))
    check(spans(gw)[1]["counters"]["reconnects"] >= 1, spans(gw))


if __name__ == "__main__":
    tap.run()
