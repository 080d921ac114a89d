"""tests/integration/test_junctionctl.py - junctionctl as an operator reads
it: the human tables of calls, cdr, megaco (on junctiond and on
junction-mg) and sip, `call hangup`, `cdr --csv` as RFC 4180 CSV that
Python's csv module reads back, and `subscribe` printing one line per
event until interrupted.  Also: junction.conf(5) documents every section
and key that `junctiond --dump-config` prints."""

import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_CONF, SPANS_CONF, SRC, Gateway, Pstnsim,  # noqa: E402
                     Tap, check, free_port, prog, wait_for)

tap = Tap()
SCEN = os.path.join(SRC, "tests", "integration", "sipp")

CDR_COLUMNS = ["id", "direction", "start", "answer", "end", "disposition",
               "calling_in", "called_in", "calling_out", "called_out",
               "span", "ts", "sip_call_id", "codec", "route", "q850", "sip",
               "duration", "dtmf", "loss", "jitter", "mos"]


def gateway(extra=""):
    """pstnsim and the gateway in one run directory, with the dial plan of
    the demo.  The PBX trunk is a socket that never answers, so a call
    from the PSTN stays in progress (its INVITE unanswered, Timer B is
    32 s) until it is hung up."""
    pbx = free_port("udp", 12400, 400)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", pbx))
    conf = DEFAULT_CONF + SPANS_CONF + f"""
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
""" + extra
    gw = Gateway(conf, name="ctl")
    gw.silent_pbx = silent
    sim = Pstnsim(rundir=gw.rundir)
    sim.start()
    gw.start()
    up = wait_for(lambda: (gw.subsystem(gw.ctl_json("status"), "mgc") or
                           {}).get("mg") == "up", 15)
    check(up, "the MG did not register", gw.logtext()[-3000:])
    check(wait_for(lambda: all(s["dchan"] == "up" for s in
                               gw.ctl_json("spans")["spans"]), 15),
          "D-channels not up", gw.ctl_json("spans"))
    return gw, sim


def header(text):
    """The column names of the first table line in text."""
    for line in text.splitlines():
        if line and line.split()[0] in ("ID", "NAME", "TRANSPORT", "AOR",
                                        "CONTEXT", "CALL-ID"):
            return line.split()
    return []


def headers(text):
    return [line.split() for line in text.splitlines()
            if line[:1].isupper() and line == line.upper()]


def pstn_call(gw, sim):
    """A call from the PSTN toward the (silent) PBX; its junctiond id."""
    r = sim.cmd({"cmd": "call", "from": "5551234", "to": "7001",
                 "span": 1, "then": "milliwatt"})
    check(r.get("ok"), r)
    check(wait_for(lambda: gw.ctl_json("calls")["calls"], 10),
          "no call in junctiond", gw.logtext()[-2000:])
    return gw.ctl_json("calls")["calls"][0]["id"]


@tap.test
def calls_table_and_hangup():
    gw, sim = gateway()
    cid = pstn_call(gw, sim)
    r = gw.ctl("calls")
    check(r.returncode == 0, r.stderr)
    lines = r.stdout.splitlines()
    print("# " + "\n# ".join(lines))
    check(lines[0].split() == ["ID", "STATE", "DIR", "FROM", "TO",
                               "SPAN/TS", "CODEC", "DURATION"], lines)
    row = lines[1].split()
    check(row[0] == cid and row[2] == "in" and row[3] == "5551234" and
          row[4] == "7001" and re.fullmatch(r"1/\d+", row[5]) and
          re.fullmatch(r"\d+:\d\d", row[7]), row)
    # --json is the daemon's reply as it is.
    r = gw.ctl("--json", "calls")
    check(r.stdout.startswith('{"ok":true,"calls":[{'), r.stdout)
    r = gw.ctl("call", "hangup", cid)
    check(r.returncode == 0, "call hangup failed", r.stdout, r.stderr)
    check(wait_for(lambda: not gw.ctl_json("calls")["calls"], 10),
          "the call is still there", gw.ctl_json("calls"))
    r = gw.ctl("call", "hangup", cid)
    check(r.returncode == 1 and cid in r.stderr, r.stdout, r.stderr)


