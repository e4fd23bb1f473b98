#!/bin/sh
# The pure core never sees the event loop, the YAML library or process
# syscalls (ARCHITECTURE.md, "Dependency direction"). Checked by grep.
cd "$1/src" || exit 1
status=0
for f in spec.c intensity.c index.c supervisor.c; do
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
if grep -ln 'cyaml' ./*.c | grep -v '^./config.c$'; then
	echo "only config.c may use libcyaml"
	status=1
fi
exit $status
