#!/usr/bin/env python3
"""tests/integration/test_sip_tls.py - sip/ over TLS against a peer on
another TLS stack: test_sip.py's SIPp scenarios, driven by a small SIP
peer written here that talks through OpenSSL's s_client (which verifies
the test TU's certificate: the test CA, the name 127.0.0.1) or, for the
TU's own calls to a sips: URI, through s_server.  A basic call both
ways, CANCEL, 486 with Reason, re-INVITE hold and resume, PRACK, a 401
challenge answered with an MD5 digest, a session-timer refresh, and
REGISTER at the TU's registrar."""

import hashlib
import os
import re
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SRC, Siptu, Tap, check, free_port, on_exit,  # noqa: E402
                     wait_for)

tap = Tap()
TLS = os.path.join(SRC, "tests", "data", "sip-tls")
CA = os.path.join(TLS, "cert.pem")

# RFC 3261 s.7.3.3 compact forms, for the headers read here
COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via",
           "m": "contact", "l": "content-length", "c": "content-type",
           "k": "supported", "x": "session-expires"}


class Msg:
    """One SIP message: its start line, headers (lower-case full names,
    in order) and body."""

    def __init__(self, raw):
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.first, self.headers = lines[0], []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:   # folded
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            self.headers.append((COMPACT.get(name, name), value.strip()))
        self.body = body.decode()
        self.raw = raw.decode(errors="replace")

    @property
    def status(self):
        if self.first.startswith("SIP/2.0 "):
            return int(self.first.split()[1])
        return None

    @property
    def method(self):
        return None if self.status else self.first.split()[0]

    @property
    def uri(self):
        return self.first.split()[1]

    def get(self, name):
        for n, v in self.headers:
            if n == name.lower():
                return v
        return None

    def cseq_method(self):
        return (self.get("cseq") or " ").split()[-1]

    def __str__(self):
        return self.raw


def token():
    return secrets.token_hex(6)


def uri_of(value):
    """The URI inside a name-addr (From, To, Contact)."""
    m = re.search(r"<([^>]*)>", value)
    return m.group(1) if m else value.split(";")[0].strip()