@tap.test
def cdr_table_and_csv():
    gw, sim = gateway()
    ids = []
    for _ in range(2):
        cid = pstn_call(gw, sim)
        ids.append(cid)
        check(gw.ctl("call", "hangup", cid, "cause=17").returncode == 0)
        check(wait_for(lambda: not gw.ctl_json("calls")["calls"], 10),
              "the call is still there")
    r = gw.ctl("cdr")
    print("# " + "\n# ".join(r.stdout.splitlines()))
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines[0].split()[:5] ==
          ["ID", "START", "DIR", "FROM", "TO"], r.stdout, r.stderr)
    for col in ("SPAN/TS", "CODEC", "DISPOSITION", "Q850", "DURATION"):
        check(col in lines[0].split(), col, lines[0])
    check(any(ln.startswith(ids[0]) for ln in lines) and
          any(ln.startswith(ids[1]) for ln in lines), ids, lines)

    r = gw.ctl("cdr", "--csv")
    check(r.returncode == 0, r.stderr)
    raw = subprocess.run([prog("junctionctl"), "-s", gw.socket, "cdr",
                          "--csv"], capture_output=True).stdout
    check(raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b""),
          "CSV lines must end with CRLF (RFC 4180)", raw[:200])
    rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
    check(rows[0] == CDR_COLUMNS, rows[0])
    check(len(rows) == 3 and all(len(x) == len(CDR_COLUMNS)
                                 for x in rows), rows)
    recs = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
    js = {c["id"]: c for c in gw.ctl_json("cdr")["cdr"]}
    for rec in recs:
        j = js[rec["id"]]
        check(rec["direction"] == "in" and rec["called_in"] == "7001" and
              rec["q850"] == str(j["q850"]) and rec["start"] == j["start"]
              and rec["answer"] == "", rec, j)
    # The last one only: cdr limit=N, or cdr N.
    for args in (("cdr", "limit=1", "--csv"), ("cdr", "1", "--csv")):
        r = gw.ctl(*args)
        rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
        check(len(rows) == 2 and rows[1][0] == ids[1], args, rows)
    r = gw.ctl("calls", "--csv")
    check(r.returncode == 2 and "--csv" in r.stderr, r.stdout, r.stderr)


@tap.test
def megaco_on_both_daemons():
    gw, sim = gateway()
    r = gw.ctl("megaco")
    print("# " + "\n# ".join(r.stdout.splitlines()))
    check(r.returncode == 0 and re.search(r"^state:\s+up$", r.stdout, re.M)
          and re.search(r"^peer_mid:\s+\S+", r.stdout, re.M), r.stdout)
    cid = pstn_call(gw, sim)
    r = gw.ctl("megaco", sock=gw.mg_socket)
    print("# " + "\n# ".join(r.stdout.splitlines()))
    hs = headers(r.stdout)
    check(r.returncode == 0 and hs, r.stdout, r.stderr)
    check(hs[0][:5] == ["NAME", "STATE", "MID", "MGC", "VERSION"], hs)
    check(re.search(r"^local\s+registered\s", r.stdout, re.M), r.stdout)
    check(["CONTEXT", "MG", "TERMINATIONS"] in hs, hs)
    check(re.search(r"tdm/1/\d+\(\w+\) rtp/\d+\(\w+\)", r.stdout),
          r.stdout)
    gw.ctl("call", "hangup", cid)


