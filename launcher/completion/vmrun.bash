# bash completion for vmrun(1)                                   -*- shell-script -*-
# SPDX-License-Identifier: MIT
#
# Plain bash (4.2+); bash-completion is not needed.  Completes commands and options, profile
# names from ${XDG_CONFIG_HOME:-~/.config}/vmrun/*.yaml and *.yaml files, running VM names
# for `stop`, and the PCI addresses of display devices (class 03) for gpus/detach/attach/
# restore.  For tests: _VMRUN_PCI_DEVICES overrides /sys/bus/pci/devices, _VMRUN_RUNTIME_DIR
# the directory of running VMs (/run/vmrun/vm as root, else $XDG_RUNTIME_DIR/vmrun).

_vmrun_profiles()
{
	local dir=${XDG_CONFIG_HOME:-} f
	[[ $dir == /* ]] || dir=$HOME/.config
	for f in "$dir"/vmrun/*.yaml; do
		[[ -f $f ]] || continue
		f=${f##*/}
		printf '%s\n' "${f%.yaml}"
	done
}

# Names of VMs with a runtime directory (running, or crashed and not cleaned up).
_vmrun_running()
{
	local base=${_VMRUN_RUNTIME_DIR:-} d
	if [[ -n $base ]]; then
		:
	elif ((EUID == 0)); then
		base=/run/vmrun/vm
	elif [[ ${XDG_RUNTIME_DIR:-} == /* ]]; then
		base=$XDG_RUNTIME_DIR/vmrun
	else
		base=/run/user/$EUID/vmrun
	fi
	for d in "$base"/*/; do
		[[ -d $d ]] || continue
		d=${d%/}
		printf '%s\n' "${d##*/}"
	done
}

_vmrun_gpus()
{
	local dir=${_VMRUN_PCI_DEVICES:-/sys/bus/pci/devices} p class
	for p in "$dir"/*; do
		[[ -r $p/class ]] || continue
		read -r class <"$p/class" 2>/dev/null || continue
		[[ $class == 0x03* ]] && printf '%s\n' "${p##*/}"
	done
	return 0
}

# Profile names, then *.yaml files and directories.
_vmrun_profile_args()
{
	local cur=$1
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -W "$(_vmrun_profiles)" -- "$cur")
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -X '!*.yaml' -- "$cur")
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur")
	compopt -o filenames 2>/dev/null
	return 0
}

_vmrun()
{
	local -a words=()
	local cword=0 i w cur prev cmd="" run=0 npos=0 opts
	local commands="gpus check detach attach restore status stop desktop-entry setup"

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
	prev=""
	((cword > 0)) && prev=${words[cword - 1]}

	# The command: the first word that is not a global option.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ -n $cmd ]] || ((run)); then
			[[ $w == -* ]] || npos=$((npos + 1))
			continue
		fi
		case $w in
		--root) i=$((i + 1)) ;;
		-v | --verbose | --root=* | -h | --help | --version) ;;
		-n | --dry-run | -j | --json) run=1 ;;
		-*) ;;
		*)
			if [[ " $commands " == *" $w "* ]]; then
				cmd=$w
			else
				run=1 npos=1
			fi
			;;
		esac
	done

	case $prev in
	--root)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		compopt -o filenames 2>/dev/null
		return 0
		;;
	--timeout | -N | --name) return 0 ;;
	esac

	case $cmd in
	"")
		if [[ $cur == -* ]]; then
			if ((run)); then
				opts="-n --dry-run -j --json"
			else
				opts="-n --dry-run -j --json -v --verbose --root -h --help --version"
			fi
			mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		elif ((npos == 0)); then
			((run)) || mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
			_vmrun_profile_args "$cur"
		fi
		;;
	gpus | detach | attach | restore)
		case $cmd in
		gpus) opts="-j --json -h --help" ;;
		detach) opts="-j --json -n --dry-run --timeout --allow-non-gpu -h --help" ;;
		attach) opts="-j --json -n --dry-run --timeout -h --help" ;;
		restore) opts="-j --json --timeout -h --help" ;;
		esac
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		elif ((npos == 0)); then
			mapfile -t COMPREPLY < <(compgen -W "$(_vmrun_gpus)" -- "$cur")
		fi
		;;
	check | desktop-entry)
		if [[ $cur == -* ]]; then
			[[ $cmd == check ]] && opts="-j --json -h --help" || opts="-r --remove -N --name -h --help"
			mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		elif ((npos == 0)); then
			_vmrun_profile_args "$cur"
		fi
		;;
	stop)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-f --force -h --help" -- "$cur")
		elif ((npos == 0)); then
			mapfile -t COMPREPLY < <(compgen -W "$({ _vmrun_running; _vmrun_profiles; } | sort -u)" -- "$cur")
		fi
		;;
	status)
		mapfile -t COMPREPLY < <(compgen -W "-j --json" -- "$cur")
		;;
	setup)
		mapfile -t COMPREPLY < <(compgen -W "--yes --undo -h --help" -- "$cur")
		;;
	esac

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
