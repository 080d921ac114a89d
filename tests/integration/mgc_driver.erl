%% mgc_driver: the MGC (softswitch) side used by the integration tests to
%% drive junction-mg over H.248 text, built on the Erlang/OTP megaco stack.
%%
%% Started by tests/integration/mgc.py:
%%
%%   erlc -o DIR mgc_driver.erl
%%   erl -noshell -pa DIR -s mgc_driver main -extra \
%%       --port P [--mid "[127.0.0.1]:P"] [--version 1..3]
%%       [--encoding pretty|compact] [--tcp] [--trace]
%%       [--request-timer-ms N] [--retries N] [--long-timer-ms N]
%%
%% Line protocol, one record per line.  In the texts, "\n", "\r" and "\\"
%% stand for newline, carriage return and backslash, both ways.
%%
%% stdin (commands):
%%   send TAG TEXT          TEXT = one or more actionRequests in H.248 text
%%                          (pretty or compact tokens); sent to the MG that
%%                          registered last, as one transaction
%%   autoreply notify ok | error CODE [TEXT] | none
%%   autoreply servicechange ok | none | redirect MID | version N
%%   stop                   close everything, exit 0 (also on end of stdin)
%%
%% stdout (records):
%%   ready PORT                         listening
%%   ok autoreply                       an autoreply command was applied
%%   bad REASON                         a command was not understood
%%   servicechange TEXT                 a ServiceChange request from the MG
%%   connected MG-MID VERSION           a ROOT registration was accepted (after
%%                                      our reply went out)
%%   notify TEXT                        a Notify request from the MG
%%   request TEXT                       any other request from the MG (501)
%%   reply TAG TEXT                     the MG's reply to `send TAG` (may hold
%%                                      Error descriptors)
%%   error TAG REASON                   no reply: timeout, transport, decode
%%   disconnected REASON                the stack lost the connection
%%   syntax_error CODE TEXT             an MG message the stack refused (answered
%%                                      with that error)
%%   message_error CODE TEXT            an MG message that was itself an error
%%                                      message (not answered)
%%
%% Registration (autoreply servicechange ok): a ROOT ServiceChange with
%% Method Restart, Failover, Disconnected or HandOff is accepted; when it
%% offers a Version above --version the reply carries Version = --version
%% (H.248.1 11.3), and the association then speaks min(offered, --version).
%% Other ServiceChanges get an empty reply; no `connected` for them.
%%
%% Every TEXT is a whole message encoded by the stack (header, then one
%% Transaction or Reply); the transaction id in it is 0, because megaco:call
%% does not tell which one it used.  Logs go to stderr.

-module(mgc_driver).
-behaviour(megaco_user).

-include_lib("megaco/include/megaco.hrl").

-export([main/0]).
%% megaco_user callbacks
-export([handle_connect/2, handle_disconnect/3, handle_syntax_error/3,
         handle_message_error/3, handle_trans_request/3,
         handle_trans_long_request/3, handle_trans_reply/4,
         handle_trans_ack/4, handle_unexpected_trans/3,
         handle_trans_request_abort/4, handle_segment_reply/5]).
%% send_mod (wraps megaco_udp / megaco_tcp) and transport receive module
-export([send_message/2, block/1, unblock/1, close/1,
         receive_message/4, process_received_message/4]).

-define(TAB, mgc_driver_tab).

%%% ------------------------------------------------------------------------
%%% Start-up
%%% ------------------------------------------------------------------------

main() ->
    _ = logger:remove_handler(default),
    _ = logger:add_handler(default, logger_std_h,
                           #{config => #{type => standard_error}}),
    logger:set_primary_config(level, warning),
    Code = try run(init:get_plain_arguments())
           catch
               throw:{usage, Msg} ->
                   log("usage: ~s", [Msg]),
                   64;
               Class:Reason:Stack ->
                   log("fatal: ~p:~p ~p", [Class, Reason, Stack]),
                   out(["fatal ", flat("~p", [Reason])]),
                   4
           end,
    erlang:halt(Code).

defaults() ->
    #{port => 2944, mid => undefined, version => 3, encoding => "pretty",
      tcp => false, trace => false, request_timer_ms => 500, retries => 3,
      long_timer_ms => 15000}.