class Peer:
    """A SIP peer on one TLS connection through an openssl subprocess
    (its stdin and stdout carry the plain text).  Incoming messages are
    framed by Content-Length, which a stream must carry (RFC 3261
    s.18.3); CRLFs between messages are keepalives (RFC 5626 s.3.5.1)."""

    def __init__(self, argv, port):
        self.port = port  # ours: Via sent-by, Contact
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err)
        self.buf = b""
        on_exit(self.close)

    @classmethod
    def client(cls, port):
        """s_client to siptu's TLS listener on port, from a port of our
        own (so that Via and Contact name it), verifying siptu's
        certificate against the test CA and for the address 127.0.0.1."""
        me = free_port()
        return cls(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                    "-bind", f"127.0.0.1:{me}", "-CAfile", CA,
                    "-verify_ip", "127.0.0.1", "-verify_return_error",
                    "-quiet", "-nocommands"], me)

    @classmethod
    def server(cls):
        """s_server with the test certificate, for one connection."""
        me = free_port()
        p = cls(["openssl", "s_server", "-accept", f"127.0.0.1:{me}",
                 "-cert", CA, "-key", os.path.join(TLS, "key.pem"),
                 "-naccept", "1", "-quiet"], me)
        check(wait_for(lambda: listening(me), 5), "s_server did not start",
              p.stderr())
        return p

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def recv(self, timeout=5.0):
        """The next message, within timeout."""
        end = time.monotonic() + timeout
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                m = re.search(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)",
                              self.buf[:i], re.I | re.M)
                check(m, "a message without Content-Length on a stream",
                      self.buf[:i])
                n = i + 4 + int(m.group(1))
                if len(self.buf) >= n:
                    msg, self.buf = self.buf[:n], self.buf[n:]
                    return Msg(msg)
            left = end - time.monotonic()
            fd = self.proc.stdout.fileno()
            check(left > 0 and select.select([fd], [], [], left)[0],
                  "nothing came", self.buf, self.stderr())
            chunk = os.read(fd, 65536)
            check(chunk, "the TLS connection closed", self.buf,
                  self.stderr())
            self.buf += chunk

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def listening(port):
    """A TCP listener on port (state 0A in /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        return any(fields[1].endswith(":%04X" % port) and fields[3] == "0A"
                   for fields in (line.split() for line in f))


def sdp(version, direction=""):
    """Our offer: PCMA on a port nobody sends to; version rises with
    each new offer (RFC 3264 s.8)."""
    return ("v=0\r\n"
            f"o=peer 1 {version} IN IP4 127.0.0.1\r\n"
            "s=-\r\n"
            "c=IN IP4 127.0.0.1\r\n"
            "t=0 0\r\n"
            "m=audio 41000 RTP/AVP 8\r\n"
            "a=rtpmap:8 PCMA/8000\r\n" +
            (f"a={direction}\r\n" if direction else ""))


def digest(chal, method, uri, user, password):
    """An Authorization value answering the WWW-Authenticate chal with
    MD5 (RFC 2617 s.3.2.2; qop=auth when offered, RFC 7616 s.3.4.1)."""
    p = {k: a or b for k, a, b in
         re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', chal)}

    def md5(s):
        return hashlib.md5(s.encode()).hexdigest()
    ha1 = md5(f"{user}:{p['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    out = (f'Digest username="{user}", realm="{p["realm"]}", '
           f'nonce="{p["nonce"]}", uri="{uri}", algorithm=MD5')
    if "auth" in p.get("qop", "").split(","):
        cnonce = token()
        resp = md5(f"{ha1}:{p['nonce']}:00000001:{cnonce}:auth:{ha2}")
        out += f', qop=auth, nc=00000001, cnonce="{cnonce}"'
    else:
        resp = md5(f"{ha1}:{p['nonce']}:{ha2}")
    if "opaque" in p:
        out += f', opaque="{p["opaque"]}"'
    return out + f', response="{resp}"'


class Dialog:
    """The peer as a UAC: one Call-ID, our From tag, CSeq rising; the
    remote tag and target learnt from the responses to the INVITE
    (RFC 3261 s.12.1.2)."""

    def __init__(self, peer, uri, user="peer"):
        self.peer, self.user = peer, user
        self.call_id = f"{token()}@127.0.0.1"
        self.ltag, self.rtag = token(), None
        self.local = f"<sips:{user}@127.0.0.1>"
        self.remote = f"<{uri}>"
        self.target = uri
        self.cseq = 0
        self.invite = None  # (uri, branch, cseq) of the last INVITE

    def send(self, method, *headers, body="", uri=None, cseq=None,
             branch=None, to=None):
        """Build a request from the dialog state and send it."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = branch or "z9hG4bK" + token()
        uri = uri or self.target
        if to is None:
            to = self.remote + (f";tag={self.rtag}" if self.rtag else "")
        lines = [f"{method} {uri} SIP/2.0",
                 f"Via: SIP/2.0/TLS 127.0.0.1:{self.peer.port}"
                 f";branch={branch}",
                 "Max-Forwards: 70",
                 f"From: {self.local};tag={self.ltag}",
                 f"To: {to}",
                 f"Call-ID: {self.call_id}",
                 f"CSeq: {cseq} {method}"]
        if method in ("INVITE", "UPDATE"):  # target refresh, s.12.2
            lines.append(f"Contact: <sips:{self.user}@127.0.0.1:"
                         f"{self.peer.port}>")
        lines += headers
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        self.peer.send("\r\n".join(lines) + "\r\n\r\n" + body)
        if method == "INVITE":
            self.invite = (uri, branch, cseq)
        return branch

    def response(self, want, method=None, skip=(100,)):
        """The next response, past those in skip: check its status and
        what its CSeq answers; learn the dialog's tag and target."""
        r = self.peer.recv()
        while r.status in skip:
            r = self.peer.recv()
        check(r.status == want, f"{r.status} for {want}", r)
        if method:
            check(r.cseq_method() == method, f"not a {method} response", r)
        if r.cseq_method() == "INVITE" and 100 < r.status < 300:
            tag = re.search(r";\s*tag=([^;\s]+)", r.get("to") or "")
            check(tag, "no To tag", r)
            self.rtag = tag.group(1)
            if r.status >= 200 and r.get("contact"):
                self.target = uri_of(r.get("contact"))
        return r

    def ack(self, final):
        """ACK a final response to the INVITE: for a 2xx a new
        transaction to the remote target (s.13.2.2.4), else in the
        INVITE's own transaction with the response's To (s.17.1.1.3)."""
        uri, branch, cseq = self.invite
        if final.status < 300:
            self.send("ACK", cseq=cseq)
        else:
            self.send("ACK", uri=uri, cseq=cseq, branch=branch,
                      to=final.get("to"))

    def call(self, *headers):
        """INVITE with our offer, then the 200 (past 100 and 180) and
        its ACK; returns the 200."""
        self.send("INVITE", *headers, body=sdp(1))
        ok = self.response(200, "INVITE", skip=(100, 180))
        check("m=audio" in ok.body, "no SDP answer in the 200", ok)
        self.ack(ok)
        return ok

    def bye(self):
        self.send("BYE")
        self.response(200, "BYE")


