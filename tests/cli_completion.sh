#!/usr/bin/env bash
# Shell completions (lacquer completion bash|zsh|fish, generated from the command tables):
# each script passes its shell's syntax check and loads; bash and fish offer exactly the
# shipped target and preset names after --target/--preset, every command, and for each
# command exactly the options its --help lists; cmake --install puts the scripts where
# bash-completion, zsh and fish look.  Usage: cli_completion.sh LACQUER SOURCE_DIR
set -euo pipefail
lacquer=$1
src=$2
build=$(dirname "$lacquer")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
same() { # same NAME WANT GOT: sorted word lists equal
    if [ "$(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort)" != "$(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort)" ]; then
        fail "$1: want [$2] got [$3]"
    fi
}
# The installed name, first on PATH (zsh and fish completions call `lacquer`).
mkdir -p "$tmp/bin" "$tmp/work"
ln -s "$(cd "$build" && pwd)/$(basename "$lacquer")" "$tmp/bin/lacquer"
export PATH="$tmp/bin:$PATH"
cd "$tmp/work" # an empty folder: no file names mixed into the offers

targets=$(cd "$src/presets/targets" && ls ./*.yaml | sed 's|^\./||; s|\.yaml$||' | tr '\n' ' ')
presets=$(cd "$src/presets" && ls ./*.yaml | sed 's|^\./||; s|\.yaml$||' | tr '\n' ' ')
commands=$(lacquer --help | sed -n 's/^lacquer \([a-z]*\).*/\1/p' | grep -v '^$' | tr '\n' ' ')
[ "$(wc -w <<<"$targets")" -ge 10 ] || fail "shipped targets: $targets"
[ "$(wc -w <<<"$commands")" -ge 7 ] || fail "commands from lacquer --help: $commands"
# every option --help lists, with its short alias: "  -q, --quiet" / "  --out DIR"
options_of() {
    lacquer "$1" --help | sed -n '/^Options:/,/^$/p' | grep -oE '^  (-[a-z], )?--[a-z0-9-]+' |
        sed 's/,//' | tr -s ' ' '\n' | sed '/^$/d' | tr '\n' ' '
}

for sh in bash zsh fish; do
    lacquer completion "$sh" >"$tmp/$sh.out" || fail "lacquer completion $sh: exit $?"
done
if lacquer completion tcsh >/dev/null 2>"$tmp/err"; then fail "completion tcsh: exit 0"; fi
[ "$(cat "$tmp/err")" = 'lacquer: completion tcsh: unknown shell (expected bash, zsh or fish)' ] ||
    fail "completion tcsh: $(cat "$tmp/err")"

# ---- bash
bash -n "$tmp/bash.out" || fail "bash -n"
offer() { # offer WORD...: what bash completes for the last word
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _lacquer
             printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/bash.out" "$@" | tr '\n' ' '
}
got=$(bash -c 'source "$1"; complete -p lacquer' _ "$tmp/bash.out")
[ "$got" = "complete -o filenames -F _lacquer lacquer" ] || fail "complete -p lacquer: $got"
same "bash: lacquer master x --target" "$targets" "$(offer lacquer master x --target '')"
same "bash: lacquer master x --target sp" "spotify" "$(offer lacquer master x --target sp)"
same "bash: lacquer analyze --preset" "$presets" "$(offer lacquer analyze --preset '')"
same "bash: lacquer master x --preset" "$presets" "$(offer lacquer master x --preset '')"
same "bash: lacquer" "$commands --help --version" "$(offer lacquer '')"
same "bash: lacquer help" "$commands" "$(offer lacquer help '')"
same "bash: lacquer completion" "bash zsh fish" "$(offer lacquer completion '')"
for c in $commands; do
    same "bash: lacquer $c -" "$(options_of "$c")" "$(offer lacquer "$c" -)"
done
touch mix.wav
mkdir masters
same "bash: lacquer master (files)" "mix.wav masters" "$(offer lacquer master '')"
same "bash: lacquer master x --out (folders)" "masters" "$(offer lacquer master x --out '')"

# ---- zsh: syntax, and compinit picks it up from site-functions
if command -v zsh >/dev/null; then
    mkdir -p "$tmp/zfunc" && cp "$tmp/zsh.out" "$tmp/zfunc/_lacquer"
    zsh -n "$tmp/zfunc/_lacquer" || fail "zsh -n"
    got=$(HOME=$tmp zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D
                              print -r -- $_comps[lacquer]' _ "$tmp/zfunc")
    [ "$got" = "_lacquer" ] || fail "zsh: _comps[lacquer] = '$got'"
else
    fail "zsh is not installed (scripts/deps installs it)"
fi

# ---- fish: syntax, and what `complete -C` offers
if command -v fish >/dev/null; then
    fish -n "$tmp/fish.out" || fail "fish -n"
    mkdir "$tmp/empty" # fish offers any file beside the .yaml ones: none here
    ffer() { (cd "$tmp/empty" && HOME=$tmp fish -c 'source $argv[1]; complete -C $argv[2]' "$tmp/fish.out" "$1") |
        cut -f1 | tr '\n' ' '; }
    same "fish: lacquer master x --target" "$targets" "$(ffer 'lacquer master x --target ')"
    same "fish: lacquer analyze --preset" "$presets" "$(ffer 'lacquer analyze --preset ')"
    same "fish: lacquer" "$commands" "$(ffer 'lacquer ')"
    same "fish: lacquer master x --" "$(options_of master | tr ' ' '\n' | grep -- '^--' | tr '\n' ' ')" \
        "$(ffer 'lacquer master x --')"
else
    fail "fish is not installed (scripts/deps installs it)"
fi

# ---- the build made them, cmake --install puts them where each shell looks
for f in bash/lacquer zsh/_lacquer fish/lacquer.fish; do
    cmp -s "$build/completions/$f" "$tmp/${f%%/*}.out" || fail "$build/completions/$f is stale"
done
if [ -f "$build/cmake_install.cmake" ]; then
    cmake --install "$build" --prefix "$tmp/prefix" >/dev/null || fail "cmake --install"
    for f in share/bash-completion/completions/lacquer share/zsh/site-functions/_lacquer \
        share/fish/vendor_completions.d/lacquer.fish; do
        [ -s "$tmp/prefix/$f" ] || fail "cmake --install: no $f"
    done
fi

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "completions: ok"
