"""tests/integration/test_sip.py - sip/ against a real peer: SIPp
(sip-tester) calls the test TU (siptu) over UDP and TCP, and siptu calls
SIPp; CANCEL, 486, re-INVITE hold/resume, REFER with its NOTIFYs, PRACK;
an INVITE retransmitted across the 200 (RFC 6026) with identity headers;
digest authentication both ways (a 401 challenge); REGISTER both ways
(siptu's registrar and its SQLite store, siptu registering at SIPp)."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SRC, Siptu, Tap, check, free_port, sipp,  # noqa: E402
                     wait_for)

tap = Tap()
SCEN = os.path.join(SRC, "tests", "integration", "sipp")


def tu(*extra):
    port = free_port()
    t = Siptu("-l", f"udp:127.0.0.1:{port}", "-l", f"tcp:127.0.0.1:{port}",
              *extra).start()
    return t, port


def closed_clean(t):
    """siptu leaves no session, and frees every block when it stops."""
    rc = t.stop()
    check(rc == 0, f"siptu exit {rc}", *t.out[-20:])
    check("exit live=0" in t.out, "siptu leaked", *t.out[-20:])


def sipp_ok(r, what):
    check(r.returncode == 0, f"SIPp {what}: exit {r.returncode}",
          r.stdout[-2000:], r.stderr[-2000:])


def basic(transport):
    t, port = tu("-R")
    r = sipp("-sn", "uac", f"127.0.0.1:{port}", "-t", transport,
             "-p", str(free_port()), "-m", "10", "-r", "20", "-d", "100",
             "-i", "127.0.0.1")
    sipp_ok(r, f"uac over {transport}")
    check(wait_for(lambda: len(t.lines("event")) >= 20, 5),
          "siptu missed events", *t.out[-20:])
    check(len([l for l in t.lines("event") if " answered " in l]) == 10,
          "not 10 answered", *t.out)
    check(len([l for l in t.lines("event") if " closed " in l]) == 10,
          "not 10 closed by BYE", *t.out)
    closed_clean(t)


@tap.test
def sipp_uac_basic_call_udp():
    basic("u1")


@tap.test
def sipp_uac_basic_call_tcp():
    basic("t1")


@tap.test
def siptu_uac_to_sipp_uas_udp():
    port = free_port()
    import subprocess
    import tempfile
    uas = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1",
                            "-p", str(port), "-m", "3", "-nostdin",
                            "-timeout", "40s", "-timeout_error"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL,
                           cwd=tempfile.gettempdir())
    try:
        t = Siptu("-l", f"udp:127.0.0.1:{free_port()}",
                  "-c", f"sip:service@127.0.0.1:{port}", "-n", "3",
                  "-H", "200")
        # SIPp needs a moment to bind before the first INVITE.
        import time
        time.sleep(0.5)
        t.start(wait=False)
        rc = t.wait_exit(40)
        check(rc == 0, f"siptu as UAC: exit {rc}", *t.out)
        check("calls done=3 failed=0" in t.out, *t.out)
        check(uas.wait(30) == 0, "SIPp uas saw a failed call")
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()


@tap.test
def cancel_gets_487():
    t, port = tu("-R", "-d", "10000")
    r = sipp("-sf", os.path.join(SCEN, "uac_cancel.xml"),
             f"127.0.0.1:{port}", "-p", str(free_port()), "-m", "3",
             "-i", "127.0.0.1")
    sipp_ok(r, "CANCEL")
    check(wait_for(lambda: len([l for l in t.lines("event")
                                if "closed status=487 cause=16" in l]) == 3,
                   5), "no closed/487 with the CANCEL's Reason", *t.out)
    closed_clean(t)


@tap.test
def busy_gets_486_with_reason():
    t, port = tu("-r", "486")
    r = sipp("-sf", os.path.join(SCEN, "uac_reject.xml"),
             f"127.0.0.1:{port}", "-p", str(free_port()), "-m", "3",
             "-i", "127.0.0.1")
    sipp_ok(r, "486")
    closed_clean(t)


def hold(transport):
    t, port = tu()
    r = sipp("-sf", os.path.join(SCEN, "uac_hold.xml"), f"127.0.0.1:{port}",
             "-t", transport, "-p", str(free_port()), "-m", "2",
             "-i", "127.0.0.1")
    sipp_ok(r, f"hold/resume over {transport}")
    ev = t.lines("event")
    check(len([l for l in ev if " modified " in l and " hold" in l]) == 2,
          "hold not reported", *ev)
    check(len([l for l in ev if " modified " in l and " hold" not in l])
          == 2, "resume not reported", *ev)
    closed_clean(t)


@tap.test
def reinvite_hold_resume_udp():
    hold("u1")


@tap.test
def reinvite_hold_resume_tcp():
    hold("t1")


@tap.test
def session_timer_refreshed_by_sipp():
    """RFC 4028 with SIPp as the refresher, over UDP and TCP: 422 and
    Min-SE for a short interval, the refresher named in the 2xx with
    Require: timer, refreshes by re-INVITE and by an UPDATE without a
    body, whose 2xx confirms the new interval."""
    for transport in ("u1", "t1"):
        t, port = tu()
        r = sipp("-sf", os.path.join(SCEN, "uac_session_timer.xml"),
                 f"127.0.0.1:{port}", "-t", transport,
                 "-p", str(free_port()), "-m", "1", "-i", "127.0.0.1")
        sipp_ok(r, f"session timer over {transport}")
        ev = t.lines("event")
        check(len([l for l in ev if " answered " in l]) == 1 and
              len([l for l in ev if " closed " in l]) == 1,
              "not one call answered and closed by BYE", *ev)
        closed_clean(t)


@tap.test
def refer_accepted_with_notify():
    t, port = tu()
    r = sipp("-sf", os.path.join(SCEN, "uac_refer.xml"), f"127.0.0.1:{port}",
             "-p", str(free_port()), "-m", "1", "-i", "127.0.0.1")
    sipp_ok(r, "REFER")
    check(wait_for(lambda: t.lines("transfer"), 5), "no transfer event",
          *t.out)
    check("sip:2000@127.0.0.1" in t.lines("transfer")[0], *t.out)
    closed_clean(t)


@tap.test
def prack_reliable_183():
    t, port = tu("-P", "-E")
    r = sipp("-sf", os.path.join(SCEN, "uac_prack.xml"), f"127.0.0.1:{port}",
             "-p", str(free_port()), "-m", "2", "-i", "127.0.0.1")
    sipp_ok(r, "PRACK")
    closed_clean(t)


@tap.test
def prack_with_a_new_offer():
    """A PRACK that makes a new offer (hold) gets the answer in its 200,
    and the TU hears of the change."""
    t, port = tu("-P", "-E")
    r = sipp("-sf", os.path.join(SCEN, "uac_prack_offer.xml"),
             f"127.0.0.1:{port}", "-p", str(free_port()), "-m", "1",
             "-i", "127.0.0.1")
    sipp_ok(r, "PRACK with an offer")
    check([l for l in t.lines("event") if " modified " in l and " hold" in l],
          "the PRACK's offer was not reported", *t.out)
    closed_clean(t)


@tap.test
def invite_retransmitted_after_200_absorbed():
    """RFC 6026: an INVITE retransmission crossing our 200 starts no
    second call; the INVITE's PAI, Privacy and Diversion reach the TU."""
    t, port = tu()
    r = sipp("-sf", os.path.join(SCEN, "uac_invite_retrans.xml"),
             f"127.0.0.1:{port}", "-p", str(free_port()), "-m", "3",
             "-i", "127.0.0.1")
    sipp_ok(r, "INVITE retransmitted after 200")
    inc = t.lines("incoming")
    check(len(inc) == 3, f"{len(inc)} calls for 3 INVITEs", *t.out)
    check(all("pai=+4930111 privacy=id, div=3000/no-answer/2" in l
              for l in inc), "identities not read", *inc)
    check(wait_for(lambda: len([l for l in t.lines("event")
                                if " closed " in l]) == 3, 5),
          "not 3 closed by BYE", *t.out)
    closed_clean(t)


