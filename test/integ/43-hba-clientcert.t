# clientcert in auth_hba_file is enforced whatever client_tls_sslmode is
# (issue 14, item 9). With client_tls_sslmode = require and a
# client_tls_ca_file, sluice asks every TLS client for a certificate
# without demanding one; a rule with clientcert=verify-ca then refuses a
# client that presented none (28000, "connection requires a valid client
# certificate", before any password request), admits one whose certificate
# the CA signed, and clientcert=verify-full also wants the CN to be the
# user. A rule without clientcert still admits clients without a
# certificate. A certificate from another CA ends the handshake. A
# clientcert (or cert) rule with no client_tls_ca_file stops sluice at
# start and is refused by a reload, naming the file, the line and the
# option, as PostgreSQL refuses it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use File::Copy ();
use SluiceTest qw(new_tempdir spit run_cmd wait_for);

plan skip_all => 'the openssl command line tool is needed' unless SluiceTest::TLS::available();

my $ca = SluiceTest::TLS->new_ca('cc1');
my $other = SluiceTest::TLS->new_ca('cc2');
my $srv = $ca->server_cert;
my $alice = $ca->client_cert('alice');
my $alice_other = $other->client_cert('alice');
my %TLS = (client_tls_cert_file => $srv->{cert}, client_tls_key_file => $srv->{key});

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $FORCED = $pg->connstr('app', user => 'app', password => 'app_pw');
my %DBS = (app => $FORCED, full => $FORCED, open => $FORCED);
my %USERS = (alice => 'alice_pw', bob => 'bob_pw');

# A private copy: a `make` elsewhere relinks build/test/bin while we run.
my $TLS_SCRAM = SluiceTest::c_test_program('tls_scram');
ok($TLS_SCRAM, 'the raw TLS client tls_scram is built');
if ($TLS_SCRAM) {
	my $copy = new_tempdir('bin') . '/tls_scram';
	File::Copy::copy($TLS_SCRAM, $copy) && chmod(0755, $copy) or die "copy $TLS_SCRAM: $!";
	$TLS_SCRAM = $copy;
}

