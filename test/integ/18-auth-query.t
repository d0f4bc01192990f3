# auth_query: users missing from auth_file are looked up in PostgreSQL by
# auth_user, over sluice's own pooled connection; the answer is cached for
# auth_cache_lifetime; unknown users, NULL secrets and expired passwords
# are refused like a wrong password; nothing the client sends at startup
# reaches the lookup's connection.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(wait_for);
use SluiceTest::Proto;

my $pg = SluiceTest::Pg->new;
$pg->append_conf("log_statement = 'all'\nlog_line_prefix = '%u %a: '");
$pg->restart;
$pg->create_role('authq', 'authq_pw', superuser => 1);
$pg->create_role('looked', 'look_pw');
$pg->create_role('nopw');
$pg->safe_psql('postgres', q{CREATE ROLE expired LOGIN PASSWORD 'exp_pw' VALID UNTIL '2000-01-01'});
$pg->create_db('app', 'looked');

my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app') },
	users => { authq => 'authq_pw' },          # only the lookup user is listed
	settings => { auth_type => 'scram-sha-256', auth_user => 'authq', auth_cache_lifetime => 1,
		      server_tls_sslmode => 'disable' },
	wait_login => 0,
);
# the wrong passwords, unknown, expired and passwordless roles tried below
$sl->expect_log(qr/ app\/(looked|nobody|expired|nopw)\S+ pooler error: password authentication failed for user "\1" \(sqlstate=28P01\)/);

sub login
{
	my ($user, $password, %params) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
	my $r = $c->login(user => $user, password => $password, database => 'app', timeout => 10,
			  (%params ? (params => \%params) : ()));
	return ($c, $r);
}

my ($c, $r) = login('looked', 'look_pw', application_name => 'client-app');
ok($r->{ok}, 'a user missing from auth_file logs in with the password PostgreSQL has')
    or diag(explain($r->{error}));
is($c->query_value('SELECT current_user'), 'looked', '... and reaches PostgreSQL as that user (SCRAM pass-through)');
$c->terminate;

my $want = 'password authentication failed for user "%s"';
for my $case ([ 'looked', 'wrong_pw', 'a wrong password' ],
	      [ 'nobody', 'x', 'an unknown user' ],
	      [ 'expired', 'exp_pw', 'an expired password (valuntil in the past)' ],
	      [ 'nopw', 'x', 'a user without a password (NULL secret)' ]) {
	my ($user, $pw, $what) = @$case;
	my ($c2, $r2) = login($user, $pw);
	ok(!$r2->{ok}, "$what is refused");
	is($r2->{error}{C} // '', '28P01', "$what: SQLSTATE 28P01");
	is($r2->{error}{M} // '', sprintf($want, $user), "$what: PostgreSQL's message, as for a wrong password");
	$c2->close;
}

# The lookup runs on sluice's own connection, as auth_user, with the fixed
# query and the user name as a bound parameter: the client's startup
# parameters never reach it.
my $log = $pg->log_contents;
like($log, qr/authq [^:]*: .*pg_catalog\.pg_shadow.*\$1/, 'the lookup runs as auth_user with the fixed, parameterised query');
like($log, qr/looked client-app: /, "the client's application_name reaches its own server connection");
unlike($log, qr/authq client-app:/, "the client's application_name never reaches the lookup's connection");
unlike($log, qr/authq [^:]*: .*SET /i, 'nothing is SET on the lookup connection');

# The answer is cached at most auth_cache_lifetime (1 s): a changed password
# takes effect once it expires.
$pg->safe_psql('postgres', q{ALTER ROLE looked PASSWORD 'new_pw'});
ok(wait_for(sub { my ($x, $y) = login('looked', 'new_pw'); $x->close; $y->{ok} }, timeout => 10),
   'a changed password is used once the cached secret expires');
my ($c3, $r3) = login('looked', 'look_pw');
ok(!$r3->{ok}, 'the old password no longer works');
$c3->close;

done_testing();
