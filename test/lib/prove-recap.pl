#!/usr/bin/perl
# prove, with a recap of what failed: runs prove with the arguments given,
# passes its output through unchanged, and just before prove's summary
# ("Test Summary Report") prints what each failing test file recorded
# (SluiceTest.pm writes failed tests and diagnostics to the file named by
# SLUICE_TEST_FAILURES). Only files prove itself reports failing are
# recapped: scripts that tests run as children (and fail on purpose) may
# write there too. The summary stays the last thing printed, and the
# exit status is prove's.
use strict;
use warnings;

my $file = $ENV{SLUICE_TEST_FAILURES} or die "prove-recap: SLUICE_TEST_FAILURES is not set\n";
unlink $file;
$| = 1;
open(my $prove, '-|', 'prove', @ARGV) or die "prove-recap: cannot run prove: $!\n";
my ($recapped, $current, %failed) = (0, '');
while (my $line = <$prove>) {
	$current = $1 if $line =~ /^(\S+\.t) \.+/;
	$failed{$current} = 1 if $current && $line =~ /^(?:Dubious|Failed \d+\/\d+ subtests|No subtests run)/;
	if (!$recapped && $line =~ /^Test Summary Report/ && -s $file) {
		$recapped = 1;
		print "Failures, as the failing test files recorded them:\n", recap(), "\n";
	}
	print $line;
}
close $prove;

# The recorded entries ("=== <script>" and its lines) of the files prove
# reported failing.
sub recap
{
	open(my $fh, '<', $file) or return '';
	my ($out, $keep) = ('', 0);
	while (my $l = <$fh>) {
		if ($l =~ /^=== (.*)$/) {
			my $script = $1;
			$keep = grep { $script eq $_ || $script =~ m{/\Q$_\E$} } keys %failed;
		}
		$out .= $l if $keep;
	}
	close $fh;
	return $out;
}
exit($? >> 8 || ($? & 127 ? 1 : 0));
