# Issue 20, item 6: the one-line start. `sluice postgresql://USER:PASSWORD@HOST:PORT/DB`
# (or the URL in SLUICE_DATABASE_URL) pools that database in transaction
# mode for that login alone, by SCRAM toward clients with the same password,
# and prints the DATABASE_URL to use; --listen, --pool-mode and --pool-size
# override. A bad URL stops it with a clear message and a non-zero status.
# [databases] entries take the same URL form, sslmode included (per
# database, whatever server_tls_sslmode says).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(free_port run_cmd slurp wait_for);

plan skip_all => "the one-line start is sluice's own" if SluiceTest::Sluice::is_pgbouncer();
plan skip_all => 'the openssl command line tool is needed' unless SluiceTest::TLS::available();

# PostgreSQL with TLS (its certificate names DNS:localhost only), a role
# whose password needs percent-encoding in a URL, and its database
my $ca = SluiceTest::TLS->new_ca('ca');
my $pg = SluiceTest::Pg->new(ssl => $ca->issue('pg-localhost', cn => 'localhost', san => 'DNS:localhost'));
my $pw = 'p@ss:w/rd?#%&x';
$pg->create_role('dev', $pw);
$pg->create_db('devdb', 'dev');
$pg->safe_psql('devdb', 'CREATE TABLE t(v int); INSERT INTO t VALUES (41)', user => 'dev', password => $pw);

sub enc
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
	return $s;
}

my $pgport = $pg->port;
my $url = 'postgresql://dev:' . enc($pw) . "\@127.0.0.1:$pgport/devdb";
my $bin = SluiceTest::Sluice::bin();
my $SSL_SQL = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

