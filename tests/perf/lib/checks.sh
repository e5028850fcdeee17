# shellcheck shell=bash
# The reporting shared by the load-test scripts' own tests (test_processes, test_order,
# test_profile_paths, test_wake_interrupts; sourced, never run): each check prints "ok" or
# "FAILED" with what it checks, and the test ends failed after the last check if any did, so
# that one run shows every failure.

CHECK_FAILURES=0

# check_outcome WHAT PASSED [DETAIL]: PASSED is 1 or 0; DETAIL says what went wrong.
check_outcome() {
    local what=$1 passed=$2 detail=${3:-}
    if [[ $passed == 1 ]]; then
        echo "ok: $what"
    else
        echo "FAILED: $what${detail:+: $detail}"
        CHECK_FAILURES=$((CHECK_FAILURES + 1))
    fi
}

# check_output WHAT EXPECTED COMMAND...: COMMAND prints EXPECTED (a trailing space dropped,
# which a list printed item by item leaves).
check_output() {
    local what=$1 expected=$2 actual passed=0
    shift 2
    actual=$("$@")
    actual=${actual% }
    [[ $actual == "$expected" ]] && passed=1
    check_outcome "$what" "$passed" "expected '$expected', got '$actual'"
}

# finish_checks KIND: the summary line ("all KIND checks passed"), exit status 1 after a
# failed check.
finish_checks() {
    if [[ $CHECK_FAILURES -gt 0 ]]; then
        echo "$CHECK_FAILURES check(s) failed"
        exit 1
    fi
    echo "all $1 checks passed"
}
