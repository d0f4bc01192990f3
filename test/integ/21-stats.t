# SHOW STATS, SHOW STATS_TOTALS and SHOW STATS_AVERAGES: the same columns
# and types as PgBouncer 1.18, and numbers that match what the test did:
# transactions, queries and bytes counted exactly (the same work is run
# through PgBouncer side by side and must give the same counts), times
# that add up, a wait that shows, averages over the last stats_period.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd wait_for);
use SluiceTest::Proto;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my %common = (
	pg => $pg,
	databases => { app => $pg->connstr('app', user => 'app', password => 'app_pw') },
	users => { app => 'app_pw', admin => 'admin_pw', watcher => 'watch_pw' },
	settings => { auth_type => 'plain', admin_users => 'admin', stats_users => 'watcher',
		      pool_mode => 'transaction', default_pool_size => 1, stats_period => 1 },
);
my $sl = SluiceTest::Sluice->new(%common);
my $pgb = do {
	local $ENV{SLUICE_BIN} = '/usr/sbin/pgbouncer';
	SluiceTest::Sluice->new(%common);
};

# Column names and type OIDs of a SHOW, through psycopg (what tools use).
sub columns
{
	my ($node, $cmd) = @_;
	my $py = <<'PY';
import sys, psycopg
port, cmd = sys.argv[1:3]
c = psycopg.connect(host="127.0.0.1", port=port, dbname="pgbouncer", user="watcher",
                    password="watch_pw", autocommit=True, prepare_threshold=None)
cur = c.execute(cmd)
print(",".join("%s:%d" % (d.name, d.type_code) for d in cur.description))
PY
	my ($out, $err, $rc) = run_cmd([ '/usr/bin/python3', '-c', $py, $node->port, $cmd ], timeout => 20);
	chomp $out;
	return $rc == 0 ? $out : "error: $err";
}

for my $cmd ('SHOW STATS', 'SHOW STATS_TOTALS', 'SHOW STATS_AVERAGES') {
	my $want = columns($pgb, $cmd);
	like($want, qr/:1700/, "$cmd: PgBouncer 1.18 answers with numeric columns");
	is(columns($sl, $cmd), $want, "$cmd: the same columns and types as PgBouncer 1.18");
}

# One console connection per node, kept open.
my %console;
sub console
{
	my ($node) = @_;
	return $console{$node} //= $node->proto(user => 'admin', password => 'admin_pw', db => 'pgbouncer');
}

