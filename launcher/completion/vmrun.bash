# bash completion for vmrun(1)                                   -*- shell-script -*-
# SPDX-License-Identifier: MIT
#
# Plain bash (4.2+); bash-completion is not needed. What to offer comes from vmrun itself
# (`vmrun __complete WORD... CURRENT`), from the same table as its option parser and --help:
# commands, each command's options, profile names, display devices' PCI addresses, VM names.
# This script only joins the words bash split at ':' and asks for files when told to.

_vmrun()
{
	local -a words=() lines=()
	local cword=0 i w cur line
	local vmrun=${COMP_WORDS[0]}

	COMPREPLY=()
	# Undo the split at ':' (COMP_WORDBREAKS) so a PCI address is one word.
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		if ((i > 0 && ${#words[@]} > 0)) && [[ $w == : || ${COMP_WORDS[i - 1]} == : ]]; then
			words[${#words[@]} - 1]+=$w
		else
			words+=("$w")
		fi
		((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
	done
	((COMP_CWORD >= ${#COMP_WORDS[@]})) && { words+=(""); cword=$((${#words[@]} - 1)); }
	cur=${words[cword]}
	[[ $vmrun == */* || -z $vmrun ]] || vmrun=$(type -P "$vmrun" 2>/dev/null) || return 0

	mapfile -t lines < <("$vmrun" __complete "${words[@]:1:cword}" 2>/dev/null)
	for line in "${lines[@]}"; do
		case $line in
		"@files "*)
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -X "!*${line#@files }" -- "$cur")
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur")
			compopt -o filenames 2>/dev/null
			;;
		@dirs)
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur")
			compopt -o filenames 2>/dev/null
			;;
		*) COMPREPLY+=("${line%%$'\t'*}") ;;
		esac
	done

	# Bash replaces only the part of the word after its last ':'; drop what precedes it.
	if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
		local pre=${cur%"${cur##*:}"}
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=${COMPREPLY[i]#"$pre"}
		done
	fi
	return 0
}

complete -F _vmrun vmrun
