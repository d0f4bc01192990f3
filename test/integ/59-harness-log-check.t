# The harness's log check can fail (issue 16, item 7): a small test script
# makes sluice log a WARNING (a wrong password) and an ERROR (a reload of a
# broken configuration). Undeclared, the script's TAP has a failing log
# check and it exits non-zero; declared with expect_log (per sluice or for
# all), the check passes. With a fixed plan the check is not an extra test
# but still fails the file; a test that checks itself is not checked twice;
# a script that dies before done_testing still gets its check; a script
# that runs no test is left alone. Through test/lib/prove-recap.pl (what
# `make test` runs), a failing file's failed tests and diagnostics are
# printed again just before prove's summary, which stays last.
use strict;
use warnings;
use FindBin;
use File::Path ();
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd new_tempdir spit);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

my $dir = new_tempdir('logcheck');
my $script = "$dir/child.t";
spit($script, <<'PERL');
use strict;
use warnings;
use lib $ENV{CHILD_LIB};
my $plan = $ENV{CHILD_PLAN};
my $explicit = $ENV{CHILD_EXPLICIT} ? 1 : 0;
use Test::More;
use SluiceTest qw(wait_for);
plan(tests => 2 + $explicit) if $plan eq 'fixed';
my $sl = SluiceTest::Sluice->new(
	databases => { app => $ENV{CHILD_CONNSTR} },
	users => { app => 'app_pw' },
	settings => { auth_type => 'plain', log_format => $ENV{CHILD_FORMAT} },
	default_user => 'app');
my (undef, undef, $rc) = $sl->psql('SELECT 1', user => 'app', password => 'wrong');
exit 0 if $plan eq 'none';   # a script that runs no test (run-scratch.pl, a benchmark)
ok($rc != 0, 'a wrong password is refused');
$sl->{settings}{pool_mode} = 'no-such-mode';
$sl->reload;
ok(wait_for(sub { $sl->log_contents =~ /reload refused/ }, timeout => 20), 'a broken reload is refused');
# (text: pooler error: password ... "app"; logfmt: reason="password ... \"app\"")
my @expected = (qr/password authentication failed for user \\?"app\\?"/,
		qr/reload refused, the running configuration stays: .*pool_mode/);
$sl->expect_log(@expected) if $ENV{CHILD_DECLARE} eq 'sluice';
SluiceTest::expect_log(@expected) if $ENV{CHILD_DECLARE} eq 'global';
SluiceTest::check_log($sl) if $explicit;
die "dying before done_testing\n" if $plan eq 'die';
done_testing() if $plan eq 'done';
PERL

# Run the script; returns its exit code, its log check lines (ok or not
# ok), its plan and its whole output.
sub child
{
	my (%o) = @_;
	my @argv = $o{recap} ? ($^X, "$FindBin::Bin/../lib/prove-recap.pl", $script) : ($^X, $script);
	my ($out, $err, $rc) = run_cmd(\@argv, timeout => 120, env => {
		SLUICE_TEST_FAILURES => $o{recap} ? "$dir/failures.txt" : undef,
		CHILD_LIB => "$FindBin::Bin/../lib", CHILD_CONNSTR => $pg->connstr('app'),
		CHILD_PLAN => $o{plan} // 'done', CHILD_DECLARE => $o{declare} // 'none',
		CHILD_EXPLICIT => $o{explicit} // 0, CHILD_FORMAT => $o{format} // 'text' });
	my @checks = $out =~ /^((?:not )?ok) \d+ - sluice log:/mg;
	my ($plan) = $out =~ /^1\.\.(\d+)/m;
	# a failing script keeps its temp dirs for a look; these are not for looking at
	File::Path::remove_tree($_) for "$out$err" =~ /keeping temp dir (\S+)/g;
	return ($rc, join(',', @checks), $plan // 'none', "$out$err", $out);
}

my ($rc, $checks, $plan, $all) = child();
isnt($rc, 0, 'undeclared: the script fails');
is($checks, 'not ok', 'undeclared: its one log check fails');
is($plan, 3, 'undeclared: the check is a test counted before the plan line');
like($all, qr/unexpected: \S+ \S+ \d+ ERROR reload refused/, 'undeclared: the ERROR line is named');
like($all, qr/unexpected: \S+ \S+ \d+ WARNING .*password authentication failed/, 'undeclared: the WARNING line is named');

($rc, $checks, undef, $all) = child(declare => 'sluice');
is($rc, 0, 'declared on the sluice: the script passes') or diag($all);
is($checks, 'ok', 'declared on the sluice: its log check passes');
like($all, qr/# sluice on port \d+ .*: 2 expected ERROR\/WARNING lines/, '... and a note counts the expected lines');

($rc, $checks) = child(declare => 'global');
is($rc, 0, 'declared for every sluice: the script passes');
is($checks, 'ok', 'declared for every sluice: its log check passes');

($rc, $checks, undef, $all) = child(format => 'logfmt');
is($checks, 'not ok', 'logfmt, undeclared: the log check fails');
like($all, qr/unexpected: ts=\S+ level=error .*reload refused/, 'logfmt: the error line is named');
is((child(format => 'logfmt', declare => 'sluice'))[1], 'ok', 'logfmt, declared: the log check passes');

($rc, $checks, $plan, $all) = child(plan => 'fixed');
isnt($rc, 0, 'fixed plan, undeclared: the script fails');
is($checks, '', 'fixed plan: the check is not an extra test');
unlike($all, qr/planned \d+ tests? but ran/, 'fixed plan: the count matches the plan');
like($all, qr/failed: sluice log: .*fixed plan/, 'fixed plan: a diag says the log check failed');
is((child(plan => 'fixed', declare => 'global'))[0], 0, 'fixed plan, declared: the script passes');

($rc, $checks, $plan) = child(explicit => 1);
is($checks, 'not ok', 'a script that checks by itself: one log check, not two');
is($plan, 3, '... within its plan');
($rc, $checks) = child(explicit => 1, declare => 'sluice');
is("$rc $checks", '0 ok', 'declared, checked by itself: passes');

($rc, $checks, $plan, $all) = child(plan => 'none');
is("$rc $checks $plan", '0  none', 'a script that runs no test: not checked, and its exit code is its own')
    or diag($all);

($rc, $checks) = child(plan => 'die');
isnt($rc, 0, 'a script that dies: fails');
is($checks, 'not ok', 'a script that dies before done_testing still gets its log check');

# prove-recap.pl: the recap stands between prove's per-file lines and its
# summary, names the failed test and the unexpected line, and the exit
# status is prove's.
my $stdout;
($rc, undef, undef, $all, $stdout) = child(recap => 1);
isnt($rc, 0, 'recap: a failing file still fails prove');
like($stdout, qr/Failures, as the failing test files recorded them:\n=== \Q$script\E\nnot ok 3 - sluice log: .*\n(?:.*\n)*# .*unexpected: .*WARNING .*password authentication failed(?:.*\n)*Test Summary Report\n/,
     'recap: the failed log check and its unexpected line come again just before the summary')
    or diag($all);
like($stdout, qr/Result: FAIL\s*\z/, 'recap: prove\'s summary is still the last thing printed');
($rc, undef, undef, $all, $stdout) = child(recap => 1, declare => 'sluice');
is($rc, 0, 'recap: a passing file passes');
unlike($all, qr/Failures, as the failing/, 'recap: nothing is recapped when all pass');
like($stdout, qr/Result: PASS\s*\z/, 'recap: ... and the summary is last');

done_testing();