# A SHOW's row for database `app`, as { column => value }.
sub stats_row
{
	my ($node, $cmd) = @_;
	my $r = console($node)->query($cmd);
	die "$cmd failed: " . ($r->{lost} // SluiceTest::Proto::error_text($r->{errors}[0])) . "\n"
	    if $r->{lost} || @{ $r->{errors} };
	my ($row) = grep { $_->[0] eq 'app' } @{ $r->{rows} };
	return undef unless $row;
	my %h;
	@h{ @{ $r->{columns} } } = @$row;
	return \%h;
}

sub delta
{
	my ($after, $before) = @_;
	return { map { $_ => $after->{$_} - ($before->{$_} // 0) } grep { $_ ne 'database' } keys %$after };
}

my $msg = \&SluiceTest::Proto::msg;

# Send raw bytes and read until `nready` ReadyForQuery; returns the bytes
# read (whole messages: type, length, body).
sub exchange
{
	my ($c, $bytes, $nready) = @_;
	$c->send($bytes) or die "send failed\n";
	my $got = 0;
	while ($nready > 0) {
		my ($type, $body) = $c->read_msg;
		die "connection lost while waiting for ReadyForQuery\n" unless defined $type;
		$got += 5 + length $body;
		$nready-- if $type eq 'Z';
	}
	return $got;
}

# The work: [ bytes to send, ReadyForQuery to expect, queries, transactions ].
my $q = sub { $msg->('Q', "$_[0]\0") };
my @work = (
	(map { [ $q->('SELECT 1'), 1, 1, 1 ] } 1 .. 5),                 # autocommit
	(map { ([ $q->('BEGIN'), 1, 1, 0 ], [ $q->('SELECT 2'), 1, 1, 0 ],
		[ $q->('COMMIT'), 1, 1, 1 ]) } 1 .. 3),                  # BEGIN ... COMMIT
	[ $q->('SELECT 3; SELECT 4'), 1, 1, 1 ],                        # two statements, one round
	[ $q->('SELECT 1/0'), 1, 1, 1 ],                                # an error
	[ $q->('BEGIN'), 1, 1, 0 ], [ $q->('SELECT 1/0'), 1, 1, 0 ],    # a failed transaction
	[ $q->('ROLLBACK'), 1, 1, 1 ],
	[ $msg->('P', "\0SELECT 5\0" . pack('n', 0)) . $msg->('B', "\0\0" . pack('nnn', 0, 0, 0))
	  . $msg->('E', "\0" . pack('N', 0)) . $msg->('S', ''), 1, 1, 1 ],   # extended protocol
);

my %did;
for my $node ($sl, $pgb) {
	my $name = $node == $sl ? 'sluice' : 'PgBouncer';
	my $c = $node->proto(user => 'app', password => 'app_pw');
	my $before = stats_row($node, 'SHOW STATS_TOTALS');
	my ($sent, $got, $queries, $xacts) = (0, 0, 0, 0);
	for my $w (@work) {
		$got += exchange($c, $w->[0], $w->[1]);
		$sent += length $w->[0];
		$queries += $w->[2];
		$xacts += $w->[3];
	}
	my $d = delta(stats_row($node, 'SHOW STATS_TOTALS'), $before);
	$c->terminate;
	is($d->{xact_count}, $xacts, "$name: xact_count grew by the $xacts transactions run");
	is($d->{query_count}, $queries, "$name: query_count grew by the $queries queries run");
	is($d->{bytes_received}, $sent, "$name: bytes_received grew by the $sent bytes clients sent");
	is($d->{bytes_sent}, $got, "$name: bytes_sent grew by the $got bytes clients got");
	ok($d->{query_time} > 0, "$name: query_time grew");
	ok($d->{xact_time} >= $d->{query_time}, "$name: transactions took at least as long as their queries")
	    or diag("xact_time +$d->{xact_time}, query_time +$d->{query_time}");
	$did{$name} = $d;
}

# Pipelining: two queries sent at once are two queries and two transactions.
{
	my $c = $sl->proto(user => 'app', password => 'app_pw');
	my $before = stats_row($sl, 'SHOW STATS_TOTALS');
	my $bytes = $q->('SELECT 1') . $q->('SELECT 2');
	my $got = exchange($c, $bytes, 2);
	my $d = delta(stats_row($sl, 'SHOW STATS_TOTALS'), $before);
	$c->terminate;
	is_deeply([ @$d{qw(query_count xact_count bytes_received bytes_sent)} ], [ 2, 2, length $bytes, $got ],
		  'pipelined queries: each counted, bytes exact');
}

# A client that waits for the one server of the pool: wait_time grows by
# at least the time the holder kept it after the waiter was seen queued.
for my $node ($sl, $pgb) {
	my $name = $node == $sl ? 'sluice' : 'PgBouncer';
	my $holder = $node->proto(user => 'app', password => 'app_pw');
	my $waiter = $node->proto(user => 'app', password => 'app_pw');
	my $before = stats_row($node, 'SHOW STATS_TOTALS');
	is($holder->query('BEGIN')->{status}, 'T', "$name: the holder keeps the only server");
	$waiter->send($q->('SELECT 1'));
	my $queued = wait_for(sub {
		my $r = console($node)->query('SHOW POOLS');
		my ($row) = grep { $_->[0] eq 'app' && $_->[1] eq 'app' } @{ $r->{rows} };
		return $row && $row->[3] == 1;
	}, timeout => 20);
	ok($queued, "$name: the waiter is queued (cl_waiting = 1)");
	is($holder->query('SELECT pg_sleep(0.2)')->{status}, 'T', "$name: the holder works 0.2 s more");
	is($holder->query('COMMIT')->{status}, 'I', "$name: ... and commits");
	my $r = $waiter->read_results;
	is($r->{rows}[0][0], 1, "$name: the waiter got its server and its answer");
	my $d = delta(stats_row($node, 'SHOW STATS_TOTALS'), $before);
	ok($d->{wait_time} >= 200_000, "$name: wait_time grew by at least 200000 us")
	    or diag("wait_time +$d->{wait_time}");
	is_deeply([ @$d{qw(xact_count query_count)} ], [ 2, 4 ], "$name: 2 transactions, 4 queries");
	$holder->terminate;
	$waiter->terminate;
}

# SHOW STATS is STATS_TOTALS and STATS_AVERAGES side by side (asked until
# no stats_period ends between the commands).
my $same = wait_for(sub {
	my $all = stats_row($sl, 'SHOW STATS');
	my $t = stats_row($sl, 'SHOW STATS_TOTALS');
	my $a = stats_row($sl, 'SHOW STATS_AVERAGES');
	my $again = stats_row($sl, 'SHOW STATS');
	return 0 unless join(',', map { "$_=$all->{$_}" } sort keys %$all)
		     eq join(',', map { "$_=$again->{$_}" } sort keys %$again);
	my %map = (xact_count => 'xact_count', query_count => 'query_count', received => 'bytes_received',
		   sent => 'bytes_sent', xact_time => 'xact_time', query_time => 'query_time',
		   wait_time => 'wait_time');
	for my $k (keys %map) {
		return 0 unless $all->{"total_$k"} == $t->{ $map{$k} };
	}
	my %avg = (xact_count => 'xact_count', query_count => 'query_count', recv => 'bytes_received',
		   sent => 'bytes_sent', xact_time => 'xact_time', query_time => 'query_time',
		   wait_time => 'wait_time');
	for my $k (keys %avg) {
		return 0 unless $all->{"avg_$k"} == $a->{ $avg{$k} };
	}
	return 1;
}, timeout => 10, interval => 0.1);
ok($same, 'SHOW STATS: totals and averages as SHOW STATS_TOTALS and SHOW STATS_AVERAGES say');

# Averages: nothing happens for a whole period, then a burst of 30
# single-query transactions; the period holding it shows them. A period
# is seen to end when the averages change: a few transactions first, so
# that zeros seen later come from a period after them, not before.
sub averages_zero
{
	my $a = stats_row($sl, 'SHOW STATS_AVERAGES');
	return !grep { $_ ne 'database' && $a->{$_} != 0 } keys %$a;
}
{
	my $c = $sl->proto(user => 'app', password => 'app_pw');
	exchange($c, $q->('SELECT 1'), 1) for 1 .. 5;
	ok(wait_for(sub { !averages_zero() }, timeout => 10, interval => 0.05),
	   'a period with work shows in the averages');
	ok(wait_for(\&averages_zero, timeout => 10, interval => 0.05),
	   'averages are all 0 after a stats_period without work');
	my ($qbytes, $abytes) = (length $q->('SELECT 1'), 0);
	$abytes = exchange($c, $q->('SELECT 1'), 1) for 1 .. 30;
	$c->terminate;
	my $a;
	ok(wait_for(sub { $a = stats_row($sl, 'SHOW STATS_AVERAGES'); $a->{xact_count} > 0 },
		    timeout => 10, interval => 0.05), 'a period with the burst shows transactions per second');
	my $x = $a->{xact_count};
	ok($x <= 30, "at most the 30 transactions run, per second of a 1 s period ($x)");
	is($a->{query_count}, $x, 'one query per transaction');
	is($a->{xact_time}, $a->{query_time}, 'average transaction time = average query time (one query each)');
	ok($a->{query_time} > 0, 'average query time > 0');
	ok($a->{bytes_received} >= $qbytes * $x && $a->{bytes_received} < $qbytes * ($x + 1),
	   "received bytes per second match the transactions ($qbytes bytes each)")
	    or diag("bytes_received $a->{bytes_received}, xact_count $x");
	ok($a->{bytes_sent} >= $abytes * $x && $a->{bytes_sent} < $abytes * ($x + 1),
	   "sent bytes per second match the transactions ($abytes bytes each)")
	    or diag("bytes_sent $a->{bytes_sent}, xact_count $x");
	ok(wait_for(\&averages_zero, timeout => 10, interval => 0.1),
	   'the averages go back to 0 once a period passes without work');
}

$_->terminate for values %console;
%console = ();
$pgb->stop;

done_testing();
