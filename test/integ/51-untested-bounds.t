# One test per bound that sluice keeps but no test checked (issue 14, item
# 15). Each sends just over the bound and, where cheap, just at it (which
# must still work), and checks what happens there:
#
#   1. client sockets: max_client_conn + max_login_clients + 64
#      (CLIENT_HARD_CAP_EXTRA, src/client.c). At cap - 1 a newcomer is
#      accepted and told why (53300); at the cap it is closed at accept
#      without a byte. Reached by lowering both limits with a reload under
#      69 logged-in clients, plus one socket sitting in a login slot; the
#      count is read from the metrics (sluice_client_connections).
#   2. startup parameters: 64, and 64 `_pq_.` options (PQ_STARTUP_MAX_PARAMS,
#      include/proto.h): the 65th of either is FATAL 08P01 "too many
#      parameters in startup packet".
#   3. SSLRequest / GSSENCRequest: each kind is answered once; a third
#      request, or the same kind twice, is FATAL 08P01, as in PostgreSQL.
#   4. one message during authentication: a length field of 8,192
#      (CLIENT_AUTH_MSG_MAX, src/client.c): 8,193 is FATAL 08P01 "invalid
#      message length during authentication".
#   5. input buffered for a client waiting for a server (CL_WAITING):
#      CONN_HIGH_WATER, 256 KiB. 32 MiB of queries sent while another
#      client's transaction holds the pool's one server leave sluice's RSS
#      flat (VmRSS); the queries then run, each with the right answer.
#   6. one message to the admin console: a length field of 64 KiB
#      (ADMIN_MSG_MAX, src/admin.c); one more is FATAL 08P01. At the bound
#      the message is read and refused with ERROR 54000 (a command is at
#      most 4,095 bytes), and the console goes on.
#   7. what a server sends (through SluiceTest::FakePg): a ParameterStatus
#      name over 63 bytes, or ParameterStatus over 16 KiB in all, during
#      login: 54000; a message sluice reads whole (ErrorResponse,
#      ParameterStatus) over 1 MiB while relaying (SERVER_CONTROL_MSG_MAX,
#      src/server.c): the server is closed, its client gets 08006 (FATAL
#      in session pooling; in transaction pooling an ERROR, and the client
#      goes on with a new server), others go on.
#   8. max_prepared_statements (prepared.c, make_room): with 3 and one
#      server, five named statements used in turn and again as 3,1,5,2,4
#      give the right rows, and after each step the server holds exactly
#      sluice's statements for the 3 used last.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Digest::MD5 qw(md5_hex);
use HTTP::Tiny;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use SluiceTest qw(slurp wait_for free_port);
use SluiceTest::FakePg qw(ready row_description data_row command_complete error_response param_status msg);
use SluiceTest::Proto qw(startup_packet ssl_request gssenc_request parse_error error_text);

