#!/usr/bin/perl
# The differential protocol test of `make check` (issue 15): every corpus
# case in test/diff/corpus/ (those named in known-failing.txt as TODO), then
# the fixed seeds of difftest.py's CHECK_SEEDS in every configuration of
# CHECK_MATRIX (session, transaction and statement mode; pools of 1, 2 and 5
# for more clients than that; with and without TLS). Each compares every
# client's conversation through sluice ($SLUICE_BIN) with the one it had with
# PostgreSQL directly. The tool is Python 3 from Debian, standard library
# only; it prints its own TAP.
use strict;
use warnings;
use FindBin;

my $py = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
exec $py, "$FindBin::Bin/difftest.py", 'check'
    or do { print "1..0 # skip cannot run python3: $!\n"; exit 0 };
