#!/bin/bash
# test-kv.sh - the tests of Elixir's "Mix and OTP" KV guide, run against the
# real thing: supd with examples/kv/kv.yaml, kv-registry and kv-bucket.
#
# Environment (set by examples/kv/meson.build): SUPD, SUPCTL, KV_BIN_DIR (kv,
# kv-bucket, kv-registry), KV_YAML. Everything lives in a fresh directory
# under $TMPDIR (short, for socket paths); every process the test started is
# gone when it exits, on success or failure. Waits are for events in supd's
# --events file or for a condition, each with a deadline; no fixed sleeps.
set -u

: "${SUPD:?}" "${SUPCTL:?}" "${KV_BIN_DIR:?}" "${KV_YAML:?}"
DEADLINE=10 # seconds, for every wait

bin_dir=$(realpath "$KV_BIN_DIR") || exit 1
dir=$(mktemp -d "${TMPDIR:-/tmp}/kv-test.XXXXXX") || exit 1
events=$dir/events.jsonl
sock=$dir/supd.sock
export KV_DIR=$dir
supd_pid=

say() { printf '%s\n' "$*"; }
# TAP, so that every check counts on its own.
checks=0
pass() {
	checks=$((checks + 1))
	say "ok $checks - $*"
}

fail() {
	checks=$((checks + 1))
	say "not ok $checks - $*"
	say "# --- events"
	sed 's/^/# /' "$events" 2>/dev/null
	say "# --- supd's log"
	sed 's/^/# /' "$dir/supd.log" 2>/dev/null
	say "1..$checks"
	exit 1
}

# Our processes only: the pids supd reported, if they still run our programs.
kill_leftovers() {
	local pid
	[ -e "$events" ] || return 0
	for pid in $(tr -d ' \t' <"$events" | sed -n 's/.*"pid":\([0-9][0-9]*\).*/\1/p'); do
		case $(readlink "/proc/$pid/exe" 2>/dev/null) in
		"$bin_dir"/*) kill -KILL "$pid" 2>/dev/null ;;
		esac
	done
}

cleanup() {
	local status=$?
	if [ -n "$supd_pid" ] && kill -0 "$supd_pid" 2>/dev/null; then
		kill -TERM "$supd_pid" 2>/dev/null
		wait_for supd_gone || kill -KILL "$supd_pid" 2>/dev/null
		wait "$supd_pid" 2>/dev/null
	fi
	kill_leftovers
	rm -rf "$dir"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

supd_gone() { ! kill -0 "$supd_pid" 2>/dev/null; }

# wait_for COMMAND...: runs COMMAND until it succeeds, up to DEADLINE.
wait_for() {
	local end=$((SECONDS + DEADLINE))
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# The helpers below set a variable ($line, $out, $children) rather than
# print, so that their `fail` ends the test, not a $(...) subshell.
#
# Events are matched with all blanks removed, so the checks do not depend on
# how supd spaces its JSON.
#
# find_event FROM EVENT PATH [FIELD]: the number of the first line after line
# FROM with that event and path (any path if empty) and FIELD, e.g.
# '"reason":"normal"'; empty if there is none.
find_event() {
	[ -e "$events" ] || return 0
	tr -d ' \t' <"$events" | awk -v from="$1" -v ev="\"event\":\"$2\"" \
		-v path="${3:+\"path\":\"$3\"}" -v field="${4:-}" '
		NR > from && index($0, ev) && (path == "" || index($0, path)) &&
		(field == "" || index($0, field)) { print NR; exit }'
}

has_event() { [ -n "$(find_event "$@")" ]; }

# wait_event FROM EVENT PATH [FIELD]: waits for it; sets $line.
wait_event() {
	local end=$((SECONDS + DEADLINE))
	until line=$(find_event "$@") && [ -n "$line" ]; do
		[ "$SECONDS" -lt "$end" ] || fail "no event $2 $3 ${4:-} after line $1"
		supd_gone && ! has_event "$@" && fail "supd exited while waiting for $2 $3"
		sleep 0.02
	done
}

# The current end of the event stream: later events are after this line.
mark() { if [ -e "$events" ]; then wc -l <"$events"; else echo 0; fi; }

event_pid() { sed -n "$1p" "$events" | tr -d ' \t' | sed -n 's/.*"pid":\([0-9][0-9]*\).*/\1/p'; }

# kv_expect STATUS ARGS...: runs kv and checks its exit status; sets $out.
kv_expect() {
	local want=$1 status
	shift
	out=$("$KV_BIN_DIR/kv" "$@" 2>&1)
	status=$?
	[ "$status" -eq "$want" ] || fail "kv $*: exit $status, expected $want: $out"
}

kv_ok() { kv_expect 0 "$@"; }

# which_children SUP: supd's raw reply, blanks removed; sets $children.
which_children() {
	children=$("$SUPCTL" -s "$sock" --json which-children "$1") || fail "supctl which-children $1"
	children=$(printf '%s' "$children" | tr -d ' \t\n')
	case $children in *'"ok":true'*) ;; *) fail "which-children $1: $children" ;; esac
	case $children in *'"children":['*) ;; *) fail "which-children $1: $children" ;; esac
}

