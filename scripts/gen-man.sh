#!/bin/sh
# gen-man.sh - the aimc man pages, from the --help texts of the command itself.
#
#   scripts/gen-man.sh AIMC OUTDIR
#
# writes OUTDIR/aimc.1 from `AIMC --help` and OUTDIR/aimc-CMD.1 from `AIMC CMD --help` for
# every command listed under "commands:" there, so the pages say what --help says and a new
# subcommand gets its page. A help text is read as: the usage lines (SYNOPSIS), paragraphs
# (DESCRIPTION), and option lists "  --opt ARG   text" with continuation lines indented
# further (OPTIONS). The pages render with `man -l` without warnings (tests/install.sh).
set -eu
aimc=$1
out=$2
mkdir -p "$out"
version=$("$aimc" --version | sed 's/^aimc //')
cmds=$("$aimc" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}')

# page NAME SUMMARY: the help text on stdin, the page on stdout.
page() {
    awk -v name="$1" -v summary="$2" -v version="$version" -v cmds="$cmds" '
    function esc(s) {
        gsub(/\\/, "\\e", s)
        gsub(/-/, "\\-", s)
        if (s ~ /^[.\047]/) s = "\\&" s
        return s
    }
    function flush_par() {
        if (par != "") { print ".PP"; print esc(par); par = "" }
    }
    BEGIN {
        upper = toupper(name)
        printf ".TH %s 1 \"\" \"aimc %s\" \"aimc manual\"\n", upper, version
        print ".SH NAME"
        print esc(name) " \\- " esc(summary)
        section = "synopsis"
        print ".SH SYNOPSIS"
        print ".nf"
    }
    section == "synopsis" {
        if ($0 == "") { print ".fi"; print ".SH DESCRIPTION"; section = "body"; next }
        line = $0
        sub(/^usage: /, "", line)
        sub(/^ +/, "", line)
        print esc(line)
        next
    }
    /^$/ { flush_par(); initem = 0; next }
    /^  [^ ]/ {
        flush_par()
        line = substr($0, 3)
        tag = line; text = ""
        if (match(line, /  +/)) { tag = substr(line, 1, RSTART - 1); text = substr(line, RSTART + RLENGTH) }
        print ".TP"
        print "\\fB" esc(tag) "\\fR"
        if (text != "") print esc(text)
        initem = 1
        next
    }
    /^   +[^ ]/ && initem { line = $0; sub(/^ +/, "", line); print esc(line); next }
    /^[^ ].*:$/ { flush_par(); print ".SS " esc($0); next }
    { line = $0; sub(/^ +/, "", line); par = par == "" ? line : par " " line }
    END {
        flush_par()
        print ".SH SEE ALSO"
        n = split(cmds, c, " ")
        s = ""
        if (name != "aimc") s = "\\fBaimc\\fR(1)"
        for (i = 1; i <= n; i++) {
            if (name == "aimc-" c[i]) continue
            s = s (s == "" ? "" : ", ") "\\fBaimc\\-" c[i] "\\fR(1)"
        }
        print s
        print ".PP"
        print "The documentation in docs/ of the aimc source tree: cli.md, config.md, dse.md."
    }'
}

"$aimc" --help | page aimc "analog in-memory-computing accelerator simulator and driver" \
    > "$out/aimc.1"
for c in $cmds; do
    summary=$("$aimc" --help | awk -v c="$c" '$1 == c && /^  / {sub(/^  [a-z]+ +/, ""); print; exit}')
    "$aimc" "$c" --help | page "aimc-$c" "$summary" > "$out/aimc-$c.1"
done
