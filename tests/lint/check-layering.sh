#!/bin/sh
# The dependency rules of ARCHITECTURE.md ("Dependency direction"), checked
# by grep on src/:
#   - the pure core (spec, intensity, index, supervisor) never sees the event
#     loop, the YAML library or process syscalls, and includes no project
#     header outside the core; neither does the grammar (grammar, value_tree)
#     see them, and only yaml_tree.c includes libyaml;
#   - the core's layout (supervisor_internal.h) is private to the core;
#   - the seams between the shell's modules: who may include which "x.h"
#     (no include cycle: the control socket never includes the loop);
#   - supctl includes nothing of supd but the public wire contract.
# Usage: check-layering.sh SOURCE_ROOT
#        check-layering.sh --self-test SOURCE_ROOT  (the check catches a
#        forbidden include planted in a copy of the tree)
if [ "$1" = "--self-test" ]; then
	tmp=$(mktemp -d) || exit 1
	trap 'rm -rf "$tmp"' EXIT
	status=0
	for plant in 'ops.c:loop.h' 'connection.c:supervisor_internal.h' 'supervisor.c:spawn.h' \
		'views.c:supervisor_internal.h' 'supctl.c:proto.h' 'control_server.c:loop.h'; do
		file=${plant%%:*}
		header=${plant#*:}
		rm -rf "$tmp/src"
		cp -r "$2/src" "$tmp/src"
		printf '#include "%s"\n' "$header" >>"$tmp/src/$file"
		if "$0" "$tmp" >/dev/null 2>&1; then
			echo "self-test: #include \"$header\" in $file was not caught"
			status=1
		fi
	done
	"$0" "$2" || status=1
	exit $status
fi

cd "$1/src" || exit 1
status=0
core="spec.c intensity.c index.c supervisor.c"
core_headers="spec.h intensity.h index.h supervisor.h supervisor_internal.h"

for f in $core; do
	if grep -nE '#include *<(systemd/|cyaml/|sys/wait\.h|sys/pidfd\.h|sys/prctl\.h|unistd\.h|signal\.h>)' "$f" |
		grep -v 'signal\.h' ; then
		echo "$f: the core must not include event-loop, YAML or process headers"
		status=1
	fi
	if grep -nE '\b(fork|execv[pe]*|waitpid|waitid|kill|pidfd_send_signal|sd_event_[a-z_]+|clock_gettime|sleep|usleep|nanosleep)\s*\(' "$f"; then
		echo "$f: the core makes no system calls and reads no clock"
		status=1
	fi
done
# The grammar is pure too; it asks the machine only through struct spec_host.
for f in grammar.c value_tree.c; do
	if grep -nE '#include *<(systemd/|yaml\.h|sys/wait\.h|sys/pidfd\.h|sys/prctl\.h|unistd\.h)' "$f"; then
		echo "$f: the grammar must not include event-loop, YAML or process headers"
		status=1
	fi
	if grep -nE '\b(stat|access|getpwnam|getpwuid|getgrnam|getgrouplist|open|fork|execv[pe]*)\s*\(' "$f"; then
		echo "$f: checks against the machine go through struct spec_host"
		status=1
	fi
done
if grep -ln '#include *<yaml\.h>' ./*.c | grep -v '^./yaml_tree.c$'; then
	echo "only yaml_tree.c may use libyaml"
	status=1
fi

# project_includes FILE: the "x.h" headers FILE includes, one a line.
project_includes() {
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

# may_include FILE HEADER: 0 when FILE may include HEADER.
may_include() {
	file=$1
	header=$2
	case " $core $core_headers " in
	*" $file "*)
		case " $core_headers " in
		*" $header "*) return 0 ;;
		*) return 1 ;;
		esac
		;;
	esac
	case $file in
	supctl.c) [ "$header" = "supd/protocol.h" ]; return ;;
	esac
	case $header in
	supervisor_internal.h) allowed="supervisor.c index.c" ;;
	loop.h) allowed="main.c loop.c" ;;
	control.h) allowed="loop.c control_server.c" ;;
	connection.h) allowed="control_server.c connection.c ops.c" ;;
	ops.h) allowed="control_server.c ops.c" ;;
	views.h) allowed="ops.c views.c" ;;
	metrics.h) allowed="ops.c metrics.c loop.c metrics_http.c" ;;
	metrics_http.h) allowed="loop.c metrics_http.c" ;;
	spawn.h) allowed="spawn.c loop.c probe.c probe_spawner.c" ;;
	probe_spawner.h) allowed="probe_spawner.c probe.c" ;;
	cgroup.h) allowed="cgroup.c main.c loop.c spec_host.c grammar.c" ;;
	yaml_tree.h) allowed="config.c yaml_tree.c" ;;
	json_tree.h) allowed="proto.c json_tree.c" ;;
	*) return 0 ;;
	esac
	case " $allowed " in
	*" $file "*) return 0 ;;
	esac
	return 1
}

for f in ./*.c ./*.h; do
	f=${f#./}
	for h in $(project_includes "$f"); do
		if ! may_include "$f" "$h"; then
			echo "$f: may not include \"$h\" (tests/lint/check-layering.sh, ARCHITECTURE.md)"
			status=1
		fi
	done
done
exit $status
