# Authentication through sluice: auth_type = hba (every method and connection
# type, first match wins, a malformed file refused), auth_type = cert,
# SCRAM-SHA-256-PLUS channel binding, SCRAM pass-through with only a
# verifier in auth_file, no user enumeration, and no secrets in the log at
# verbose = 2.
#
# Raw TLS clients are test/integ/c/tls_scram.c (the Perl protocol client
# has no TLS); certificates come from SluiceTest::TLS.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use Digest::SHA qw(sha256 hmac_sha256);
use File::Copy ();
use IO::Socket::UNIX;
use MIME::Base64 qw(encode_base64 decode_base64);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time);
use SluiceTest qw(new_tempdir spit slurp run_cmd);
use SluiceTest::Proto qw(startup_packet msg parse_error error_text);

plan skip_all => 'the openssl command line tool is needed' unless SluiceTest::TLS::available();

# ---- passwords: distinctive, so a leak into a log cannot hide ----
my %PW = map { $_ => "Zq7-$_-pw-4431" } qw(app alice bob carol dave eve frank grace zed pat);
my $WRONG = 'Zq7-wrong-pw-9902';

my $ca = SluiceTest::TLS->new_ca('auth');
my $srv_cert = $ca->server_cert;
my $alice_cert = $ca->client_cert('alice');
my %TLS = (client_tls_cert_file => $srv_cert->{cert}, client_tls_key_file => $srv_cert->{key});

# PostgreSQL accepts only scram-sha-256 (the harness's pg_hba.conf) and
# also speaks TLS, to compare its answers with sluice's.
my $pg = SluiceTest::Pg->new(ssl => $ca->issue('pg', cn => 'localhost', san => 'IP:127.0.0.1'));
$pg->create_role('app', $PW{app});
$pg->create_db('app', 'app');
$pg->create_role($_, $PW{$_}) for qw(alice carol pat);
my %VERIFIER = map { $_ => $pg->scram_verifier($_) } qw(carol pat);
like($VERIFIER{$_}, qr/^SCRAM-SHA-256\$4096:[^\$]+\$[^:]+:.+$/, "took ${_}'s SCRAM verifier from pg_authid")
    for sort keys %VERIFIER;
my $BOB_MD5 = 'md5' . md5_hex($PW{bob} . 'bob');

# Every database entry that does not test pass-through logs in to
# PostgreSQL as app.
my $FORCED = $pg->connstr('app', user => 'app', password => $PW{app});

# A private copy: a `make` elsewhere relinks build/test/bin while we run.
my $TLS_SCRAM = SluiceTest::c_test_program('tls_scram');
ok($TLS_SCRAM, 'the raw TLS client tls_scram is built');
if ($TLS_SCRAM) {
	my $copy = new_tempdir('bin') . '/tls_scram';
	File::Copy::copy($TLS_SCRAM, $copy) && chmod(0755, $copy) or die "copy $TLS_SCRAM: $!";
	$TLS_SCRAM = $copy;
}

# ---- helpers ----

