# Messages that arrive in pieces: the startup packet, every authentication
# message and queries sent one byte per write (TCP_NODELAY, a short pause
# between bytes), and the opposite, several messages in one write.
# (PgBouncer 1.18 fails the first two groups: it refuses a startup or auth
# packet that arrives in pieces.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;
use SluiceTest::Proto qw(msg ssl_request startup_packet);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

my %byte = (bytewise => 1, delay => 0.002);

for my $auth (qw(md5 scram-sha-256)) {
	my $sl = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app') },
		users => { app => 'app_pw' },
		settings => { auth_type => $auth },
	);

	# the startup packet and authentication, one byte per write
	# (PgBouncer 1.18 refuses this: "client sent partial pkt in startup phase")
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'app',
			  params => { application_name => 'split' }, %byte);
	ok($r->{ok}, "$auth: login with every message, the startup packet too, sent byte by byte")
	    or diag(SluiceTest::Proto::error_text($r->{error}));
	is($r->{auth}[0], $auth eq 'md5' ? 5 : 10, "$auth: the expected auth method was used");
	is($c->query_value('SELECT 3'), '3', "$auth: that connection answers a query");
	$c->terminate;

	# the startup packet whole, then the auth messages and all later ones byte by byte
	$c = SluiceTest::Proto->connect(port => $sl->port);
	$c->send(startup_packet({ user => 'app', database => 'app' }));
	$r = $c->login(user => 'app', password => 'app_pw', startup => '', %byte);
	ok($r->{ok}, "$auth: login with the auth messages sent byte by byte")
	    or diag(SluiceTest::Proto::error_text($r->{error}));
	is($c->query_value('SELECT 4'), '4', "$auth: that connection answers a query");
	$c->terminate;

	# after a normal login, every message byte by byte
	$c = $sl->proto;
	# a simple query, byte by byte
	$r = $c->query('SELECT 1 AS a, $$split$$ AS b', %byte);
	is_deeply($r->{types}, [qw(T D C Z)], "$auth: RowDescription, DataRow, CommandComplete, ReadyForQuery");
	is_deeply($r->{columns}, [qw(a b)], "$auth: column names");
	is_deeply($r->{rows}, [ [ '1', 'split' ] ], "$auth: row values");
	is_deeply($r->{tags}, ['SELECT 1'], "$auth: command tag");
	is($r->{status}, 'I', "$auth: idle");

	# extended protocol, byte by byte (Parse/Bind are messages a pooler may inspect)
	$c->send(msg('P', "s1\0SELECT \$1::text || 'x'\0" . pack('n', 0))
		 . msg('B', "\0s1\0" . pack('n', 0) . pack('n', 1) . pack('N', 3) . 'abc' . pack('n', 0))
		 . msg('E', "\0" . pack('N', 0))
		 . msg('S'), %byte);
	$r = $c->read_results;
	is_deeply($r->{rows}, [ ['abcx'] ], "$auth: extended protocol byte by byte: result");
	is_deeply([ grep { !/[NS]/ } @{ $r->{types} } ], [qw(1 2 D C Z)], "$auth: extended protocol message sequence");
	$c->send(msg('C', "Ss1\0") . msg('S'), %byte);
	$r = $c->read_results;
	is_deeply([ grep { !/[NS]/ } @{ $r->{types} } ], [qw(3 Z)], "$auth: Close statement byte by byte");

	# three queries in one write
	$c->send(msg('Q', "SELECT 10\0") . msg('Q', "SELECT 20\0") . msg('Q', "SELECT 30\0"));
	my @vals = map { my $x = $c->read_results; $x->{rows}[0][0] // 'none' } 1 .. 3;
	is_deeply(\@vals, [qw(10 20 30)], "$auth: three Query messages in one write, three answers in order");

	# one query split at awkward points: inside the header, then the rest
	my $m = msg('Q', "SELECT 'awkward'\0");
	$c->send(substr($m, 0, 1));
	$c->send(substr($m, 1, 3));
	$c->send(substr($m, 4, 2));
	$c->send(substr($m, 6));
	is($c->read_results->{rows}[0][0], 'awkward', "$auth: a message split inside its header");

	# a large query sent in uneven chunks
	my $big = msg('Q', "SELECT length('" . ('z' x 300_000) . "')\0");
	my $pos = 0;
	my $i = 0;
	while ($pos < length $big) {
		my $n = (1, 7, 4096, 65536, 3)[ $i++ % 5 ];
		$c->send(substr($big, $pos, $n));
		$pos += $n;
	}
	is($c->read_results(30)->{rows}[0][0], '300000', "$auth: a 300 kB query in uneven chunks");

	# Terminate byte by byte: the connection closes
	$c->send(msg('X'), %byte);
	my ($eof) = $c->wait_eof(10);
	ok($eof, "$auth: Terminate sent byte by byte closes the connection");

	# SSLRequest byte by byte, 'N', then the startup packet in one piece
	$c = SluiceTest::Proto->connect(port => $sl->port);
	$c->send(ssl_request(), %byte);
	is($c->read_bytes(1, 10), 'N', "$auth: SSLRequest sent byte by byte is answered 'N'");
	$r = $c->login(user => 'app', password => 'app_pw', database => 'app');
	ok($r->{ok}, "$auth: login after the byte-wise SSLRequest");
	is($c->query_value('SELECT 5'), '5', "$auth: query after it");
	$c->terminate;

	# the startup packet and more bytes in the same write: the extra bytes
	# are the next message, read after the auth request (PostgreSQL does this)
	if ($auth eq 'md5') {
		$c = SluiceTest::Proto->connect(port => $sl->port);
		$c->send(startup_packet({ user => 'app', database => 'app' }) . ssl_request());
		my ($type) = $c->read_msg(10);
		ok(defined $type && ($type eq 'R' || $type eq 'E'),
		   "$auth: startup packet with trailing bytes in the same write is answered, not hung");
		$c->close;
	}
}

done_testing();
