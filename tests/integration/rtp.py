"""tests/integration/rtp.py - an RTP peer for the audio tests: G.711
(ITU-T G.711 A-law and mu-law), RFC 3550 packets, RFC 4733 telephone
events, and the measurements a test makes on what it receives (tone
frequency by Goertzel search, level in dBm0)."""

import math
import random
import socket
import struct
import time

# 0 dBm0 in 16-bit linear: G.711's overload point (+3.14 dBm0 for A-law,
# +3.17 for mu-law) is full scale, so a 0 dBm0 sine peaks at about 22,790
# (the figure spandsp uses too).
DBM0_AMPLITUDE = 32768.0 * 10 ** (-3.14 / 20)


def _alaw_encode(s):
    s = max(-32768, min(32767, s)) >> 3          # 13-bit
    sign = 0x80 if s >= 0 else 0x00
    if s < 0:
        s = -s - 1
    if s >= 0x1000:
        seg = 7
        while seg > 1 and not (s >> (seg + 3)) & 1:
            seg -= 1
    elif s >= 32:
        seg = s.bit_length() - 5
    else:
        seg = 0
    if seg == 0:
        m = s >> 1
    else:
        m = (s >> seg) & 0x0F
    return (sign | (seg << 4) | m) ^ 0x55


def _alaw_decode(a):
    a ^= 0x55
    seg = (a >> 4) & 7
    m = a & 0x0F
    v = (m << 4) + 8 if seg == 0 else ((m << 4) + 0x108) << (seg - 1)
    return v if a & 0x80 else -v


def _ulaw_encode(s):
    BIAS, CLIP = 0x84, 32635
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), CLIP) + BIAS
    seg = max(0, s.bit_length() - 8)
    m = (s >> (seg + 3)) & 0x0F
    return ~(sign | (seg << 4) | m) & 0xFF


def _ulaw_decode(u):
    u = ~u & 0xFF
    seg = (u >> 4) & 7
    v = (((u & 0x0F) << 3) + 0x84) << seg
    v -= 0x84
    return -v if u & 0x80 else v


ALAW_DEC = [_alaw_decode(i) for i in range(256)]
ULAW_DEC = [_ulaw_decode(i) for i in range(256)]
ALAW_ENC = bytes(_alaw_encode(i) for i in range(-32768, 32768))
ULAW_ENC = bytes(_ulaw_encode(i) for i in range(-32768, 32768))


def encode(samples, law="alaw"):
    t = ALAW_ENC if law == "alaw" else ULAW_ENC
    return bytes(t[max(-32768, min(32767, int(s))) + 32768] for s in samples)


def decode(data, law="alaw"):
    t = ALAW_DEC if law == "alaw" else ULAW_DEC
    return [t[b] for b in data]


def sine(freq, dbm0, n, start=0, rate=8000):
    amp = DBM0_AMPLITUDE * 10 ** (dbm0 / 20)
    return [amp * math.sin(2 * math.pi * freq * (start + i) / rate)
            for i in range(n)]


def level_dbm0(samples):
    if not samples:
        return -120.0
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    peak = DBM0_AMPLITUDE / math.sqrt(2)
    return 20 * math.log10(rms / peak) if rms > 0 else -120.0


def goertzel_power(samples, freq, rate=8000):
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + k * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - k * s1 * s2


def _hann(samples):
    n = len(samples)
    return [x * (0.5 - 0.5 * math.cos(2 * math.pi * i / (n - 1)))
            for i, x in enumerate(samples)]


def _best(samples, f0, f1, step, rate):
    f, top, bf = f0, -1.0, f0
    while f <= f1:
        p = goertzel_power(samples, f, rate)
        if p > top:
            top, bf = p, f
        f += step
    return bf


def dominant_freq(samples, lo=300, hi=3400, rate=8000):
    """The strongest frequency, to about 0.1 Hz: a scan of a short block
    (wide bins, so no tone falls between them), then finer scans of the
    whole window around the peak.  A Hann window keeps leakage down."""
    short = _hann(samples[:400])
    f = _best(short, lo, hi, 5.0, rate)
    w = _hann(samples)
    f = _best(w, f - 30, f + 30, 0.5, rate)
    return _best(w, f - 0.5, f + 0.5, 0.05, rate)


