#!/bin/bash
# tools/ladder.sh — the record of what `make run` produced.
#
# `make run` trains the ladder into one folder (out/, or out/fast/ with FAST=1)
# and ends with a table of what each rung showed. That table describes one
# consistent set of models only if no checkpoint was replaced behind make's
# back (make compares times, not contents). So each rung, once it has written
# its checkpoints, records their SHA-256 in DIR/RUNG.sha256 (sha256sum's
# format: `sha256sum -c out/*.sha256` checks them by hand), and `make run`
# starts by comparing. A checkpoint that changed or vanished is moved aside to
# out/try/ (the learner's own folder, which make run never reads), the rung
# that made it is undone (its files and DIR/RUNG.out removed), and make then
# redoes it and, because its files are new, every rung built on them. One
# line per file says so.
#
#   tools/ladder.sh record DIR RUNG FILE...   after RUNG wrote FILE... (its Makefile rule)
#   tools/ladder.sh check DIR                 before the rungs run (make run)
set -eo pipefail
TRY=out/try

# "gpt1_pretrain" is the program's "gpt1 pretrain"
words() { echo "$1" | sed 's/^gpt1_/gpt1 /'; }

record() {   # record DIR RUNG FILE...
    local dir=$1 rung=$2
    shift 2
    sha256sum "$@" > "$dir/$rung.sha256.tmp"
    mv "$dir/$rung.sha256.tmp" "$dir/$rung.sha256"
}

check() {   # check DIR
    local dir=$1 sums rung hash file undo
    for sums in "$dir"/*.sha256; do
        [ -f "$sums" ] || continue
        rung=$(basename "$sums" .sha256)
        undo=0
        while read -r hash file; do
            if [ ! -f "$file" ]; then
                echo "$file is gone since make run made it: redoing $(words "$rung") and every rung built on it"
                undo=1
            elif [ "$(sha256sum < "$file" | cut -d' ' -f1)" != "$hash" ]; then
                mkdir -p "$TRY"
                mv "$file" "$TRY/$(basename "$file").replaced"
                echo "$file changed since make run made it: redoing $(words "$rung") and every rung built on it" \
                     "(your file is now $TRY/$(basename "$file").replaced)"
                undo=1
            fi
        done < "$sums"
        if [ $undo = 1 ]; then
            # the rung's other files go too: make sees them missing and redoes the rung
            while read -r hash file; do rm -f "$file"; done < "$sums"
            rm -f "$dir/$rung.out" "$sums"
        fi
    done
}

case $1 in
record) [ $# -ge 4 ] || { echo "usage: $0 record DIR RUNG FILE..." >&2; exit 2; }
        record "$2" "$3" "${@:4}" ;;
check)  [ $# = 2 ] || { echo "usage: $0 check DIR" >&2; exit 2; }
        check "$2" ;;
*)      echo "usage: $0 record DIR RUNG FILE... | check DIR" >&2; exit 2 ;;
esac