def respond(peer, req, status, reason, *headers, body="", tag=None):
    """A response to req (s.8.2.6): its Via, From, Call-ID and CSeq, its
    To with our tag."""
    to = req.get("to")
    if tag and "tag=" not in to:
        to += f";tag={tag}"
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"{n.title()}: {v}" for n, v in req.headers
              if n in ("via", "from", "call-id", "cseq")]
    lines += [f"To: {to}", *headers]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    peer.send("\r\n".join(lines) + "\r\n\r\n" + body)


def tu(*extra):
    """siptu with a TLS listener, its certificate and CA from tests/data
    (verification on, no client certificate required)."""
    port = free_port()
    t = Siptu("-l", f"tls:127.0.0.1:{port}", "-K", TLS, *extra).start()
    return t, port


def service(port):
    return f"sips:service@127.0.0.1:{port}"


def events(t, word):
    return [l for l in t.lines("event") if f" {word} " in l]


def closed_clean(t, peer=None):
    """siptu leaves no session, and frees every block when it stops;
    then all it printed is in t.out."""
    if peer:
        peer.close()
    rc = t.stop()
    check(rc == 0, f"siptu exit {rc}", *t.out[-20:])
    check("exit live=0" in t.out, "siptu leaked", *t.out[-20:])


@tap.test
def peer_uac_basic_call():
    """Three calls on one connection, as SIPp's uac: INVITE, 100, 180,
    200 with a Contact and the SDP answer, ACK, BYE, 200; siptu sees
    each answered and closed by the BYE."""
    t, port = tu("-R")
    peer = Peer.client(port)
    for _ in range(3):
        d = Dialog(peer, service(port))
        d.send("INVITE", body=sdp(1))
        d.response(180, "INVITE")
        ok = d.response(200, "INVITE")
        check(ok.get("contact") and "m=audio" in ok.body, "no answer", ok)
        # s.12.1.1: a dialog from a SIPS Request-URI has a SIPS Contact
        check(ok.get("contact").startswith("<sips:"), "not sips", ok)
        check((ok.get("via") or "").startswith("SIP/2.0/TLS 127.0.0.1:"
                                               f"{peer.port};"),
              "not our Via", ok)
        d.ack(ok)
        d.bye()
    closed_clean(t, peer)
    check(len(events(t, "answered")) == 3, "not 3 answered", *t.out)
    check(len(events(t, "closed")) == 3, "not 3 closed by BYE", *t.out)


@tap.test
def siptu_uac_to_peer_uas():
    """siptu calls sips:service@ our s_server twice (one connection,
    reused): the INVITE over TLS with an offer, our 180 and 200, its
    ACK and, after the hold time, its BYE, which we answer."""
    srv = Peer.server()
    t = Siptu("-l", f"tls:127.0.0.1:{free_port()}", "-K", TLS,
              "-c", service(srv.port), "-n", "2", "-H", "200").start()
    for _ in range(2):
        inv = srv.recv()
        check(inv.method == "INVITE" and inv.uri == service(srv.port),
              "not our INVITE", inv)
        check(inv.get("via").startswith("SIP/2.0/TLS "), "not over TLS", inv)
        check("m=audio" in inv.body, "no offer", inv)
        check(inv.get("contact").startswith("<sips:"), "not sips", inv)
        tag = token()
        respond(srv, inv, 100, "Trying")
        respond(srv, inv, 180, "Ringing", tag=tag)
        respond(srv, inv, 200, "OK",
                f"Contact: <sips:uas@127.0.0.1:{srv.port}>",
                body=sdp(1), tag=tag)
        ack = srv.recv()
        check(ack.method == "ACK" and ack.cseq_method() == "ACK", ack)
        check(f"tag={tag}" in ack.get("to"), "ACK without our tag", ack)
        bye = srv.recv()
        check(bye.method == "BYE" and bye.get("call-id") ==
              inv.get("call-id"), "no BYE", bye)
        respond(srv, bye, 200, "OK")
    t.wait_exit(10)
    rc = t.stop()  # and all it printed is read
    check(rc == 0, f"siptu as UAC: exit {rc}", *t.out)
    check("calls done=2 failed=0" in t.out, *t.out)
    check("exit live=0" in t.out, "siptu leaked", *t.out)


