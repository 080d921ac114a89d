"""tests/integration/test_mg_erlang.py - what our H.248 encoder writes, the
Erlang/OTP megaco text decoder reads.

mgtextgen (tests/integration/mgtextgen.c) writes the requests and replies
the MG and MGC sides of megaco/ send - registration, a call's Add, Modify,
Notify and Subtract, audits and their replies, errors at every level,
Pending, acknowledgements, version 2 and 3 constructs - in both styles and
in every version each exists in.  A small Erlang module, compiled here
into a temporary folder, decodes each file with megaco_compact_text_encoder
or megaco_pretty_text_encoder (the version is the header's), encodes the
result again and decodes that, so a decode that only half understood the
text shows too.  One TAP line per message, covering its styles and
versions."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, Tap, check  # noqa: E402

tap = Tap()

CHECKER = r"""
-module(mg_erlang_check).
-export([main/1]).

%% Each argument is a file "NAME.vN.STYLE.txt"; prints one line a file:
%% "ok FILE" or "fail FILE REASON".
main(Files) ->
    lists:foreach(fun one/1, Files),
    halt(0).

one(File) ->
    Mod = case string:find(File, ".compact.") of
              nomatch -> megaco_pretty_text_encoder;
              _ -> megaco_compact_text_encoder
          end,
    R = (catch begin
                   {ok, Bin} = file:read_file(File),
                   {ok, M} = Mod:decode_message([], Bin),
                   {ok, Again} = Mod:encode_message([], M),
                   {ok, M2} = Mod:decode_message([], Again),
                   same = same(M, M2),
                   ok
               end),
    case R of
        ok -> io:format("ok ~s~n", [File]);
        _ -> io:format("fail ~s ~0P~n", [File, R, 30])
    end.

%% The decoded terms agree, whatever Erlang chose for the parts that
%% cannot survive its own round trip unchanged.
same(A, A) -> same;
same(A, B) -> {differ, A, B}.
"""

_cache = {}


def generate():
    """Run mgtextgen once; {name: [(version, style, path)]} in order."""
    if "gen" in _cache:
        return _cache["gen"]
    # kept across the tests (the harness cleans up after each one)
    out = tempfile.mkdtemp(prefix="mg-erlang-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    exe = os.path.join(BUILD, "tests", "integration", "mgtextgen")
    r = subprocess.run([exe, out], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, "mgtextgen failed", r.stderr)
    msgs = {}
    for line in r.stdout.splitlines():
        name, ver, style, path = line.split(" ", 3)
        msgs.setdefault(name, []).append((int(ver), style, path))
    check(msgs, "mgtextgen wrote nothing")
    _cache["gen"] = (out, msgs)
    return _cache["gen"]


def decode_all():
    """Every file through the Erlang decoder once; {path: reason|None}."""
    if "res" in _cache:
        return _cache["res"]
    out, msgs = generate()
    check(shutil.which("erlc") and shutil.which("erl"),
          "erlc/erl not found (Debian: erlang-base erlang-megaco)")
    src = os.path.join(out, "mg_erlang_check.erl")
    with open(src, "w") as f:
        f.write(CHECKER)
    r = subprocess.run(["erlc", "-o", out, src], capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0, "erlc failed", r.stdout, r.stderr)
    files = [p for v in msgs.values() for _, _, p in v]
    r = subprocess.run(["erl", "-noshell", "-pa", out, "-run",
                        "mg_erlang_check", "main", *files],
                       capture_output=True, text=True, timeout=120)
    res = {}
    for line in r.stdout.splitlines():
        word, _, rest = line.partition(" ")
        path, _, reason = rest.partition(" ")
        if word in ("ok", "fail"):
            res[path] = None if word == "ok" else reason
    check(res, "erl printed nothing", r.stdout, r.stderr)
    _cache["res"] = res
    return res


def make_test(name):
    def t():
        out, msgs = generate()
        res = decode_all()
        bad = []
        for ver, style, path in msgs[name]:
            if path not in res:
                bad.append(f"v{ver} {style}: no result")
            elif res[path] is not None:
                with open(path) as f:
                    bad.append(f"v{ver} {style}: {res[path]}\n{f.read()}")
        forms = ", ".join(f"v{v} {s}" for v, s, _ in msgs[name])
        print(f"# {name}: {forms}")
        check(not bad, f"{name}: Erlang/OTP megaco rejects", *bad)
    t.__name__ = name
    return t


def main():
    # The list of messages comes from the generator itself, so that a
    # message added there is checked here with no change.
    try:
        _, msgs = generate()
        names = list(msgs)
    except Exception as e:  # noqa: BLE001 - reported as one failure
        def generator():
            raise e
        tap.test(generator)
        return tap.run()
    for name in names:
        tap.test(make_test(name))
    tap.run()


if __name__ == "__main__":
    main()
