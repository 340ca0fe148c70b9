# bash completion for gwctl, gwsearch and gwtop (gw, the outbound SMTP
# gateway).  Each program completes itself: `PROG --complete N WORDS...`
# prints the candidates for word N from the tables it parses its own
# arguments with (gwctl: the command table its shell completes from),
# and exits 3 when a file name goes there.  make install puts this file
# in the bash-completion directory as gwctl, gwsearch and gwtop.

_gw_complete()
{
	local cur words cword out rc line
	local IFS=$' \t\n'

	if declare -F _init_completion >/dev/null; then
		# bash-completion: words whole across ':' and '='.
		_init_completion -n =: || return
	else
		line=${COMP_LINE:0:COMP_POINT}
		read -r -a words <<<"$line"
		[[ $line == *[[:space:]] || ${#words[@]} == 0 ]] && words+=("")
		cword=$((${#words[@]} - 1))
		cur=${words[cword]}
	fi
	out=$("$1" --complete "$cword" "${words[@]}" 2>/dev/null)
	rc=$?
	if [[ $rc == 3 ]]; then
		if declare -F _filedir >/dev/null; then
			_filedir
		else
			IFS=$'\n'
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
	fi
	[[ $rc == 0 ]] || return
	IFS=$'\n'
	COMPREPLY=($out)
	# A term key ("status:") takes its value without a space.
	[[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *: ]] &&
	    compopt -o nospace 2>/dev/null
	# "status:del": readline replaces only what follows the last ':'.
	if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
		local i pre=${cur%"${cur##*:}"}
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=${COMPREPLY[i]#"$pre"}
		done
	fi
	return 0
}
complete -F _gw_complete gwctl gwsearch gwtop
