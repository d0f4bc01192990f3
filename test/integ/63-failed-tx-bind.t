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

my $c = $sl->proto;
run_case($c, 0);
run_case($c, 1);
$c->terminate;

done_testing();