my $ASAN = ($ENV{SLUICE_BIN} // '') =~ m{/asan/};

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $app = $pg->connstr('app', user => 'app', password => 'app_pw');

# ---- fake servers (bound 7) ----

# The first connection's greeting breaks a bound by one byte; later ones
# are exactly at it.
my $NAME_AT = 'n' x 63;
my $longname = SluiceTest::FakePg->new(greeting => sub {
	my ($conn) = @_;
	return param_status($conn->{n} == 1 ? 'n' x 64 : $NAME_AT, 'v');
});

# ParameterStatus names and values in all: the defaults, then fill_NN
# values of at most 1000 bytes up to 16 KiB (+1 on the first connection)
my $TOTAL_MAX = 16 * 1024;
my $default_bytes = 0;
$default_bytes += length($_->[0]) + length($_->[1]) for @SluiceTest::FakePg::DEFAULT_PARAMS;
sub fill_params
{
	my ($total) = @_;
	my ($out, $left, $i) = ('', $total - $default_bytes, 0);
	while ($left > 0) {
		my $name = sprintf('fill_%02d', ++$i);
		my $vlen = $left - length($name) > 1000 ? 1000 : $left - length($name);
		$out .= param_status($name, 'f' x $vlen);
		$left -= length($name) + $vlen;
	}
	return $out;
}
my $psbytes = SluiceTest::FakePg->new(greeting => sub {
	my ($conn) = @_;
	return fill_params($conn->{n} == 1 ? $TOTAL_MAX + 1 : $TOTAL_MAX);
});

# Messages of a given length field (type byte not counted), as sluice
# frames them: an ErrorResponse and a ParameterStatus.
my $CONTROL_MAX = 1024 * 1024;
sub error_of_len
{
	my ($len) = @_;
	my $fixed = length(error_response('ERROR', 'XX000', '')) - 1;   # type byte
	return error_response('ERROR', 'XX000', 'e' x ($len - $fixed));
}
sub param_of_len
{
	my ($len) = @_;
	my $fixed = length(param_status('big_param', '')) - 1;
	return param_status('big_param', 'p' x ($len - $fixed));
}
my $bigmsg = SluiceTest::FakePg->new(query => sub {
	my ($sql, $conn) = @_;
	return error_of_len($CONTROL_MAX) . ready($conn->{status}) if $sql eq 'SELECT error_at_bound';
	return error_of_len($CONTROL_MAX + 1) . ready($conn->{status}) if $sql eq 'SELECT error_over_bound';
	return param_of_len($CONTROL_MAX + 1) . row_description('x') . data_row('x') . command_complete('SELECT 1')
	    . ready($conn->{status}) if $sql eq 'SELECT param_over_bound';
	return undef;
});

# ---- the sluice most bounds are tried on ----

my $LONG_PW = 'p' x 8187;   # its PasswordMessage has a length field of 8192
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => {
		app        => $app,
		one        => "$app pool_size=1",
		longname   => $longname->connstr('longname'),
		psbytes    => $psbytes->connstr('psbytes'),
		bigmsg     => $bigmsg->connstr('bigmsg', pool_mode => 'session'),
		bigmsg_tx  => $bigmsg->connstr('bigmsg_tx', pool_mode => 'transaction'),
	},
	users => { app => 'app_pw', admin => 'admin_pw', longpw => $LONG_PW },
	default_user => 'app',
	settings => { auth_type => 'plain', pool_mode => 'transaction', admin_users => 'admin',
		      max_prepared_statements => 3, query_wait_timeout => 30, server_login_retry => 1 },
);
# each bound below refuses its client, or the fake server past its bound;
# lines of clients not logged in are rate-limited, so some may be left out
$sl->expect_log(
	qr/\(nodb\)\/\(nouser\)\S+ pooler error: too many parameters in startup packet \(sqlstate=08P01\)/,
	qr/\(nodb\)\/\(nouser\)\S+ pooler error: unsupported frontend protocol 1234\.(?:5679|5680): server supports 3\.0 to 3\.0 \(sqlstate=08P01\)/,
	qr/ \S+\/(?:app|longpw)\S+ pooler error: invalid message length during authentication \(sqlstate=08P01\)/,
	qr/ sluice\/admin\S+ pooler error: invalid message length \(sqlstate=08P01\)/,
	qr/ sluice\/admin\S+ pooler error: console command too long: \d+ bytes, at most 4095 \(sqlstate=54000\)/,
	qr/ S-\d+ longname\/app\S+ login failed: server sent a ParameterStatus name of 64 bytes while logging in \(at most 63\)$/,
	qr/ C-\d+ longname\/app\S+ pooler error: server sent a ParameterStatus name of 64 bytes while logging in \(at most 63\) \(sqlstate=54000\)/,
	qr/ S-\d+ psbytes\/app\S+ login failed: server sent more than 16384 bytes of ParameterStatus while logging in$/,
	qr/ C-\d+ psbytes\/app\S+ pooler error: server sent more than 16384 bytes of ParameterStatus while logging in \(sqlstate=54000\)/,
	qr/ bigmsg(?:_tx)?\/app\S+ pooler error: server closed the connection unexpectedly \(sqlstate=08006\)/);
my $pid = $sl->pid;

sub rss_kb { return (slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+)/m)[0] // 0 }

