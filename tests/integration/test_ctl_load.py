"""tests/integration/test_ctl_load.py - the status socket under abuse: many
idle clients, a garbage flood, a client that never reads, a line without
end.  junctionctl must still get its answer quickly and junctiond's memory
must stay bounded."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Tap, check, connect_unix  # noqa: E402

tap = Tap()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed_status(gw):
    t0 = time.monotonic()
    r = gw.ctl("--json", "status")
    return time.monotonic() - t0, r


class Flooder(threading.Thread):
    """Sends garbage lines (and, with endless, one line that never ends)
    as fast as the socket takes them."""

    def __init__(self, path, endless=False):
        super().__init__(daemon=True)
        self.path, self.endless = path, endless
        self.stop = threading.Event()
        self.sent = 0
        self.dropped = False

    def run(self):
        s = connect_unix(self.path)
        s.setblocking(False)
        chunk = (b"x" * 65536) if self.endless else (b"{not json at all\n" * 4096)
        while not self.stop.is_set():
            try:
                self.sent += s.send(chunk)
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                self.dropped = True
                break
            # Read nothing back, ever.
        s.close()


@tap.test
def status_answers_fast_under_load():
    gw = Gateway()
    gw.start()
    pid = gw.proc.pid
    idle = [connect_unix(gw.socket) for _ in range(50)]
    rss0 = rss_kib(pid)
    garbage = Flooder(gw.socket)
    endless = Flooder(gw.socket, endless=True)
    garbage.start()
    endless.start()
    time.sleep(1.0)
    times = []
    for _ in range(7):
        dt, r = timed_status(gw)
        check(r.returncode == 0, r.stdout, r.stderr)
        times.append(dt)
    garbage.stop.set()
    endless.stop.set()
    garbage.join(5)
    endless.join(5)
    times.sort()
    print(f"# junctionctl status under load: median {times[3]*1000:.1f} ms, "
          f"max {times[-1]*1000:.1f} ms; garbage sent {garbage.sent} B, "
          f"endless line {endless.sent} B")
    check(times[3] < 0.100, f"median {times[3]*1000:.1f} ms >= 100 ms")
    rss1 = rss_kib(pid)
    print(f"# junctiond RSS {rss0} KiB before, {rss1} KiB after")
    check(rss1 - rss0 < 16 * 1024, f"RSS grew by {rss1 - rss0} KiB")
    # The idle clients are still served.
    for s in idle[:5]:
        s.sendall(b'{"cmd":"status","id":7}\n')
        line = s.makefile().readline()
        check('"ok": true' in line or '"ok":true' in line, line)
        check('"id": 7' in line or '"id":7' in line, line)
    for s in idle:
        s.close()
    check(gw.proc.poll() is None, "junctiond died")


@tap.test
def flooder_is_dropped_and_others_unaffected():
    gw = Gateway()
    gw.start()
    s = connect_unix(gw.socket)
    s.sendall(b"garbage\n" * 64)
    s.settimeout(5)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    check(got.count(b'"ok": false') + got.count(b'"ok":false') >= 1, got[:200])
    check(got.count(b"\n") < 64, "the flooder was never dropped")
    dt, r = timed_status(gw)
    check(r.returncode == 0)


@tap.test
def reader_that_never_reads_is_dropped():
    gw = Gateway()
    gw.start()
    pid = gw.proc.pid
    rss0 = rss_kib(pid)
    s = connect_unix(gw.socket)
    s.setblocking(False)
    sent = 0
    end = time.monotonic() + 5
    req = b'{"cmd":"help"}\n' * 1000
    closed = False
    while time.monotonic() < end:
        try:
            sent += s.send(req)
        except BlockingIOError:
            time.sleep(0.005)
        except OSError:
            closed = True
            break
    rss1 = rss_kib(pid)
    print(f"# sent {sent} B of requests, never read; RSS {rss0} -> {rss1} KiB")
    check(rss1 - rss0 < 16 * 1024, f"RSS grew by {rss1 - rss0} KiB")
    dt, r = timed_status(gw)
    check(r.returncode == 0 and dt < 0.5, f"status took {dt:.3f}s")
    s.close()
    del closed


if __name__ == "__main__":
    tap.run()
