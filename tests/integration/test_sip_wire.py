#!/usr/bin/env python3
"""tests/integration/test_sip_wire.py - junctiond's SIP side on the wire,
the daemon as it runs: the RFC 4475 and RFC 5118 torture messages
replayed at it over UDP and TCP, and TLS with peers on another stack
(OpenSSL's s_client and s_server) in both roles."""

import csv
import os
import re
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_CONF, Gateway, SRC, Tap, check,  # noqa: E402
                     free_port, wait_for)

tap = Tap()
DATA = os.path.join(SRC, "tests", "data")
TLS = os.path.join(DATA, "sip-tls")


def corpus():
    """(file, path, kind, parser_must) of both manifests."""
    out = []
    d = os.path.join(DATA, "sip-torture")
    with open(os.path.join(d, "manifest.csv"), newline="") as f:
        for row in csv.DictReader(f):
            out.append((row["file"], os.path.join(d, row["file"]),
                        row["kind"], row["parser_must"]))
    d = os.path.join(DATA, "sip-ipv6-torture")
    with open(os.path.join(d, "manifest.csv"), newline="") as f:
        for row in csv.DictReader(f):
            out.append((row["wire_file"], os.path.join(d, row["wire_file"]),
                        "request", row["parser_must"]))
    return out


def via_port(msg):
    """The top Via's port, where a UDP response goes (RFC 3261 s.18.2.2),
    5060 when it names none or cannot be read."""
    m = re.search(rb"^(?:Via|v)\s*:\s*SIP\s*/\s*2\.0\s*/\s*\w+\s+"
                  rb"(\[[^\]]*\]|[^\s;:,]+)(?::(\d+))?", msg,
                  re.I | re.M)
    if m and m.group(2) and 0 < int(m.group(2)) < 65536:
        return int(m.group(2))
    return 5060


def final_status(data):
    """The first final status line in what arrived, or None."""
    for m in re.finditer(rb"(?:^|\n)SIP/2\.0 (\d{3})", data):
        if int(m.group(1)) >= 200:
            return int(m.group(1))
    return None


def exchange(msg, port, tcp, idx, wait):
    """Send one message from its own loopback address (127.0.2.N, bound
    to its Via's port over UDP); return (final status or None, whether
    the daemon closed the connection, the socket when a stream is still
    open with nothing answered)."""
    src = "127.0.2.%d" % (idx + (128 if tcp else 0) + 1)
    s = socket.socket(socket.AF_INET,
                      socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0 if tcp else via_port(msg)))
    if tcp:
        s.connect(("127.0.0.1", port))
        s.sendall(msg)
    else:
        s.sendto(msg, ("127.0.0.1", port))
    data, closed = b"", False
    while not closed and not final_status(data) and \
            select.select([s], [], [], wait)[0]:
        chunk = s.recv(65536)
        closed = not chunk
        data += chunk
    status = final_status(data)
    if tcp and status is None and not closed:
        return None, False, s
    s.close()
    return status, closed, None


def closed_within(s, seconds):
    """Whether the daemon closes the stream s within seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not select.select([s], [], [], end - time.monotonic())[0]:
            break
        if not s.recv(65536):
            return True
    return False


def acceptable(kind, must, status, tcp, closed):
    """A response is never answered; what the parser must reject gets a
    4xx or 5xx (or, on a stream whose framing it breaks, a closed
    connection, s.18.3); every other request gets a final response.
    The exact status of each message, for the same UA code, is
    test_sip_torture's (tests/unit)."""
    if kind == "response":
        return status is None
    if must == "reject":
        return (status is not None and 400 <= status < 600) or \
            (tcp and closed)
    return status is not None or (tcp and closed)


def own_branch(msg, name, n):
    """The corpora reuse branches (z9hG4bKkdjuw in many messages): to a
    daemon that keeps its transactions, a second message with the same
    branch, sent-by and method is a retransmission (RFC 3261 s.17.2.3)
    and gets the first one's response.  Each message gets a branch of
    its own, except the one about branches."""
    if name == "transaction/badbranch.sip":
        return msg
    return re.sub(rb"(branch=[^;,\s]+)", rb"\1-r%d" % n, msg, count=1)