sub connect_raw { return SluiceTest::Proto->connect(port => $_[0] // $sl->port, timeout => 15) }

sub login
{
	my (%o) = @_;
	my $c = connect_raw();
	my $r = $c->login(user => $o{user} // 'app', password => $o{password} // 'app_pw',
			  database => $o{db} // 'app', params => $o{params}, startup => $o{startup});
	return ($c, $r);
}

# The next message should be a FATAL ErrorResponse and then the end:
# (its fields, whether the connection then closed).
sub fatal_and_close
{
	my ($c) = @_;
	my ($type, $body) = $c->read_msg(10);
	my $e = defined $type && $type eq 'E' ? parse_error($body) : { M => 'no ErrorResponse: ' . ($type // 'none') };
	my ($eof) = $c->wait_eof(10);
	return ($e, $eof);
}

# sluice still answers: its console, and a client of the real PostgreSQL
sub still_serving
{
	my ($what) = @_;
	my ($out, $err, $rc) = $sl->psql('SHOW VERSION', db => 'sluice', user => 'admin', password => 'admin_pw',
					 timeout => 10);
	ok($rc == 0 && $out =~ /sluice/i, "$what: the console still answers") or diag("rc $rc: $err");
	my ($c, $r) = login();
	is($r->{ok} ? $c->query_value('SELECT 1') : error_text($r->{error}), '1', "$what: another client is still served");
	$c->terminate;
}

# ---------------------------------------------------------------------------
note('1. client sockets: at most max_client_conn + max_login_clients + 64');
{
	my ($MAXC, $MAXL, $EXTRA) = (4, 2, 64);
	my $CAP = $MAXC + $MAXL + $EXTRA;
	my $mport = free_port();
	my %settings = (auth_type => 'plain', pool_mode => 'transaction', default_pool_size => 2,
			metrics_listen => "127.0.0.1:$mport", max_client_conn => 100, max_login_clients => 1000);
	my $capped = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $app }, users => { app => 'app_pw' },
		default_user => 'app', settings => { %settings });
	$capped->expect_log(qr/ app\/app\S+ pooler error: sorry, too many clients already \(sqlstate=53300\)/,
			    qr/ WARNING refusing connection: \d+ sockets open, far past max_client_conn \+ max_login_clients$/);
	my $http = HTTP::Tiny->new(timeout => 5);
	my $sockets = sub {
		my $res = $http->get("http://127.0.0.1:$mport/metrics");
		return $res->{content} =~ /^sluice_client_connections (\d+)$/m ? $1 : -1;
	};
	my $newcomer = sub {   # (closed, bytes before the close, "SQLSTATE message")
		my $n = connect_raw($capped->port);
		$n->send(startup_packet({ user => 'app', database => 'app' }));
		my ($eof, $data) = $n->wait_eof(10);
		my ($len) = length($data) >= 5 ? unpack('xN', $data) : (0);
		my $e = length($data) && substr($data, 0, 1) eq 'E' ? parse_error(substr($data, 5, $len - 4)) : {};
		return ($eof, length $data, join(' ', $e->{C} // '', $e->{M} // ''));
	};

	my @in;
	for (1 .. $CAP - 1) {
		my $c = connect_raw($capped->port);
		my $r = $c->login(user => 'app', password => 'app_pw', database => 'app');
		last unless $r->{ok};
		push @in, $c;
	}
	is(scalar @in, $CAP - 1, sprintf('%d clients log in under max_client_conn = 100', $CAP - 1));
	$capped->{settings}{max_client_conn} = $MAXC;
	$capped->{settings}{max_login_clients} = $MAXL;
	$capped->reload;
	ok(wait_for(sub { $capped->log_contents =~ /configuration reloaded/ }, timeout => 10),
	   "reloaded with max_client_conn = $MAXC, max_login_clients = $MAXL: a cap of $CAP sockets");
	is($sockets->(), $CAP - 1, sprintf('%d sockets open (metrics)', $CAP - 1));

	my ($eof, $len, $code) = $newcomer->();
	is($code, '53300 sorry, too many clients already',
	   sprintf('with %d sockets open a newcomer is accepted and told why (53300)', $CAP - 1));
	ok($eof, '... and closed');

	my $sitter = connect_raw($capped->port);
	$sitter->send("\0");   # the first byte of a startup packet: it holds a login slot
	ok(wait_for(sub { $sockets->() == $CAP }, timeout => 10), "a socket that sits logging in: $CAP sockets open");
	# lines about peers not logged in are limited per address and second
	# (doc/security.md): let this address's budget refill
	select(undef, undef, undef, 1.2);
	($eof, $len, $code) = $newcomer->();
	ok($eof && $len == 0, "with $CAP sockets open a newcomer is closed at accept, without a byte")
	    or diag("closed $eof, $len bytes, $code");
	ok(wait_for(sub { $capped->log_contents =~ /refusing connection: $CAP sockets open/ }, timeout => 5),
	   '... and the log says why');
	is($in[0]->query_value('SELECT 1') . $in[-1]->query_value('SELECT 2'), '12', '... the clients in are still served');
	$sitter->close;
	ok(wait_for(sub { $sockets->() == $CAP - 1 }, timeout => 10), 'the sitter gone: one socket fewer');
	($eof, $len, $code) = $newcomer->();
	is($code, '53300 sorry, too many clients already', '... and a newcomer is accepted and told why again');
	$_->terminate for splice(@in, 1);
	my ($c2, $r2);
	ok(wait_for(sub {
		$c2 = connect_raw($capped->port);
		$r2 = $c2->login(user => 'app', password => 'app_pw', database => 'app');
		return $r2->{ok};
	}, timeout => 10), 'the clients gone: a newcomer logs in') or diag(error_text($r2->{error}));
	is($c2->query_value('SELECT 1'), '1', '... and is served');
	$c2->terminate;
	$in[0]->terminate;
}

# ---------------------------------------------------------------------------
note('2. at most 64 startup parameters, and 64 _pq_ options');
{
	my @at = map { ('application_name', "p$_") } 1 .. 64;
	my @opts = map { ("_pq_.opt$_", 'x') } 1 .. 64;
	my ($c, $r) = login(startup => startup_packet([ user => 'app', database => 'app', @at, @opts ]));
	ok($r->{ok}, '64 startup parameters and 64 _pq_ options: the client logs in') or diag(error_text($r->{error}));
	is($r->{ok} && $c->query_value('SHOW application_name'), 'p64', '64 startup parameters: all read (the last one wins)');
	is($r->{negotiate}{count} // -1, 64, '64 _pq_ options: NegotiateProtocolVersion names all 64');
	$c->terminate if $r->{ok};

	($c, $r) = login(startup => startup_packet([ user => 'app', database => 'app', @at, application_name => 'p65' ]));
	is($r->{error}{C} // '', '08P01', '65 startup parameters: FATAL 08P01') or diag(error_text($r->{error}));
	is($r->{error}{M} // '', 'too many parameters in startup packet', '65 startup parameters: the message says why');
	ok(($c->wait_eof(10))[0], '65 startup parameters: the connection is closed');

	($c, $r) = login(startup => startup_packet([ user => 'app', database => 'app', @opts, '_pq_.opt65' => 'x' ]));
	is($r->{error}{C} // '', '08P01', '65 _pq_ options: FATAL 08P01') or diag(error_text($r->{error}));
	is($r->{error}{M} // '', 'too many parameters in startup packet', '65 _pq_ options: the message says why');
	ok(($c->wait_eof(10))[0], '65 _pq_ options: the connection is closed');
	still_serving('startup parameters');
}

# ---------------------------------------------------------------------------
note('3. two SSLRequest/GSSENCRequest are answered, a third is refused');
{
	my $c = connect_raw();
	$c->send(ssl_request());
	is($c->read_bytes(1, 10), 'N', 'SSLRequest: N');
	$c->send(gssenc_request());
	is($c->read_bytes(1, 10), 'N', 'then GSSENCRequest: N');
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'app');
	ok($r->{ok} && ($c->query_value('SELECT 1') // '') eq '1', 'after two requests the startup logs in')
	    or diag(error_text($r->{error}));
	$c->terminate;

	for my $third ([ 'SSLRequest', ssl_request(), '1234.5679' ], [ 'GSSENCRequest', gssenc_request(), '1234.5680' ]) {
		$c = connect_raw();
		$c->send(ssl_request() . gssenc_request());
		is($c->read_bytes(2, 10), 'NN', "a third request ($third->[0]): the first two answered N");
		$c->send($third->[1]);
		my ($e, $eof) = fatal_and_close($c);
		is($e->{C} // '', '08P01', "a third request ($third->[0]): FATAL 08P01") or diag(error_text($e));
		is($e->{S} // '', 'FATAL', "a third request ($third->[0]): severity FATAL");
		like($e->{M} // '', qr/^unsupported frontend protocol \Q$third->[2]\E:/,
		     "a third request ($third->[0]): refused as PostgreSQL refuses it");
		ok($eof, "a third request ($third->[0]): the connection is closed");
	}
	# PostgreSQL answers each kind once: it refuses a second SSLRequest
	# with 08P01, and so does sluice (it counted any two requests before).
	for my $kind ([ 'SSLRequest', ssl_request() ], [ 'GSSENCRequest', gssenc_request() ]) {
		$c = connect_raw();
		$c->send($kind->[1]);
		my $first = $c->read_bytes(1, 10) // 'none';
		$c->send($kind->[1]);
		my $second = $c->read_bytes(1, 10) // 'none';
		if ($second eq 'E') {
			$c->{buf} = "E$c->{buf}";
			my (undef, $body) = $c->read_msg(10);
			$second .= ' ' . (parse_error($body)->{C} // '');
		}
		is("$first $second", 'N E 08P01', "the same request twice ($kind->[0]): the second is FATAL 08P01, as in PostgreSQL");
	}
	still_serving('a third SSLRequest');
}

# ---------------------------------------------------------------------------
note('4. one message during authentication: at most 8,192 bytes');
{
	my ($c, $r) = login(user => 'longpw', password => $LONG_PW);
	ok($r->{ok} && ($c->query_value('SELECT 1') // '') eq '1',
	   'a password message of 8,192 bytes (length field): the client logs in') or diag(error_text($r->{error}));
	$c->terminate if $r->{ok};

	($c, $r) = login(user => 'longpw', password => $LONG_PW . 'p');
	is($r->{error}{C} // '', '08P01', 'a password message of 8,193 bytes: FATAL 08P01') or diag(error_text($r->{error}));
	is($r->{error}{M} // '', 'invalid message length during authentication',
	   'a password message of 8,193 bytes: the message says why');
	ok(($c->wait_eof(10))[0], 'a password message of 8,193 bytes: the connection is closed');
	still_serving('a long password message');
}

# ---------------------------------------------------------------------------
note('5. input of a client waiting for a server stops at 256 KiB');
{
	my $N = 32;                       # queries of 1 MiB each
	my ($busy, $rb) = login(db => 'one');
	my ($c, $r) = login(db => 'one');
	ok($rb->{ok} && $r->{ok}, 'waiting: two clients of a pool of one server log in');
	# an open transaction keeps the pool's one server until COMMIT
	is($busy->query('BEGIN')->{status}, 'T', "waiting: a transaction holds the pool's one server");
	my @bodies = map { sprintf('%02d', $_) . (chr(ord('a') + $_ % 26) x (1024 * 1024 - 2)) } 1 .. $N;
	my $payload = join('', map { msg('Q', "SELECT md5('$_')\0") } @bodies);
	my $rss0 = rss_kb();
	my $t0 = time();
	my $writer = fork() // die "fork: $!";
	if ($writer == 0) {
		alarm(60);
		$c->send($payload);
		POSIX::_exit(0);
	}
	# deliberate: two samples of sluice's memory while the writer is blocked
	sleep(0.5);
	my $rss1 = rss_kb();
	sleep(0.5);
	my $rss2 = rss_kb();
	my $in_kernel = '';
	my ($lport) = $c->sock->sockport;
	my $ss = `ss -tnH state established '( sport = :${\ $sl->port} and dport = :$lport )' 2>/dev/null`;
	$in_kernel = $1 if $ss =~ /^\s*(\d+)/;
	my $waited = time() - $t0;
	my $clients = $sl->safe_psql('SHOW CLIENTS', db => 'sluice', user => 'admin', password => 'admin_pw', raw => 1,
				     args => [ '-A', '-F', '|' ]);
	my ($hdr, @rows) = split /\n/, $clients;
	my @cols = split /\|/, $hdr;
	my ($mine) = grep { $_->{port} && $_->{port} == $lport } map { my @v = split /\|/; +{ map { ($cols[$_] => $v[$_]) } 0 .. $#cols } } @rows;
	is($mine && $mine->{state}, 'waiting', 'waiting: the client is shown waiting for a server while measured');
	my $allow = $ASAN ? 8192 : 2048;
	note(sprintf('waiting: %d MiB sent; after %.1f s sluice RSS %d -> %d -> %d kB; '
		     . 'left unread by sluice in the kernel: %s bytes', $N, $waited, $rss0, $rss1, $rss2, $in_kernel));
	cmp_ok($rss2 - $rss0, '<', $allow, "waiting: sluice RSS grew less than $allow kB while $N MiB waited");
	is($busy->query('COMMIT')->{status}, 'I', 'waiting: the transaction ends, the server is free');
	my $ok = 0;
	for my $i (0 .. $N - 1) {
		my $res = $c->read_results(60);
		last if $res->{lost} || @{ $res->{errors} };
		$ok++ if ($res->{rows}[0][0] // '') eq md5_hex($bodies[$i]);
	}
	is($ok, $N, "waiting: then all $N queries run, each md5 right");
	waitpid($writer, 0);
	is($c->query_value('SELECT 1'), '1', 'waiting: the client goes on');
	note(sprintf('waiting: sluice RSS after the queries ran: %d kB', rss_kb()));
	$busy->terminate;
	$c->terminate;
}

# ---------------------------------------------------------------------------
note('6. one message to the console: at most 64 KiB');
{
	my $ADMIN_MAX = 64 * 1024;
	my $con = sub { $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'sluice') };
	my $c = $con->();
	# a command of 4,095 bytes (ADMIN_CMD_MAX - 1) runs; longer ones are
	# read whole up to the message bound and refused with an ERROR
	my $cmd = 'SHOW VERSION';
	my $q = $c->query($cmd . (' ' x (4095 - length $cmd)));
	ok(!@{ $q->{errors} } && ($q->{rows}[0][0] // '') =~ /sluice/i, 'a console command of 4,095 bytes runs')
	    or diag(explain($q->{errors}));
	$q = $c->query($cmd . (' ' x (4096 - length $cmd)));
	is($q->{errors}[0]{C} // '', '54000', 'a console command of 4,096 bytes: ERROR 54000');
	# a length field of exactly 64 KiB
	$q = $c->query($cmd . (' ' x ($ADMIN_MAX - 4 - length($cmd) - 1)));
	is(join(' ', $q->{errors}[0]{S} // '', $q->{errors}[0]{C} // '', $q->{status} // 'lost'), 'ERROR 54000 I',
	   'a console Query of 64 KiB (length field): read whole, answered with ERROR 54000 (command too long)')
	    or diag(explain($q));
	like($c->query_value('SHOW VERSION') // '', qr/sluice/i, 'a console Query of 64 KiB: the console goes on');
	$c->send(msg('Q', ('x' x ($ADMIN_MAX - 4)) . "\0"));   # length field 64 KiB + 1
	my ($e, $eof) = fatal_and_close($c);
	is($e->{C} // '', '08P01', 'a console Query of 64 KiB + 1: FATAL 08P01') or diag(error_text($e));
	is($e->{M} // '', 'invalid message length', 'a console Query of 64 KiB + 1: the message says why');
	ok($eof, 'a console Query of 64 KiB + 1: the connection is closed');
	still_serving('a long console message');
}

# ---------------------------------------------------------------------------
note('7. what a server sends: ParameterStatus at login, control messages while relaying');
{
	my ($c, $r) = login(db => 'longname');
	is($r->{error}{C} // '', '54000', 'a ParameterStatus name of 64 bytes at login: 54000') or diag(error_text($r->{error}));
	like($r->{error}{M} // '', qr/ParameterStatus name of 64 bytes .*at most 63/, '... the message says why');
	($c, $r) = login(db => 'longname');
	ok($r->{ok} && exists $r->{params}{$NAME_AT}, 'a ParameterStatus name of 63 bytes: the login works, the client gets it')
	    or diag(error_text($r->{error}));
	$c->terminate if $r->{ok};

	($c, $r) = login(db => 'psbytes');
	is($r->{error}{C} // '', '54000', 'ParameterStatus of 16 KiB + 1 in all at login: 54000')
	    or diag(error_text($r->{error}));
	like($r->{error}{M} // '', qr/more than 16384 bytes of ParameterStatus/, '... the message says why');
	($c, $r) = login(db => 'psbytes');
	my $got = 0;
	$got += length($_) + length($r->{params}{$_}) for keys %{ $r->{params} // {} };
	ok($r->{ok}, 'ParameterStatus of exactly 16 KiB in all: the login works') or diag(error_text($r->{error}));
	is($got, $TOTAL_MAX, 'ParameterStatus of exactly 16 KiB in all: the client gets all of it');
	$c->terminate if $r->{ok};
	still_serving('a long greeting');

	# while relaying, session pooling: ErrorResponse of 1 MiB, then 1 MiB + 1
	my ($other, $ro) = login(db => 'bigmsg');
	($c, $r) = login(db => 'bigmsg');
	ok($r->{ok} && $ro->{ok}, 'bigmsg: two clients log in (session pooling)');
	my $q = $c->query('SELECT error_at_bound', timeout => 20);
	ok(!$q->{lost} && length($q->{errors}[0]{M} // '') > 1_000_000 && $q->{status} eq 'I',
	   'an ErrorResponse of 1 MiB (length field): relayed whole, then ReadyForQuery') or diag($q->{lost});
	is($c->query_value('SELECT 1'), '1', 'an ErrorResponse of 1 MiB: the session goes on');
	my $before = $bigmsg->connections;
	$q = $c->query('SELECT error_over_bound', timeout => 20);
	is($q->{errors}[0]{C} // '', '08006', 'an ErrorResponse of 1 MiB + 1: its client gets 08006')
	    or diag(explain($q->{errors}));
	is($q->{errors}[0]{S} // '', 'FATAL', 'an ErrorResponse of 1 MiB + 1 (session pooling): FATAL');
	ok(($c->wait_eof(10))[0], 'an ErrorResponse of 1 MiB + 1 (session pooling): the client is closed');
	ok(wait_for(sub { $sl->log_contents =~ /lost: invalid message from server/ }, timeout => 10),
	   'an ErrorResponse of 1 MiB + 1: the server is closed as broken (log)');
	is($other->query_value('SELECT 1'), '1', 'an ErrorResponse of 1 MiB + 1: the other client of that database goes on');
	$other->terminate;

	# transaction pooling: ParameterStatus of 1 MiB + 1; the client stays
	($c, $r) = login(db => 'bigmsg_tx');
	ok($r->{ok}, 'bigmsg_tx: the client logs in (transaction pooling)');
	$q = $c->query('SELECT param_over_bound', timeout => 20);
	is($q->{errors}[0]{C} // '', '08006', 'a ParameterStatus of 1 MiB + 1 while relaying: its client gets 08006')
	    or diag(explain($q->{errors}));
	ok(!@{ $q->{rows} }, '... and no row of that query');
	is($c->query_value('SELECT 1'), '1',
	   'a ParameterStatus of 1 MiB + 1 (transaction pooling): the client stays, its next query gets a new server');
	cmp_ok($bigmsg->connections, '>', $before, '... (the fake server saw a new connection)');
	$c->terminate;
	still_serving('1 MiB + 1 from a server');
}

# ---------------------------------------------------------------------------
note('8. max_prepared_statements = 3: least recently used closed');
{
	my ($c, $r) = login(db => 'one');
	ok($r->{ok}, 'statements: the client logs in');
	my $text = sub { "SELECT 'stmt$_[0]'::text AS s" };
	my $run = sub {
		my ($i, $parse) = @_;
		my $out = $parse ? msg('P', "s$i\0" . $text->($i) . "\0" . pack('n', 0)) : '';
		$out .= msg('B', "\0s$i\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S');
		$c->send($out);
		my $res = $c->read_results(10);
		return $res->{lost} ? "lost: $res->{lost}" : @{ $res->{errors} } ? "error: $res->{errors}[0]{C}"
		    : $res->{rows}[0][0] // 'no row';
	};
	my $on_server = sub {
		# (sluice_rows is sluice's own, on every server: prepared.h)
		my $res = $c->query(q{SELECT statement FROM pg_prepared_statements WHERE name LIKE 'sluice\_%'
				       AND name <> 'sluice_rows'});
		return join(',', sort map { $_->[0] =~ /stmt(\d+)/ ? $1 : '?' } @{ $res->{rows} });
	};
	my @lru;   # most recently used first
	my $use = sub { my ($i) = @_; @lru = ($i, grep { $_ != $i } @lru); splice(@lru, 3) if @lru > 3 };
	my ($right, $held, $most) = (1, 1, 0);
	for my $step ((map { [ $_, 1 ] } 1 .. 5), (map { [ $_, 0 ] } 3, 1, 5, 2, 4)) {
		my ($i, $parse) = @$step;
		my $got = $run->($i, $parse);
		$use->($i);
		$right &&= $got eq "stmt$i" or diag("statement $i: $got");
		my $have = $on_server->();
		my $n = () = $have =~ /\d+/g;
		$most = $n if $n > $most;
		$held &&= $have eq join(',', sort @lru) or diag("after statement $i: server has [$have], want [@lru]");
	}
	ok($right, 'five statements, then again as 3,1,5,2,4: every result is right');
	ok($held, 'the server holds exactly the 3 most recently used after each step');
	cmp_ok($most, '<=', 3, "the server never held more than 3 of sluice's statements (most: $most)");
	$c->terminate;
}

done_testing();