class RtpPeer:
    """One RTP endpoint on a UDP socket (IPv4 or IPv6 loopback)."""

    def __init__(self, host="127.0.0.1", pt=8, law="alaw", te_pt=101):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.pt, self.law, self.te_pt = pt, law, te_pt
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self.remote = None
        self.received = []           # (pt, seq, ts, marker, payload)
        self.first = True

    def close(self):
        self.sock.close()

    def packet(self, pt, payload, marker=False, ts=None):
        hdr = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt,
                          self.seq & 0xFFFF, (self.ts if ts is None else ts)
                          & 0xFFFFFFFF, self.ssrc)
        self.seq += 1
        return hdr + payload

    def send_audio(self, samples):
        p = self.packet(self.pt, encode(samples, self.law), self.first)
        self.first = False
        self.sock.sendto(p, self.remote)
        self.ts += len(samples)

    def send_event(self, digit, duration, end, ts, marker):
        ev = "0123456789*#ABCD".index(digit)
        payload = struct.pack("!BBH", ev, (0x80 if end else 0) | 10,
                              duration)
        self.sock.sendto(self.packet(self.te_pt, payload, marker, ts),
                         self.remote)

    def poll(self):
        while True:
            try:
                data, _ = self.sock.recvfrom(2048)
            except BlockingIOError:
                return
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            cc = data[0] & 0x0F
            off = 12 + 4 * cc
            if data[0] & 0x10 and len(data) >= off + 4:
                off += 4 + 4 * struct.unpack("!H", data[off + 2:off + 4])[0]
            m, pt = data[1] >> 7, data[1] & 0x7F
            seq, ts = struct.unpack("!HI", data[2:8])
            self.received.append((pt, seq, ts, m, data[off:]))

    def audio(self):
        """Decoded audio received so far, in sequence order."""
        pk = sorted((p for p in self.received if p[0] == self.pt),
                    key=lambda p: p[1])
        out = []
        for p in pk:
            out.extend(decode(p[4], self.law))
        return out

    def digits(self):
        """RFC 4733 digits received, each once (by event start ts)."""
        seen, out = set(), []
        for pt, seq, ts, m, pl in sorted(self.received, key=lambda p: p[1]):
            if pt != self.te_pt or len(pl) < 4:
                continue
            if pl[1] & 0x80 and ts not in seen:
                seen.add(ts)
                out.append("0123456789*#ABCD"[pl[0]] if pl[0] < 16 else "?")
        return "".join(out)

    def stream_tone(self, freq, dbm0, seconds, ptime=20):
        """Send a tone in real time (ptime pacing) while collecting."""
        n = 8 * ptime
        start = time.monotonic()
        for i in range(int(seconds * 1000 / ptime)):
            self.send_audio(sine(freq, dbm0, n, start=i * n))
            self.poll()
            due = start + (i + 1) * ptime / 1000
            time.sleep(max(0, due - time.monotonic()))

    def stream_silence(self, seconds, ptime=20):
        self.stream_tone(1000, -120, seconds, ptime)

    def send_digits(self, digits, on_ms=100, off_ms=100):
        """RFC 4733 events paced every 20 ms, end sent three times."""
        for d in digits:
            ts0 = self.ts
            for t in range(20, on_ms + 1, 20):
                self.send_event(d, t * 8, False, ts0, t == 20)
                self.poll()
                time.sleep(0.02)
            for _ in range(3):
                self.send_event(d, on_ms * 8, True, ts0, False)
            self.ts += on_ms * 8
            self.stream_silence(off_ms / 1000)


def pcap_rtp(path):
    """The RTP packets of a pcap file (Ethernet/IPv4/UDP), with their
    capture times in seconds: [(t, bytes)]."""
    with open(path, "rb") as f:
        d = f.read()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", d[:24])
    if magic != 0xA1B2C3D4:
        raise ValueError(f"{path}: not a little-endian microsecond pcap")
    out, off = [], 24
    while off + 16 <= len(d):
        sec, usec, incl, _ = struct.unpack("<IIII", d[off:off + 16])
        off += 16
        pkt = d[off:off + incl]
        off += incl
        ip = pkt[14:] if link == 1 else pkt
        if len(ip) < 20 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 15) * 4:]
        out.append((sec + usec / 1e6, udp[8:]))
    return out


def replay(peer, packets):
    """Send recorded RTP packets as this peer's stream: our SSRC, our
    sequence and timestamp space, the recording's pacing (duplicates,
    as RFC 4733 end packets are, keep their shared sequence number)."""
    t0 = packets[0][0]
    seq0 = struct.unpack("!H", packets[0][1][2:4])[0]
    ts0 = struct.unpack("!I", packets[0][1][4:8])[0]
    start = time.monotonic()
    for t, p in packets:
        seq, ts = struct.unpack("!HI", p[2:8])
        hdr = p[:2] + struct.pack("!HII", (peer.seq + seq - seq0) & 0xFFFF,
                                  (peer.ts + ts - ts0) & 0xFFFFFFFF,
                                  peer.ssrc)
        time.sleep(max(0, start + (t - t0) - time.monotonic()))
        peer.sock.sendto(hdr + p[12:], peer.remote)
        peer.poll()
    last = packets[-1][1]
    peer.seq += (struct.unpack("!H", last[2:4])[0] - seq0 + 1) & 0xFFFF
    peer.ts += 8000     # past the recording; the next packet marks a gap
