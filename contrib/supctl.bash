# bash completion for supctl(1): commands, options, and the paths of the
# running tree (asked of supd itself with `supctl tree --paths`, using the
# same -s SOCKET as the command line being completed).
# Installed by meson as share/bash-completion/completions/supctl.

_supctl_paths()
{
	local sock=("$@")
	supctl "${sock[@]}" tree --paths 2>/dev/null
}

_supctl()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands="start-child terminate-child restart-child delete-child
		which-children count-children get-childspec tree status restart signal
		metrics monitor events logs reopen reload stop ping"
	local sock=() cmd="" cmd_at=0 i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s | --socket)
			sock=(-s "${words[i + 1]}")
			((i++))
			;;
		--socket=*) sock=(-s "${words[i]#--socket=}") ;;
		-*) ;;
		*)
			cmd=${words[i]}
			cmd_at=$i
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		case $prev in
		-s | --socket)
			COMPREPLY=($(compgen -f -- "$cur"))
			return
			;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-s --socket --json -h --help -V --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local nth=$((cword - cmd_at))
	case $cmd in
	signal)
		if ((nth == 2)); then
			COMPREPLY=($(compgen -W "SIGHUP SIGINT SIGQUIT SIGUSR1 SIGUSR2 SIGTERM
				SIGKILL SIGCONT SIGSTOP SIGWINCH SIGALRM" -- "$cur"))
			return
		fi
		;;
	tree)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--watch --paths" -- "$cur"))
			return
		fi
		;;
	start-child)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--id --env --link --spec" -- "$cur"))
			return
		fi
		((nth > 1)) && return
		;;
	metrics | events | reopen | stop | ping)
		return
		;;
	reload)
		((nth == 1)) && COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	esac
	if ((nth == 1)) && [[ $cur != -* ]]; then
		COMPREPLY=($(compgen -W "$(_supctl_paths "${sock[@]}")" -- "$cur"))
	fi
}
complete -F _supctl supctl