# The raw TLS (or --plain) client: { rc, out, auth => [codes], mechs,
# server_first, error => {S, C, M}, ready, value, sig_ok }.
sub tls_scram
{
	my ($sl, %o) = @_;
	return { rc => -1, out => '', auth => [] } unless $TLS_SCRAM;
	my @argv = ($TLS_SCRAM, '--port', $sl->port, '--user', $o{user}, '--db', $o{db} // 'app');
	push @argv, '--password', $o{password} if defined $o{password};
	push @argv, '--sasl', $o{sasl} if $o{sasl};
	push @argv, '--plain' if $o{plain};
	push @argv, '--cert', $o{cert}{cert}, '--key', $o{cert}{key} if $o{cert};
	push @argv, '--query', $o{query} if $o{query};
	my ($out, $err, $rc) = run_cmd(\@argv, timeout => 20);
	my %r = (rc => $rc, out => $out . $err, auth => [ $out =~ /^auth (\d+)/mg ]);
	($r{mechs}) = $out =~ /^auth 10 (.*)$/m;
	($r{server_first}) = $out =~ /^auth 11 (.*)$/m;
	$r{error} = { S => $1, C => $2, M => $3 } if $out =~ /^error ([^|]*)\|([^|]*)\|(.*)$/m;
	($r{value}) = $out =~ /^value (.*)$/m;
	$r{ready} = $out =~ /^ready /m ? 1 : 0;
	$r{sig_ok} = $out =~ /^server-signature ok$/m ? 1 : 0;
	$r{tls} = $out =~ /^tls TLSv/m ? 1 : 0;
	return \%r;
}

# A raw protocol client on sluice's unix socket.
sub unix_proto
{
	my ($sl) = @_;
	my $path = $sl->sockdir . '/.s.PGSQL.' . $sl->port;
	my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
	    or die "connect to $path: $!";
	binmode $sock;
	return bless { sock => $sock, buf => '', timeout => 10, eof => 0, timed_out => 0 }, 'SluiceTest::Proto';
}

my %PBKDF2;      # (password, salt, iterations) -> salted password
my @SENT;        # every password, md5 answer and SCRAM proof sent: never to be logged
my @CLIENT_KEYS; # SCRAM ClientKeys our clients proved (pass-through): never to be logged

# Log in by hand over $c, recording the exchange: { auth => [codes],
# mechs, server_first, server_final, error_body, error, ok, elapsed, wait
# (time spent waiting for the server, without our own PBKDF2) }.
sub raw_login
{
	my ($c, %o) = @_;
	my $t0 = time();
	my $r = { auth => [] };
	my $pw = $o{password} // '';
	$c->send(startup_packet({ user => $o{user}, database => $o{db} // 'app' }));
	my ($bare, $am, $salted);
	while (1) {
		my $t = time();
		my ($type, $body) = $c->read_msg(10);
		$r->{wait} += time() - $t;      # the server's share of the time
		if (!defined $type) { $r->{lost} = 1; last }
		if ($type eq 'E') { $r->{error_body} = $body; $r->{error} = parse_error($body); last }
		if ($type eq 'Z') { $r->{ok} = 1; last }
		next unless $type eq 'R';
		my $code = unpack('N', $body);
		push @{ $r->{auth} }, $code;
		if ($code == 3) {
			push @SENT, $pw;
			$c->send(msg('p', "$pw\0"));
		} elsif ($code == 5) {
			my $answer = 'md5' . md5_hex(md5_hex($pw . $o{user}) . substr($body, 4, 4));
			push @SENT, $answer;
			$c->send(msg('p', "$answer\0"));
		} elsif ($code == 10) {
			$r->{mechs} = [ grep { length } split /\0/, substr($body, 4) ];
			my $nonce = encode_base64(join('', map { chr int rand 256 } 1 .. 18), '');
			$bare = "n=,r=$nonce";
			my $first = "n,,$bare";
			$c->send(msg('p', "SCRAM-SHA-256\0" . pack('N', length $first) . $first));
		} elsif ($code == 11) {
			my $sf = $r->{server_first} = substr($body, 4);
			my %a = map { /^(\w)=(.*)$/ ? ($1, $2) : () } split /,/, $sf;
			$salted = $PBKDF2{"$pw\0$a{s}\0$a{i}"} //=
			    SluiceTest::Proto::_pbkdf2_sha256($pw, decode_base64($a{s}), $a{i});
			my $client_key = hmac_sha256('Client Key', $salted);
			my $without_proof = "c=biws,r=$a{r}";
			$am = "$bare,$sf,$without_proof";
			my $proof = encode_base64($client_key ^ hmac_sha256($am, sha256($client_key)), '');
			push @SENT, $proof;
			push @CLIENT_KEYS, encode_base64($client_key, ''), unpack('H*', $client_key);
			$c->send(msg('p', "$without_proof,p=$proof"));
		} elsif ($code == 12) {
			$r->{server_final} = substr($body, 4);
			my $want = encode_base64(hmac_sha256($am, hmac_sha256('Server Key', $salted)), '');
			$r->{sig_ok} = $r->{server_final} eq "v=$want";
		}
	}
	$r->{elapsed} = time() - $t0;
	return $r;
}

sub tcp_login
{
	my ($sl, %o) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $r = raw_login($c, %o);
	$r->{conn} = $c;
	return $r;
}

sub hba_msg
{
	my ($kind, $host, $user, $db, $enc) = @_;
	my $head = $kind eq 'reject' ? 'pg_hba.conf rejects connection' : 'no pg_hba.conf entry';
	return qq{$head for host "$host", user "$user", database "$db", $enc};
}

# psql through $sl over TCP with libpq TLS settings (SluiceTest::TLS::libpq_env).
sub tls_psql
{
	my ($sl, $sql, %o) = @_;
	my %psql = map { $_ => delete $o{$_} } grep { exists $o{$_} } qw(user password db);
	my $extra = delete $o{env} // {};
	my %env = (SluiceTest::TLS::libpq_env(%o), %$extra);
	return $sl->psql($sql, %psql, env => \%env, timeout => 20);
}

# =====================================================================
# 1. auth_type = hba
# =====================================================================
my $hba_dir = new_tempdir('hba');
my $HBA = "$hba_dir/pg_hba.conf";
spit($HBA, <<'EOF');
# TYPE     DATABASE  USER   ADDRESS        METHOD
local      all       alice                 trust
host       all       bob    127.0.0.1/32   md5
host       all       bob    127.0.0.1/32   trust      # never used: the line above matches first
host       all       carol  127.0.0.1/32   scram-sha-256
host       all       dave   127.0.0.1/32   password
host       all       eve    127.0.0.1/32   reject
host       all       eve    127.0.0.1/32   trust      # never used
hostssl    all       frank  127.0.0.1/32   scram-sha-256
hostnossl  all       grace  127.0.0.1/32   trust
host       md5db     all    127.0.0.1/32   md5
host       plaindb   all    127.0.0.1/32   password
host       all       all    127.0.0.1/32   reject
EOF

my $sl_hba = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $FORCED, md5db => $FORCED, plaindb => $FORCED },
	users => { alice => $PW{alice}, bob => $BOB_MD5, carol => $VERIFIER{carol},
		   map { $_ => $PW{$_} } qw(dave eve frank grace zed) },
	settings => { auth_type => 'hba', auth_hba_file => $HBA, client_tls_sslmode => 'prefer',
		      verbose => 2, %TLS },
	default_user => 'dave', default_db => 'app');
# the wrong passwords, the reject and missing rules tried below
$sl_hba->expect_log(
	qr/ (?:app|md5db|plaindb)\/(bob|carol|dave|frank|nobody)\S+ pooler error: password authentication failed for user "\1" \(sqlstate=28P01\)/,
	qr/ app\/(eve|zed|alice|frank|grace)\S+ pooler error: pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "\1", database "app", (?:no|SSL) encryption \(sqlstate=28000\)/,
	qr/ app\/(zed|bob)\@unix pooler error: no pg_hba\.conf entry for host "\[local\]", user "\1", database "app", no encryption \(sqlstate=28000\)/);

# which AuthenticationXXX sluice asks for, per rule, over plain TCP
{
	my @cases = (
		# user, password, expected auth codes, what
		[ 'bob',   $PW{bob},   [ 5, 0 ],           'md5' ],
		[ 'carol', $PW{carol}, [ 10, 11, 12, 0 ],  'scram-sha-256' ],
		[ 'dave',  $PW{dave},  [ 3, 0 ],           'password' ],
		[ 'grace', undef,      [ 0 ],              'hostnossl trust' ],
	);
	for my $case (@cases) {
		my ($user, $pw, $codes, $what) = @$case;
		my $r = tcp_login($sl_hba, user => $user, password => $pw);
		ok($r->{ok}, "hba $what: $user logs in over TCP") or diag(error_text($r->{error}));
		is_deeply($r->{auth}, $codes, "hba $what: $user is asked for authentication @$codes");
		ok($r->{sig_ok}, "hba $what: the server signature verifies") if $codes->[0] == 10;
		is($r->{conn}->query_value('SELECT current_user'), 'app', "hba $what: $user reaches PostgreSQL")
		    if $r->{ok};
		$r->{conn}->close;
		next unless defined $pw;
		$r = tcp_login($sl_hba, user => $user, password => $WRONG);
		ok(!$r->{ok}, "hba $what: $user with a wrong password is refused");
		is($r->{error}{C}, '28P01', "hba $what: ... 28P01");
		is($r->{error}{M}, qq{password authentication failed for user "$user"}, "hba $what: ... message");
		is($r->{auth}[0], $codes->[0], "hba $what: ... after the same request (no other rule is tried)");
		$r->{conn}->close;
	}

	# reject lines and the final catch-all
	for my $case ([ 'eve', 'its own reject line' ], [ 'zed', 'the final reject (not listed)' ],
		      [ 'alice', 'the final reject (her trust line is local only)' ],
		      [ 'frank', 'the final reject (his line is hostssl)' ]) {
		my ($user, $what) = @$case;
		my $r = tcp_login($sl_hba, user => $user, password => $PW{$user});
		ok(!$r->{ok}, "hba: $user over plain TCP hits $what");
		is($r->{error}{S}, 'FATAL', "hba: $user: FATAL");
		is($r->{error}{C}, '28000', "hba: $user: SQLSTATE 28000");
		is($r->{error}{M}, hba_msg('reject', '127.0.0.1', $user, 'app', 'no encryption'),
		   "hba: $user: PostgreSQL's reject message");
		is_deeply($r->{auth}, [], "hba: $user: no authentication request before the refusal");
		my ($eof) = $r->{conn}->wait_eof(10);
		ok($eof, "hba: $user: the connection is closed");
	}

	# database lists: md5db and plaindb lines for anyone (before the catch-all)
	my $r = tcp_login($sl_hba, user => 'zed', password => $PW{zed}, db => 'md5db');
	ok($r->{ok}, 'hba: zed to md5db matches the md5db line') or diag(error_text($r->{error}));
	is_deeply($r->{auth}, [ 5, 0 ], '... and is asked for md5');
	$r = tcp_login($sl_hba, user => 'zed', password => $PW{zed}, db => 'plaindb');
	is_deeply($r->{auth}, [ 3, 0 ], 'hba: zed to plaindb is asked for a cleartext password');
}

# the unix socket: local lines only
{
	my $c = unix_proto($sl_hba);
	my $r = raw_login($c, user => 'alice');
	ok($r->{ok}, 'hba local trust: alice logs in over the unix socket without a password')
	    or diag(error_text($r->{error}));
	is_deeply($r->{auth}, [ 0 ], 'hba local trust: AuthenticationOk at once');
	is($c->query_value('SELECT current_user'), 'app', 'hba local trust: alice reaches PostgreSQL');
	$c->close;

	for my $user (qw(zed bob)) {
		$c = unix_proto($sl_hba);
		$r = raw_login($c, user => $user, password => $PW{$user} // $PW{zed});
		ok(!$r->{ok}, "hba: $user over the unix socket matches no line");
		is($r->{error}{C}, '28000', "hba: $user on the socket: SQLSTATE 28000");
		is($r->{error}{M}, hba_msg('none', '[local]', $user, 'app', 'no encryption'),
		   "hba: $user on the socket: PostgreSQL's no-entry message");
		$c->close;
	}

	my ($out, $err) = $sl_hba->psql('SELECT current_user', host => 'unix', user => 'alice',
					password => undef);
	is($out, 'app', 'hba local trust: psql -h socketdir as alice, no password') or diag($err);
}

# hostssl and hostnossl follow the client's TLS state
{
	my ($out, $err, $rc) = tls_psql($sl_hba, 'SELECT current_user', sslmode => 'require',
					user => 'frank', password => $PW{frank});
	is($out, 'app', 'hba hostssl: frank logs in over TLS') or diag($err);
	($out, $err, $rc) = tls_psql($sl_hba, 'SELECT 1', sslmode => 'require', user => 'frank',
				     password => $WRONG);
	like($err, qr/password authentication failed for user "frank"/, 'hba hostssl: ... not with a wrong password');
	($out, $err, $rc) = tls_psql($sl_hba, 'SELECT 1', sslmode => 'disable', user => 'frank',
				     password => $PW{frank});
	isnt($rc, 0, 'hba hostssl: frank without TLS is refused');
	like($err, qr/\Q${\ hba_msg('reject', '127.0.0.1', 'frank', 'app', 'no encryption')}\E/, '... by the final reject');

	my $r = tls_scram($sl_hba, user => 'frank', password => $PW{frank}, query => 'SELECT current_user');
	ok($r->{tls} && $r->{ready}, 'hba hostssl: raw TLS client logs in as frank') or diag($r->{out});
	is($r->{auth}[0], 10, 'hba hostssl: ... asked for SASL');
	is($r->{mechs}, 'SCRAM-SHA-256-PLUS,SCRAM-SHA-256', 'hba hostssl: ... SCRAM-SHA-256-PLUS offered over TLS');

	($out, $err) = tls_psql($sl_hba, 'SELECT current_user', sslmode => 'disable', user => 'grace');
	is($out, 'app', 'hba hostnossl: grace without TLS, no password') or diag($err);
	($out, $err, $rc) = tls_psql($sl_hba, 'SELECT 1', sslmode => 'require', user => 'grace',
				     password => $PW{grace});
	isnt($rc, 0, 'hba hostnossl: grace over TLS is refused');
	like($err, qr/\Q${\ hba_msg('reject', '127.0.0.1', 'grace', 'app', 'SSL encryption')}\E/,
	     '... by the final reject, "SSL encryption"');
	$r = tls_scram($sl_hba, user => 'grace', password => $PW{grace});
	is($r->{error}{C}, '28000', 'hba hostnossl: raw TLS client as grace gets 28000') or diag($r->{out});
	is_deeply($r->{auth}, [], '... and no authentication request');

	# host lines match TLS clients too
	$r = tls_scram($sl_hba, user => 'bob', password => $PW{bob}, query => 'SELECT 1');
	is_deeply($r->{auth}, [ 5, 0 ], 'hba host: bob over TLS still gets md5') or diag($r->{out});
	is($r->{value}, '1', '... and logs in');
}

# a file sluice cannot honour stops it from starting, naming file:line
{
	my $try = sub {
		my ($name, $text, %s) = @_;
		my $f = "$hba_dir/$name";
		spit($f, $text);
		my $sl = eval {
			SluiceTest::Sluice->new(pg => $pg, databases => { app => $FORCED },
						users => { dave => $PW{dave} }, wait_login => 0,
						settings => { auth_type => 'hba', auth_hba_file => $f, %s });
		};
		return ($sl, $@, $f);
	};
	my ($sl, $err, $f) = $try->('bad-method.conf', "# ok so far\nhost all all 127.0.0.1/32 md5\n"
				    . "host all all 127.0.0.1/32 ident\n");
	ok(!$sl, 'hba: an unsupported method stops sluice at start');
	like($err, qr/\Q$f\E:3: .*ident/, '... with file:3 and the method named');

	($sl, $err, $f) = $try->('bad-mask.conf', "local all all trust\n\n\nhost all all 127.0.0.1 trust\n");
	ok(!$sl, 'hba: an address without a mask stops sluice at start');
	like($err, qr/\Q$f\E:4: .*invalid IP mask "trust"/, '... with file:4 and the reason');

	($sl, $err, $f) = $try->('cert-on-host.conf', "host all all 127.0.0.1/32 cert\n");
	ok(!$sl, 'hba: cert on a host line (not hostssl) stops sluice at start');
	like($err, qr/\Q$f\E:1: /, '... with file:1');

	$sl = eval {
		SluiceTest::Sluice->new(pg => $pg, databases => { app => $FORCED }, wait_login => 0,
					users => { dave => $PW{dave} }, settings => { auth_type => 'hba' });
	};
	ok(!$sl, 'hba: auth_type = hba without auth_hba_file: sluice does not start');
	like($@, qr/auth_hba_file/, '... and says auth_hba_file is needed');
}

# =====================================================================
# 2. auth_type = cert
# =====================================================================
{
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app') },
		users => { alice => $PW{alice} }, wait_login => 0, default_user => 'alice',
		settings => { auth_type => 'cert', client_tls_sslmode => 'verify-ca',
			      client_tls_ca_file => $ca->cert, verbose => 2, %TLS });
	$sl->expect_log(qr/ app\/bob\S+ pooler error: certificate authentication failed for user "bob" \(sqlstate=28000\)/,
			qr/TLS handshake error: error:0A0000C7:SSL routines::peer did not return a certificate$/);
	my %cert_env = (sslmode => 'verify-ca', rootcert => $ca, cert => $alice_cert);

	my ($out, $err, $rc) = tls_psql($sl, 'SELECT current_user', %cert_env, user => 'alice', password => undef);
	is($rc, 0, 'cert: psql with alice\'s certificate logs in with no password') or diag($err);
	is($out, 'alice', 'cert: ... as alice');

	($out, $err, $rc) = tls_psql($sl, 'SELECT current_user', %cert_env, user => 'bob', password => undef);
	isnt($rc, 0, 'cert: the same certificate cannot log in as bob');
	like($err, qr/certificate authentication failed for user "bob"/, '... "certificate authentication failed"');

	my $r = tls_scram($sl, user => 'bob', cert => $alice_cert);
	is_deeply($r->{error}, { S => 'FATAL', C => '28000', M => 'certificate authentication failed for user "bob"' },
		  'cert: raw client as bob with alice\'s certificate: FATAL 28000') or diag($r->{out});
	is_deeply($r->{auth}, [], '... with no password request');
	$r = tls_scram($sl, user => 'alice', cert => $alice_cert, query => 'SELECT current_user');
	is_deeply($r->{auth}, [ 0 ], 'cert: raw client as alice: AuthenticationOk at once') or diag($r->{out});
	is($r->{value}, 'alice', '... and the session is alice\'s');

	# no certificate: the handshake itself is refused
	$r = tls_scram($sl, user => 'alice', password => $PW{alice});
	ok(($r->{rc} == 3 || $r->{rc} == 4) && !@{ $r->{auth} } && !$r->{error},
	   'cert: a TLS client without a certificate is cut off in the handshake, before any message')
	    or diag("rc $r->{rc}: $r->{out}");
	($out, $err, $rc) = tls_psql($sl, 'SELECT 1', sslmode => 'require', user => 'alice',
				     password => $PW{alice});
	isnt($rc, 0, 'cert: psql without a certificate fails');
	like($err, qr/certificate|SSL|closed/i, '... in the TLS handshake');

	# hostssl ... cert in an hba file: the same check
	my $f = "$hba_dir/cert.conf";
	spit($f, "hostssl all all 127.0.0.1/32 cert\n");
	my $slh = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app') },
		users => { alice => $PW{alice} }, wait_login => 0, default_user => 'alice',
		settings => { auth_type => 'hba', auth_hba_file => $f, client_tls_sslmode => 'verify-ca',
			      client_tls_ca_file => $ca->cert, verbose => 2, %TLS });
	$slh->expect_log(qr/ app\/bob\S+ pooler error: certificate authentication failed for user "bob" \(sqlstate=28000\)/);
	$r = tls_scram($slh, user => 'alice', cert => $alice_cert, query => 'SELECT current_user');
	is($r->{value}, 'alice', 'hba cert: alice\'s certificate logs in as alice') or diag($r->{out});
	$r = tls_scram($slh, user => 'bob', cert => $alice_cert);
	is($r->{error}{M}, 'certificate authentication failed for user "bob"', 'hba cert: ... but not as bob')
	    or diag($r->{out});
}

# =====================================================================
# 3-5. SCRAM: pass-through, channel binding, no user enumeration
# =====================================================================
# alice's secret is her password; carol and pat have only the verifiers
# PostgreSQL stores, and the database entry names no user or password.
my $sl_scram = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app') },
	users => { alice => $PW{alice}, carol => $VERIFIER{carol}, pat => $VERIFIER{pat} },
	settings => { auth_type => 'scram-sha-256', client_tls_sslmode => 'prefer', verbose => 2, %TLS },
	default_user => 'alice', default_db => 'app');