@tap.test
def cancel_gets_487():
    """CANCEL of a ringing INVITE (s.9.2): 200 to the CANCEL and 487 to
    the INVITE, which we ACK; siptu hears the CANCEL's Reason."""
    t, port = tu("-R", "-d", "10000")
    peer = Peer.client(port)
    d = Dialog(peer, service(port))
    d.send("INVITE", body=sdp(1))
    d.response(180, "INVITE")
    uri, branch, cseq = d.invite
    d.send("CANCEL", "Reason: Q.850;cause=16", uri=uri, cseq=cseq,
           branch=branch, to=d.remote)
    d.response(200, "CANCEL")
    d.ack(d.response(487, "INVITE"))
    closed_clean(t, peer)
    check(any("closed status=487 cause=16" in l
              for l in events(t, "closed")),
          "no closed/487 with the CANCEL's Reason", *t.out)


@tap.test
def busy_gets_486_with_reason():
    """An INVITE rejected 486 with Reason Q.850 cause 17 (RFC 3326),
    the ACK in the same transaction."""
    t, port = tu("-r", "486")
    peer = Peer.client(port)
    d = Dialog(peer, service(port))
    d.send("INVITE", body=sdp(1))
    busy = d.response(486, "INVITE")
    check(re.search(r"Q\.850\s*;\s*cause=17", busy.get("reason") or ""),
          "no Reason: Q.850;cause=17", busy)
    d.ack(busy)
    closed_clean(t, peer)
    check(len(t.lines("incoming")) == 1, *t.out)


@tap.test
def reinvite_hold_resume():
    """A re-INVITE with a=sendonly gets a=recvonly in the answer; one
    with sendrecv gets no direction attribute back (RFC 3264 s.8.4);
    siptu hears hold, then resume."""
    t, port = tu()
    peer = Peer.client(port)
    d = Dialog(peer, service(port))
    d.call()
    d.send("INVITE", body=sdp(2, "sendonly"))
    ok = d.response(200, "INVITE")
    check("a=recvonly" in ok.body, "hold not answered recvonly", ok)
    d.ack(ok)
    d.send("INVITE", body=sdp(3, "sendrecv"))
    ok = d.response(200, "INVITE")
    check(not re.search(r"a=(recvonly|sendonly|inactive)", ok.body),
          "resume answered with a direction", ok)
    d.ack(ok)
    d.bye()
    closed_clean(t, peer)
    ev = events(t, "modified")
    check(len([l for l in ev if l.endswith(" hold")]) == 1,
          "hold not reported", *t.out)
    check(len([l for l in ev if not l.endswith(" hold")]) == 1,
          "resume not reported", *t.out)


@tap.test
def prack_reliable_183():
    """RFC 3262: an INVITE requiring 100rel gets a reliable 183 with the
    SDP and RSeq; our PRACK with RAck gets 200, then the INVITE its 200."""
    t, port = tu("-P", "-E")
    peer = Peer.client(port)
    d = Dialog(peer, service(port))
    d.send("INVITE", "Supported: 100rel", "Require: 100rel", body=sdp(1))
    early = d.response(183, "INVITE")
    rseq = early.get("rseq")
    check(rseq and rseq.isdigit(), "no RSeq", early)
    check("100rel" in (early.get("require") or ""), "no Require: 100rel",
          early)
    check("m=audio" in early.body, "no SDP in the 183", early)
    d.send("PRACK", f"RAck: {rseq} {d.invite[2]} INVITE")
    d.response(200, "PRACK")
    d.ack(d.response(200, "INVITE"))
    d.bye()
    closed_clean(t, peer)
    check(len(events(t, "answered")) == 1, *t.out)


@tap.test
def peer_uac_401_challenge():
    """An INVITE challenged with 401 (Digest, MD5) comes again with our
    digest and is answered; a wrong password gets 403 and no call."""
    t, port = tu("-A", "alice:secret", "-M")
    peer = Peer.client(port)
    for password, final in (("secret", 200), ("wrong", 403)):
        d = Dialog(peer, service(port), "alice")
        d.send("INVITE", body=sdp(1))
        chal = d.response(401, "INVITE")
        www = chal.get("www-authenticate") or ""
        check(www.startswith("Digest ") and
              re.search(r"algorithm=MD5\b", www) and
              'realm="siptu"' in www, "not an MD5 challenge", chal)
        d.ack(chal)
        d.send("INVITE", "Authorization: " +
               digest(www, "INVITE", d.target, "alice", password),
               body=sdp(1))
        r = d.response(final, "INVITE", skip=(100, 180))
        d.ack(r)
        if final == 200:
            d.bye()
    closed_clean(t, peer)
    check(len(t.lines("incoming")) == 1, "not one call let in", *t.out)
    check(len(events(t, "answered")) == 1, *t.out)


