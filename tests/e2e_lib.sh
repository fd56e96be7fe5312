# Sourced by the end-to-end test scripts: a scratch directory $tmp
# removed on exit, and the pass/fail tally.
#   ok                 one check passed
#   bad MESSAGE...     one check failed (printed)
#   finish [NAME]      prints the tally; its status is the test's
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fails=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
finish() {
  echo "${1:+$1: }$pass passed, $fails failed"
  [ "$fails" = 0 ]
}
