# Hostile and malformed input on raw sockets: garbage, truncated and
# oversized packets, bad lengths, old and future protocol versions,
# SSLRequest/GSSENCRequest. Each bad connection must be answered the way
# PostgreSQL answers it (or just closed) promptly, and a healthy client,
# held open throughout, and a new client must keep working after each one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;
use SluiceTest::Proto qw(startup_packet ssl_request gssenc_request msg parse_error);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app') },
	users => { app => 'app_pw' },
	settings => { default_pool_size => 5, client_login_timeout => 60 },
);
# the bad startup packets and bad message lengths below (lines of clients
# not logged in are rate-limited: which are written depends on timing);
# PostgreSQL itself answers the unknown message type with a FATAL and
# closes
$sl->expect_log(qr/\(nodb\)\/\(nouser\)\S+ pooler error: invalid length of startup packet \(sqlstate=08P01\)/,
		qr/\(nodb\)\/\(nouser\)\S+ pooler error: invalid startup packet layout: expected terminator as last byte \(sqlstate=08P01\)/,
		qr/\(nodb\)\/\(nouser\)\S+ pooler error: no PostgreSQL user name specified in startup packet \(sqlstate=28000\)/,
		qr/\(nodb\)\/\(nouser\)\S+ pooler error: unsupported frontend protocol [24]\.0: server supports 3\.0 to 3\.0 \(sqlstate=0A000\)/,
		qr/ app\/app\S+ pooler error: invalid message length \(sqlstate=08P01\)/,
		qr/ app\/app\S+ pooler error: server closed the connection unexpectedly \(sqlstate=08006\)/);

my $held = $sl->proto;
my $round = 0;

# The held client and a brand-new client both work.
sub healthy
{
	my ($after) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	$round++;
	is($held->query_value("SELECT $round"), $round, "after $after: the held client still works");
	my $ok = eval {
		my $c = $sl->proto;
		my $v = $c->query_value('SELECT 2 + 2');
		$c->terminate;
		$v eq '4';
	};
	ok($ok, "after $after: a new client logs in and queries") or diag($@);
}

