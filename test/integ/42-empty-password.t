# An empty password in auth_file is no password (issue 14, item 10).
# PostgreSQL refuses empty passwords; PgBouncer 1.18 refuses them under
# plain and md5 but logs a client in under scram-sha-256. sluice refuses
# them under every method that checks a password (plain, md5,
# scram-sha-256, and hba rules naming them), with the wrong-password
# answer (28P01), whatever the client sends, the empty password included;
# the SCRAM exchange is the unknown user's, so it does not tell the empty
# entry apart; and the load warns, naming file, line and user. A stored
# md5 hash of the empty password counts as empty too. trust still admits
# such a user (no password is checked).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use SluiceTest qw(new_tempdir spit slurp);
use SluiceTest::Proto qw(error_text);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

# sluice logs in to PostgreSQL as app whoever the client is
my $FORCED = $pg->connstr('app', user => 'app', password => 'app_pw');
my %USERS = (
	app       => 'app_pw',
	empty     => '',
	empty_md5 => 'md5' . md5_hex('' . 'empty_md5'),   # the md5 hash of ""
);

sub new_sluice
{
	my (%s) = @_;
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $FORCED, md5db => $FORCED, plaindb => $FORCED, scramdb => $FORCED },
		users => \%USERS, default_user => 'app', default_db => 'app',
		settings => { verbose => 1, %s });
	# the load's warnings, and every refused login (as refused() below)
	$sl->expect_log(qr/ WARNING \S+\/userlist\.txt:\d+: user "(empty|empty_md5)" has an empty password: every login that checks a password will fail for it$/,
			qr/ \w+\/(app|empty|empty_md5|nobody)\@\S+ pooler error: password authentication failed for user "\1" \(sqlstate=28P01\)/);
	return $sl;
}

sub login
{
	my ($sl, %o) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $r = $c->login(database => 'app', %o);
	$c->close;
	return $r;
}

# Every login as $user is refused the way a wrong password is.
sub refused
{
	my ($sl, $what, $user, $code, %o) = @_;
	for my $pw ('', 'x', 'app_pw') {
		my $r = login($sl, user => $user, password => $pw, %o);
		ok(!$r->{ok}, "$what: $user with password \"$pw\" is refused");
		is($r->{error}{C}, '28P01', "$what: ... 28P01") or diag(error_text($r->{error}));
		is($r->{error}{M}, qq{password authentication failed for user "$user"}, "$what: ... PostgreSQL's message");
		is($r->{auth}[0], $code, "$what: ... after the method's own request ($code)");
	}
}

# ---- auth_type = plain, md5, scram-sha-256 ----
my %CODE = (plain => 3, md5 => 5, 'scram-sha-256' => 10);
my @sluices;
for my $type (qw(plain md5 scram-sha-256)) {
	my $sl = new_sluice(auth_type => $type);
	push @sluices, $sl;
	my $r = login($sl, user => 'app', password => 'app_pw');
	ok($r->{ok}, "$type: a user with a password logs in") or diag(error_text($r->{error}));
	$r = login($sl, user => 'app', password => '');
	is($r->{error}{C}, '28P01', "$type: ... not with an empty password");
	refused($sl, $type, 'empty', $CODE{$type});
	refused($sl, $type, 'empty_md5', $CODE{$type});
}

# the load warned about both entries, naming file, line and user
{
	my $sl = $sluices[0];
	my $file = $sl->dir . '/userlist.txt';
	my @lines = split /\n/, slurp($file);
	my %line = map { $lines[$_] =~ /^"([^"]+)"/ ? ($1 => $_ + 1) : () } 0 .. $#lines;
	for my $user (qw(empty empty_md5)) {
		like($sl->log_contents,
		     qr/\Q$file:$line{$user}: user "$user" has an empty password: every login that checks a password will fail for it\E/,
		     "load: a warning names $file:$line{$user} and $user");
	}
	unlike($sl->log_contents, qr/user "app" has an empty password/, 'load: ... and no warning about app');
}

# SCRAM: the empty entry's exchange is the unknown user's
{
	my $sl = $sluices[2];
	my %first;
	for my $user (qw(empty nobody)) {
		my $c = SluiceTest::Proto->connect(port => $sl->port);
		my $r = $c->login(user => $user, password => '', database => 'app');
		$c->close;
		is_deeply($r->{auth}, [ 10, 11 ], "scram: $user: SASL, SASLContinue, then the failure");
		$first{$user} = $r;
	}
	my $cmp = sub {
		my ($user) = @_;
		(my $e = error_text($first{$user}{error})) =~ s/"\Q$user\E"/"USER"/g;
		return $e;
	};
	is($cmp->('empty'), $cmp->('nobody'), 'scram: the same error for the empty entry and an unknown user');
}

# ---- auth_type = hba: rules naming each method ----
{
	my $dir = new_tempdir('hba');
	spit("$dir/pg_hba.conf", <<'EOF');
host  md5db    all  127.0.0.1/32  md5
host  plaindb  all  127.0.0.1/32  password
host  scramdb  all  127.0.0.1/32  scram-sha-256
host  app      all  127.0.0.1/32  trust
EOF
	my $sl = new_sluice(auth_type => 'hba', auth_hba_file => "$dir/pg_hba.conf");
	for my $case ([ md5db => 5 ], [ plaindb => 3 ], [ scramdb => 10 ]) {
		my ($db, $code) = @$case;
		my $r = login($sl, user => 'app', password => 'app_pw', database => $db);
		ok($r->{ok}, "hba $db: app logs in") or diag(error_text($r->{error}));
		refused($sl, "hba $db", $_, $code, database => $db) for qw(empty empty_md5);
	}
	# trust checks no password: the entry still admits the user
	my $r = login($sl, user => 'empty', database => 'app');
	ok($r->{ok}, 'hba trust: the user with an empty password logs in without one')
	    or diag(error_text($r->{error}));
}

done_testing();
