%% bench/bench_mg_codec.erl - the Erlang/OTP megaco text codec timed on
%% the messages bench_mg gives it, for bench_mg's codec comparison.
%%
%%   erl -noshell +S 1:1 -run bench_mg_codec main LIST ROUNDS REPS
%%
%% LIST names one message file per line, each followed by the file of
%% the same message in compact form ("pretty.txt compact.txt").  For
%% every message it first checks that both texts decode (with the
%% pretty and the compact encoder) and that the decoded terms encode
%% again; then, REPS times, it decodes and encodes every message that
%% passed ROUNDS times over for each operation and prints the CPU time
%% (statistics(runtime): all threads of the runtime, GC included) and
%% the wall time.  The decoders run with the Erlang scanner and, when
%% its driver loads, with the flex scanner (the configuration of OTP's
%% own megaco_performance guide).  Output, one line each:
%%
%%   check N ok | check N fail REASON
%%   time OP REP CPU_MS WALL_US MSGS ROUNDS
%%
%% OP is dec_pretty, dec_pretty_flex, enc_pretty, dec_compact,
%% dec_compact_flex or enc_compact.  Exits 0; errors are printed.

-module(bench_mg_codec).
-export([main/1]).

-define(P, megaco_pretty_text_encoder).
-define(C, megaco_compact_text_encoder).

main([List, Rounds, Reps]) ->
    try
        run(List, list_to_integer(Rounds), list_to_integer(Reps))
    catch
        C:E:St ->
            io:format("error ~p:~p ~p~n", [C, E, St])
    end,
    halt(0).

run(List, Rounds, Reps) ->
    {ok, Bin} = file:read_file(List),
    Lines = [L || L <- binary:split(Bin, <<"\n">>, [global]), L =/= <<>>],
    Flex = case catch megaco_flex_scanner:start() of
               {ok, Port} -> [{flex, Port}];
               _ -> none
           end,
    io:format("flex ~s~n", [case Flex of none -> "no"; _ -> "yes" end]),
    Msgs = check(Lines, 0, Flex, []),
    lists:foreach(fun(Rep) -> rep(Rep, Msgs, Rounds, Flex) end,
                  lists:seq(1, Reps)).

check([], _N, _Flex, Acc) ->
    lists:reverse(Acc);
check([Line | Rest], N, Flex, Acc) ->
    [PF, CF] = binary:split(Line, <<" ">>),
    {ok, PT} = file:read_file(PF),
    {ok, CT} = file:read_file(CF),
    R = (catch begin
                   {ok, PM} = ?P:decode_message([], PT),
                   {ok, CM} = ?C:decode_message([], CT),
                   case Flex of
                       none -> ok;
                       _ -> {ok, _} = ?P:decode_message(Flex, PT),
                            {ok, _} = ?C:decode_message(Flex, CT)
                   end,
                   {ok, _} = ?P:encode_message([], PM),
                   {ok, _} = ?C:encode_message([], CM),
                   {PT, CT, PM, CM}
               end),
    case R of
        {_, _, _, _} ->
            io:format("check ~b ok~n", [N]),
            check(Rest, N + 1, Flex, [R | Acc]);
        Bad ->
            io:format("check ~b fail ~0P~n", [N, Bad, 12]),
            check(Rest, N + 1, Flex, Acc)
    end.

rep(Rep, Msgs, Rounds, Flex) ->
    Ops = [{dec_pretty, fun({PT, _, _, _}) -> ?P:decode_message([], PT) end},
           {enc_pretty, fun({_, _, PM, _}) -> ?P:encode_message([], PM) end},
           {dec_compact, fun({_, CT, _, _}) -> ?C:decode_message([], CT) end},
           {enc_compact, fun({_, _, _, CM}) -> ?C:encode_message([], CM) end}]
        ++ case Flex of
               none -> [];
               _ -> [{dec_pretty_flex,
                      fun({PT, _, _, _}) -> ?P:decode_message(Flex, PT) end},
                     {dec_compact_flex,
                      fun({_, CT, _, _}) -> ?C:decode_message(Flex, CT) end}]
           end,
    lists:foreach(fun({Name, F}) -> time(Name, F, Rep, Msgs, Rounds) end, Ops).

time(Name, F, Rep, Msgs, Rounds) ->
    garbage_collect(),
    {_, _} = statistics(runtime),
    T0 = erlang:monotonic_time(microsecond),
    loop(F, Msgs, Rounds),
    T1 = erlang:monotonic_time(microsecond),
    {_, Cpu} = statistics(runtime),
    io:format("time ~s ~b ~b ~b ~b ~b~n",
              [Name, Rep, Cpu, T1 - T0, length(Msgs), Rounds]).

loop(_F, _Msgs, 0) ->
    ok;
loop(F, Msgs, N) ->
    lists:foreach(fun(M) -> {ok, _} = F(M) end, Msgs),
    loop(F, Msgs, N - 1).