def auth_sipp(port, scen, user, password, transport="u1"):
    return sipp("-sf", os.path.join(SCEN, scen), f"127.0.0.1:{port}",
                "-t", transport, "-p", str(free_port()), "-m", "2",
                "-i", "127.0.0.1", "-au", user, "-ap", password)


@tap.test
def sipp_uac_401_challenge():
    """SIPp answers one 401 (MD5: SIPp 3.6 knows no SHA-256) and calls."""
    t, port = tu("-A", "alice:secret", "-M")
    for tp in ("u1", "t1"):
        r = auth_sipp(port, "uac_auth.xml", "alice", "secret", tp)
        sipp_ok(r, f"401 then 200 over {tp}")
    check(len([l for l in t.lines("event") if " answered " in l]) == 4,
          "not 4 answered", *t.out)
    closed_clean(t)


@tap.test
def sipp_uac_wrong_password_and_unknown_user_alike():
    """A wrong password and an unknown user: the same 403, no call."""
    t, port = tu("-A", "alice:secret", "-M")
    r = auth_sipp(port, "uac_auth_fail.xml", "alice", "wrong")
    sipp_ok(r, "wrong password gets 403")
    r = auth_sipp(port, "uac_auth_fail.xml", "mallory", "secret")
    sipp_ok(r, "unknown user gets 403")
    check(not t.lines("incoming"), "a call got through", *t.out)
    closed_clean(t)