def replay(gw, tcp):
    """Every message once; what the daemon did with each that it should
    not have."""
    bad, waiting = [], []
    for idx, (name, path, kind, must) in enumerate(corpus()):
        if name.startswith("unreferenced/"):
            continue
        with open(path, "rb") as f:
            msg = own_branch(f.read(), name, idx)
        wait = 1.0 if kind == "response" else 5.0
        status, closed, s = exchange(msg, gw.ports["sip"], tcp, idx, wait)
        if s and kind == "request":
            waiting.append((name, kind, must, s))
            continue
        if s:
            s.close()
        if not acceptable(kind, must, status, tcp, closed):
            bad.append(f"{name}: {status} closed={closed} ({kind}, {must})")
        check(gw.proc.poll() is None, f"junctiond died on {name}",
              gw.logtext()[-3000:])
    # a stream message that never completes (a Content-Length larger
    # than what came) loses its connection after 64*T1 (s.18.3)
    end = time.monotonic() + 40
    for name, kind, must, s in waiting:
        closed = closed_within(s, max(0.1, end - time.monotonic()))
        s.close()
        if not acceptable(kind, must, None, tcp, closed):
            bad.append(f"{name}: nothing, closed={closed} ({kind}, {must})")
    return bad


@tap.test
def torture_messages_over_udp_and_tcp():
    """Each message of both corpora, once as a datagram and once on its
    own connection: the right class of answer, the daemon up throughout,
    no call left behind, and no block live when it stops."""
    for tcp in (False, True):
        # a daemon each: the transactions one pass leaves would take
        # the other's messages for retransmissions
        gw = Gateway(DEFAULT_CONF, name="wire")
        gw.start()
        bad = replay(gw, tcp)
        check(not bad, "unexpected handling over " +
              ("TCP:" if tcp else "UDP:"), *bad)
        st = gw.ctl_json("calls")
        check(not st.get("calls"), "calls left behind", st)
        stats = gw.ctl_json("sip")["sip"]["stats"]
        check(stats["rx_msgs"] > 50 and stats["rx_bad"] > 0,
              "the messages were not counted", stats)
        check(gw.stop() == 0, "junctiond exit status",
              gw.logtext()[-2000:])
        check("memory blocks still live" not in gw.logtext(),
              "junctiond leaked", gw.logtext()[-2000:])


def tls_conf(port, extra=""):
    return DEFAULT_CONF + f"""
[sip]
listen = udp:127.0.0.1:{port}, tls:127.0.0.1:{port + 1}
tls_cert = {os.path.join(TLS, 'cert.pem')}
tls_key = {os.path.join(TLS, 'key.pem')}
tls_ca = {os.path.join(TLS, 'cert.pem')}
""" + extra


OPTIONS = ("OPTIONS sips:127.0.0.1:{port} SIP/2.0\r\n"
           "Via: SIP/2.0/TLS 127.0.0.1:{src};branch=z9hG4bK-tls-1\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sips:probe@127.0.0.1>;tag=tls1\r\n"
           "To: <sips:127.0.0.1:{port}>\r\n"
           "Call-ID: tls-options-1@127.0.0.1\r\n"
           "CSeq: 1 OPTIONS\r\n"
           "Content-Length: 0\r\n\r\n")


def stranger_cert(tmp):
    """A certificate for 127.0.0.1 that nothing here trusts."""
    key, cert = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=stranger",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def s_client_options(port, *args):
    """An OPTIONS through OpenSSL's s_client, which verifies junctiond's
    certificate (the test CA, the name 127.0.0.1): the final status, or
    None when the connection failed, and what s_client said."""
    p = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
         "-CAfile", os.path.join(TLS, "cert.pem"), "-verify_return_error",
         "-verify_ip", "127.0.0.1", "-quiet", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        p.stdin.write(OPTIONS.format(port=port, src=5061).encode())
        p.stdin.flush()
        out = _read_until(p.stdout, b"\r\n\r\n", 5, whole=True)
    finally:
        p.kill()
        _, err = p.communicate()
    return final_status(out), out, err