lookup_fails() {
	"$KV_BIN_DIR/kv" lookup "$1" >/dev/null 2>&1
	[ $? -eq 1 ]
}
# True once the registry answers at all. With `ready: notify` it does as
# soon as supd reports child_started; this wait keeps a slower supd from
# failing the checks that follow for the wrong reason.
registry_answers() {
	"$KV_BIN_DIR/kv" lookup - >/dev/null 2>&1
	[ $? -ne 2 ]
}
process_gone() { ! kill -0 "$1" 2>/dev/null; }

# --- start the tree -----------------------------------------------------
sed "s|/tmp/kv|$dir|g" "$KV_YAML" >"$dir/kv.yaml" || fail "cannot write the config"
PATH=$KV_BIN_DIR:$PATH "$SUPD" -n -c "$dir/kv.yaml" >"$dir/check.log" 2>&1 || fail "supd -n rejects kv.yaml: $(cat "$dir/check.log")"
PATH=$KV_BIN_DIR:$PATH "$SUPD" -c "$dir/kv.yaml" --events "$events" >"$dir/supd.log" 2>&1 &
supd_pid=$!

wait_event 0 supervisor_started /buckets
wait_event "$line" child_started /registry
registry_pid=$(event_pid "$line")
[ -n "$registry_pid" ] || fail "child_started /registry has no pid"
wait_for registry_answers || fail "the registry does not answer on $dir/registry.sock"
pass "supd started the tree: /buckets, then /registry (pid $registry_pid)"

# --- KV.Registry: spawns buckets ----------------------------------------
kv_expect 1 lookup shopping
m=$(mark)
kv_ok create shopping
created=$out
read -r shopping_pid shopping_sock <<<"$created"
wait_event "$m" child_started /buckets/shopping
[ "$(event_pid "$line")" = "$shopping_pid" ] || fail "create gave pid $shopping_pid, supd started $(event_pid "$line")"
kv_ok lookup shopping
[ "$out" = "$created" ] || fail "lookup ($out) differs from create ($created)"
kv_ok create shopping
[ "$out" = "$created" ] || fail "a second create started another bucket: $out"
pass "a created bucket can be looked up (pid $shopping_pid, $shopping_sock)"

# --- KV.Bucket: stores values by key ------------------------------------
kv_expect 1 get shopping milk
kv_ok put shopping milk 1
kv_ok get shopping milk
[ "$out" = 1 ] || fail "get milk after put 1: $out"
kv_ok put shopping milk 3
kv_ok put shopping eggs 12
kv_ok get shopping milk
[ "$out" = 3 ] || fail "get milk after put 3: $out"
kv_ok keys shopping
[ "$(printf '%s\n' "$out" | sort | tr '\n' ' ')" = "eggs milk " ] || fail "keys: $out"
kv_ok delete shopping milk
[ "$out" = 3 ] || fail "delete milk should print the old value: $out"
kv_expect 1 get shopping milk
pass "a bucket stores values by key"

# --- KV.Registry: removes buckets on exit (Agent.stop: reason normal) ---
m=$(mark)
kv_ok stop shopping
wait_event "$m" child_exited /buckets/shopping '"reason":"normal"'
wait_for lookup_fails shopping ||
	fail "the registry still knows shopping after its normal exit"
[ ! -e "$shopping_sock" ] || fail "the stopped bucket left its socket behind"
pass "a bucket stopped normally is removed from the registry"

