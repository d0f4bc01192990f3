# Logging in through sluice: every auth_type, every kind of userlist secret,
# and the failures a client sees with PostgreSQL's own SQLSTATEs and wording.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use SluiceTest;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->create_role('alice', 'alice_pw');
$pg->create_role('carol', 'carol_pw');      # only to take a real SCRAM verifier from
$pg->safe_psql('app', 'CREATE TABLE marker(v text); INSERT INTO marker VALUES ($$through-sluice$$); '
	       . 'GRANT SELECT ON marker TO PUBLIC');

my $carol_scram = $pg->scram_verifier('carol');
like($carol_scram, qr/^SCRAM-SHA-256\$\d+:[^\$]+\$[^:]+:.+$/, 'took a SCRAM verifier from pg_authid');
my $bob_md5 = 'md5' . md5_hex('bob_pw' . 'bob');

# alice: plain secret; sluice logs in to PostgreSQL as alice with it.
# bob (md5 hash) and carol (SCRAM verifier) cannot be replayed to the
# server, so their database entry forces the server login to app.
my %users = (alice => 'alice_pw', bob => $bob_md5, carol => $carol_scram);
my %dbs = (
	app       => $pg->connstr('app'),
	appforced => $pg->connstr('app', user => 'app', password => 'app_pw'),
);

# Which authentication request codes sluice must send first, per auth_type
# and secret kind (PostgreSQL's own choices: a SCRAM secret always gets SCRAM
# unless the method is cleartext password).
my %first_auth = (
	'scram-sha-256' => { alice => 10, carol => 10 },
	'md5'           => { alice => 5,  bob => 5, carol => 10 },
	'plain'         => { alice => 3,  bob => 3, carol => 3 },
	'trust'         => { alice => 0 },
);
my %password = (alice => 'alice_pw', bob => 'bob_pw', carol => 'carol_pw');
my %db_of = (alice => 'app', bob => 'appforced', carol => 'appforced');
my %server_user = (alice => 'alice', bob => 'app', carol => 'app');

my %sl;
for my $auth (qw(scram-sha-256 md5 plain trust)) {
	my $sl = $sl{$auth} = SluiceTest::Sluice->new(
		pg => $pg, databases => \%dbs, users => \%users,
		settings => { auth_type => $auth }, default_user => 'alice', default_db => 'app');
	# the wrong password and unknown user below, and (scram-sha-256) the unknown database
	$sl->expect_log(qr/pooler error: password authentication failed for user "(?:alice|nobody)" \(sqlstate=28P01\)/)
	    unless $auth eq 'trust';

	for my $user (sort keys %{ $first_auth{$auth} }) {
		my $pw = $auth eq 'trust' ? undef : $password{$user};
		my $c = SluiceTest::Proto->connect(port => $sl->port);
		my $r = $c->login(user => $user, password => $pw, database => $db_of{$user});
		ok($r->{ok}, "$auth: $user logs in") or diag(SluiceTest::Proto::error_text($r->{error}));
		is($r->{auth}[0], $first_auth{$auth}{$user}, "$auth: $user was asked for auth method $first_auth{$auth}{$user}");
		ok(defined $r->{backend_pid} && defined $r->{backend_key}, "$auth: $user got BackendKeyData");
		ok(exists $r->{params}{server_version}, "$auth: $user got ParameterStatus server_version");
		is($r->{status}, 'I', "$auth: $user ReadyForQuery is idle");
		next unless $r->{ok};
		my $q = $c->query('SELECT current_user, v FROM marker');
		is_deeply($q->{rows}, [[ $server_user{$user}, 'through-sluice' ]],
			  "$auth: $user reaches PostgreSQL as $server_user{$user}");
		$c->terminate;
	}

	# libpq (psql) with a URL, as an application's DATABASE_URL would be used
	my ($out, $err, $rc) = SluiceTest::run_psql(
		host => '127.0.0.1', port => $sl->port,
		db => $sl->url(user => 'alice', password => $auth eq 'trust' ? undef : 'alice_pw', db => 'app'),
		sql => 'SELECT v FROM marker');
	is($out, 'through-sluice', "$auth: psql with a postgresql:// URL") or diag($err);

	next if $auth eq 'trust';

	# wrong password and unknown user: PostgreSQL's message and SQLSTATE,
	# the same for both so a client cannot probe for user names
	for my $case ([ 'alice', 'wrong_pw', 'wrong password' ],
		      [ 'nobody', 'whatever', 'unknown user' ]) {
		my ($user, $pw, $what) = @$case;
		my $c = SluiceTest::Proto->connect(port => $sl->port);
		my $r = $c->login(user => $user, password => $pw, database => 'app');
		ok(!$r->{ok}, "$auth: $what is refused");
		is_deeply($r->{auth}, [ 10, 11 ], "$auth: $what fails only after the full SCRAM exchange (no user probing)")
		    if $auth eq 'scram-sha-256';
		is($r->{error}{C}, '28P01', "$auth: $what gives SQLSTATE 28P01");
		is($r->{error}{S}, 'FATAL', "$auth: $what is FATAL");
		is($r->{error}{M}, qq{password authentication failed for user "$user"},
		   "$auth: $what message is PostgreSQL's");
		my ($eof) = $c->wait_eof(10);
		ok($eof, "$auth: $what: connection closed after the error");

		(undef, $err, $rc) = $sl->psql('SELECT 1', user => $user, password => $pw, db => 'app');
		isnt($rc, 0, "$auth: psql with $what fails");
		like($err, qr/password authentication failed for user "\Q$user\E"/, "$auth: psql shows the message for $what");
	}
}

# unknown database (after a successful password check, as in PostgreSQL)
{
	my $sl = $sl{'scram-sha-256'};
	$sl->expect_log(qr/pooler error: database "nosuchdb" does not exist \(sqlstate=3D000\)/);
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $r = $c->login(user => 'alice', password => 'alice_pw', database => 'nosuchdb');
	ok(!$r->{ok}, 'unknown database is refused');
	is($r->{error}{C}, '3D000', 'unknown database gives SQLSTATE 3D000');
	is($r->{error}{M}, 'database "nosuchdb" does not exist', "unknown database message is PostgreSQL's");
	my (undef, $err, $rc) = $sl->psql('SELECT 1', db => 'nosuchdb');
	isnt($rc, 0, 'psql to an unknown database fails');
	like($err, qr/database "nosuchdb" does not exist/, 'psql shows the unknown database message');

	# the unix socket in unix_socket_dir
	my ($out, $err2, $rc2) = $sl->psql('SELECT current_user', host => 'unix');
	is($out, 'alice', 'login over the unix socket (psql -h socketdir)') or diag($err2);

	# the server connection is still good for the next client
	is($sl->psql('SELECT v FROM marker'), 'through-sluice', 'a normal login still works afterwards');
}

done_testing();
