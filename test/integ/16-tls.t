# TLS on both sides of sluice, with throwaway certificates from
# SluiceTest::TLS: clients with every libpq sslmode, the plaintext refusal
# of client_tls_sslmode = require, unencrypted bytes injected behind an
# SSLRequest, stalled handshakes under client_login_timeout, client
# certificates, certificate reload on SIGHUP with a connection held open,
# server_tls_sslmode toward a PostgreSQL with ssl on (and off), and
# client_tls_protocols.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Select;
use IO::Socket::UNIX;
use Fcntl qw(O_WRONLY O_NONBLOCK);
use POSIX qw(mkfifo);
use Time::HiRes qw(time);
use SluiceTest qw(spawn slurp wait_for new_tempdir);
use SluiceTest::Proto qw(ssl_request startup_packet parse_error cancel_request msg);

plan skip_all => 'the openssl command line tool is needed' unless SluiceTest::TLS::available();

# ---- certificates ----
# CA1 signs sluice's certificate A, alice's client certificate and
# PostgreSQL's certificate (DNS:localhost only, so verify-full toward
# 127.0.0.1 must fail); CA2 signs certificate B and a second alice.
my $ca1 = SluiceTest::TLS->new_ca('ca1');
my $ca2 = SluiceTest::TLS->new_ca('ca2');
my $cert_a = $ca1->server_cert;
my $cert_b = $ca2->server_cert;
my $alice1 = $ca1->client_cert('alice');
my $alice2 = $ca2->client_cert('alice');
my $pg_cert = $ca1->issue('pg-localhost', cn => 'localhost', san => 'DNS:localhost');

my $pg = SluiceTest::Pg->new(ssl => $pg_cert);
$pg->create_role('alice', 'alice_pw');
$pg->create_db('app', 'alice');

my %dbs = (
	app      => $pg->connstr('app'),                       # host=127.0.0.1
	applocal => $pg->connstr('app', host => 'localhost'),
	appunix  => $pg->connstr('app', host => $pg->sockdir),
);
my $SSL_SQL = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

sub new_sluice
{
	my (%s) = @_;
	my $wait = delete $s{WAIT} // 1;
	return SluiceTest::Sluice->new(
		pg => $pg, databases => \%dbs, users => { alice => 'alice_pw' },
		default_db => 'app', default_user => 'alice', wait_login => $wait,
		settings => { verbose => 1, %s });
}

my %tls_a = (client_tls_cert_file => $cert_a->{cert}, client_tls_key_file => $cert_a->{key});

# psql through $sl with libpq TLS options (SluiceTest::TLS::libpq_env:
# sslmode, rootcert, cert, min_protocol, max_protocol) and host (a name:
# connect to 127.0.0.1 and verify against the name).
sub tls_psql
{
	my ($sl, $sql, %o) = @_;
	my $host = delete $o{host};
	my $db = delete $o{db};
	my %env = SluiceTest::TLS::libpq_env(%o, defined $host ? (hostaddr => '127.0.0.1') : ());
	return $sl->psql($sql, env => \%env, timeout => 20, defined $host ? (host => $host) : (),
			 defined $db ? (db => $db) : ());
}

