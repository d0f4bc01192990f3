# A Bind, in a failed transaction, of a named statement the server lacks
# fails as PostgreSQL fails it (25P02 from the Bind), also when CopyData
# the client sent eagerly for a COPY that failed arrives after the
# failure's ReadyForQuery: PostgreSQL ignores such messages, so they must
# not make sluice unsure of the transaction's state. (The differential
# test's corpus case seed417652049 hit this by timing.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;
use SluiceTest::Proto qw(msg);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' },
	default_user => 'app', settings => { pool_mode => 'transaction', default_pool_size => 1,
					    transaction_session_state => 'allow' },
);

sub run_case
{
	my ($c, $late_copy) = @_;
	# s1 prepared, then dropped from the server by another client
	$c->send(msg('P', "s1\0SELECT 1\0" . pack('n', 0)) . msg('S'));
	$c->read_results(10);
	my $other = $sl->proto;
	$other->query('DEALLOCATE ALL');
	$other->terminate;
	$c->query('BEGIN');
	my $r = $c->query('COPY nosuch FROM STDIN');
	is($r->{status}, 'E', 'the COPY failed: the transaction is failed');
	$c->send(msg('d', "1\n") . msg('c')) if $late_copy;   # after its ReadyForQuery
	$c->send(msg('B', "\0s1\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S'));
	$r = $c->read_results(10);
	my $e = $r->{errors}[0] // {};
	is($e->{C}, '25P02', 'the Bind gets 25P02');
	is($e->{R}, 'exec_bind_message', '... from the Bind, as on PostgreSQL, not from a Parse of sluice\'s');
	$c->query('ROLLBACK');
}

# A Describe and a Bind of it in one write, in a failed transaction: the
# Bind reaches sluice while the Describe's answers (from sluice's
# stand-in) are still owed, and must fail in the Bind all the same, not
# in a Parse of sluice's (difference 9 of doc/testing.md).
sub run_pipelined
{
	my ($c) = @_;
	$c->send(msg('P', "s2\0DO \$\$BEGIN END\$\$\0" . pack('n', 0)) . msg('S'));
	$c->read_results(10);
	my $other = $sl->proto;
	$other->query('DEALLOCATE ALL');
	$other->terminate;
	$c->query('BEGIN');
	is($c->query('SELECT 1/0')->{status}, 'E', 'pipelined: the transaction is failed');
	for my $round (1 .. 2) {
		$c->send(msg('D', "Ss2\0") . msg('S')
			 . msg('B', "\0s2\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S'));
		my $d = $c->read_results(10);
		is(join('', @{$d->{types}}), 'tnZ', "pipelined, round $round: the Describe answers as on PostgreSQL");
		my $r = $c->read_results(10);
		my $e = $r->{errors}[0] // {};
		is($e->{C}, '25P02', "pipelined, round $round: the Bind gets 25P02");
		is($e->{R}, 'exec_bind_message', "pipelined, round $round: ... from the Bind, not a Parse of sluice's");
	}
	$c->query('ROLLBACK');
	$c->send(msg('B', "\0s2\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S'));
	my $r = $c->read_results(10);
	is(scalar @{$r->{errors}}, 0, 'after ROLLBACK the statement runs');
}

# A Describe, in a failed transaction, of a statement that returns rows,
# on a server that lacks it and has no other statement returning rows:
# PostgreSQL fails the Describe itself (exec_describe_statement_message).
# A new server of the pool has nothing of the client's: the client
# prepared r1 on the pool's first server, which is then gone.
sub run_describe_rows
{
	my $d = $sl->proto;
	$d->send(msg('P', "r1\0SELECT 1 AS one\0" . pack('n', 0)) . msg('S'));
	is(scalar @{$d->read_results(10)->{errors}}, 0, 'describe rows: r1 prepared');
	my $pid = $d->query_value('SELECT pg_backend_pid()');
	$pg->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	$d->query('SELECT 1');   # may meet the terminated server: a new one is opened
	$d->query('BEGIN');
	is($d->query('SELECT 1/0')->{status}, 'E', 'describe rows: the transaction is failed');
	$d->send(msg('D', "Sr1\0") . msg('S'));
	my $r = $d->read_results(10);
	my $e = $r->{errors}[0] // {};
	is($e->{C}, '25P02', 'describe rows: the Describe gets 25P02');
	is($e->{R}, 'exec_describe_statement_message', '... from the Describe, as on PostgreSQL');
	$d->query('ROLLBACK');
	$d->send(msg('B', "\0r1\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S'));
	$r = $d->read_results(10);
	is_deeply($r->{rows}, [['1']], 'describe rows: after ROLLBACK r1 runs');
	# another client's DEALLOCATE ALL takes every statement of the server
	my $other = $sl->proto;
	$other->query('DEALLOCATE ALL');
	$other->terminate;
	$d->query('BEGIN');
	is($d->query('SELECT 1/0')->{status}, 'E', 'describe rows after DEALLOCATE ALL: the transaction is failed');
	$d->send(msg('D', "Sr1\0") . msg('S'));
	$e = $d->read_results(10)->{errors}[0] // {};
	is("$e->{C} $e->{R}", '25P02 exec_describe_statement_message',
	   'describe rows after DEALLOCATE ALL: 25P02 from the Describe');
	$d->query('ROLLBACK');
	$d->terminate;
}

my $c = $sl->proto;
run_describe_rows();
run_case($c, 0);
run_case($c, 1);
run_pipelined($c);
$c->terminate;

done_testing();
