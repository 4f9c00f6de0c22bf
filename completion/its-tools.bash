# bash completion for its-dump(1) and its-fsck(8)            -*- shell-script -*-
#
# Installed once per command name (completions/its-dump, completions/its-fsck)
# so that bash-completion's lazy loader finds it; loading either registers
# both. The option lists follow `--help'; tests/man/completion.sh checks
# them against the programs.

_its_tools()
{
    local cur prev words cword split
    _init_completion -s || return

    # the snapshot and register options both programs take
    local common='--color --color= --format= --json --pretty --progress --quiet
        --layout= --ram-base= --its-regs= --baser= --cbaser= --creadr= --ctlr=
        --cwriter= --iidr= --pendbaser= --propbaser= --help --usage --version'
    local opts
    case ${1##*/} in
        its-fsck)
            opts="--kernel= --no-change --strict --list-problems --dry-run
                --fix --fix= --output= --preen --undo= --undo-file= --yes
                $common"
            ;;
        *)
            opts="--all --device= --sections $common"
            ;;
    esac

    case $prev in
        --layout)
            COMPREPLY=($(compgen -W 'auto kvm tcg' -- "$cur"))
            return
            ;;
        --format)
            COMPREPLY=($(compgen -W 'text json dot map' -- "$cur"))
            return
            ;;
        --kernel)
            # src/check/profile.c: kernel_profile_names
            COMPREPLY=($(compgen -W 'upstream 2026 6.13 6.7 6.1 6.0 5.19 5.10
                5.6 5.4 4.15 4.14' -- "$cur"))
            return
            ;;
        --its-regs | --undo | --undo-file | --output | -o)
            _filedir
            return
            ;;
        --device | -d | --ram-base | --baser | --cbaser | --creadr | --ctlr | \
            --cwriter | --iidr | --pendbaser | --propbaser)
            # numbers: nothing to offer
            return
            ;;
    esac
    # optional arguments only ever follow an equals sign
    if [[ $split == true ]]; then
        case $prev in
            --color) COMPREPLY=($(compgen -W 'auto always never' -- "$cur")) ;;
            --fix) COMPREPLY=($(compgen -W 'all' -- "$cur")) ;;
        esac
        return
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        # an option that takes its value after '=' must not get a space
        [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] &&
            compopt -o nospace 2>/dev/null
        return
    fi

    _filedir
} &&
    complete -F _its_tools its-dump its-fsck

# ex: filetype=sh
