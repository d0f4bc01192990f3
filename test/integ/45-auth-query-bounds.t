# auth_query under a flood of made-up user names (issue 14, item 1): user
# and database names are cut to 63 bytes as PostgreSQL cuts them; the
# cache of looked-up secrets is bounded in entries and bytes, and an
# unknown name is remembered only briefly (auth_cache_negative_lifetime);
# lookups in flight per database are bounded (auth_query_max_in_flight);
# sluice's memory stays flat and a real user still logs in.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use SluiceTest qw(wait_for slurp);
# AddressSanitizer keeps freed memory aside (256 MB by default) before
# reusing it: with that, every entry the cache evicted would count here
$ENV{ASAN_OPTIONS} = join(':', grep { length } $ENV{ASAN_OPTIONS} // '', 'quarantine_size_mb=4')
    if ($ENV{SLUICE_BIN} // '') =~ m{/asan/};
use SluiceTest::Proto qw(startup_packet);

my $pg = SluiceTest::Pg->new;
$pg->create_role('authq', 'authq_pw', superuser => 1);
$pg->create_role('looked', 'look_pw');
$pg->create_role('b' x 63, 'long_pw');
$pg->create_db('app', 'looked');
my $db63 = 'd' x 63;
$pg->create_db($db63, 'looked');
# Every lookup bumps a sequence, so PostgreSQL's side of the count is exact.
$pg->safe_psql('app', q{
	CREATE SEQUENCE lookups;
	CREATE FUNCTION lookup(u name) RETURNS TABLE (usename name, passwd text)
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM nextval('lookups');
		RETURN QUERY SELECT s.usename, s.passwd FROM pg_catalog.pg_shadow s WHERE s.usename = u;
	END $$;
});
$pg->safe_psql($db63, q{CREATE FUNCTION lookup(u name) RETURNS TABLE (usename name, passwd text)
	LANGUAGE sql AS $$ SELECT s.usename, s.passwd FROM pg_catalog.pg_shadow s WHERE s.usename = u $$});
sub lookups { $pg->safe_psql('app', q{SELECT last_value - 1 + is_called::int FROM lookups}) }

my $mport = SluiceTest::free_port();
my $MAX_ENTRIES = 500;
my $IN_FLIGHT = 2;
my %settings = (auth_type => 'md5', auth_user => 'authq', auth_query => 'SELECT * FROM lookup($1)',
		auth_cache_lifetime => 300, auth_cache_negative_lifetime => 60,
		auth_cache_max_entries => $MAX_ENTRIES, auth_query_max_in_flight => $IN_FLIGHT,
		admin_users => 'admin', server_tls_sslmode => 'disable',
		metrics_listen => "127.0.0.1:$mport", max_client_conn => 1000, auth_cache_max_bytes => '1MB');
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app'), $db63 => $pg->connstr($db63) },
	users => { authq => 'authq_pw', admin => 'admin_pw' },
	settings => \%settings,
	wait_login => 0,
);
my $pid = $sl->pid;
sub rss_kb { return (slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+) kB/m)[0] // 0 }
my $http = HTTP::Tiny->new(timeout => 10);
sub metric
{
	my ($name) = @_;
	my $r = $http->get("http://127.0.0.1:$mport/metrics");
	return undef unless $r->{status} == 200;
	return $r->{content} =~ /^\Q$name\E (\S+)$/m ? $1 : undef;
}

sub login
{
	my ($user, $password, $db) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
	my $r = $c->login(user => $user, password => $password, database => $db // 'app', timeout => 10);
	return ($c, $r);
}

# ---- names are cut to 63 bytes, as PostgreSQL cuts them ----
{
	my $long = 'b' x 63 . 'tail-beyond-NAMEDATALEN';
	my $direct = SluiceTest::Proto->connect(port => $pg->port, timeout => 10);
	my $dr = $direct->login(user => $long, password => 'long_pw', database => 'app', timeout => 10);
	ok($dr->{ok}, 'PostgreSQL 15 itself logs a 86-byte user name in as its first 63 bytes');
	$direct->close;
	my ($c, $r) = login($long, 'long_pw');
	ok($r->{ok}, 'through sluice the same name logs in too (looked up as its 63 bytes)')
	    or diag(SluiceTest::Proto::error_text($r->{error}));
	is($r->{ok} ? $c->query_value('SELECT current_user') : '', 'b' x 63, '... as the 63-byte role');
	$c->close;

	# PostgreSQL 15 cuts at byte 63 even inside a UTF-8 character: the
	# name no longer matches the role (which CREATE ROLE cut at 62 bytes, at
	# the character) and the login fails as for an unknown user.
	my $split = 'a' x 62 . "\xc3\xa9" . 'zz';
	$pg->safe_psql('postgres', qq{CREATE ROLE "$split" LOGIN PASSWORD 'split_pw'});
	$direct = SluiceTest::Proto->connect(port => $pg->port, timeout => 10);
	$dr = $direct->login(user => $split, password => 'split_pw', database => 'app', timeout => 10);
	$direct->close;
	$sl->expect_log(qr/ app\/a{62}\xc3\@\S+ pooler error: password authentication failed for user "a{62}\xc3" \(sqlstate=28P01\)/);
	($c, $r) = login($split, 'split_pw');
	is($r->{error}{C} // 'ok', $dr->{error}{C} // 'ok',
	   'a name cut inside a UTF-8 character: the same SQLSTATE as PostgreSQL (' . ($dr->{error}{C} // 'ok') . ')');
	is($r->{error}{M} // '', $dr->{error}{M} // '', '... and the same message');
	$c->close;

	($c, $r) = login('looked', 'look_pw', $db63 . 'xyz');
	ok($r->{ok}, 'a database name is cut to 63 bytes too and finds its [databases] entry')
	    or diag(SluiceTest::Proto::error_text($r->{error}));
	is($r->{ok} ? $c->query_value('SELECT current_database()') : '', $db63, '... and reaches that database');
	$c->close;
}

# A real user logs in once before the flood: its secret is cached.
my ($c0, $r0) = login('looked', 'look_pw');
ok($r0->{ok}, 'a user known only to PostgreSQL logs in') or diag(SluiceTest::Proto::error_text($r0->{error}));
$c0->close;

# ---- the flood ----
# N made-up names of 9 KB, distinct in their first 63 bytes. Each is tried
# three times: as it is, again (the cache answers), and with another tail
# past byte 63 (the same name once cut: the cache answers again). Clients
# go in batches that run at once, beyond the lookups allowed in flight.
my $N = 2000;
my $BATCH = 50;
my $tail = 'x' x 9000;
sub flood_name { my ($i, $v) = @_; return sprintf('ghost%06d', $i) . ('_' x 52) . "$v$tail" }

# Every client sends its startup packet and waits for the password request
# (the lookup is done by then), then goes away.
sub batch
{
	my @names = @_;
	my (@socks, $asked);
	for my $n (@names) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $sl->port, Proto => 'tcp',
					      Timeout => 10) or die "connect: $!";
		binmode $s;
		syswrite($s, startup_packet({ user => $n, database => 'app' }));
		push @socks, $s;
	}
	for my $s (@socks) {
		my $buf = '';
		my $sel = IO::Select->new($s);
		while (length $buf < 5 && $sel->can_read(10)) {
			last unless sysread($s, $buf, 4096, length $buf);
		}
		$asked++ if substr($buf, 0, 1) eq 'R';
		close $s;
	}
	return $asked // 0;
}

my $watch = $pg->watch_max(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'authq' AND datname = 'app'},
			   interval => 0.002);
my ($rss0, $lookups0, $t0) = (rss_kb(), lookups(), time);
my $asked = 0;
for (my $i = 0; $i < $N; $i += $BATCH) {
	my @ids = ($i .. ($i + $BATCH - 1 < $N - 1 ? $i + $BATCH - 1 : $N - 1));
	$asked += batch(map { flood_name($_, 'a') } @ids);
	$asked += batch(map { flood_name($_, 'a') } @ids);
	$asked += batch(map { flood_name($_, 'b') } @ids);
}
my $secs = time - $t0;
my ($rss1, $lookups1) = (rss_kb(), lookups());
my ($max_active) = $watch->stop;
note(sprintf('flood: %d logins in %.1f s; sluice RSS %d -> %d kB; %d lookups on PostgreSQL; at most %s at once',
	     3 * $N, $secs, $rss0, $rss1, $lookups1 - $lookups0, $max_active // '?'));

is($asked, 3 * $N, 'every made-up name was asked for a password, as a real one is');
is($lookups1 - $lookups0, $N, "PostgreSQL saw one lookup per name once cut to 63 bytes ($N), not one per login");
cmp_ok($max_active // 99, '<=', $IN_FLIGHT, "at most auth_query_max_in_flight ($IN_FLIGHT) lookup connections were open at once");
# Under AddressSanitizer freed memory stays resident in its quarantine.
my $allow_kb = ($ENV{SLUICE_BIN} // '') =~ m{/asan/} ? 96 * 1024 : 8 * 1024;
cmp_ok($rss1 - $rss0, '<', $allow_kb, sprintf('sluice RSS grew by less than %d MB', $allow_kb / 1024));
is(metric('sluice_auth_cache_entries'), $MAX_ENTRIES, "the cache holds auth_cache_max_entries ($MAX_ENTRIES) entries");
my $bytes = metric('sluice_auth_cache_bytes');
ok(defined $bytes && $bytes > 0 && $bytes <= 1048576, 'the cache bytes are within auth_cache_max_bytes (' . ($bytes // '?') . ')');

# A known user's cached secret outlives the flood of unknown names, and
# the user still logs in at once.
my $t1 = time;
my $base = lookups();
my ($c1, $r1) = login('looked', 'look_pw');
ok($r1->{ok}, 'a real user logs in after the flood') or diag(SluiceTest::Proto::error_text($r1->{error}));
note(sprintf('real user login after the flood: %.3f s', time - $t1));
is(lookups() - $base, 0, '... from the cache: unknown names evict unknown names first');
$c1->close;

# ---- an unknown name is remembered only auth_cache_negative_lifetime ----
$sl->{settings}{auth_cache_negative_lifetime} = 1;
$sl->write_config;
my $adm = $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer');
$adm->query('RELOAD');
$adm->close;
# until the role exists
$sl->expect_log(qr/ app\/late\S+ pooler error: password authentication failed for user "late" \(sqlstate=28P01\)/);
my ($c2, $r2) = login('late', 'late_pw');
ok(!$r2->{ok}, 'a user PostgreSQL does not know yet is refused');
$c2->close;
$pg->create_role('late', 'late_pw');
ok(wait_for(sub { my ($x, $y) = login('late', 'late_pw'); $x->close; $y->{ok} }, timeout => 10),
   'once the role exists it logs in after auth_cache_negative_lifetime (1 s), not auth_cache_lifetime (300 s)');

done_testing();
