# pgbench's default TPC-B script through sluice in transaction mode, in
# each query protocol (simple, extended, prepared), 20 clients on one
# thread (-j 1) over a pool of 5, 50 transactions each; then 6 clients,
# -j 1, -M prepared. Each run must exit 0, process every transaction and
# fail none; pgbench_history must grow by exactly that many rows, and the
# four tables must still agree (TPC-B's consistency: the sums of the
# account, teller and branch balances equal the sum of history's deltas).
#
# With -j 1 every client shares one thread, and in prepared mode pgbench
# prepares each command with a blocking PQprepare the first time a client
# runs it: a client waiting there for a server while another client of
# the same thread holds one inside its transaction deadlocks the thread
# unless the pooler answers that Parse without a server. Each run is
# bounded, so such a deadlock fails here instead of hanging the suite.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd);
use SluiceTest::Clients;

my $PGBENCH = SluiceTest::Pg::bindir() . '/pgbench';
plan skip_all => "no pgbench in " . SluiceTest::Pg::bindir() unless -x $PGBENCH;

my $t = SluiceTest::Clients->setup(pool => 5);
{
	my ($out, $err, $rc) = run_cmd([ $PGBENCH, '-i', '-q', '-s', '1', '-h', $t->{pg}->host, '-p', $t->{pg}->port,
					 '-U', 'app', 'app' ], env => { PGPASSWORD => 'app_pw' }, timeout => 60);
	die "pgbench -i failed ($rc):\n$err" if $rc != 0;
}

sub history { return $t->app_sql('SELECT count(*) FROM pgbench_history') }

sub consistent
{
	my ($label) = @_;
	my $sums = $t->app_sql('SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts), '
			       . '(SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers), '
			       . '(SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches), '
			       . '(SELECT coalesce(sum(delta), 0) FROM pgbench_history)');
	my @s = split /\|/, $sums;
	is(scalar(grep { $_ eq $s[0] } @s), 4, "$label: account, teller, branch balances and history agree ($sums)");
}

for my $run ([ 'simple', 20 ], [ 'extended', 20 ], [ 'prepared', 20 ], [ 'prepared', 6 ]) {
	my ($mode, $clients) = @$run;
	my $tx = 50;
	my $label = "pgbench -M $mode -c $clients -j 1 -t $tx over a pool of 5";
	my $before = history();
	my $t0 = Time::HiRes::time();
	my ($out, $err, $rc) = run_cmd(
		[ $PGBENCH, '-n', '-M', $mode, '-c', $clients, '-j', 1, '-t', $tx,
		  '-U', 'app', 'app' ],
		env => $t->env, timeout => 30);    # PGHOST and PGPORT: sluice's
	my $secs = Time::HiRes::time() - $t0;
	my ($done, $want) = $out =~ /number of transactions actually processed: (\d+)\/(\d+)/;
	my ($failed) = $out =~ /number of failed transactions: (\d+)/;
	is($rc, 0, sprintf('%s: exit 0 (%s; %.1fs)', $label,
			   $rc == -1 ? 'killed after its 30s bound: a hang' : "rc $rc", $secs))
	    or diag("stdout:\n$out\nstderr (tail):\n"
		    . join("\n", grep { defined } (split /\n/, $err)[-8 .. -1]));
	is($done, $clients * $tx, "$label: every transaction processed");
	is($failed, 0, "$label: no failed transactions");
	is(history() - $before, $clients * $tx, "$label: pgbench_history grew by one row per transaction");
	consistent($label);
}

done_testing();