@tap.test
def openssl_client_over_tls():
    """OpenSSL's s_client gets 200 with Allow to an OPTIONS, with no
    client certificate or with one junctiond trusts; a client
    certificate junctiond does not trust is refused, and so is a client
    without one where tls_require_client_cert says so."""
    port = free_port("udp", 15200, 400)
    gw = Gateway(tls_conf(port), name="tls")
    gw.start()
    status, out, err = s_client_options(port + 1)
    check(status == 200, "no 200 over TLS", out, err)
    check(re.search(rb"^Allow:.*INVITE", out, re.M), "no Allow", out)
    status, out, err = s_client_options(
        port + 1, "-cert", os.path.join(TLS, "cert.pem"),
        "-key", os.path.join(TLS, "key.pem"))
    check(status == 200, "a trusted client certificate refused", out, err)
    cert, key = stranger_cert(gw.rundir)
    status, out, err = s_client_options(port + 1, "-cert", cert,
                                        "-key", key)
    check(status is None, "an untrusted client certificate let in", out)
    check("client certificate from 127.0.0.1" in gw.logtext(),
          "no reason logged", gw.logtext()[-2000:])
    gw.stop()

    port = free_port("udp", 15200, 400)
    gw = Gateway(tls_conf(port, "tls_require_client_cert = yes\n"),
                 name="tlsr")
    gw.start()
    status, out, err = s_client_options(port + 1)
    check(status is None, "a client without a certificate let in", out)
    status, out, err = s_client_options(
        port + 1, "-cert", os.path.join(TLS, "cert.pem"),
        "-key", os.path.join(TLS, "key.pem"))
    check(status == 200, "a trusted client certificate refused", out, err)


@tap.test
def junctiond_verifies_an_openssl_server():
    """junctiond as the TLS client: its OPTIONS keepalive to a trunk on
    transport tls reaches OpenSSL's s_server when the server's
    certificate verifies, and the trunk is marked down, with nothing
    sent, when it does not (verification is on by default)."""
    def trunk_conf(port, tls_port):
        return tls_conf(port, f"""
[trunk carrier]
host = 127.0.0.1
port = {tls_port}
transport = tls
keepalive_s = 1
keepalive_failures = 1
""")

    def serve(cert, key):
        tls_port = free_port("tcp", 15600, 400)
        srv = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"127.0.0.1:{tls_port}",
             "-cert", cert, "-key", key, "-quiet"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        check(wait_for(lambda: _listening(tls_port), 5),
              "s_server did not start")
        return srv, tls_port

    # the certificate junctiond trusts (tls_ca)
    srv, tls_port = serve(os.path.join(TLS, "cert.pem"),
                          os.path.join(TLS, "key.pem"))
    gw = Gateway(trunk_conf(free_port("udp", 15200, 400), tls_port),
                 name="tlsc")
    gw.start()
    try:
        line = _read_until(srv.stdout, b"OPTIONS ", 10)
        check(line.startswith(b"OPTIONS sips:") or
              line.startswith(b"OPTIONS sip:"), "no OPTIONS over TLS", line)
    finally:
        srv.kill()
        srv.wait()
        gw.stop()

    # a certificate junctiond has no reason to trust
    srv, tls_port = serve(*stranger_cert(gw.rundir))
    gw2 = Gateway(trunk_conf(free_port("udp", 15200, 400), tls_port),
                  name="tlsd")
    gw2.start()
    try:
        def down():
            for p in gw2.ctl_json("sip")["sip"].get("peers", []):
                if p.get("name") == "carrier":
                    return p.get("state") == "down"
            return False
        check(wait_for(down, 10), "the trunk is not down",
              gw2.ctl_json("sip"))
        check(b"OPTIONS" not in _read_until(srv.stdout, b"OPTIONS", 1),
              "junctiond sent to an unverified server")
        check(re.search(r"(?i)certificate|verif", gw2.logtext()),
              "no reason logged", gw2.logtext()[-2000:])
    finally:
        srv.kill()
        srv.wait()
        gw2.stop()


def _listening(port):
    """A TCP listener on port (state 0A in /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        return any(fields[1].endswith(":%04X" % port) and fields[3] == "0A"
                   for fields in (line.split() for line in f))


def _read_until(f, needle, timeout, whole=False):
    """What f gives within timeout: up to the line holding needle, or
    (whole) all of it up to the needle's end."""
    data, end = b"", time.monotonic() + timeout
    fd = f.fileno()
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], end - time.monotonic())
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        i = data.find(needle)
        if i >= 0 and whole:
            return data[:i + len(needle)]
        if i >= 0:
            return data[i:].split(b"\n", 1)[0]
    return data


if __name__ == "__main__":
    tap.run()
