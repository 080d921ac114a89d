"""tests/integration/test_daemons.py - junctiond and junction-mg as an
operator meets them: config checks, start-up, status, log levels, reload,
MG supervision, socket ownership, shutdown and no orphans."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_CONF, SRC, Gateway, Tap, check, pid_alive,  # noqa: E402
                     prog, wait_for)

tap = Tap()


@tap.test
def demo_config_is_valid():
    gw = Gateway()
    r = gw.run("-t", "-c", os.path.join(SRC, "etc", "demo.conf"))
    check(r.returncode == 0, "junctiond -t rejected etc/demo.conf", r.stderr)
    check("is valid" in r.stdout, r.stdout)
    r = subprocess.run([prog("junction-mg"), "-t", "-c",
                        os.path.join(SRC, "etc", "junction.conf")],
                       capture_output=True, text=True, env=gw.env())
    check(r.returncode == 0, "junction-mg -t rejected etc/junction.conf",
          r.stderr)


def bad_config(text, expect):
    gw = Gateway(text)
    r = gw.run("-t", "-c", gw.conf)
    check(r.returncode != 0, "a bad config passed -t", text)
    check(re.search(re.escape(gw.conf) + expect, r.stderr),
          f"stderr lacks {expect!r}", r.stderr)
    # Starting with it fails the same way and leaves nothing running.
    r = gw.run("-F", "-c", gw.conf)
    check(r.returncode != 0, "junctiond started on a bad config")
    check(re.search(re.escape(gw.conf) + expect, r.stderr), r.stderr)
    check(not gw.leftovers(), "processes left behind")


@tap.test
def unknown_key_names_file_and_line():
    text = DEFAULT_CONF.replace("local = yes", "loacl = yes")
    line = text.splitlines().index("loacl = yes") + 1
    bad_config(text, f":{line}: .*unknown key 'loacl'")
    bad_config(DEFAULT_CONF + "\n[mg]\nlocal = no\n", r":\d+: .*twice")
    text = DEFAULT_CONF.replace("socket = junctiond.sock",
                                "socket = junctiond.sock\nsokcet = x")
    line = text.splitlines().index("sokcet = x") + 1
    bad_config(text, f":{line}: .*sokcet")


@tap.test
def bad_value_and_bounds_name_file_and_line():
    text = DEFAULT_CONF.replace("restart_min_ms = 200",
                                "restart_min_ms = soon")
    line = text.splitlines().index("restart_min_ms = soon") + 1
    bad_config(text, f":{line}: .*soon")
    text = DEFAULT_CONF.replace("stop_timeout_ms = 5000",
                                "stop_timeout_ms = 99999999")
    line = text.splitlines().index("stop_timeout_ms = 99999999") + 1
    bad_config(text, f":{line}: .*range")
    bad_config(DEFAULT_CONF + "\n[nosuch]\n", r":\d+: .*nosuch")


@tap.test
def missing_config_file():
    gw = Gateway()
    r = gw.run("-t", "-c", gw.rundir + "/absent.conf")
    check(r.returncode != 0)
    check("absent.conf" in r.stderr and "No such file" in r.stderr, r.stderr)


@tap.test
def both_daemons_come_up_and_answer():
    gw = Gateway()
    gw.start()
    st = gw.ctl_json("status")
    check(st["ok"] and st["program"] == "junctiond", st)
    check(st["pid"] == gw.proc.pid, st)
    for k in ("version", "uptime_s", "config", "subsystems"):
        check(k in st, f"status lacks {k}", st)
    check(st["config"] == gw.conf, st)
    mg = gw.subsystem(st, "mg")
    check(mg and mg["state"] == "running" and mg["restarts"] == 0, st)
    check(pid_alive(mg["pid"]), "MG pid not alive")
    # The MG answers on its own socket, as junction-mg.
    mst = gw.ctl_json("status", sock=gw.mg_socket)
    check(mst["ok"] and mst["program"] == "junction-mg", mst)
    check(mst["pid"] == mg["pid"], mst)
    # The readable form names the daemon and its subsystems.
    r = gw.ctl("status")
    check(r.returncode == 0 and "junctiond" in r.stdout and "mg" in r.stdout,
          r.stdout, r.stderr)
    # Socket mode 0660.
    check(oct(os.stat(gw.socket).st_mode & 0o777) == "0o660")


@tap.test
def log_levels_get_and_set():
    gw = Gateway()
    gw.start()
    r = gw.ctl_json("log")
    check(r["ok"] and r["levels"]["default"] == "info", r)
    r = gw.ctl_json("log", "sip", "debug")
    check(r["ok"] and r["levels"]["sip"] == "debug", r)
    r = gw.ctl("log", "sip", "chatty")
    check(r.returncode == 1 and "chatty" in r.stderr, r.stdout, r.stderr)
    check(gw.ctl_json("log")["levels"]["sip"] == "debug")


@tap.test
def reload_keeps_old_config_on_error():
    gw = Gateway()
    gw.start()
    good = open(gw.conf).read()
    gw.write_conf(good.replace("local = yes", "local = yes\nbogus = 1"))
    r = gw.ctl_json("reload")
    check(not r["ok"] and "bogus" in r["error"] and gw.conf in r["error"], r)
    gw.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    check(gw.proc.poll() is None, "junctiond died on a bad reload")
    check("keeping the running configuration" in gw.logtext())
    st = gw.ctl_json("status")
    check(st["ok"] and st["reloads"] == 0, st)
    # A good reload applies reloadable keys ...
    gw.write_conf(good.replace("${JUNCTION_LOG_LEVEL:-info}", "warn,mg=debug"))
    r = gw.ctl_json("reload")
    check(r["ok"] and r["warnings"] == [], r)
    lv = gw.ctl_json("log")["levels"]
    check(lv["default"] == "warn" and lv["mg"] == "debug", lv)
    # ... and keeps non-reloadable ones, saying so.
    gw.write_conf(good.replace("socket = junctiond.sock",
                               "socket = other.sock"))
    r = gw.ctl_json("reload")
    check(r["ok"] and any("socket" in w for w in r["warnings"]), r)
    check(gw.ctl_json("status")["reloads"] == 2)
    # SIGHUP reloads too.
    gw.write_conf(good.replace("${JUNCTION_LOG_LEVEL:-info}", "error"))
    gw.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: gw.ctl_json("log")["levels"]["default"] == "error",
                   5), "SIGHUP did not reload")


@tap.test
def mg_restarted_with_backoff_when_it_dies():
    gw = Gateway()
    gw.start()
    pid1 = gw.mg_pid()
    os.kill(pid1, signal.SIGKILL)

    def restarted():
        st = gw.ctl_json("status")
        mg = gw.subsystem(st, "mg")
        return mg if mg["state"] == "running" and mg["pid"] != pid1 else None
    mg = wait_for(restarted, 10)
    check(mg, "MG not restarted", gw.logtext())
    check(mg["restarts"] == 1 and "SIGKILL" in mg["last_exit"], mg)
    check("restart 1" in gw.logtext(), gw.logtext())
    # Crash again at once: the second delay is longer (back-off doubles).
    t0 = time.monotonic()
    os.kill(mg["pid"], signal.SIGKILL)
    pid2 = mg["pid"]
    check(wait_for(lambda: (gw.mg_pid() or pid2) != pid2, 10), "no restart 2")
    check(time.monotonic() - t0 >= 0.35, "back-off did not grow")
    st = gw.ctl_json("status")
    check(gw.subsystem(st, "mg")["restarts"] == 2, st)


@tap.test
def live_socket_refuses_a_second_daemon():
    gw = Gateway()
    gw.start()
    r = gw.run("-F", "-c", gw.conf)
    check(r.returncode != 0, "a second junctiond started")
    check("in use" in r.stderr, r.stderr)
    check(gw.ctl_json("status")["ok"], "the first one was disturbed")
    check(gw.proc.poll() is None)


@tap.test
def kill9_leaves_no_orphan_and_stale_socket_is_replaced():
    gw = Gateway()
    gw.start()
    mgpid = gw.mg_pid()
    gw.proc.kill()
    gw.proc.wait()
    check(wait_for(lambda: not pid_alive(mgpid), 5),
          "junction-mg survived its parent")
    check(os.path.exists(gw.socket), "expected a stale socket file")
    gw.start()
    check(gw.ctl_json("status")["ok"])


@tap.test
def sigterm_stops_everything_cleanly():
    gw = Gateway()
    gw.start()
    mgpid = gw.mg_pid()
    rc = gw.stop(signal.SIGTERM)
    check(rc == 0, f"exit status {rc}", gw.logtext())
    check(not pid_alive(mgpid), "MG still running")
    check(not gw.leftovers(), "processes left behind")
    check(not os.path.exists(gw.socket) and not os.path.exists(gw.mg_socket),
          "socket files left behind")
    check("still live" not in gw.logtext(), "leaked memory blocks at exit",
          gw.logtext())


@tap.test
def second_sigterm_stops_at_once():
    conf = DEFAULT_CONF.replace("stop_timeout_ms = 5000",
                                "stop_timeout_ms = 60000")
    gw = Gateway(conf)
    gw.start()
    mgpid = gw.mg_pid()
    os.kill(mgpid, signal.SIGSTOP)		# an MG that cannot stop by itself
    gw.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    check(gw.proc.poll() is None, "stopped before the MG did")
    t0 = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    gw.proc.wait(10)
    check(time.monotonic() - t0 < 3, "the second SIGTERM was not immediate")
    check(wait_for(lambda: not pid_alive(mgpid), 5), "MG survived")


@tap.test
def daemon_mode_and_shutdown_command():
    gw = Gateway()
    r = gw.run("-c", gw.conf)		# no -F: detaches once it is up
    check(r.returncode == 0, r.stderr)
    check(gw.wait_ready(), "daemon not answering")
    pid = gw.ctl_json("status")["pid"]
    r = gw.ctl_json("shutdown")
    check(r["ok"], r)
    check(wait_for(lambda: not pid_alive(pid), 10), "daemon did not stop")
    check(wait_for(lambda: not gw.leftovers(), 5), "processes left behind")
    # Daemon mode reports a start-up failure through the exit status.
    gw.start()
    r = gw.run("-c", gw.conf)
    check(r.returncode != 0 and "start-up failed" in r.stderr, r.stderr)


@tap.test
def junctionctl_reports_errors():
    gw = Gateway()
    gw.start()
    r = gw.ctl("nosuchcommand")
    check(r.returncode == 1 and "unknown command" in r.stderr, r.stderr)
    r = gw.ctl("status", sock=gw.rundir + "/absent.sock")
    check(r.returncode == 2, r.stderr)
    r = gw.ctl_json("help")
    check(r["ok"], r)


if __name__ == "__main__":
    tap.run()