@tap.test
def session_timer_refreshed_by_peer():
    """RFC 4028 with the peer as the refresher: 60 s is below the
    minimum (422, Min-SE: 90, s.8.1); with 90 the 2xx names the
    refresher and requires the extension (s.9); a re-INVITE and an
    UPDATE without a body refresh, the UPDATE's 2xx confirming 120 s."""
    t, port = tu()
    peer = Peer.client(port)
    d = Dialog(peer, service(port))
    d.send("INVITE", "Supported: timer", "Session-Expires: 60", body=sdp(1))
    short = d.response(422, "INVITE")
    check(re.search(r"^90\b", short.get("min-se") or ""), "no Min-SE: 90",
          short)
    d.ack(short)
    timer = ("Supported: timer", "Session-Expires: 90;refresher=uac",
             "Min-SE: 90")
    ok = d.call(*timer)
    check(re.search(r"^90;\s*refresher=uac",
                    ok.get("session-expires") or ""),
          "no Session-Expires: 90;refresher=uac", ok)
    check("timer" in (ok.get("require") or ""), "no Require: timer", ok)
    d.send("INVITE", *timer, body=sdp(1))
    ok = d.response(200, "INVITE")
    check(re.search(r"^90;\s*refresher=uac",
                    ok.get("session-expires") or ""),
          "the re-INVITE's 2xx without Session-Expires", ok)
    d.ack(ok)
    d.send("UPDATE", "Supported: timer",
           "Session-Expires: 120;refresher=uac", "Min-SE: 90")
    ok = d.response(200, "UPDATE")
    check(re.search(r"^120;\s*refresher=uac",
                    ok.get("session-expires") or ""),
          "the UPDATE's 2xx does not confirm 120 s", ok)
    d.bye()
    closed_clean(t, peer)
    check(len(events(t, "answered")) == 1 and
          len(events(t, "closed")) == 1,
          "not one call answered and closed by BYE", *t.out)


def register(d, contact, expires, want):
    """REGISTER (s.10.2) challenged with 401, then with our digest; the
    final response, checked against want."""
    hdrs = (f"Contact: {contact}", f"Expires: {expires}")
    uri = d.target
    d.send("REGISTER", *hdrs)
    chal = d.response(401, "REGISTER")
    d.send("REGISTER", *hdrs, "Authorization: " +
           digest(chal.get("www-authenticate"), "REGISTER", uri,
                  "alice", "secret"))
    return d.response(want, "REGISTER")


@tap.test
def peer_registers_at_siptu_registrar():
    """The peer registers its sips: contact (401 each time): 60 s is
    granted and listed; 10 s is too brief (423, Min-Expires: 60); a
    second contact with q=0.5 is listed with the first, and siptu holds
    both bindings (s.10.3)."""
    t, port = tu("-A", "alice:secret", "-M", "-G", "-")
    peer = Peer.client(port)
    d = Dialog(peer, f"sips:127.0.0.1:{port}", "alice")
    d.remote = d.local  # To: the address of record (s.10.2)
    me = f"sips:alice@127.0.0.1:{peer.port}"
    ok = register(d, f"<{me}>", 60, 200)
    check(re.search(rf"<{re.escape(me)}>;expires=60",
                    ok.get("contact") or ""), "binding not listed", ok)
    brief = register(d, f"<{me}>", 10, 423)
    check(brief.get("min-expires") == "60", "no Min-Expires: 60", brief)
    ok = register(d, "<sip:alice@192.0.2.10:5060>;q=0.5", 120, 200)
    both = ",".join(v for n, v in ok.headers if n == "contact")
    check("192.0.2.10:5060>;expires=120;q=0.500" in both and
          re.search(rf"<{re.escape(me)}>;expires=(59|60)\b", both),
          "not both bindings listed", ok)
    closed_clean(t, peer)
    check(any(l.startswith("bindings 2") for l in t.out), *t.out)
    check(any(l.startswith("binding alice " + me) for l in t.out), *t.out)


if __name__ == "__main__":
    if not shutil.which("openssl"):
        print("1..0 # SKIP openssl is not installed")
        sys.exit(0)
    tap.run()