# A one-line start: args after the binary, env changes; logs to stderr.
sub one_line
{
	my (%o) = @_;
	my $port = free_port();
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, args => [ '--listen', "127.0.0.1:$port", @{ $o{args} // [] } ], port => $port,
		env => $o{env}, default_db => 'devdb', default_user => 'dev', default_password => $pw);
	my $printed;
	wait_for(sub { ($printed) = $sl->stdout_contents =~ /^DATABASE_URL=(\S+)$/m; $printed },
		 timeout => 10);
	return ($sl, $printed);
}

# psql with nothing but a URL (as an application would use DATABASE_URL)
sub psql_url
{
	my ($u, $sql) = @_;
	my ($out, $err, $rc) = run_cmd([ SluiceTest::psql_bin(), '-X', '-w', '-q', '-A', '-t', '-d', $u, '-c', $sql ],
				       env => { PGGSSENCMODE => 'disable', PGCONNECT_TIMEOUT => 15 }, timeout => 30);
	chomp $out;
	return ($out, $err, $rc);
}

# ---- the URL as the argument: defaults, SCRAM, queries, transaction pooling ----
my ($sl, $printed) = one_line(args => [ $url ]);
my $want = 'postgresql://dev:' . enc($pw) . '@127.0.0.1:' . $sl->port . '/devdb';
is($printed, $want, 'prints DATABASE_URL for 127.0.0.1 and the listen port, the password percent-encoded');
is(scalar(() = $sl->stdout_contents =~ /\n/g), 1, '... as the one line on stdout');
unlike($sl->stderr_contents, qr/\Q$pw\E|\Q${\ enc($pw)}\E/, 'the password is not in the log');
{
	my ($out, $err, $rc) = psql_url($printed, 'SELECT current_user, current_database(), v + 1 FROM t');
	is($out, 'dev|devdb|42', 'psql with the printed DATABASE_URL runs queries') or diag($err);
	($out, $err) = psql_url($printed, $SSL_SQL);
	is($out, 't', "sslmode not given: libpq's default, prefer (TLS when the server has it)") or diag($err);
}
{
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $r = $c->login(user => 'dev', password => $pw, database => 'devdb');
	ok($r->{ok}, 'a client logs in with the URL\'s password') or diag(SluiceTest::Proto::error_text($r->{error}));
	is($r->{auth}[0], 10, '... asked for SASL (SCRAM-SHA-256) first');
	$c->terminate;

	$sl->expect_log(qr/pooler error: password authentication failed for user "dev" \(sqlstate=28P01\)/,
			qr/pooler error: password authentication failed for user "postgres" \(sqlstate=28P01\)/);
	$c = SluiceTest::Proto->connect(port => $sl->port);
	$r = $c->login(user => 'dev', password => 'wrong', database => 'devdb');
	ok(!$r->{ok}, 'a wrong password is refused');
	is($r->{error}{C}, '28P01', '... with 28P01');
	$c->close;
	$c = SluiceTest::Proto->connect(port => $sl->port);
	$r = $c->login(user => 'postgres', password => $pg->superuser_password, database => 'devdb');
	is($r->{error}{C}, '28P01', 'another PostgreSQL user is no user of this sluice');
	$c->close;
	$sl->expect_log(qr/pooler error: database "postgres" does not exist \(sqlstate=3D000\)/);
	$c = SluiceTest::Proto->connect(port => $sl->port);
	$r = $c->login(user => 'dev', password => $pw, database => 'postgres');
	is($r->{error}{C}, '3D000', 'another database is not served');
	$c->close;
}
{
	my $pools = $sl->safe_psql('SHOW POOLS', db => 'sluice');
	like($pools, qr/^devdb\|dev\|.*\|transaction$/m, 'the console (the user is an admin): transaction pooling');
	my $dbs = $sl->safe_psql('SHOW DATABASES', db => 'sluice');
	like($dbs, qr/^devdb\|127\.0\.0\.1\|$pgport\|devdb\|dev\|20\|/m,
	     'SHOW DATABASES: the URL\'s host, port, database, forced user; pool size 20');
}
{
	my $cmdline = slurp('/proc/' . $sl->pid . '/cmdline');
	ok(length $cmdline, 'read its command line');
	unlike($cmdline, qr/\Q${\ enc($pw)}\E/, 'ps no longer shows the password');
	like($cmdline, qr{postgresql://dev:\*+\@127\.0\.0\.1:$pgport/devdb}, '... the rest of the URL stays');
}
{
	kill 'HUP', $sl->pid;
	ok(wait_for(sub { $sl->stderr_contents =~ /nothing to reload: sluice started from the URL argument/ },
		    timeout => 10), 'SIGHUP: nothing to reload, said so');
	is($sl->safe_psql('SELECT 1'), '1', '... and it goes on');
}

# ---- --pool-size 1: two clients share one server (transaction pooling) ----
{
	my ($sl1) = one_line(args => [ '--pool-size', '1', $url ]);
	my $a = $sl1->proto;
	my $b = $sl1->proto;
	my $pa = $a->query_value('SELECT pg_backend_pid()');
	my $pb = $b->query_value('SELECT pg_backend_pid()');
	ok($pa && $pb && $pa == $pb, '--pool-size 1, transaction mode: two connected clients take turns on one server');
	is($a->query_value('SELECT v FROM t'), 41, '... and the first goes on');
	$a->terminate;
	$b->terminate;
	like($sl1->safe_psql('SHOW DATABASES', db => 'sluice'), qr/^devdb\|[^|]*\|\d+\|devdb\|dev\|1\|/m,
	     'SHOW DATABASES: pool size 1');
}

# ---- SLUICE_DATABASE_URL, --pool-mode session, --pool-size 3 ----
{
	my ($sl2, $printed2) = one_line(args => [ '--pool-mode', 'session', '--pool-size', '3' ],
					env => { SLUICE_DATABASE_URL => "$url?sslmode=disable" });
	is($printed2, 'postgresql://dev:' . enc($pw) . '@127.0.0.1:' . $sl2->port . '/devdb',
	   'SLUICE_DATABASE_URL: DATABASE_URL printed');
	my ($out, $err) = psql_url($printed2, $SSL_SQL);
	is($out, 'f', '?sslmode=disable: no TLS toward PostgreSQL') or diag($err);
	like($sl2->safe_psql('SHOW POOLS', db => 'sluice'), qr/^devdb\|dev\|.*\|session$/m, '--pool-mode session');
	like($sl2->safe_psql('SHOW DATABASES', db => 'sluice'), qr/^devdb\|[^|]*\|\d+\|devdb\|dev\|3\|/m,
	     '--pool-size 3');
	my $environ = slurp('/proc/' . $sl2->pid . '/environ');
	ok(length $environ, 'read its environment');
	unlike($environ, qr/\Q${\ enc($pw)}\E/, 'the environment no longer holds the password');
	like($environ, qr/SLUICE_DATABASE_URL=postgresql:\/\/dev:\*+\@/, '... the variable stays, scrubbed');
}

# ---- a URL argument wins over SLUICE_DATABASE_URL ----
{
	my ($sl3, $printed3) = one_line(args => [ $url ],
					env => { SLUICE_DATABASE_URL => 'postgresql://other:x@127.0.0.1:1/nowhere' });
	like($printed3, qr{^postgresql://dev:[^@]+\@127\.0\.0\.1:\d+/devdb$}, 'the argument wins over the environment');
}

# ---- refusals: clear messages, non-zero status, nothing started ----
{
	my @cases = (
		[ [ 'postgresql://dev:x%zzy@127.0.0.1/devdb' ], {}, 1,
		  qr/^sluice: the URL argument: bad percent escape in the password/, 'a bad percent escape' ],
		[ [ 'postgresql://dev@127.0.0.1/devdb' ], {}, 1,
		  qr/^sluice: the URL argument: the URL needs a user and a password/, 'no password' ],
		[ [ 'postgresql://dev:pw@127.0.0.1:99999/devdb' ], {}, 1,
		  qr/port "99999" is not a number from 1 to 65535/, 'a bad port' ],
		[ [ 'postgresql://dev:pw@127.0.0.1/devdb?frobnicate=1' ], {}, 1,
		  qr/^sluice: the URL argument: frobnicate: unknown URL parameter$/m, 'an unknown parameter' ],
		[ [ 'postgresql://dev:pw@h1,h2/devdb' ], {}, 1, qr/several hosts/, 'several hosts' ],
		[ [ 'mysql://dev:x%zzy@127.0.0.1/devdb' ], {}, 2, qr/^sluice: mysql:\/\/\.\.\.: not a file, and not a URL sluice reads/,
		  'another scheme' ],
		[ [ '--pool-mode', 'fast', $url ], {}, 1,
		  qr/--pool-mode: "fast" is not one of: session, transaction, statement/, 'a bad --pool-mode' ],
		[ [ '--pool-size', '0', $url ], {}, 1, qr/--pool-size: 0 is out of range/, 'a bad --pool-size' ],
		[ [ '--listen', '6432', $url ], {}, 1, qr/--listen 6432: expected HOST:PORT/, 'a bad --listen' ],
		[ [ '--listen', '127.0.0.1:7000', '/nonexistent.ini' ], {}, 2,
		  qr/--listen, --pool-mode and --pool-size go with a URL/, 'URL options with a file' ],
		[ [ '/nonexistent.ini' ], { SLUICE_DATABASE_URL => $url }, 2,
		  qr/both a configuration file \(\/nonexistent\.ini\) and SLUICE_DATABASE_URL are given/,
		  'a file and SLUICE_DATABASE_URL' ],
		[ [ '-d', $url ], {}, 1, qr/-d needs a logfile, and a URL start logs to stderr only/, '-d with a URL' ],
		[ [ $url, $url ], {}, 2, qr/usage:/, 'two URLs' ],
	);
	for my $c (@cases) {
		my ($args, $env, $want_rc, $re, $name) = @$c;
		my ($out, $err, $rc) = run_cmd([ $bin, @$args ], env => { SLUICE_DATABASE_URL => undef, %$env },
					       timeout => 20);
		is($rc, $want_rc, "$name: exit status $want_rc");
		like($err, $re, "$name: says why") or diag($err);
		unlike($err . $out, qr/x%zzy|\Q${\ enc($pw)}\E/, "$name: no password in the message");
		is($out, '', "$name: nothing on stdout");
	}
	my ($out, $err, $rc) = run_cmd([ $bin, '-h' ]);
	like($out, qr/--listen HOST:PORT.*--pool-mode MODE.*--pool-size N/s, 'sluice -h names the long options');
	like($out, qr/SLUICE_DATABASE_URL/, '... and SLUICE_DATABASE_URL');
}

# ---- [databases] entries in URL form; sslmode per database ----
{
	my $u = 'postgresql://dev:' . enc($pw) . '@';
	my $sl4 = SluiceTest::Sluice->new(
		pg => $pg,
		databases => {
			kv        => "host=127.0.0.1 port=$pgport dbname=devdb user=dev password="
			             . SluiceTest::quote_conninfo($pw) . ' sslmode=require',
			urlreq    => "${u}127.0.0.1:$pgport/devdb?sslmode=require&pool_size=2",
			urlplain  => "${u}127.0.0.1:$pgport/devdb",
			urlverify => "${u}localhost:$pgport/devdb?sslmode=verify-full",
			urlwrong  => "${u}127.0.0.1:$pgport/devdb?sslmode=verify-full",
			urlunix   => 'postgresql://dev:' . enc($pw) . '@' . enc($pg->sockdir) . ":$pgport/devdb",
		},
		users => { dev => $pw }, default_db => 'urlplain', default_user => 'dev',
		settings => { server_tls_sslmode => 'disable', server_tls_ca_file => $ca->cert, admin_users => 'dev' });
	$sl4->expect_log(qr/ urlwrong\/dev\S+ pooler error: could not connect to server: certificate verify failed/);
	is($sl4->psql('SELECT current_database(), current_user, v FROM t', db => 'urlplain'), 'devdb|dev|41',
	   '[databases] URL entry: queries reach the URL\'s database as its user');
	is($sl4->psql($SSL_SQL, db => 'urlplain'), 'f', '... no sslmode: server_tls_sslmode (disable)');
	is($sl4->psql($SSL_SQL, db => 'urlreq'), 't', '?sslmode=require: TLS for that database alone');
	is($sl4->psql($SSL_SQL, db => 'kv'), 't', 'sslmode=require in key=value form: the same');
	my ($out, $err) = $sl4->psql($SSL_SQL, db => 'urlverify');
	is($out, 't', '?sslmode=verify-full to localhost against server_tls_ca_file: TLS') or diag($err);
	($out, $err) = $sl4->psql('SELECT 1', db => 'urlwrong');
	like($err, qr/certificate verify failed/, '?sslmode=verify-full to 127.0.0.1 (not in the certificate): refused');
	is($sl4->psql('SELECT current_database()', db => 'urlunix'), 'devdb', 'a percent-encoded socket directory as host');
	like($sl4->safe_psql('SHOW DATABASES', db => 'sluice'), qr/^urlreq\|127\.0\.0\.1\|$pgport\|devdb\|dev\|2\|/m,
	     'SHOW DATABASES: the URL entry\'s fields and ?pool_size=2');
}

# ---- a bad URL entry stops the load naming file, line and entry ----
{
	my $sl5 = SluiceTest::Sluice->new(pg => $pg, databases => { bad => 'postgresql://dev:x%zzy@h/d' },
					  users => { dev => $pw }, start => 0);
	my ($out, $err, $rc) = run_cmd([ $bin, $sl5->config_path ], env => { SLUICE_DATABASE_URL => undef });
	is($rc, 1, 'a bad [databases] URL: exit status 1');
	like($err, qr/^sluice: \S+sluice\.ini:\d+: bad: URL: bad percent escape in the password/m,
	     '... naming file, line and entry') or diag($err);
	unlike($err, qr/x%zzy/, '... not quoting the password');
}

done_testing();