@tap.test
def sip_listeners_and_registrar():
    port = free_port("udp", 14000, 2000)
    gw, sim = gateway(f"""
[sip]
listen = udp:127.0.0.1:{port}, tcp:127.0.0.1:{port}
registrar = yes
""")
    r = gw.ctl("sip")
    print("# " + "\n# ".join(r.stdout.splitlines()))
    hs = headers(r.stdout)
    check(r.returncode == 0, r.stderr)
    check(["TRANSPORT", "ADDRESS", "PORT"] in hs, hs)
    check(re.search(r"^UDP\s+127\.0\.0\.1\s+%d$" % port, r.stdout, re.M)
          and re.search(r"^TCP\s+127\.0\.0\.1\s+%d$" % port, r.stdout,
                        re.M), r.stdout)
    # Both ways: our registrations, and the registrar's bindings.
    check(re.search(r"^registrations:\s+-$", r.stdout, re.M) and
          re.search(r"^bindings:\s+-$", r.stdout, re.M) and
          re.search(r"^registrar\.db:\s+\S+location\.sqlite$", r.stdout,
                    re.M), r.stdout)
    cid = pstn_call(gw, sim)
    r = gw.ctl("sip")
    check(["CALL-ID", "STATE", "DIR"] in headers(r.stdout), r.stdout)
    gw.ctl("call", "hangup", cid)
    # Without a registrar.
    gw2, _ = gateway()
    r = gw2.ctl("sip")
    check(re.search(r"^registrar:\s+off$", r.stdout, re.M), r.stdout)


@tap.test
def subscribe_prints_events_until_interrupted():
    gw, sim = gateway()
    sub = subprocess.Popen([prog("junctionctl"), "-s", gw.socket,
                            "subscribe"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    cid = pstn_call(gw, sim)
    gw.ctl("call", "hangup", cid)
    check(wait_for(lambda: not gw.ctl_json("calls")["calls"], 10))
    time.sleep(0.5)
    sub.send_signal(signal.SIGINT)
    out, err = sub.communicate(timeout=10)
    print("# " + "\n# ".join(out.splitlines()))
    check(sub.returncode == 0, "not a clean exit on SIGINT",
          sub.returncode, err)
    lines = [ln for ln in out.splitlines() if cid in ln]
    check(lines and all(re.match(r"\d\d:\d\d:\d\d\.\d{3} call " +
                                 re.escape(cid) + r" \w+ ", ln)
                        for ln in lines), out)
    whats = [ln.split()[3] for ln in lines]
    check(whats[0] == "new" and whats[-1] == "ended", whats)
    # --json: the events as the daemon sends them.
    sub = subprocess.Popen([prog("junctionctl"), "-s", gw.socket, "--json",
                            "subscribe"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    cid = pstn_call(gw, sim)
    gw.ctl("call", "hangup", cid)
    check(wait_for(lambda: not gw.ctl_json("calls")["calls"], 10))
    time.sleep(0.5)
    sub.send_signal(signal.SIGTERM)
    out, _ = sub.communicate(timeout=10)
    check(sub.returncode == 0 and out.startswith('{"event":"call"'), out)


@tap.test
def man_page_documents_every_key():
    """junction.conf(5) has a subsection per section of the schema and an
    entry per key, and no key the schema lacks."""
    dump = subprocess.run([prog("junctiond"), "--dump-config"],
                          capture_output=True, text=True, timeout=10).stdout
    schema, sec = {}, None
    for line in dump.splitlines():
        m = re.match(r"^;?\[(\w+)(?: [^\]]*)?\]$", line)
        if m:
            sec = m.group(1)
            schema.setdefault(sec, set())
            continue
        m = re.match(r"^;(\w+) = ", line)
        if m and sec:
            schema[sec].add(m.group(1))
    check(len(schema) >= 12 and "mg" in schema and "sip" in schema, schema)
    with open(os.path.join(SRC, "doc", "junction.conf.5")) as f:
        man = f.read()
    page, sec, prev = {}, None, None
    for line in man.splitlines():
        m = re.match(r'^\.SS "?\[(\w+)', line)
        if m:
            sec = m.group(1)
            page.setdefault(sec, set())
            continue
        if line.startswith(".SH"):
            sec = None
        m = re.match(r"^\.B (\w+)$", line)
        if m and sec and prev == ".TP":
            page[sec].add(m.group(1))
        prev = line
    for s, keys in schema.items():
        check(s in page, f"[{s}] is not in junction.conf(5)")
        check(keys == page[s], f"[{s}]: missing {sorted(keys - page[s])}, "
              f"not in the schema {sorted(page[s] - keys)}")
    check(set(page) == set(schema), set(page) - set(schema))

if __name__ == "__main__":
    tap.run()
