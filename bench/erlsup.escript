#!/usr/bin/env escript
%% erlsup.escript - the Erlang/OTP peer: an OTP supervisor whose workers are
%% ports. Each worker is a linked process that opens a port running the stamp
%% child and exits when the port program dies, so the supervisor (one_for_one,
%% permanent, brutal_kill) restarts it and a new OS process is started through
%% erl_child_setup. It runs until it is killed; OS processes left behind by
%% the VM are killed by the harness.
%%
%%   escript erlsup.escript STAMP FILE N
-mode(compile).
-behaviour(supervisor).
-export([init/1, start_worker/2]).

main([Stamp, File, NStr]) ->
    N = list_to_integer(NStr),
    %% No supervisor reports: they would cost a formatted log line per restart.
    ok = logger:set_primary_config(level, none),
    {ok, _} = supervisor:start_link({local, erlsup}, ?MODULE, {Stamp, File, N}),
    receive never -> ok end.

init({Stamp, File, N}) ->
    Children = [#{id => I, start => {?MODULE, start_worker, [Stamp, File]},
                  restart => permanent, shutdown => brutal_kill, type => worker}
                || I <- lists:seq(1, N)],
    {ok, {#{strategy => one_for_one, intensity => 1000000, period => 1}, Children}}.

start_worker(Stamp, File) ->
    Pid = spawn_link(fun() ->
                             Port = open_port({spawn_executable, Stamp},
                                              [{args, [File, "hold"]}, exit_status]),
                             receive {Port, {exit_status, S}} -> exit({port_exit, S}) end
                     end),
    {ok, Pid}.