# wrong passwords and unknown users (5), and the channel binding a client
# gets wrong on purpose (3)
$sl_scram->expect_log(
	qr/ app\/(alice|carol|pat|nobody)\S+ pooler error: password authentication failed for user "\1" \(sqlstate=28P01\)/,
	qr/ app\/alice\S+ pooler error: SCRAM channel binding check failed \(sqlstate=28000\)/,
	qr/ app\/alice\S+ pooler error: unsupported SCRAM channel-binding type "tls-unique" \(sqlstate=08P01\)/,
	qr/ app\/alice\S+ pooler error: SCRAM channel binding negotiation error \(sqlstate=28000\)/,
	qr/ app\/alice\S+ pooler error: client selected an invalid SASL authentication mechanism \(sqlstate=08P01\)/);

# ---- 4. SCRAM pass-through ----
{
	for my $who (qw(pat carol)) {
		my $files = slurp($sl_scram->config_path) . slurp($sl_scram->dir . '/userlist.txt');
		unlike($files, qr/\Q$PW{$who}\E/, "pass-through: sluice's ini and userlist do not hold $who\'s password");
	}
	like(slurp($sl_scram->dir . '/userlist.txt'), qr/"pat" "\Q$VERIFIER{pat}\E"/,
	     'pass-through: the userlist holds pat\'s verifier');

	# a wrong password first: refused by sluice, never tried on the server
	my $r = tcp_login($sl_scram, user => 'pat', password => $WRONG);
	is($r->{error}{C}, '28P01', 'pass-through: pat with a wrong password: 28P01');
	is($r->{error}{M}, 'password authentication failed for user "pat"', '... PostgreSQL\'s message');

	my ($out, $err, $rc) = $sl_scram->psql('SELECT current_user', user => 'pat', password => $PW{pat},
					       env => { PGSSLMODE => 'disable' });
	is($out, 'pat', 'pass-through: psql as pat with the right password; SELECT current_user is pat') or diag($err);
	unlike($pg->log_contents, qr/password authentication failed for user "pat"/,
	       'pass-through: PostgreSQL never saw a failed login for pat');
	like($pg->log_contents, qr/connection authenticated: identity="pat" method=scram-sha-256/,
	     'pass-through: PostgreSQL authenticated pat with SCRAM');

	# two at once: the second needs a new server login, from the keys sluice kept
	my $a = tcp_login($sl_scram, user => 'pat', password => $PW{pat});
	my $b = tcp_login($sl_scram, user => 'pat', password => $PW{pat});
	ok($a->{ok} && $b->{ok}, 'pass-through: two concurrent pat sessions log in')
	    or diag(error_text($a->{error} // $b->{error}));
	my $pa = $a->{conn}->query_value('SELECT pg_backend_pid()');
	my $pb = $b->{conn}->query_value('SELECT pg_backend_pid()');
	ok(defined $pa && defined $pb && $pa != $pb, 'pass-through: ... on two server connections');
	is($b->{conn}->query_value('SELECT current_user'), 'pat', '... both as pat');
	$_->{conn}->terminate for $a, $b;
}

# ---- 3. channel binding ----
{
	# carol's first login is over SCRAM-SHA-256-PLUS: pass-through works from it too
	my ($out, $err, $rc) = tls_psql($sl_scram, 'SELECT current_user', sslmode => 'require',
					env => { PGCHANNELBINDING => 'require' },
					user => 'carol', password => $PW{carol});
	is($out, 'carol', 'channel binding: psql sslmode=require channel_binding=require (carol, verifier only)')
	    or diag($err);
	($out, $err) = tls_psql($sl_scram, 'SELECT current_user', sslmode => 'require',
				env => { PGCHANNELBINDING => 'require' }, user => 'alice', password => $PW{alice});
	is($out, 'alice', 'channel binding: ... and for alice (plain secret)') or diag($err);
	($out, $err, $rc) = tls_psql($sl_scram, 'SELECT 1', sslmode => 'disable',
				     env => { PGCHANNELBINDING => 'require' }, user => 'alice', password => $PW{alice});
	isnt($rc, 0, 'channel binding: sslmode=disable channel_binding=require fails');
	like($err, qr/channel binding required, but SSL not in use/, '... refused on the client side');

	my $r = tls_scram($sl_scram, user => 'alice', password => $PW{alice}, sasl => 'plus',
			  query => 'SELECT current_user');
	is($r->{mechs}, 'SCRAM-SHA-256-PLUS,SCRAM-SHA-256', 'channel binding: over TLS both mechanisms are offered')
	    or diag($r->{out});
	is_deeply($r->{auth}, [ 10, 11, 12, 0 ], 'channel binding: raw -PLUS with tls-server-end-point logs in');
	ok($r->{sig_ok}, '... the server signature verifies');
	is($r->{value}, 'alice', '... as alice');

	$r = tls_scram($sl_scram, user => 'alice', password => $PW{alice}, sasl => 'n', query => 'SELECT 1');
	is_deeply($r->{auth}, [ 10, 11, 12, 0 ], 'channel binding: over TLS, SCRAM-SHA-256 with "n" still works')
	    or diag($r->{out});

	# what PostgreSQL itself answers to the same wrong moves, over TLS
	my %refused = (
		'plus-badcb'  => 'binding data that does not match the certificate',
		'y'           => 'gs2 flag "y" although -PLUS was offered (a downgrade)',
		'plus-unique' => 'channel binding type tls-unique',
	);
	for my $mode (sort keys %refused) {
		my $what = $refused{$mode};
		my $want = tls_scram($pg, user => 'alice', db => 'postgres', password => $PW{alice}, sasl => $mode);
		note("PostgreSQL answers $mode with: " . join(" | ", map { $_ // "" } @{ $want->{error} // {} }{qw(S C M)}));
		$r = tls_scram($sl_scram, user => 'alice', password => $PW{alice}, sasl => $mode);
		ok(!$r->{ready}, "channel binding: $what is refused") or diag($r->{out});
		ok(!grep({ $_ == 12 } @{ $r->{auth} }), "channel binding: $what: no AuthenticationSASLFinal");
		is($r->{error}{S}, 'FATAL', "channel binding: $what: FATAL error") or diag($r->{out});
		{
			is_deeply([ @{ $r->{error} // {} }{qw(C M)} ], [ @{ $want->{error} // {} }{qw(C M)} ],
				  "channel binding: $what: PostgreSQL's SQLSTATE and message");
		}
	}

	# without TLS: -PLUS is not offered, cannot be chosen, and "y" is fine
	my $c = SluiceTest::Proto->connect(port => $sl_scram->port);
	$c->send(startup_packet({ user => 'alice', database => 'app' }));
	my ($type, $body) = $c->read_msg(10);
	is_deeply([ $type, unpack('N', $body // "\0\0\0\0") ], [ 'R', 10 ], 'no TLS: AuthenticationSASL');
	is_deeply([ grep { length } split /\0/, substr($body // '', 4) ], [ 'SCRAM-SHA-256' ],
		  'no TLS: only SCRAM-SHA-256 is offered');
	my $first = 'p=tls-server-end-point,,n=,r=abcdefghijklmnopqrstuvwx';
	$c->send(msg('p', "SCRAM-SHA-256-PLUS\0" . pack('N', length $first) . $first));
	($type, $body) = $c->read_msg(10);
	is($type, 'E', 'no TLS: choosing SCRAM-SHA-256-PLUS anyway is refused');
	like(parse_error($body)->{M} // '', qr/invalid SASL authentication mechanism/, '... as an invalid mechanism');
	$c->close;
	$r = tls_scram($sl_scram, plain => 1, user => 'alice', password => $PW{alice}, sasl => 'y',
		       query => 'SELECT 1');
	is_deeply($r->{auth}, [ 10, 11, 12, 0 ], 'no TLS: gs2 flag "y" is accepted (nothing was offered to bind)')
	    or diag($r->{out});
}

# ---- 5. no user enumeration ----
{
	# SCRAM: a wrong password for a known user and an unknown user look the same
	my %salt;
	for my $case ([ carol => 'a verifier' ], [ alice => 'a plain secret' ]) {
		my ($known, $kind) = @$case;
		my $w = tcp_login($sl_scram, user => $known, password => $WRONG);
		my $u = tcp_login($sl_scram, user => 'nobody', password => $WRONG);
		is_deeply($w->{auth}, [ 10, 11 ], "enumeration: $known ($kind) with a wrong password: SASL, SASLContinue");
		is_deeply($u->{auth}, [ 10, 11 ], "enumeration: unknown user: the same full exchange");
		my %wf = map { /^(\w)=(.*)$/ ? ($1, $2) : () } split /,/, $w->{server_first} // '';
		my %uf = map { /^(\w)=(.*)$/ ? ($1, $2) : () } split /,/, $u->{server_first} // '';
		ok(length($uf{s} // '') && length(decode_base64($uf{s})) == length(decode_base64($wf{s} // '')),
		   "enumeration: the unknown user gets a salt as long as $known\'s");
		is($uf{i}, $wf{i}, "enumeration: ... and the same iteration count ($wf{i})");
		push @{ $salt{nobody} }, $uf{s};
		(my $wb = $w->{error_body} // 'none') =~ s/\Q"$known"\E/"USER"/g;
		(my $ub = $u->{error_body} // 'none') =~ s/\Q"nobody"\E/"USER"/g;
		is($ub, $wb, "enumeration: ErrorResponse bytes are identical apart from the name ($known vs unknown)");
		is($u->{error}{C}, '28P01', 'enumeration: ... 28P01');
		$_->{conn}->close for $w, $u;
	}
	is($salt{nobody}[0], $salt{nobody}[1], 'enumeration: an unknown user\'s salt is the same each time');

	# md5 and cleartext (hba lines for md5db and plaindb): the same
	for my $case ([ 'md5db', 'bob', 5 ], [ 'plaindb', 'dave', 3 ]) {
		my ($db, $known, $code) = @$case;
		my $w = tcp_login($sl_hba, user => $known, password => $WRONG, db => $db);
		my $u = tcp_login($sl_hba, user => 'nobody', password => $WRONG, db => $db);
		is_deeply($w->{auth}, [ $code ], "enumeration: $db: $known with a wrong password was asked for $code");
		is_deeply($u->{auth}, [ $code ], "enumeration: $db: so was the unknown user");
		(my $wb = $w->{error_body} // 'none') =~ s/\Q"$known"\E/"USER"/g;
		(my $ub = $u->{error_body} // 'none') =~ s/\Q"nobody"\E/"USER"/g;
		is($ub, $wb, "enumeration: $db: ErrorResponse bytes identical apart from the name");
		$_->{conn}->close for $w, $u;
	}

	# timing: a sanity check, not a benchmark; the time waiting for sluice,
	# which leaves out our own PBKDF2 (alice's salt changes every time)
	my $median = sub { my @s = sort { $a <=> $b } @_; return $s[ int(@s / 2) ] };
	my %salts;
	for my $known (qw(carol alice)) {
		my (@tk, @tu);
		for (1 .. 20) {
			for my $pair ([ $known, \@tk ], [ 'nobody', \@tu ]) {
				my $r = tcp_login($sl_scram, user => $pair->[0], password => $WRONG);
				push @{ $pair->[1] }, $r->{wait} if $r->{error};
				$salts{ $pair->[0] }{ $1 } = 1 if ($r->{server_first} // '') =~ /,s=([^,]+)/;
				$r->{conn}->close;
			}
		}
		my ($mk, $mu) = ($median->(@tk), $median->(@tu));
		my $close = abs($mk - $mu) < 0.020 || ($mk > 0 && $mu > 0 && $mk / $mu < 3 && $mu / $mk < 3);
		ok(@tk == 20 && @tu == 20 && $close,
		   sprintf('enumeration timing: median failure %s %.1f ms, unknown %.1f ms (within 3x or 20 ms)',
			   $known, $mk * 1000, $mu * 1000));
	}
	is(scalar keys %{ $salts{nobody} }, 1, 'enumeration: the unknown user got one salt in 40 attempts');
	is(scalar keys %{ $salts{carol} }, 1, 'enumeration: carol (verifier) got one salt in 20 attempts');
	{
		is(scalar keys %{ $salts{alice} }, 1, 'enumeration: alice (plain secret) got one salt in 20 attempts, '
		   . 'as an unknown user does');
	}
}

# =====================================================================
# 6. no secrets in sluice's logs (every sluice here runs at verbose = 2)
# =====================================================================
{
	# successful logins with md5, cleartext and SCRAM through raw clients, so
	# every answer sent is known (failed ones happened above)
	for my $case ([ $sl_hba, 'bob', 'app' ], [ $sl_hba, 'dave', 'app' ], [ $sl_hba, 'carol', 'app' ],
		      [ $sl_scram, 'pat', 'app' ], [ $sl_scram, 'alice', 'app' ]) {
		my ($sl, $user, $db) = @$case;
		my $r = tcp_login($sl, user => $user, password => $PW{$user}, db => $db);
		ok($r->{ok}, "logs: $user logs in (auth @{ $r->{auth} })") or diag(error_text($r->{error}));
		$r->{conn}->terminate;
	}

	my %secret;
	$secret{"password of $_"} = $PW{$_} for sort keys %PW;
	$secret{'the wrong password'} = $WRONG;
	$secret{'bob\'s md5 secret'} = $BOB_MD5;
	$secret{'bob\'s md5 hash (without "md5")'} = substr($BOB_MD5, 3);
	for my $u (sort keys %VERIFIER) {
		my ($stored, $server) = $VERIFIER{$u} =~ /\$([^\$:]+):([^\$:]+)$/;
		$secret{"$u\'s StoredKey"} = $stored;
		$secret{"$u\'s ServerKey"} = $server;
		$secret{"$u\'s StoredKey (hex)"} = unpack('H*', decode_base64($stored));
		$secret{"$u\'s ServerKey (hex)"} = unpack('H*', decode_base64($server));
	}
	my $i = 0;
	$secret{ 'a password answer or SCRAM proof sent (#' . ++$i . ')' } = $_ for @SENT;
	$i = 0;
	$secret{ 'a SCRAM ClientKey (#' . ++$i . ')' } = $_ for @CLIENT_KEYS;
	ok(@SENT >= 20, 'logs: ' . scalar(@SENT) . ' answers and proofs were sent to look for');

	my $text = join("\n", map { $_->log_contents . "\n" . $_->stderr_contents } @SluiceTest::SLUICES);
	my $debug_lines = () = $text =~ /\n/g;
	cmp_ok($debug_lines, '>', 50, "logs: the logs are not empty ($debug_lines lines at verbose = 2)");
	my @leaks = grep { index($text, $secret{$_}) >= 0 } sort keys %secret;
	is_deeply(\@leaks, [], 'logs: no password, md5 secret, SCRAM key or proof in any sluice log or stderr');
}

done_testing();
