#!/usr/bin/perl
# prove, with a recap of what failed: runs prove with the arguments given,
# passes its output through unchanged, and just before prove's summary
# ("Test Summary Report") prints what each failing test file recorded
# (SluiceTest.pm writes failed tests and diagnostics to the file named by
# SLUICE_TEST_FAILURES). The summary stays the last thing printed, and the
# exit status is prove's.
use strict;
use warnings;

my $file = $ENV{SLUICE_TEST_FAILURES} or die "prove-recap: SLUICE_TEST_FAILURES is not set\n";
unlink $file;
$| = 1;
open(my $prove, '-|', 'prove', @ARGV) or die "prove-recap: cannot run prove: $!\n";
my $recapped = 0;
while (my $line = <$prove>) {
	if (!$recapped && $line =~ /^Test Summary Report/ && -s $file) {
		$recapped = 1;
		if (open(my $fh, '<', $file)) {
			print "Failures, as the failing test files recorded them:\n", <$fh>, "\n";
			close $fh;
		}
	}
	print $line;
}
close $prove;
exit($? >> 8 || ($? & 127 ? 1 : 0));
