# track_extra_parameters: a parameter PostgreSQL reports (here
# default_transaction_read_only) is accepted as a startup parameter and kept
# in step with whichever server a transaction-pooled client lands on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;
use SluiceTest::Proto;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my %common = (pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' });

my $sl = SluiceTest::Sluice->new(%common,
	settings => { pool_mode => 'transaction', default_pool_size => 1,
		      track_extra_parameters => 'default_transaction_read_only' });

sub client
{
	my ($port, %params) = @_;
	my $c = SluiceTest::Proto->connect(port => $port, timeout => 10);
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'app', params => \%params, timeout => 10);
	return ($c, $r);
}

my ($ro, $r1) = client($sl->port, default_transaction_read_only => 'on');
ok($r1->{ok}, 'a tracked extra parameter is accepted at startup') or diag(explain($r1->{error}));
my ($rw, $r2) = client($sl->port);
ok($r2->{ok}, 'a second client logs in');

my (@ro, @rw, %pids);
for (1 .. 4) {
	push @ro, $ro->query_value('SHOW default_transaction_read_only');
	$pids{ $ro->query_value('SELECT pg_backend_pid()') }++;
	push @rw, $rw->query_value('SHOW default_transaction_read_only');
	$pids{ $rw->query_value('SELECT pg_backend_pid()') }++;
}
is(scalar keys %pids, 1, 'both clients share the one server connection');
is_deeply(\@ro, [ ('on') x 4 ], 'the read-only client sees its value on every transaction');
is_deeply(\@rw, [ ('off') x 4 ], 'the other client never sees it');
my $w = $ro->query('CREATE TABLE t (a int)');
is($w->{errors}[0]{C} // '', '25006', 'the read-only client really is read-only (25006)');
$_->terminate for $ro, $rw;
$sl->stop;

# Without the key the same startup parameter is refused, as PgBouncer does.
my $plain = SluiceTest::Sluice->new(%common, settings => { pool_mode => 'transaction' });
$plain->expect_log(qr/pooler error: unsupported startup parameter: default_transaction_read_only \(sqlstate=08P01\)/);
my ($c, $r) = client($plain->port, default_transaction_read_only => 'on');
ok(!$r->{ok}, 'an untracked parameter is refused at startup');
like($r->{error}{M} // '', qr/unsupported startup parameter: default_transaction_read_only/, '... naming it');
$c->close;
$plain->stop;

done_testing();