# The protocol psql reports in \conninfo, or '' for a connection without TLS.
sub conninfo_protocol
{
	my ($out) = @_;
	return $out =~ /SSL connection \(protocol: (TLSv[\d.]+)/ ? $1 : '';
}

my $CONNINFO = "SELECT 1;\n\\conninfo\n";

# Backend messages in a byte string: ([type, body], ...) and what is left.
sub split_messages
{
	my ($data) = @_;
	my @m;
	while (length($data) >= 5) {
		my ($t, $len) = unpack('aN', $data);
		last if $len < 4 || length($data) < 1 + $len;
		push @m, [ $t, substr($data, 5, $len - 4) ];
		substr($data, 0, 1 + $len, '');
	}
	return (\@m, $data);
}

# A raw client that asked for TLS and read the one-byte answer.
sub ssl_requested
{
	my ($sl) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	$c->send(ssl_request());
	return ($c, $c->read_bytes(1, 10) // '');
}

# ---- 1. libpq sslmode require / verify-ca / verify-full to sluice ----
my $sl_req = new_sluice(client_tls_sslmode => 'require', %tls_a);
# what sections 1-3 do to it: a handshake left after the S, psql refusing
# the certificate, an unknown database, plaintext clients, plaintext bytes
# behind the SSLRequest
$sl_req->expect_log(qr/\(nodb\)\/\(nouser\)\S+ TLS handshake error: error:0A000126:SSL routines::unexpected eof while reading$/,
		    qr/\(nodb\)\/\(nouser\)\S+ TLS handshake error: error:0A000418:SSL routines::tlsv1 alert unknown ca$/,
		    qr/ nosuchdb\/alice\S+ pooler error: database "nosuchdb" does not exist \(sqlstate=3D000\)/,
		    qr/pooler error: TLS is required: connect with sslmode=require or stronger \(sqlstate=28000\)/,
		    qr/pooler error: received unencrypted data after SSL request \(sqlstate=08P01\)/);
{
	my ($c, $answer) = ssl_requested($sl_req);
	is($answer, 'S', 'require: SSLRequest is answered S');
	$c->close;

	for my $case ([ 'require' ], [ 'verify-ca' ], [ 'verify-full', 'localhost' ]) {
		my ($mode, $host) = @$case;
		my ($out, $err, $rc) = tls_psql($sl_req, $CONNINFO, sslmode => $mode,
						rootcert => $mode eq 'require' ? undef : $ca1, host => $host);
		is($rc, 0, "psql sslmode=$mode connects" . ($host ? " to host=$host" : '')) or diag($err);
		like($out, qr/^1$/m, "sslmode=$mode: SELECT 1 works");
		like(conninfo_protocol($out), qr/^TLSv1\.[23]$/, "sslmode=$mode: psql reports a TLS connection");
	}
	my @established = $sl_req->log_contents =~ / C-\d+ \S+ TLS established \(TLSv1\.[23]\)/g;
	cmp_ok(scalar @established, '>=', 3, "sluice's log says TLS was established with each client");

	# the chain really is checked: certificate A does not chain to CA2
	my ($out, $err, $rc) = tls_psql($sl_req, 'SELECT 1', sslmode => 'verify-ca', rootcert => $ca2);
	isnt($rc, 0, 'sslmode=verify-ca with the wrong root certificate fails');
	like($err, qr/certificate verify failed/, '... because the certificate does not verify');

	# an error after the handshake reaches the client through TLS
	($out, $err, $rc) = tls_psql($sl_req, 'SELECT 1', sslmode => 'require', db => 'nosuchdb');
	like($err, qr/FATAL:\s+database "nosuchdb" does not exist/, 'sslmode=require: a FATAL error arrives over TLS');

	# sluice's default server_tls_sslmode (prefer) uses TLS toward a
	# PostgreSQL that offers it
	($out, $err) = tls_psql($sl_req, $SSL_SQL, sslmode => 'require');
	is($out, 't', 'server_tls_sslmode default (prefer): the server connection uses TLS') or diag($err);
}

# ---- 2. client_tls_sslmode = require refuses plaintext ----
{
	my $c = SluiceTest::Proto->connect(port => $sl_req->port);
	my $r = $c->login(user => 'alice', password => 'alice_pw', database => 'app');
	ok(!$r->{ok}, 'require: a plaintext startup is refused');
	is($r->{error}{S}, 'FATAL', '... with a FATAL error');
	is($r->{error}{C}, '28000', '... SQLSTATE 28000');
	like($r->{error}{M} // '', qr/^TLS is required/, '... "TLS is required: ..."');
	ok(!@{ $r->{auth} }, '... before any authentication request');
	my ($eof) = $c->wait_eof(10);
	ok($eof, '... and the connection is closed');

	my ($out, $err, $rc) = tls_psql($sl_req, 'SELECT 1', sslmode => 'disable');
	isnt($rc, 0, 'require: psql sslmode=disable fails');
	like($err, qr/TLS is required/, '... with the message');

	($out, $err, $rc) = tls_psql($sl_req, $CONNINFO);     # no sslmode: libpq's default
	is($rc, 0, 'require: psql with the default sslmode (prefer) connects') or diag($err);
	like(conninfo_protocol($out), qr/^TLSv1\.[23]$/, '... over TLS');

	# PgBouncer exempts unix socket clients from client_tls_sslmode =
	# require (TLS is never offered there); libpq never asks for TLS on a
	# unix socket, so a drop-in must let them in
	($out, $err, $rc) = $sl_req->psql('SELECT 1', host => 'unix', timeout => 20);
	my $unix = IO::Socket::UNIX->new(Peer => $sl_req->sockdir . '/.s.PGSQL.' . $sl_req->port)
	    or die "connect to the unix socket: $!";
	syswrite($unix, ssl_request());
	my $answer = '';
	sysread($unix, $answer, 1) if IO::Select->new($unix)->can_read(10);
	close $unix;
	{
		is($out, '1', 'require: a client on the unix socket is let in without TLS, as in PgBouncer')
		    or diag($err);
		is($answer, 'N', 'require: an SSLRequest on the unix socket is answered N, as in PgBouncer and PostgreSQL');
	}
}

# ---- 3. unencrypted bytes behind the SSLRequest ----
my $sl_prefer = new_sluice(client_tls_sslmode => 'prefer', %tls_a);
$sl_prefer->expect_log(qr/pooler error: received unencrypted data after SSL request \(sqlstate=08P01\)/);
{
	is($sl_prefer->psql('SELECT 1', env => { PGSSLMODE => 'disable' }, timeout => 20), '1',
	   'prefer: a plaintext client is let in');
	for my $case ([ require => $sl_req ], [ prefer => $sl_prefer ]) {
		my ($mode, $sl) = @$case;
		my $c = SluiceTest::Proto->connect(port => $sl->port);
		# one write: SSLRequest and a whole plaintext startup packet
		$c->send(ssl_request() . startup_packet({ user => 'alice', database => 'app' }));
		my ($eof, $data) = $c->wait_eof(10);
		ok($eof, "$mode: SSLRequest + plaintext startup in one write: the connection is closed");
		isnt(substr($data, 0, 1), 'S', "$mode: ... the SSLRequest is not answered S");
		my ($msgs) = split_messages($data);
		is($msgs->[0][0] // '(none)', 'E', "$mode: ... the answer is an ErrorResponse");
		my $e = parse_error($msgs->[0][1]);
		is($e->{C}, '08P01', "$mode: ... SQLSTATE 08P01");
		is($e->{M}, 'received unencrypted data after SSL request', "$mode: ... PostgreSQL's message");
		ok(!grep({ $_->[0] eq 'R' } @$msgs), "$mode: ... and the plaintext startup got no authentication request");
	}
}

# ---- 4. silent and stalled TLS clients under client_login_timeout ----
{
	my $sl = new_sluice(client_tls_sslmode => 'require', client_login_timeout => 1, %tls_a);
	$sl->expect_log(qr/pooler error: client_login_timeout: login took longer than 1 s \(sqlstate=08P01\)/);
	my $t_silent = time();
	my ($silent, $a1) = ssl_requested($sl);
	is($a1, 'S', 'login timeout: a silent client got S');
	my $t_stalled = time();
	my ($stalled, $a2) = ssl_requested($sl);
	is($a2, 'S', 'login timeout: a stalling client got S');
	# the start of a ClientHello: a handshake record header announcing
	# 512 bytes, then only a few of them
	$stalled->send("\x16\x03\x01\x02\x00" . "\x01\x00\x01\xfc\x03\x03" . ("\x5a" x 16));

	my ($out, $err, $rc) = tls_psql($sl, $CONNINFO, sslmode => 'verify-ca', rootcert => $ca1);
	is($rc, 0, 'login timeout: another TLS client works meanwhile') or diag($err);
	like(conninfo_protocol($out), qr/^TLSv1\.[23]$/, '... over TLS');

	for my $case ([ 'silent after S', $silent, $t_silent ], [ 'stalled mid-handshake', $stalled, $t_stalled ]) {
		my ($what, $c, $t0) = @$case;
		my ($eof) = $c->wait_eof(8);
		my $took = time() - $t0;
		ok($eof, "login timeout: a client $what is cut off (within 8 s)");
		{
			cmp_ok($took, '<', 4, "login timeout: ... soon after the 1 s timeout, not 5 s later");
		}
		$c->close;
	}

	# a client that completes the handshake and then says nothing
	my $t0 = time();
	($out, $err, $rc) = SluiceTest::run_cmd(
		[ SluiceTest::TLS::openssl_bin(), 's_client', '-starttls', 'postgres', '-brief', '-ign_eof',
		  '-connect', '127.0.0.1:' . $sl->port ], timeout => 8);
	my $took = time() - $t0;
	like($err, qr/Protocol version: TLSv1\.[23]/, 'login timeout: openssl s_client completes the handshake');
	like($out, qr/client_login_timeout/, '... then gets the login timeout error over TLS');
	cmp_ok($took, '<', 8, '... and is cut off (within 8 s)');
	isnt($rc, -1, '... by sluice closing the connection');

	# No session tickets, as PostgreSQL: libpq never resumes a session,
	# so each would cost the server work and the client bytes for nothing.
	($out, $err, $rc) = SluiceTest::run_cmd(
		[ SluiceTest::TLS::openssl_bin(), 's_client', '-starttls', 'postgres', '-ign_eof',
		  '-connect', '127.0.0.1:' . $sl->port ], timeout => 8);
	like($out, qr/Protocol\s*:\s*TLSv1\.3|TLSv1\.3/, 'tickets: the handshake was TLS 1.3');
	unlike($out, qr/New Session Ticket/, 'tickets: sluice sends no session ticket');
}

# ---- cancel requests with TLS ----
{
	# libpq (15) sends its CancelRequest on a new plaintext connection,
	# which client_tls_sslmode = require must still accept
	my $direct = $pg->connstr('postgres', user => 'postgres', password => $pg->superuser_password);
	SluiceTest::run_c_test('cancel', $sl_req->connstr(sslmode => 'verify-ca', sslrootcert => $ca1->cert),
			       $direct, { label => 'cancel over TLS (require)' });

	# a CancelRequest inside TLS (as libpq 17 sends it)
	my $c = $sl_prefer->proto;
	$c->send(msg('Q', "SELECT pg_sleep(20) /* tls-cancel */\0"));
	my $watch = $pg->proto;
	ok(wait_for(sub { $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
					       . "AND query LIKE 'SELECT pg_sleep(20) /* tls-cancel */%'") > 0 },
		    timeout => 15), 'cancel inside TLS: the query runs');
	my ($out, $err, $rc) = SluiceTest::run_cmd(
		[ SluiceTest::TLS::openssl_bin(), 's_client', '-starttls', 'postgres', '-quiet',
		  '-connect', '127.0.0.1:' . $sl_prefer->port ],
		stdin => cancel_request($c->{backend_pid}, $c->{backend_key}), timeout => 15);
	my $r = $c->read_results(10);
	is($r->{errors}[0]{C}, '57014', 'cancel inside TLS: a CancelRequest sent over TLS cancels the query')
	    or diag("s_client rc $rc: $err");
	is($c->query_value('SELECT 1'), '1', '... and the connection still works');
	$c->terminate;
	$watch->terminate;
}

# ---- 5. client certificates: client_tls_sslmode = verify-ca ----
{
	my $sl = new_sluice(client_tls_sslmode => 'verify-ca', client_tls_ca_file => $ca1->cert, %tls_a,
			    WAIT => 0);
	$sl->expect_log(qr/TLS handshake error: error:0A0000C7:SSL routines::peer did not return a certificate$/,
			qr/TLS handshake error: certificate verify failed: unable to get local issuer certificate$/,
			qr/pooler error: TLS is required: connect with sslmode=require or stronger \(sqlstate=28000\)/);
	my ($out, $err, $rc) = tls_psql($sl, 'SELECT 1', sslmode => 'require');
	isnt($rc, 0, 'verify-ca: a client without a certificate is refused');
	like($err, qr/SSL error:.*certificate/, "... in the TLS handshake (the certificate is required)");

	($out, $err, $rc) = tls_psql($sl, 'SELECT current_user', sslmode => 'verify-ca', rootcert => $ca1,
				     cert => $alice2);
	isnt($rc, 0, 'verify-ca: a client certificate from another CA is refused');
	like($err, qr/SSL error:.*unknown ca/, '... in the TLS handshake (unknown CA)');

	($out, $err, $rc) = tls_psql($sl, 'SELECT current_user', sslmode => 'verify-ca', rootcert => $ca1,
				     cert => $alice1);
	is($rc, 0, 'verify-ca: a client certificate signed by client_tls_ca_file connects') or diag($err);
	is($out, 'alice', '... and runs a query');

	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $r = $c->login(user => 'alice', password => 'alice_pw', database => 'app');
	is($r->{error}{C}, '28000', 'verify-ca: a plaintext startup is refused with 28000');
	$c->close;
}

# ---- 6. SIGHUP re-reads the certificate; open connections keep their session ----
{
	my $dir = new_tempdir('tls-reload');
	my $files = SluiceTest::TLS::copy_pair($cert_a, $dir, 'sluice');
	my $sl = new_sluice(client_tls_sslmode => 'require', client_tls_cert_file => $files->{cert},
			    client_tls_key_file => $files->{key});
	# clients checking against the CA not in use; the broken pair at the end
	$sl->expect_log(qr/TLS handshake error: error:0A000418:SSL routines::tlsv1 alert unknown ca$/,
			qr/ERROR reload refused, the running configuration stays: private key \Q$dir\E\/sluice\.key: .*key values mismatch$/);
	my $ca_ok = sub {
		my ($ca) = @_;
		my ($out, $err, $rc) = tls_psql($sl, 'SELECT 1', sslmode => 'verify-ca', rootcert => $ca);
		return ($rc == 0 && $out eq '1', $err);
	};
	ok(($ca_ok->($ca1))[0], 'reload: before, verify-ca against CA1 works');
	ok(!($ca_ok->($ca2))[0], 'reload: before, verify-ca against CA2 fails');

	# a psql that reads its commands from a FIFO holds a TLS connection
	mkfifo("$dir/in", 0600) or die "mkfifo: $!";
	my %env = (PGPASSWORD => 'alice_pw',
		   SluiceTest::TLS::libpq_env(sslmode => 'verify-ca', rootcert => $ca1));
	my $pid = spawn([ SluiceTest::psql_bin(), '-X', '-q', '-A', '-t', '-h', '127.0.0.1', '-p', $sl->port,
			  '-U', 'alice', '-d', 'app' ],
			stdin_file => "$dir/in", stdout => "$dir/out", stderr => "$dir/err", env => \%env);
	# non-blocking, so that a psql that never opened its end cannot hang us
	my $w;
	ok(wait_for(sub { sysopen($w, "$dir/in", O_WRONLY | O_NONBLOCK) }, timeout => 15),
	   'reload: the held psql started') or diag(slurp("$dir/err"));
	my $held = sub {
		my ($tag) = @_;
		syswrite($w, "SELECT 'held-$tag';\n\\conninfo\n");
		return wait_for(sub { slurp("$dir/out") =~ /held-$tag\n.*SSL connection/s }, timeout => 15);
	};
	ok($held->('before'), 'reload: a held psql runs a query over TLS') or diag(slurp("$dir/err"));

	SluiceTest::TLS::copy_pair($cert_b, $dir, 'sluice');
	$sl->reload;
	ok(wait_for(sub { $sl->log_contents =~ /configuration reloaded/ }, timeout => 15),
	   'reload: sluice says the certificates were reloaded');
	ok($held->('after'), 'reload: the held connection still works after SIGHUP')
	    or diag(slurp("$dir/err"));
	my ($ok2, $err2) = $ca_ok->($ca2);
	ok($ok2, 'reload: a new connection verifies against CA2 (certificate B)') or diag($err2);
	my ($ok1, $err1) = $ca_ok->($ca1);
	ok(!$ok1, 'reload: a new connection no longer verifies against CA1');
	like($err1, qr/certificate verify failed/, '... certificate verify failed');

	# a broken pair is refused and the certificate in use is kept
	SluiceTest::TLS::copy_pair({ cert => $cert_a->{cert}, key => $cert_b->{key} }, $dir, 'sluice');
	$sl->reload;
	ok(wait_for(sub { $sl->log_contents =~ /reload refused, the running configuration stays/ }, timeout => 15),
	   'reload: a key that does not match the certificate is refused');
	ok(($ca_ok->($ca2))[0], '... and certificate B stays in use');
	ok($held->('last'), '... and the held connection still works');

	close $w;
	is(SluiceTest::exit_code(SluiceTest::wait_pid($pid, 15)), 0, 'reload: the held psql exits cleanly');
}

# ---- 7. toward PostgreSQL: server_tls_sslmode ----
my $sl_srv_req = new_sluice(server_tls_sslmode => 'require');
# section 7 (end): PostgreSQL with ssl = off
$sl_srv_req->expect_log(qr/ S-\d+ applocal\/alice\S+ login failed: server does not support TLS, but server_tls_sslmode requires it$/,
			qr/ applocal\/alice\S+ pooler error: server does not support TLS, but server_tls_sslmode requires it \(sqlstate=28000\)/);
{
	my $quick_failure = sub {
		my ($sl, $db, $pattern, $what) = @_;
		my $c = SluiceTest::Proto->connect(port => $sl->port);
		my $t0 = time();
		my $r = $c->login(user => 'alice', password => 'alice_pw', database => $db, timeout => 15);
		my $took = time() - $t0;
		ok(!$r->{ok}, "$what: the client is refused");
		is($r->{error}{S}, 'FATAL', "$what: ... FATAL");
		is($r->{error}{C}, '28000', "$what: ... SQLSTATE 28000");
		like($r->{error}{M} // '', $pattern, "$what: ... message")
		    or diag(SluiceTest::Proto::error_text($r->{error}));
		cmp_ok($took, '<', 5, "$what: ... at once, not after a hang");
		$c->close;
	};

	is($sl_srv_req->psql($SSL_SQL), 't', 'server_tls_sslmode=require: the server connection uses TLS');
	# as in PgBouncer, no TLS is tried over a unix socket
	my ($o, $e) = $sl_srv_req->psql($SSL_SQL, db => 'appunix');
	is($o, 'f', 'server_tls_sslmode=require: a database on a unix socket is reached without TLS') or diag($e);

	my $sl = new_sluice(server_tls_sslmode => 'verify-ca', server_tls_ca_file => $ca1->cert);
	is($sl->psql($SSL_SQL), 't', 'server_tls_sslmode=verify-ca: the server connection uses TLS');

	$sl = new_sluice(server_tls_sslmode => 'verify-full', server_tls_ca_file => $ca1->cert, WAIT => 0);
	$sl->expect_log(qr/ app\/alice\S+ pooler error: could not connect to server: certificate verify failed: IP address mismatch \(sqlstate=28000\)/);
	my ($out, $err) = $sl->psql($SSL_SQL, db => 'applocal');
	is($out, 't', 'server_tls_sslmode=verify-full to host=localhost: the server connection uses TLS')
	    or diag($err);
	$quick_failure->($sl, 'app', qr/^could not connect to server: certificate verify failed/,
			 'verify-full to 127.0.0.1 (not in the certificate)');

	$sl = new_sluice(server_tls_sslmode => 'verify-ca', server_tls_ca_file => $ca2->cert, WAIT => 0);
	$sl->expect_log(qr/ app\/alice\S+ pooler error: could not connect to server: certificate verify failed: unable to get local issuer certificate \(sqlstate=28000\)/);
	$quick_failure->($sl, 'app', qr/^could not connect to server: certificate verify failed/,
			 'verify-ca with the wrong CA');
	(undef, $err) = $sl->psql('SELECT 1');
	like($err, qr/certificate verify failed/, 'verify-ca with the wrong CA: psql shows why');

	$sl = new_sluice(server_tls_sslmode => 'disable');
	is($sl->psql($SSL_SQL), 'f', 'server_tls_sslmode=disable: the server connection is plaintext');
}

# ---- 8. client_tls_protocols ----
{
	my $sl13 = new_sluice(client_tls_sslmode => 'require', client_tls_protocols => 'tlsv1.3', %tls_a);
	$sl13->expect_log(qr/TLS handshake error: error:0A000102:SSL routines::unsupported protocol$/);
	my ($out, $err, $rc) = tls_psql($sl13, $CONNINFO, sslmode => 'require', max_protocol => 'TLSv1.2');
	isnt($rc, 0, 'client_tls_protocols=tlsv1.3: a TLS 1.2-only client fails');
	like($err, qr/protocol version/, '... on the protocol version');
	($out, $err, $rc) = tls_psql($sl13, $CONNINFO, sslmode => 'require', min_protocol => 'TLSv1.3');
	is($rc, 0, 'client_tls_protocols=tlsv1.3: a TLS 1.3 client connects') or diag($err);
	is(conninfo_protocol($out), 'TLSv1.3', '... with TLSv1.3');

	my $sl12 = new_sluice(client_tls_sslmode => 'require', client_tls_protocols => 'tlsv1.2', %tls_a);
	$sl12->expect_log(qr/TLS handshake error: error:0A000102:SSL routines::unsupported protocol$/);
	($out, $err, $rc) = tls_psql($sl12, $CONNINFO, sslmode => 'require');
	is($rc, 0, 'client_tls_protocols=tlsv1.2: a default client connects') or diag($err);
	is(conninfo_protocol($out), 'TLSv1.2', '... with TLSv1.2');
	($out, $err, $rc) = tls_psql($sl12, $CONNINFO, sslmode => 'require', min_protocol => 'TLSv1.3');
	isnt($rc, 0, 'client_tls_protocols=tlsv1.2: a TLS 1.3-only client fails');
	like($err, qr/protocol version/, '... on the protocol version');

	($out, $err, $rc) = tls_psql($sl_req, $CONNINFO, sslmode => 'require', max_protocol => 'TLSv1.2');
	is(conninfo_protocol($out), 'TLSv1.2', 'client_tls_protocols default (secure): TLS 1.2 is accepted')
	    or diag($err);
	($out, $err, $rc) = tls_psql($sl_req, $CONNINFO, sslmode => 'require');
	is(conninfo_protocol($out), 'TLSv1.3', '... and TLS 1.3 is chosen when both sides can') or diag($err);
}

# ---- a TLS mode without its files is refused at start ----
my $refused;
{
	my $sl = eval { new_sluice(client_tls_sslmode => 'require', WAIT => 0) };
	ok(!$sl, 'client_tls_sslmode=require without a key and certificate: sluice does not start');
	like($@, qr/client_tls_key_file/, '... and says which keys are missing');
	$refused = $SluiceTest::SLUICES[-1];    # registered before its start failed
	$refused->expect_log(qr/ERROR \S+\/sluice\.ini: client_tls_sslmode = require needs client_tls_key_file and client_tls_cert_file$/);
}

# ---- 7 (end). PostgreSQL with ssl = off ----
{
	$pg->set_ssl(0);
	my $c = SluiceTest::Proto->connect(port => $sl_srv_req->port);
	my $t0 = time();
	# applocal: a pool not used yet, so a new server connection is made
	my $r = $c->login(user => 'alice', password => 'alice_pw', database => 'applocal', timeout => 15);
	my $took = time() - $t0;
	ok(!$r->{ok}, 'server_tls_sslmode=require, PostgreSQL without TLS: the client is refused');
	like($r->{error}{M} // '', qr/TLS/, '... with a message about TLS')
	    or diag(SluiceTest::Proto::error_text($r->{error}));
	cmp_ok($took, '<', 5, '... at once');
	$c->close;

	my ($out, $err) = $sl_req->psql($SSL_SQL, db => 'applocal', timeout => 20);
	is($out, 'f', 'server_tls_sslmode default (prefer), PostgreSQL without TLS: plaintext') or diag($err);
}

{
	# a start-up failure frees what it loaded (a sanitizer build would report a leak)
	SluiceTest::check_log($refused);
}
done_testing();
