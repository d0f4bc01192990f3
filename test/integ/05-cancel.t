# Query cancellation through sluice: libpq's PQcancel (test/integ/c/cancel.c)
# in session and transaction mode, and raw CancelRequests: a wrong key
# cancels nothing, the right key cancels the running query.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(wait_for run_c_test);
use SluiceTest::Proto qw(cancel_request msg);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $direct = $pg->connstr('postgres', user => 'postgres', password => $pg->superuser_password);

my %sl;
for my $mode (qw(session transaction)) {
	$sl{$mode} = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app') },
		users => { app => 'app_pw' },
		settings => { pool_mode => $mode, default_pool_size => 2 },
	);
	note("--- $mode mode, libpq PQcancel");
	run_c_test('cancel', $sl{$mode}->connstr(application_name => "cancel-$mode"), $direct,
		   { label => "cancel/$mode" });
}

# --- raw CancelRequest packets
my $sl = $sl{session};
my $watch = $pg->proto;
my $running = sub {
	my ($tag) = @_;
	return $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
				   . "AND query LIKE 'SELECT pg_sleep(30) /* $tag */%'") > 0;
};

my $c = $sl->proto;
ok(defined $c->{backend_pid} && defined $c->{backend_key}, 'raw client got BackendKeyData');
$c->send(msg('Q', "SELECT pg_sleep(30) /* raw */\0"));
ok(wait_for(sub { $running->('raw') }, timeout => 10), 'the query runs in PostgreSQL');

# a wrong key: the cancel connection is closed without a reply, nothing is canceled
my $x = SluiceTest::Proto->connect(port => $sl->port);
$x->send(cancel_request($c->{backend_pid}, ($c->{backend_key} ^ 0x5a5a5a5a) & 0xffffffff));
my ($eof, $data) = $x->wait_eof(10);
ok($eof, 'cancel with a wrong key: connection closed');
is($data, '', 'cancel with a wrong key: nothing sent back');
my ($type) = $c->read_msg(0.5);
ok(!defined $type && !$c->{eof}, 'wrong key did not cancel the query (no reply within 500 ms)');
ok($running->('raw'), 'the query is still running');

# an unknown pid: same
$x = SluiceTest::Proto->connect(port => $sl->port);
$x->send(cancel_request(($c->{backend_pid} + 1) & 0xffffffff, $c->{backend_key}));
($eof, $data) = $x->wait_eof(10);
ok($eof && $data eq '', 'cancel for an unknown pid: closed without a reply');

# the right key cancels it
$x = SluiceTest::Proto->connect(port => $sl->port);
$x->send(cancel_request($c->{backend_pid}, $c->{backend_key}));
($eof, $data) = $x->wait_eof(10);
ok($eof && $data eq '', 'cancel with the right key: closed without a reply');
my $r = $c->read_results(5);
ok(!$r->{lost}, 'the canceled query answered') or diag($r->{lost});
is($r->{errors}[0]{C}, '57014', 'canceled with SQLSTATE 57014');
is($r->{status}, 'I', 'ReadyForQuery idle after the cancel');
is($c->query_value('SELECT 7'), '7', 'the connection still works');

# a cancel packet of the wrong size is dropped without harm
$sl->expect_log(qr/\(nodb\)\/\(nouser\)\S+ pooler error: invalid length of startup packet \(sqlstate=08P01\)/);
$x = SluiceTest::Proto->connect(port => $sl->port);
$x->send(pack('NN', 12, 80877102) . pack('N', 1));
($eof) = $x->wait_eof(10);
ok($eof, 'a short CancelRequest is dropped (connection closed)');
is($c->query_value('SELECT 8'), '8', 'and the client is unaffected');
$c->terminate;
$watch->terminate;

done_testing();