# --- KV.Registry: removes bucket on crash -------------------------------
kv_ok create crashy
read -r crashy_pid _ <<<"$out"
kv_ok put crashy k v
m=$(mark)
kv_ok crash crashy
wait_event "$m" child_exited /buckets/crashy '"reason":"crash"'
wait_for lookup_fails crashy ||
	fail "the registry still knows crashy after its crash"
kv_ok create after
read -r after_pid _ <<<"$out"
kv_ok put after k v2
kv_ok get after k
[ "$out" = v2 ] || fail "a bucket created after the crash does not work: $out"
has_event 0 child_exited /registry && fail "the registry died when a bucket crashed"
pass "a bucket that crashes is removed and the registry keeps working"

# --- Buckets are temporary: never restarted -----------------------------
which_children /buckets
case $children in *'"id":"crashy"'* | *'"id":"shopping"'*) fail "a bucket came back: $children" ;; esac
case $children in *'"id":"after"'*) ;; *) fail "which-children misses the running bucket: $children" ;; esac
has_event "$m" child_started /buckets/crashy && fail "supd restarted the crashed bucket"
kv_ok create crashy
read -r crashy2_pid _ <<<"$out"
[ "$crashy2_pid" != "$crashy_pid" ] || fail "the new crashy bucket has the old pid"
kv_expect 1 get crashy k # a new, empty bucket: the data died with the old one
pass "buckets are temporary: no replacement after a crash or a stop"

# --- DynamicSupervisor.terminate_child: reason shutdown -----------------
kv_ok create doomed
read -r _ doomed_sock <<<"$out"
m=$(mark)
"$SUPCTL" -s "$sock" terminate-child /buckets doomed >/dev/null || fail "supctl terminate-child /buckets doomed"
wait_event "$m" child_exited /buckets/doomed '"reason":"shutdown"'
wait_for lookup_fails doomed || fail "the registry still knows a terminated bucket"
[ ! -e "$doomed_sock" ] || fail "a bucket stopped with SIGTERM left its socket behind"
pass "a bucket terminated by its supervisor is removed from the registry"

# --- one_for_all: the registry crashes ----------------------------------
kv_ok create a
read -r a_pid _ <<<"$out"
kv_ok create b
read -r b_pid _ <<<"$out"
kv_ok put a k v
m=$(mark)
kill -KILL "$registry_pid"
wait_event "$m" child_exited /registry '"reason":"crash"'
exited=$line
wait_event "$exited" supervisor_stopped /buckets
stopped=$line
for name in a b after crashy; do
	wait_event "$exited" child_exited "/buckets/$name"
	[ "$line" -lt "$stopped" ] || fail "supervisor_stopped /buckets came before /buckets/$name exited"
done
wait_event "$stopped" supervisor_started /buckets
wait_event "$line" child_started /registry
new_registry_pid=$(event_pid "$line")
if [ -z "$new_registry_pid" ] || [ "$new_registry_pid" = "$registry_pid" ]; then
	fail "no fresh registry (pid '$new_registry_pid')"
fi
for pid in "$a_pid" "$b_pid" "$after_pid" "$crashy2_pid"; do
	process_gone "$pid" || fail "bucket pid $pid survived the registry's crash"
done
wait_for registry_answers || fail "the fresh registry does not answer"
which_children /buckets
case $children in *'"children":[]'*) ;; *) fail "the restarted /buckets is not empty: $children" ;; esac
kv_expect 1 lookup a # a fresh registry starts with an empty map
kv_ok create a
read -r a2_pid _ <<<"$out"
[ "$a2_pid" != "$a_pid" ] || fail "bucket a kept its pid across the restart"
kv_expect 1 get a k
pass "when the registry crashes, every bucket stops; a fresh registry and an empty /buckets start"

# --- orderly shutdown ---------------------------------------------------
kill -TERM "$supd_pid"
wait_for supd_gone || fail "supd did not exit on SIGTERM"
wait "$supd_pid"
status=$?
supd_pid=
[ "$status" -eq 0 ] || fail "supd exited with $status after SIGTERM"
has_event 0 supd_exiting "" '"status":0' || fail "no supd_exiting event with status 0"
for pid in "$new_registry_pid" "$a2_pid"; do
	process_gone "$pid" || fail "pid $pid outlived supd"
done
[ ! -e "$dir/registry.sock" ] || fail "the registry left its socket behind on SIGTERM"
pass "supd stops the tree on SIGTERM and exits 0"
say "1..$checks"
