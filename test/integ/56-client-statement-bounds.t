# What one client may hold of named prepared statements in transaction
# mode (issue 14, item 15): sluice keeps each client's names and the texts
# they stand for, to prepare them on whichever server the client gets
# next, so a client that never closes them grew sluice without end. Now
# max_client_prepared_statements and max_client_prepared_bytes bound them:
# at the bound the client gets FATAL 54000 saying which bound and what to
# do; Close, DEALLOCATE ALL and DISCARD ALL give room back. Checked on the
# path through a server and on the one sluice answers alone (a Parse of a
# text the pool knows, from a client holding no server).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(app_pool);
use SluiceTest::Proto qw(msg);

my ($MAXN, $MAXB) = (20, 4096);
my ($pg, $sl) = app_pool(pool_size => 2, settings => {
	max_prepared_statements => 100, max_client_prepared_statements => $MAXN,
	max_client_prepared_bytes => $MAXB });
# the statements refused past either bound
$sl->expect_log(qr/ app\/app\S+ pooler error: too many prepared statements: this connection holds \d+, of \d+ bytes \(max_client_prepared_statements = $MAXN, max_client_prepared_bytes = $MAXB\); close some \(Close, DEALLOCATE\) before preparing more \(sqlstate=54000\)/,
		qr/ app\/app\S+ pooler error: prepared statements too large: this connection holds \d+ bytes of them, this one needs \d+ more \(max_client_prepared_bytes = $MAXB\); close some \(Close, DEALLOCATE\) or prepare shorter ones \(sqlstate=54000\)/);

sub client { $sl->proto(user => 'app', password => 'app_pw', dbname => 'app') }

# Parse each [name, text], then Sync; the errors' SQLSTATEs (or "lost").
sub parse_all
{
	my ($c, @stmts) = @_;
	$c->send(join('', map { msg('P', "$_->[0]\0$_->[1]\0" . pack('n', 0)) } @stmts) . msg('S'));
	my $r = $c->read_results(10);
	return ($r->{lost} ? 'lost' : join(',', map { $_->{C} } @{ $r->{errors} }), $r);
}

sub run_named
{
	my ($c, $name) = @_;
	$c->send(msg('B', "\0$name\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S'));
	my $r = $c->read_results(10);
	return @{ $r->{errors} } ? "error $r->{errors}[0]{C}" : $r->{rows}[0][0];
}

my @texts = map { [ "s$_", "SELECT $_" ] } 1 .. $MAXN;

# At the count bound, through a server.
{
	my $c = client();
	my ($errs) = parse_all($c, @texts);
	is($errs, '', "$MAXN named statements are prepared");
	is(run_named($c, "s$MAXN"), $MAXN, '... and run');
	my ($e, $r) = parse_all($c, [ 'one_more', 'SELECT 0' ]);
	is($r->{errors}[0]{C}, '54000', 'one more: FATAL 54000');
	like($r->{errors}[0]{M} // '', qr/too many prepared statements.*max_client_prepared_statements = $MAXN/,
	     '... naming the bound');
	my ($eof) = $c->wait_eof(5);
	ok($eof, '... and the connection is closed');
}

# Close, DEALLOCATE ALL and DISCARD ALL give room back.
{
	my $c = client();
	is((parse_all($c, @texts))[0], '', "another client prepares $MAXN");
	$c->send(join('', map { msg('C', "Ss$_\0") } 1 .. 5) . msg('S'));
	$c->read_results(10);
	is((parse_all($c, map { [ "t$_", "SELECT 100 + $_" ] } 1 .. 5))[0], '', 'after closing 5, 5 more are prepared');
	is(run_named($c, 't5'), 105, '... and run');
	is($c->query('DEALLOCATE ALL')->{errors}[0], undef, 'DEALLOCATE ALL');
	is((parse_all($c, map { [ "u$_", "SELECT 200 + $_" ] } 1 .. $MAXN))[0], '', "... then $MAXN more are prepared");
	is($c->query('DISCARD ALL')->{errors}[0], undef, 'DISCARD ALL');
	is((parse_all($c, map { [ "v$_", "SELECT 300 + $_" ] } 1 .. $MAXN))[0], '', "... then $MAXN more are prepared");
	is(run_named($c, "v$MAXN"), 300 + $MAXN, '... and run');
	$c->terminate;
}

# At the byte bound: one statement's name and text over it.
{
	my $c = client();
	my $long = 'SELECT ' . join(' + ', (1) x 1200);   # 4,803 bytes
	my ($e, $r) = parse_all($c, [ 'long', $long ]);
	is($r->{errors}[0]{C}, '54000', 'a statement of more than max_client_prepared_bytes: FATAL 54000');
	like($r->{errors}[0]{M} // '', qr/^prepared statements too large: this connection holds 0 bytes of them, this one needs \d+ more \(max_client_prepared_bytes = $MAXB\)/,
	     '... saying the statement is too large and naming the bound');
	$c = client();
	is((parse_all($c, [ 'short', 'SELECT ' . join(' + ', (1) x 900) ]))[0], '', 'one under it is prepared');
	is(run_named($c, 'short'), 900, '... and runs');
	$c->terminate;
}

# On the path sluice answers alone: the pool knows every text, the client
# holds no server between its transactions.
{
	my $c = client();
	is((parse_all($c, @texts))[0], '', "$MAXN statements the pool knows, answered by sluice");
	my ($e, $r) = parse_all($c, [ 'again', 'SELECT 1' ]);
	is($r->{errors}[0]{C}, '54000', 'one more (a known text, under a new name): FATAL 54000');
}

is(client()->query_value('SELECT 7'), '7', 'sluice serves the next client');

done_testing();
