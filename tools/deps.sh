# shellcheck shell=bash
# tools/deps.sh - install the Debian 12 packages supd needs, only if missing.
# Sourced by tools/test and tools/kv-demo.

SUPD_PACKAGES=(
	gcc pkg-config meson ninja-build   # toolchain
	libyaml-dev                        # the config file (src/yaml_tree.c)
	libsystemd-dev                     # sd-event loop, sd_notify, sd_listen_fds
	libjansson-dev                     # JSON on the control socket
	libcriterion-dev                   # unit and integration tests
	mandoc                             # man page lint
	valgrind                           # leak check of the real daemon
	util-linux procps                  # unshare (PID-1 tests), ps
	clang-format                       # format check
	clang libclang-rt-14-dev           # fuzz targets: clang 14 and its libFuzzer + sanitizer runtimes (libclang_rt.fuzzer, not pulled in by clang)
	python3                            # test-count summary
	tini                               # `supd --` is compared with tini in tests/integration/test-dashdash.py
	python3-prometheus-client          # tests/integration/test-operate.py parses `supctl metrics` with it
)

supd_install_deps() {
	local missing=()
	for p in "${SUPD_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get install -y -q "${missing[@]}" ||
		{ $sudo apt-get update -q && $sudo apt-get install -y -q "${missing[@]}"; }
}

# supd_meson_setup DIR [ARGS...]: configure (or reconfigure) a build directory.
# meson's output is kept quiet on success and printed in full on failure: a
# failing set-up must always say why (a missing package, a wrong version).
supd_meson_setup() {
	local dir=$1 log
	shift
	log=$(mktemp)
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >"$log" 2>&1
	else
		rm -rf "$dir"
		meson setup "$dir" "$@" >"$log" 2>&1
	fi || {
		cat "$log" >&2
		rm -f "$log"
		echo "meson setup $dir failed (output above)" >&2
		return 1
	}
	rm -f "$log"
}