# Send bytes on a fresh connection, optionally close at once; otherwise read
# until sluice closes. Returns (closed?, bytes received).
sub raw
{
	my ($bytes, %o) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	$c->send($bytes);
	if ($o{close}) {
		$c->close;
		return;
	}
	return $c->wait_eof($o{timeout} // 10);
}

# An ErrorResponse (v3 framing) at the start of $data, or undef.
sub first_error
{
	my ($data) = @_;
	return undef unless length($data) >= 5 && substr($data, 0, 1) eq 'E';
	my $len = unpack('N', substr($data, 1, 4));
	return undef if $len < 4 || length($data) < 1 + $len;
	return parse_error(substr($data, 5, $len - 4));
}

healthy('start');

# --- garbage
{
	srand(20240611);
	my $junk = chr(0x80 + int rand 0x7f) . join('', map { chr int rand 256 } 1 .. 4000);
	my ($eof) = raw($junk);
	ok($eof, 'random bytes: connection closed');
	healthy('random bytes');

	($eof) = raw("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ok($eof, 'an HTTP request: connection closed');
	healthy('an HTTP request');
}

# --- truncated startup packet, then the client goes away
raw(pack('N', 60) . pack('N', 196608) . "user\0ap", close => 1);
raw(pack('N', 60), close => 1);
raw('', close => 1);
healthy('truncated startup packets and silent connections closed by the client');

# --- bad startup lengths
{
	my ($eof, $data) = raw(pack('N', 100000) . pack('N', 196608) . "user\0app\0database\0app\0\0");
	ok($eof, 'startup length 100000 (> 10000): connection closed without waiting for the rest');
	ok($data eq '' || substr($data, 0, 1) eq 'E', 'startup length 100000: nothing or an ErrorResponse sent');
	healthy('an oversized startup packet');

	for my $len (0, 3, 7) {
		($eof, $data) = raw(pack('N', $len) . 'abcdefgh');
		ok($eof, "startup length $len: connection closed");
		ok($data eq '' || substr($data, 0, 1) eq 'E', "startup length $len: nothing or an ErrorResponse sent");
	}
	healthy('startup lengths under 8');

	# a parameter without its terminating NUL
	my $body = pack('N', 196608) . "user\0app";
	($eof, $data) = raw(pack('N', 4 + length $body) . $body);
	ok($eof, 'startup packet without the final terminator: connection closed');
	my $e = first_error($data);
	ok(!length($data) || ($e && $e->{C} eq '08P01'), 'startup packet without terminator: nothing or 08P01');
	healthy('a malformed startup packet');
}

# --- no user name
{
	my ($eof, $data) = raw(startup_packet({ database => 'app' }));
	my $e = first_error($data);
	is($e && $e->{C}, '28000', 'startup without a user: ErrorResponse 28000');
	is($e && $e->{M}, 'no PostgreSQL user name specified in startup packet', 'startup without a user: PostgreSQL\'s message');
	ok($eof, 'startup without a user: connection closed');
	healthy('a startup packet without a user');
}

# --- protocol 2.0: refused with an error (PostgreSQL sends it in the old
# v2 format: 'E', then "FATAL:  unsupported frontend protocol 2.0: ..." and a NUL)
{
	my ($eof, $data) = raw(startup_packet({ user => 'app', database => 'app' }, 2 << 16));
	is(substr($data, 0, 1), 'E', 'protocol 2.0 startup: answered with an ErrorResponse');
	like($data, qr/unsupported frontend protocol 2\.0/, 'protocol 2.0 startup: "unsupported frontend protocol 2.0"');
	ok($eof, 'protocol 2.0 startup: connection closed');
	healthy('a protocol 2.0 startup');

	($eof, $data) = raw(startup_packet({ user => 'app', database => 'app' }, (4 << 16) + 0));
	is(substr($data, 0, 1), 'E', 'protocol 4.0 startup: answered with an ErrorResponse');
	ok($eof, 'protocol 4.0 startup: connection closed');
	healthy('a protocol 4.0 startup');
}

# --- protocol 3.99 with a _pq_ option: NegotiateProtocolVersion, then normal auth
{
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'app',
			  version => (3 << 16) + 99, params => { '_pq_.foo' => 'bar' });
	ok($r->{negotiate}, 'protocol 3.99: NegotiateProtocolVersion received');
	is($r->{negotiate}{minor}, 3 << 16, 'NegotiateProtocolVersion offers 3.0 (the value PostgreSQL sends)');
	is_deeply($r->{negotiate}{options}, ['_pq_.foo'], 'NegotiateProtocolVersion lists the unrecognized _pq_.foo');
	ok($r->{ok}, 'protocol 3.99: then normal authentication and login')
	    or diag(SluiceTest::Proto::error_text($r->{error}));
	is($c->query_value('SELECT 399'), '399', 'protocol 3.99 client: queries work');
	$c->terminate;
	healthy('a protocol 3.99 startup');
}

# --- SSLRequest and GSSENCRequest are declined with 'N'; the startup then works
for my $req ([ 'SSLRequest', ssl_request() ], [ 'GSSENCRequest', gssenc_request() ]) {
	my ($name, $bytes) = @$req;
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	$c->send($bytes);
	is($c->read_bytes(1, 10), 'N', "$name answered 'N'");
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'app');
	ok($r->{ok}, "$name, then a normal startup logs in") or diag(SluiceTest::Proto::error_text($r->{error}));
	is($c->query_value('SELECT 1'), '1', "$name, then queries work");
	$c->terminate;
	healthy("a declined $name");
}

# --- after login: bad message lengths, an unknown message type
{
	my @cases = (
		[ 'a Query with length 0x7fffffff', 'Q' . pack('N', 0x7fffffff) . 'SELECT 1' ],
		[ 'a message with length 2 (< 4)', 'Q' . pack('N', 2) ],
	);
	for my $case (@cases) {
		my ($what, $bytes) = @$case;
		my $c = $sl->proto;
		$c->send($bytes);
		my ($eof, $data) = $c->wait_eof(10);
		ok($eof, "$what: connection closed promptly");
		ok($data eq '' || substr($data, 0, 1) eq 'E', "$what: nothing or an ErrorResponse sent");
		healthy($what);
	}

	my $c = $sl->proto;
	$c->send(msg('y', 'abc'));
	my ($eof, $data) = $c->wait_eof(10);
	my $e = first_error($data);
	is($e && $e->{C}, '08P01', 'an unknown message type: ErrorResponse 08P01 (as PostgreSQL)');
	ok($eof, 'an unknown message type: connection closed');
	my @types;
	for (my $at = 0; $at + 5 <= length $data;) {
		my ($t, $len) = unpack('a N', substr($data, $at, 5));
		push @types, $t;
		$at += 1 + $len;
	}
	is(join('', @types), 'E', 'an unknown message type: that one FATAL and nothing after it (as PostgreSQL)');
	healthy('an unknown message type');
}

# --- many connections opened and dropped at once
{
	my @socks = map { SluiceTest::Proto->connect(port => $sl->port) } 1 .. 50;
	$_->send(pack('N', 8)) for @socks[0 .. 24];
	$_->close for @socks;
	healthy('50 connections dropped at once');
}

ok($sl->alive, 'sluice is still running');
$held->terminate;

done_testing();
