# A broken or hostile coordination server (issue 19, doc/cluster.md): it
# must not crash or hang sluice. A fake server (SluiceTest::FakePg) answers
# every query sluice sends with 2000 rows of garbage (ids out of range or
# not numbers, long values, missing fields); another says the schema is at
# a version this sluice does not know; another closes the connection in
# the middle of an answer. sluice reads at most 1000 rows, skips what it
# did not write, bounds every value, keeps serving its clients, and
# reconnects with backoff.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(wait_for);
use SluiceTest::FakePg qw(msg ready command_complete row_description data_row);
use SluiceTest::Cluster qw(member console peers_by_id rows_of);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

sub version_answer
{
	my ($v) = @_;
	return row_description('max') . data_row($v) . command_complete('SELECT 1') . ready('I');
}
my @garbage = map {
	my $i = $_;
	[ $i % 3 == 0 ? 'abc' : $i % 3 == 1 ? 99999 + $i : 1 + $i % 50,   # peer_id: some in range
	  'x' x ($i % 7 == 0 ? 70000 : 20), "v$i", '2020-01-01 00:00:00', '2020-01-01 00:00:00',
	  $i % 2 ? '0.5' : 'nan', 'g' x 300, 'p' x 300, 'not a number', $i % 5 ? undef : 'inst' ]
} 1 .. 2000;
my $rows = row_description(map { "c$_" } 1 .. 10) . join('', map { data_row(@$_) } @garbage)
	 . command_complete('SELECT 2000');
my $fake = SluiceTest::FakePg->new(
	query => sub { my ($sql) = @_; return $sql =~ /^DO / ? version_answer(1) : undef },
	sync => sub { return msg('1') . msg('2') . $rows . ready('I') },
);
my $sl = member(pg => $pg, id => 1, dsn => $fake->connstr('coord'),
		settings => { gate_max_pause => 5 });
$sl->expect_log(qr/peer_id 1 is held by another live member/, qr/lost the coordination connection/);
my $adm = console($sl);
my ($r, @peers);
ok(wait_for(sub { $r = $adm->query('SHOW PEERS'); @peers = rows_of($r); return @peers > 0 }, timeout => 20),
   'the garbage members were read');
ok(!$r->{lost} && !@{ $r->{errors} }, 'SHOW PEERS answers');
ok(@peers > 0 && @peers <= 1000, 'at most 1000 members read, only ids sluice could have written (' . scalar(@peers) . ')');
ok(!grep({ $_->{peer_id} < 1 || $_->{peer_id} > 16383 } @peers), 'every id is in 1..16383');
ok(!grep({ length($_->{address}) > 255 || length($_->{gates}) > 255 } @peers), 'every value is bounded');
is($sl->proto(host => $sl->sockdir)->query_value('SELECT 5'), 5, 'sluice serves its clients');
ok($sl->alive, 'sluice runs');
$fake->stop;

# ---- a newer schema version: refused, reconnected with backoff; clients
# are served once gate_max_pause has passed
my $newer = SluiceTest::FakePg->new(query => sub { my ($sql) = @_; return $sql =~ /^DO / ? version_answer(7) : undef });
my $sl2 = member(pg => $pg, id => 2, dsn => $newer->connstr('coord'), settings => { gate_max_pause => 3 },
		 wait_login => 0);
$sl2->expect_log(qr/lost the coordination connection/,
		 qr/windows could not be read within gate_max_pause/);
ok(wait_for(sub { $sl2->log_contents =~ /schema sluice_cluster is at version 7; this sluice knows version 1/ },
	    timeout => 10), 'a schema at version 7 is refused');
is($sl2->proto(host => $sl2->sockdir)->query_value('SELECT 6'), 6, 'clients are served after gate_max_pause');
ok(wait_for(sub { (() = $sl2->log_contents =~ /is at version 7/g) >= 3 }, timeout => 20), 'it tries again, with backoff');
$newer->stop;

# ---- a server that closes the connection in the middle of an answer
my $cut = SluiceTest::FakePg->new(
	query => sub { my ($sql) = @_; return $sql =~ /^DO / ? [ substr(version_answer(1), 0, 9), 'close' ] : undef });
my $sl3 = member(pg => $pg, id => 3, dsn => $cut->connstr('coord'), settings => { gate_max_pause => 3 },
		 wait_login => 0);
$sl3->expect_log(qr/lost the coordination connection/, qr/windows could not be read within gate_max_pause/);
ok(wait_for(sub { (() = $sl3->log_contents =~ /lost the coordination connection/g) >= 2 }, timeout => 15),
   'an answer cut short: the connection is dropped and made again');
is($sl3->proto(host => $sl3->sockdir)->query_value('SELECT 7'), 7, 'clients are served');
ok($sl3->alive, 'sluice runs');
$cut->stop;

done_testing();