# The raw TLS client: { rc, out, auth => [codes], error => {S, C, M}, value }.
sub tls_login
{
	my ($sl, %o) = @_;
	return { rc => -1, out => '', auth => [] } unless $TLS_SCRAM;
	my @argv = ($TLS_SCRAM, '--port', $sl->port, '--user', $o{user}, '--db', $o{db} // 'app',
		    '--password', $USERS{ $o{user} } // 'x', '--query', 'SELECT current_user');
	push @argv, '--cert', $o{cert}{cert}, '--key', $o{cert}{key} if $o{cert};
	my ($out, $err, $rc) = run_cmd(\@argv, timeout => 20);
	my %r = (rc => $rc, out => $out . $err, auth => [ $out =~ /^auth (\d+)/mg ]);
	$r{error} = { S => $1, C => $2, M => $3 } if $out =~ /^error ([^|]*)\|([^|]*)\|(.*)$/m;
	($r{value}) = $out =~ /^value (.*)$/m;
	return \%r;
}

sub tls_psql
{
	my ($sl, %o) = @_;
	my %env = SluiceTest::TLS::libpq_env(sslmode => 'require', $o{cert} ? (cert => $o{cert}) : ());
	return $sl->psql('SELECT current_user', user => $o{user}, password => $USERS{ $o{user} },
			 db => $o{db} // 'app', env => \%env, timeout => 20);
}

my $hba_dir = new_tempdir('hba');
my $HBA = "$hba_dir/pg_hba.conf";
spit($HBA, <<'EOF');
hostssl  app   all  127.0.0.1/32  scram-sha-256  clientcert=verify-ca
hostssl  full  all  127.0.0.1/32  scram-sha-256  clientcert=verify-full
hostssl  open  all  127.0.0.1/32  scram-sha-256
EOF

my $CC_MSG = 'connection requires a valid client certificate';

# ---- client_tls_sslmode = require, with a CA: the rule decides ----
my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => \%DBS, users => \%USERS, wait_login => 0,
	settings => { auth_type => 'hba', auth_hba_file => $HBA, client_tls_sslmode => 'require',
		      client_tls_ca_file => $ca->cert, verbose => 1, %TLS });
# the clients refused below for want of a valid certificate
$sl->expect_log(qr/ (?:app|full)\/(?:alice|bob)\S+ pooler error: connection requires a valid client certificate \(sqlstate=28000\)/,
		qr/\(nodb\)\/\(nouser\)\S+ TLS handshake error: certificate verify failed: unable to get local issuer certificate$/);

sub refused_without_cert
{
	my ($what) = @_;
	my $r = tls_login($sl, user => 'alice');
	is_deeply($r->{error}, { S => 'FATAL', C => '28000', M => $CC_MSG },
		  "$what: no certificate: FATAL 28000, PostgreSQL's message") or diag($r->{out});
	is_deeply($r->{auth}, [], "$what: ... before any password request");
	my ($out, $err, $rc) = tls_psql($sl, user => 'alice');
	isnt($rc, 0, "$what: psql sslmode=require without a certificate is refused");
	like($err, qr/\Q$CC_MSG\E/, "$what: ... with the same message");
}

sub admitted_with_cert
{
	my ($what) = @_;
	my $r = tls_login($sl, user => 'alice', cert => $alice);
	is($r->{value}, 'app', "$what: alice's certificate from the CA logs in") or diag($r->{out});
	is($r->{auth}[0], 10, "$what: ... after the rule's SCRAM exchange");
	my ($out, $err, $rc) = tls_psql($sl, user => 'alice', cert => $alice);
	is($out, 'app', "$what: psql with the certificate logs in") or diag($err);
}

{
	refused_without_cert('clientcert=verify-ca');
	admitted_with_cert('clientcert=verify-ca');

	my $r = tls_login($sl, user => 'bob', cert => $alice);
	is($r->{value}, 'app', 'clientcert=verify-ca: any name in the certificate will do') or diag($r->{out});

	$r = tls_login($sl, user => 'alice', cert => $alice_other);
	ok($r->{rc} == 3 || $r->{rc} == 4, 'a certificate from another CA ends the handshake') or diag($r->{out});
	is_deeply($r->{auth}, [], '... before any message');

	$r = tls_login($sl, user => 'alice', db => 'full', cert => $alice);
	is($r->{value}, 'app', 'clientcert=verify-full: alice\'s certificate logs in as alice') or diag($r->{out});
	$r = tls_login($sl, user => 'bob', db => 'full', cert => $alice);
	is_deeply($r->{error}, { S => 'FATAL', C => '28000', M => $CC_MSG },
		  'clientcert=verify-full: ... but not as bob') or diag($r->{out});
	$r = tls_login($sl, user => 'alice', db => 'full');
	is($r->{error}{M}, $CC_MSG, 'clientcert=verify-full: no certificate: refused') or diag($r->{out});

	$r = tls_login($sl, user => 'alice', db => 'open');
	is($r->{value}, 'app', 'a rule without clientcert: a client without a certificate logs in')
	    or diag($r->{out});
	my ($out, $err) = tls_psql($sl, user => 'bob', db => 'open');
	is($out, 'app', '... psql too') or diag($err);
}

# ---- a reload without the CA is refused; the running rules stay ----
{
	delete $sl->{settings}{client_tls_ca_file};
	$sl->expect_log(qr/ERROR reload refused, the running configuration stays: .*auth_hba_file: \Q$HBA\E:1: clientcert: client certificates can only be checked if client_tls_ca_file is set$/);
	$sl->reload;
	ok(wait_for(sub { $sl->log_contents =~ /reload refused/ }, timeout => 15), 'reload without a CA: refused');
	like($sl->log_contents,
	     qr/reload refused, the running configuration stays: .*auth_hba_file: \Q$HBA\E:1: clientcert: client certificates can only be checked if client_tls_ca_file is set/,
	     '... the log names the file, line 1 and clientcert');
	ok($sl->alive, '... sluice runs on');
	refused_without_cert('after the refused reload');
	admitted_with_cert('after the refused reload');
}

# ---- no CA file: sluice does not start ----
{
	my $try = sub {
		my ($name, $text) = @_;
		my $f = "$hba_dir/$name";
		spit($f, $text);
		my $s = eval {
			SluiceTest::Sluice->new(pg => $pg, databases => \%DBS, users => \%USERS, wait_login => 0,
						settings => { auth_type => 'hba', auth_hba_file => $f,
							      client_tls_sslmode => 'require', %TLS });
		};
		return ($s, $@, $f);
	};
	my ($s, $err, $f) = $try->('no-ca.conf', "# clientcert needs a CA\nhostssl open all 127.0.0.1/32 md5\n"
				   . "hostssl app all 127.0.0.1/32 md5 clientcert=verify-ca\n");
	ok(!$s, 'clientcert without client_tls_ca_file: sluice does not start');
	like($err, qr/\Q$f\E:3: clientcert: client certificates can only be checked if client_tls_ca_file is set/,
	     '... naming file:3 and clientcert');

	($s, $err, $f) = $try->('no-ca-cert.conf', "hostssl all all 127.0.0.1/32 cert\n");
	ok(!$s, 'a cert rule without client_tls_ca_file: sluice does not start');
	like($err, qr/\Q$f\E:1: cert: client certificates can only be checked/, '... naming file:1 and cert');
}

done_testing();