def siptu_uac_auth(cred, scenario="uas_auth.xml", *extra):
    import subprocess
    import tempfile
    import time
    port = free_port()
    uas = subprocess.Popen(["sipp", "-sf", os.path.join(SCEN, scenario),
                            "-i", "127.0.0.1", "-p", str(port), "-m", "1",
                            "-nostdin", "-timeout", "10s", "-timeout_error"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL,
                           cwd=tempfile.gettempdir())
    try:
        t = Siptu("-l", f"udp:127.0.0.1:{free_port()}",
                  "-c", f"sip:service@127.0.0.1:{port}", "-n", "1",
                  "-H", "200", "-C", cred, *extra)
        time.sleep(0.5)
        t.start(wait=False)
        rc = t.wait_exit(30)
        return rc, t, uas.wait(30)
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()


@tap.test
def siptu_uac_answers_401_and_407():
    """siptu answers SIPp's 401 to the INVITE and 407 to the BYE."""
    rc, t, urc = siptu_uac_auth("alice:secret")
    check(rc == 0 and "calls done=1 failed=0" in t.out,
          f"siptu as UAC: exit {rc}", *t.out)
    check(urc == 0, "SIPp uas: digest refused")
    check("exit live=0" in t.out, "siptu leaked", *t.out)


@tap.test
def siptu_uac_answers_401_to_update():
    """An UPDATE challenged with 401 comes again with the next CSeq, a
    digest SIPp verifies and the same offer, which is answered."""
    rc, t, urc = siptu_uac_auth("alice:secret", "uas_auth_update.xml",
                                "-U", "-H", "1000")
    check(rc == 0 and "calls done=1 failed=0" in t.out,
          f"siptu as UAC: exit {rc}", *t.out)
    check(urc == 0, "SIPp uas: the UPDATE was not retried with a digest")
    # SIP_SESS_MODIFIED (2) with the answer's 200
    check(any(l.endswith(" 2 status=200") for l in t.lines("event")),
          "the UPDATE's answer was not reported", *t.out)


@tap.test
def siptu_uac_wrong_password_403():
    rc, t, urc = siptu_uac_auth("alice:bad")
    check(rc == 1 and "calls done=0 failed=1" in t.out,
          "a bad digest got through", *t.out)
    check(any("status=403" in l for l in t.lines("event")), *t.out)


def registrar_tu(db, *extra):
    return tu("-A", "alice:secret", "-M", "-G", db, *extra)


def bindings(t):
    b = t.lines("bindings ")
    return int(b[-1].split()[1]) if b else None


@tap.test
def sipp_registers_at_siptu_registrar():
    """SIPp registers (401 each time), is told 423 for 10 s, adds a
    second contact with q; the bindings survive a restart of siptu (the
    SQLite store), Contact: * removes them all."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "location.sqlite")
        t, port = registrar_tu(db)
        r = sipp("-sf", os.path.join(SCEN, "register_uac.xml"),
                 f"127.0.0.1:{port}", "-p", str(free_port()), "-m", "1",
                 "-i", "127.0.0.1", "-s", "alice", "-au", "alice",
                 "-ap", "secret")
        sipp_ok(r, "REGISTER, 423, second contact")
        closed_clean(t)
        check(bindings(t) == 2, "not 2 bindings", *t.out)
        check(any("sip:alice@192.0.2.10:5060 q=0.500" in l
                  for l in t.lines("binding ")), *t.out)
        # A restart: the store has them.
        t, port = registrar_tu(db)
        closed_clean(t)
        check(bindings(t) == 2, "bindings lost over a restart", *t.out)
        # Contact: * with Expires: 0.
        t, port = registrar_tu(db)
        r = sipp("-sf", os.path.join(SCEN, "register_uac_clear.xml"),
                 f"127.0.0.1:{port}", "-p", str(free_port()), "-m", "1",
                 "-i", "127.0.0.1", "-s", "alice", "-au", "alice",
                 "-ap", "secret")
        sipp_ok(r, "Contact: *")
        closed_clean(t)
        check(bindings(t) == 0, "Contact: * left bindings", *t.out)


@tap.test
def sipp_register_wrong_password_403():
    """The registrar's digest policy: a wrong password gets 403."""
    t, port = registrar_tu("-")
    r = auth_sipp(port, "uac_auth_fail.xml", "alice", "wrong")
    sipp_ok(r, "INVITE with a wrong password still 403")
    r = sipp("-sf", os.path.join(SCEN, "register_uac.xml"),
             f"127.0.0.1:{port}", "-p", str(free_port()), "-m", "1",
             "-i", "127.0.0.1", "-s", "alice", "-au", "alice",
             "-ap", "wrong", timeout=20)
    check(r.returncode != 0, "a wrong password registered")
    closed_clean(t)
    check(bindings(t) == 0, "a binding from a wrong password", *t.out)


@tap.test
def siptu_registers_at_sipp():
    """siptu answers SIPp's 401s, refreshes the 2 s binding with the
    same Call-ID, and un-REGISTERs (Expires: 0) when told to stop."""
    import subprocess
    import tempfile
    import time
    port = free_port()
    uas = subprocess.Popen(["sipp", "-sf",
                            os.path.join(SCEN, "register_uas.xml"),
                            "-i", "127.0.0.1", "-p", str(port), "-m", "1",
                            "-nostdin", "-timeout", "20s", "-timeout_error"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL,
                           cwd=tempfile.gettempdir())
    try:
        time.sleep(0.5)
        t = Siptu("-l", f"udp:127.0.0.1:{free_port()}",
                  "-g", f"sip:127.0.0.1:{port}", "-C", "alice:secret").start()
        check(wait_for(lambda: len(t.lines("reg registered")) >= 2, 10),
              "no refresh", *t.out)
        rc = t.stop()
        check(rc == 0, f"siptu exit {rc}", *t.out)
        check("reg unregistering status=200" in t.out, *t.out)
        check("reg stopped status=200" in t.out, *t.out)
        check("exit live=0" in t.out, "siptu leaked", *t.out)
        check(uas.wait(20) == 0, "SIPp registrar: scenario failed")
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()


if __name__ == "__main__":
    if not shutil.which("sipp"):
        print("1..0 # SKIP SIPp (sip-tester) is not installed")
        sys.exit(0)
    tap.run()