parse_args([], O) -> O;
parse_args(["--port", P | T], O) -> parse_args(T, O#{port => int_arg(P)});
parse_args(["--mid", M | T], O) -> parse_args(T, O#{mid => M});
parse_args(["--version", V | T], O) ->
    case int_arg(V) of
        N when N >= 1, N =< 3 -> parse_args(T, O#{version => N});
        _ -> throw({usage, "--version must be 1, 2 or 3"})
    end;
parse_args(["--encoding", E | T], O) when E =:= "pretty"; E =:= "compact" ->
    parse_args(T, O#{encoding => E});
parse_args(["--tcp" | T], O) -> parse_args(T, O#{tcp => true});
parse_args(["--trace" | T], O) -> parse_args(T, O#{trace => true});
parse_args(["--request-timer-ms", N | T], O) ->
    parse_args(T, O#{request_timer_ms => int_arg(N)});
parse_args(["--retries", N | T], O) -> parse_args(T, O#{retries => int_arg(N)});
parse_args(["--long-timer-ms", N | T], O) ->
    parse_args(T, O#{long_timer_ms => int_arg(N)});
parse_args([A | _], _) -> throw({usage, "unknown argument " ++ A}).

int_arg(S) ->
    try list_to_integer(S)
    catch _:_ -> throw({usage, "not a number: " ++ S})
    end.

run(Args) ->
    O0 = parse_args(Args, defaults()),
    Port = maps:get(port, O0),
    MidText = case maps:get(mid, O0) of
                  undefined -> "[127.0.0.1]:" ++ integer_to_list(Port);
                  M -> M
              end,
    O = O0#{mid => MidText},
    ?TAB = ets:new(?TAB, [named_table, public, set, {read_concurrency, true}]),
    Enc = case maps:get(encoding, O) of
              "pretty" -> megaco_pretty_text_encoder;
              "compact" -> megaco_compact_text_encoder
          end,
    Transport = case maps:get(tcp, O) of true -> megaco_tcp; false -> megaco_udp end,
    ets:insert(?TAB, [{opts, O}, {enc, Enc}, {transport, Transport},
                      {trace, maps:get(trace, O)},
                      {notify_mode, ok}, {sc_mode, ok}]),
    Mid = parse_mid(MidText, maps:get(version, O)),
    ets:insert(?TAB, {mid, Mid}),
    ok = megaco:start(),
    ReqTimer = #megaco_incr_timer{wait_for = maps:get(request_timer_ms, O),
                                  factor = 2, incr = 0,
                                  max_retries = maps:get(retries, O)},
    UserConf = [{user_mod, ?MODULE},
                {send_mod, ?MODULE},
                {encoding_mod, Enc},
                {encoding_config, []},
                {protocol_version, maps:get(version, O)},
                {request_timer, ReqTimer},
                {long_request_timer, maps:get(long_timer_ms, O)}],
    ok = megaco:start_user(Mid, UserConf),
    RH = megaco:user_info(Mid, receive_handle),
    ok = open_transport(Transport, RH, Port),
    Main = self(),
    spawn_link(fun() -> stdin_reader(Main) end),
    log("listening on 127.0.0.1:~w (~s), mid ~s, version ~w, ~s",
        [Port, case Transport of megaco_tcp -> "tcp"; _ -> "udp" end,
         MidText, maps:get(version, O), maps:get(encoding, O)]),
    out(["ready ", integer_to_list(Port)]),
    loop().

open_transport(megaco_udp, RH, Port) ->
    {ok, Sup} = megaco_udp:start_transport(),
    case megaco_udp:open(Sup, [{port, Port},
                               {udp_options, [{ip, {127, 0, 0, 1}}]},
                               {receive_handle, RH},
                               {module, ?MODULE}]) of
        {ok, _SH, _Ctrl} -> ok;
        {error, R} -> throw({transport, R})
    end;
open_transport(megaco_tcp, RH, Port) ->
    {ok, Sup} = megaco_tcp:start_transport(),
    case megaco_tcp:listen(Sup, [{port, Port},
                                 {tcp_options, [{ip, {127, 0, 0, 1}}]},
                                 {receive_handle, RH},
                                 {module, ?MODULE}]) of
        ok -> ok;
        {error, R} -> throw({transport, R})
    end.

%% "[a.b.c.d]:port", "<name>:port" or a device name, through the stack's
%% own decoder (so whatever it accepts in a message header works here).
parse_mid(Text, Version) ->
    Msg = io_lib:format("MEGACO/~w ~s Reply = 1 { Context = - { Notify = root } }",
                        [Version, Text]),
    case megaco_pretty_text_encoder:decode_message([], dynamic,
                                                   list_to_binary(Msg)) of
        {ok, {'MegacoMessage', _, {'Message', _, Mid, _}}} -> Mid;
        Err -> throw({usage, flat("bad mid ~s: ~p", [Text, Err])})
    end.

%%% ------------------------------------------------------------------------
%%% Command loop
%%% ------------------------------------------------------------------------

stdin_reader(Main) ->
    case io:get_line(standard_io, "") of
        eof -> Main ! stdin_eof;
        {error, R} -> Main ! {stdin_error, R};
        Line -> Main ! {line, string:trim(to_list(Line), trailing, "\r\n")},
                stdin_reader(Main)
    end.

loop() ->
    receive
        {line, Line} ->
            case command(Line) of
                stop -> shutdown(0);
                _ -> loop()
            end;
        stdin_eof ->
            log("end of stdin, stopping", []),
            shutdown(0);
        {stdin_error, R} ->
            log("stdin: ~p, stopping", [R]),
            shutdown(0);
        Other ->
            log("main loop: ~p", [Other]),
            loop()
    end.

shutdown(Code) ->
    catch megaco:stop(),
    erlang:halt(Code).

command("") -> ok;
command(Line) ->
    case split_word(Line) of
        {"send", Rest} ->
            case split_word(Rest) of
                {"", _} -> out("bad send wants a tag and a text");
                {Tag, Text} -> spawn(fun() -> do_send(Tag, unescape(Text)) end)
            end;
        {"autoreply", Rest} ->
            case autoreply(string:lexemes(Rest, " ")) of
                ok -> out("ok autoreply");
                {error, Why} -> out(["bad autoreply ", Why])
            end;
        {"stop", _} -> stop;
        {Cmd, _} -> out(["bad unknown command ", Cmd])
    end.

split_word(S) ->
    S1 = string:trim(S, leading, " \t"),
    case string:split(S1, " ") of
        [W, Rest] -> {W, Rest};
        [W] -> {W, ""}
    end.

autoreply(["notify", "ok"]) -> set(notify_mode, ok);
autoreply(["notify", "none"]) -> set(notify_mode, none);
autoreply(["notify", "error", Code | Text]) ->
    case catch list_to_integer(Code) of
        C when is_integer(C), C >= 0, C =< 9999 ->
            set(notify_mode, {error, C, string:join(Text, " ")});
        _ -> {error, "error code must be a number"}
    end;
autoreply(["servicechange", "ok"]) -> set(sc_mode, ok);
autoreply(["servicechange", "none"]) -> set(sc_mode, none);
autoreply(["servicechange", "redirect", Mid]) ->
    %% check now that the stack can encode it
    case catch sc_res_parm(["MgcIdToTry = ", Mid], 1) of
        {ok, _} -> set(sc_mode, {redirect, Mid});
        _ -> {error, "bad mid " ++ Mid}
    end;
autoreply(["servicechange", "version", V]) ->
    case catch list_to_integer(V) of
        N when is_integer(N), N >= 1, N =< 99 -> set(sc_mode, {version, N});
        _ -> {error, "version must be a number"}
    end;
autoreply(Args) -> {error, "not understood: " ++ string:join(Args, " ")}.

set(K, V) -> ets:insert(?TAB, {K, V}), ok.
cfg(K) -> case ets:lookup(?TAB, K) of [{K, V}] -> V; [] -> undefined end.

%%% ------------------------------------------------------------------------
%%% MGC -> MG transactions
%%% ------------------------------------------------------------------------

do_send(Tag, Text) ->
    case cfg(conn) of
        undefined ->
            out(["error ", Tag, " not_connected"]);
        {CH, PV} ->
            case decode_actions(Text, PV) of
                {ok, ARs} ->
                    T0 = erlang:monotonic_time(microsecond),
                    Res = (catch megaco:call(CH, ARs, [])),
                    Ms = (erlang:monotonic_time(microsecond) - T0) / 1000,
                    log("~s: answered in ~.1f ms", [Tag, Ms]),
                    send_result(Tag, CH, PV, Res);
                {error, Why} ->
                    out(["error ", Tag, " decode: ", one_line(Why)])
            end
    end.

send_result(Tag, CH, _PV, {PV2, {ok, Replies}}) when is_list(Replies) ->
    reply_out(Tag, CH, PV2, {actionReplies, Replies});
send_result(Tag, CH, _PV, {PV2, {ok, Replies, _ReplyData}}) when is_list(Replies) ->
    reply_out(Tag, CH, PV2, {actionReplies, Replies});
send_result(Tag, CH, _PV, {PV2, {error, ED}})
  when is_tuple(ED), element(1, ED) =:= 'ErrorDescriptor' ->
    reply_out(Tag, CH, PV2, {transactionError, ED});
send_result(Tag, _CH, _PV, {_PV2, {error, Reason}}) ->
    out(["error ", Tag, " ", reason_text(Reason)]);
send_result(Tag, _CH, _PV, {error, Reason}) ->
    out(["error ", Tag, " ", reason_text(Reason)]);
send_result(Tag, _CH, _PV, Other) ->
    out(["error ", Tag, " ", one_line(flat("~p", [Other]))]).

reason_text(timeout) -> "timeout";
reason_text({send_message_failed, R}) -> "transport " ++ one_line(flat("~p", [R]));
reason_text(R) -> one_line(flat("~p", [R])).

reply_out(Tag, CH, PV, Result) ->
    TR = case PV of
             3 -> {'TransactionReply', 0, asn1_NOVALUE, Result, asn1_NOVALUE, asn1_NOVALUE};
             _ -> {'TransactionReply', 0, asn1_NOVALUE, Result}
         end,
    Mid = CH#megaco_conn_handle.remote_mid,
    case encode(PV, Mid, {transactionReply, TR}) of
        {ok, Text} -> out(["reply ", Tag, " ", escape(Text)]);
        {error, Why} -> out(["error ", Tag, " encode: ", one_line(Why)])
    end.

%% Text -> [ActionRequest], by the stack's decoder: the text becomes the
%% body of a transaction request in a message of our own.
decode_actions(Text, PV) ->
    Msg = iolist_to_binary(["MEGACO/", integer_to_list(PV), " ",
                            mid_text(), "\nTransaction = 1 {\n", Text, "\n}\n"]),
    Enc = cfg(enc),
    case catch Enc:decode_message([], dynamic, Msg) of
        {ok, {'MegacoMessage', _, {'Message', _, _, {transactions, Ts}}}} ->
            case [element(3, TR) || {transactionRequest, TR} <- Ts] of
                [ARs] -> {ok, ARs};
                _ -> {error, "not one transaction request"}
            end;
        {ok, Other} -> {error, flat("unexpected decode ~p", [Other])};
        {error, R} -> {error, flat("~p", [R])};
        Other -> {error, flat("~p", [Other])}
    end.

mid_text() -> maps:get(mid, cfg(opts)).

%% One whole message (header + one transaction item) as the stack writes it.
encode(PV, Mid, Item) ->
    Msg = {'MegacoMessage', asn1_NOVALUE,
           {'Message', PV, Mid, {transactions, [Item]}}},
    Enc = cfg(enc),
    case catch Enc:encode_message([], PV, Msg) of
        {ok, Bin} -> {ok, to_list(Bin)};
        {error, R} -> {error, flat("~p", [R])};
        Other -> {error, flat("~p", [Other])}
    end.

request_text(CH, PV, ARs) ->
    Mid = CH#megaco_conn_handle.remote_mid,
    case encode(PV, Mid, {transactionRequest, {'TransactionRequest', 0, ARs}}) of
        {ok, T} -> escape(T);
        {error, Why} -> one_line(flat("(not encodable: ~s) ~p", [Why, ARs]))
    end.

%%% ------------------------------------------------------------------------
%%% MG -> MGC requests (megaco_user callbacks)
%%% ------------------------------------------------------------------------

handle_connect(CH, PV) ->
    log("connection from ~s (protocol version ~w)",
        [mid_str(CH#megaco_conn_handle.remote_mid), PV]),
    ok.

handle_disconnect(CH, _PV, Reason) ->
    catch megaco:cancel(CH, Reason),
    case cfg(conn) of
        {CH, _} -> ets:delete(?TAB, conn);
        _ -> ok
    end,
    out(["disconnected ", one_line(flat("~p", [Reason]))]),
    ok.

handle_syntax_error(_RH, _PV, ED) ->
    {Code, Text} = error_parts(ED),
    case get(mgc_driver_error_message) of
        true ->
            out(["message_error ", integer_to_list(Code), " ", Text]),
            no_reply;
        _ ->
            out(["syntax_error ", integer_to_list(Code), " ", Text]),
            reply
    end.

handle_message_error(_CH, _PV, ED) ->
    {Code, Text} = error_parts(ED),
    out(["message_error ", integer_to_list(Code), " ", Text]),
    no_reply.

error_parts({'ErrorDescriptor', Code, Text}) when is_integer(Code) ->
    {Code, case Text of asn1_NOVALUE -> ""; _ -> one_line(flat("~p", [Text])) end};
error_parts(Other) -> {0, one_line(flat("~p", [Other]))}.

handle_trans_request(CH, PV, ARs) ->
    Cmds = [element(2, CR) || AR <- ARs, CR <- element(5, AR)],
    Kinds = [K || {K, _} <- Cmds],
    case {lists:member(serviceChangeReq, Kinds), lists:member(notifyReq, Kinds)} of
        {true, _} -> service_change(CH, PV, ARs, Cmds);
        {false, true} -> notify(CH, PV, ARs);
        _ ->
            out(["request ", request_text(CH, PV, ARs)]),
            {discard_ack, [action_reply(AR, fun other_reply/1) || AR <- ARs]}
    end.

notify(CH, PV, ARs) ->
    out(["notify ", request_text(CH, PV, ARs)]),
    case cfg(notify_mode) of
        none -> ignore_trans_request;
        Mode -> {discard_ack, [action_reply(AR, fun(C) -> notify_reply(C, Mode) end)
                               || AR <- ARs]}
    end.

service_change(CH, PV, ARs, Cmds) ->
    out(["servicechange ", request_text(CH, PV, ARs)]),
    Max = maps:get(version, cfg(opts)),
    Mode = cfg(sc_mode),
    Root = [P || {serviceChangeReq, {'ServiceChangeRequest', [T], P}} <- Cmds,
                 T =:= ?megaco_root_termination_id],
    case Mode of
        none ->
            ignore_trans_request;
        _ ->
            %% the version this association will use from now on
            {ResText, Agreed} = sc_result(Mode, Root, PV, Max),
            {ok, ResParm} = sc_res_parm(ResText, PV),
            Registers = [P || P <- Root,
                              lists:member(element(2, P), [restart, failover,
                                                           disconnected, handOff])],
            case {Mode, Registers} of
                {{redirect, _}, _} -> ok;
                {_, []} -> ok;
                _ ->
                    catch megaco:update_conn_info(CH, protocol_version, Agreed),
                    set(conn, {CH, Agreed}),
                    %% printed once the reply has left (see send_message/2),
                    %% so that a test never sends a command before it
                    Line = ["connected ", mid_str(CH#megaco_conn_handle.remote_mid),
                            " ", integer_to_list(Agreed)],
                    Key = make_ref(),
                    put(mgc_driver_after_send, {Key, Line}),
                    spawn(fun() -> timer:sleep(300), print_once(Key, Line) end)
            end,
            {discard_ack, [action_reply(AR, fun(C) -> sc_reply(C, ResParm) end)
                           || AR <- ARs]}
    end.

%% {Services text for our reply, agreed version}
sc_result({redirect, Mid}, _Root, PV, _Max) ->
    {["MgcIdToTry = ", Mid], PV};
sc_result({version, N}, _Root, _PV, _Max) ->
    {["Version = ", integer_to_list(N)], N};
sc_result(ok, Root, PV, Max) ->
    Offered = case [element(4, P) || P <- Root] of
                  [V | _] when is_integer(V) -> V;
                  _ -> PV
              end,
    if Offered > Max -> {["Version = ", integer_to_list(Max)], Max};
       true -> {"", min(Offered, Max)}
    end.

%% A ServiceChangeResParm built by the stack's decoder from Services text,
%% so that it has the right shape for any protocol version.
sc_res_parm(ServicesText, PV) ->
    Msg = iolist_to_binary(
            ["MEGACO/", integer_to_list(PV), " [127.0.0.1]:1 Reply = 1 { Context = - {"
             " ServiceChange = root { Services { ", ServicesText, " } } } }"]),
    Body = case string:trim(to_list(iolist_to_binary(ServicesText))) of
               "" -> empty;
               _ -> Msg
           end,
    case Body of
        empty ->
            {ok, {'ServiceChangeResParm', asn1_NOVALUE, asn1_NOVALUE, asn1_NOVALUE,
                  asn1_NOVALUE, asn1_NOVALUE}};
        _ ->
            {ok, {'MegacoMessage', _, {'Message', _, _, {transactions, [{transactionReply, TR}]}}}} =
                megaco_pretty_text_encoder:decode_message([], dynamic, Body),
            {actionReplies, [AR]} = element(4, TR),
            [{serviceChangeReply, {'ServiceChangeReply', _, {serviceChangeResParms, RP}}}] =
                element(5, AR),
            {ok, RP}
    end.

action_reply(AR, CmdFun) ->
    Ctx = element(2, AR),
    Replies = [CmdFun(element(2, CR)) || CR <- element(5, AR)],
    case [ED || {error, ED} <- Replies] of
        [ED | _] ->
            {'ActionReply', Ctx, ED, asn1_NOVALUE, []};
        [] ->
            {'ActionReply', Ctx, asn1_NOVALUE, asn1_NOVALUE, Replies}
    end.

sc_reply({serviceChangeReq, {'ServiceChangeRequest', Tids, _P}}, ResParm) ->
    {serviceChangeReply, {'ServiceChangeReply', Tids, {serviceChangeResParms, ResParm}}};
sc_reply({notifyReq, {'NotifyRequest', Tids, _, _}}, _) ->
    {notifyReply, {'NotifyReply', Tids, asn1_NOVALUE}};
sc_reply(Cmd, _) -> other_reply(Cmd).

notify_reply({notifyReq, {'NotifyRequest', Tids, _, _}}, ok) ->
    {notifyReply, {'NotifyReply', Tids, asn1_NOVALUE}};
notify_reply({notifyReq, {'NotifyRequest', Tids, _, _}}, {error, Code, Text}) ->
    ED = {'ErrorDescriptor', Code, case Text of "" -> asn1_NOVALUE; _ -> Text end},
    {notifyReply, {'NotifyReply', Tids, ED}};
notify_reply(Cmd, _) -> other_reply(Cmd).

other_reply({Kind, _}) ->
    {error, {'ErrorDescriptor', ?megaco_not_implemented,
             "the test MGC does not handle " ++ atom_to_list(Kind)}}.

handle_trans_long_request(_CH, _PV, _ReqData) ->
    {discard_ack, {'ErrorDescriptor', ?megaco_not_implemented, asn1_NOVALUE}}.

handle_trans_reply(_CH, _PV, _Reply, _ReplyData) -> ok.
handle_trans_ack(_CH, _PV, _AckStatus, _AckData) -> ok.

handle_unexpected_trans(_CH, _PV, Trans) ->
    log("unexpected transaction ~p", [Trans]),
    ok.

handle_trans_request_abort(_CH, _PV, TransId, _Pid) ->
    log("request ~p aborted", [TransId]),
    ok.

handle_segment_reply(_CH, _PV, _TransId, _SegNo, _SegCompl) -> ok.

print_once(Key, Line) ->
    case ets:insert_new(?TAB, {{printed, Key}, true}) of
        true -> out(Line);
        false -> ok
    end.

%%% ------------------------------------------------------------------------
%%% Transport wrappers: log datagrams with --trace; print what waits for a
%%% reply to leave (the callback and the send run in the same process).
%%% ------------------------------------------------------------------------

send_message(SH, Bin) ->
    trace("->", Bin),
    Res = (cfg(transport)):send_message(SH, Bin),
    case erase(mgc_driver_after_send) of
        {Key, Line} -> trace("(reply sent)", ""), print_once(Key, Line);
        undefined -> ok
    end,
    Res.

block(SH) -> (cfg(transport)):block(SH).
unblock(SH) -> (cfg(transport)):unblock(SH).
close(SH) -> (cfg(transport)):close(SH).

%% Each message is handled in a process of its own (as megaco:receive_message
%% does), which first notes whether the message is itself an error message:
%% handle_syntax_error/3 does not answer those, or two stacks that disagree
%% on the version would bounce 406 errors at each other for ever.
receive_message(RH, Ctrl, SH, Bin) ->
    spawn(fun() -> process_received_message(RH, Ctrl, SH, Bin) end),
    ok.

process_received_message(RH, Ctrl, SH, Bin) ->
    trace("<-", Bin),
    put(mgc_driver_error_message, is_error_message(Bin)),
    megaco:process_received_message(RH, Ctrl, SH, Bin).

is_error_message(Bin) ->
    re:run(Bin, "^\\s*(megaco|!)\\s*/\\s*[0-9]+\\s+\\S+\\s+(error|er)\\s*=",
           [caseless, {capture, none}]) =:= match.

trace(Dir, Bin) ->
    case cfg(trace) of
        true -> log("~s ~s", [Dir, escape(to_list(iolist_to_binary(Bin)))]);
        _ -> ok
    end.

%%% ------------------------------------------------------------------------
%%% Text helpers
%%% ------------------------------------------------------------------------

mid_str({ip4Address, {'IP4Address', A, P}}) ->
    "[" ++ string:join([integer_to_list(X) || X <- A], ".") ++ "]" ++ port_str(P);
mid_str({ip6Address, {'IP6Address', A, P}}) ->
    "[" ++ inet:ntoa(list_to_tuple(pairs(A))) ++ "]" ++ port_str(P);
mid_str({domainName, {'DomainName', N, P}}) -> "<" ++ N ++ ">" ++ port_str(P);
mid_str({deviceName, N}) -> N;
mid_str(Other) -> one_line(flat("~p", [Other])).

port_str(asn1_NOVALUE) -> "";
port_str(P) -> ":" ++ integer_to_list(P).

pairs([A, B | T]) -> [A * 256 + B | pairs(T)];
pairs([]) -> [].

escape(S) ->
    lists:flatmap(fun($\\) -> "\\\\";
                     ($\n) -> "\\n";
                     ($\r) -> "\\r";
                     (C) -> [C]
                  end, to_list(S)).

unescape("\\n" ++ T) -> [$\n | unescape(T)];
unescape("\\r" ++ T) -> [$\r | unescape(T)];
unescape("\\\\" ++ T) -> [$\\ | unescape(T)];
unescape([C | T]) -> [C | unescape(T)];
unescape([]) -> [].

one_line(S) -> escape(S).

flat(F, A) -> lists:flatten(io_lib:format(F, A)).

to_list(B) when is_binary(B) -> binary_to_list(B);
to_list(L) when is_list(L) -> lists:flatten(L).

out(IoData) ->
    io:put_chars(standard_io, [IoData, $\n]).

log(F, A) ->
    io:format(standard_error, "mgc_driver: " ++ F ++ "~n", A).
