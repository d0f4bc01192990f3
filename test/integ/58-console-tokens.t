# The console's tokenizer and SET (issue 16, item 5):
#
#   - a database is named by a word or a "quoted identifier" ("" inside is
#     one "): names with spaces, quotes or 200 bytes reach every command
#     that takes a name; a word keeps its case; a 'string' is no name;
#   - unterminated quotes and a second command after ';' are refused whole,
#     naming the byte where it went wrong, and nothing runs;
#   - SET takes a word, a number, a 'string' or a "quoted identifier", or
#     a comma list of them; it builds a new configuration and swaps it in as
#     a reload does: SHOW CONFIG shows it, a bad value leaves the running
#     one, a larger default_pool_size lets a waiting client have a server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $target = $pg->connstr('app', user => 'app', password => 'app_pw');
my $long = 'L' . ('o' x 198) . 'g';       # 200 bytes
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $target, 'my db' => $target, 'we"ird' => $target, $long => $target,
		       MixedCase => $target },
	users => { app => 'app_pw', admin => 'admin_pw' },
	settings => { auth_type => 'plain', admin_users => 'admin', pool_mode => 'transaction',
		      default_pool_size => 1, query_wait_timeout => 30 },
	default_db => 'app', default_user => 'app',
);

# every console command this file gets wrong on purpose is answered with
# an ErrorResponse, which sluice logs; and the KILL of "my db" below
$sl->expect_log(qr/ pgbouncer\/admin\S+ pooler error: .* \(sqlstate=(?:42601|3D000|0A000|22023)\)$/,
		qr/ my db\/app\S+ pooler error: database "my db" was killed from the admin console \(sqlstate=57P01\)/);

my $adm = $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer');
sub err_of  { my ($r) = @_; return @{ $r->{errors} } ? "$r->{errors}[0]{C} $r->{errors}[0]{M}" : '' }
sub tags_of { my ($r) = @_; return join(',', @{ $r->{tags} }) . (@{ $r->{errors} } ? ' ' . err_of($r) : '') }
sub rows
{
	my ($what) = @_;
	my $r = $adm->query("SHOW $what");
	return [ map { my $row = $_; +{ map { ($r->{columns}[$_] => $row->[$_]) } 0 .. $#$row } } @{ $r->{rows} } ];
}
sub db_row { my ($name) = @_; my ($row) = grep { $_->{name} eq $name } @{ rows('DATABASES') }; $row }
sub config_value { my ($k) = @_; my ($row) = grep { $_->{key} eq $k } @{ rows('CONFIG') }; $row->{value} }
sub send_query { my ($c, $sql) = @_; $c->send(SluiceTest::Proto::msg('Q', "$sql\0")) }

# ---- names in double quotes, any length ----
{
	is(tags_of($adm->query('PAUSE "my db"')), 'PAUSE', 'PAUSE "my db": a name with a space');
	is(db_row('my db')->{paused}, 1, '... SHOW DATABASES: "my db" is paused');
	is(db_row('app')->{paused}, 0, '... and app is not');
	is(tags_of($adm->query('RESUME "my db";')), 'RESUME', 'RESUME "my db"; (with the ;)');
	is(db_row('my db')->{paused}, 0, '... open again');

	is(tags_of($adm->query('DISABLE "we""ird"')), 'DISABLE', 'DISABLE "we""ird": a doubled quote is one quote');
	is(db_row('we"ird')->{disabled}, 1, '... the database we"ird is disabled');
	is(tags_of($adm->query('enable "we""ird"')), 'ENABLE', 'enable "we""ird" (keywords in any case)');
	is(db_row('we"ird')->{disabled}, 0, '... enabled again');

	is(tags_of($adm->query("PAUSE $long")), 'PAUSE', 'PAUSE of a 200-byte name, bare');
	is(db_row($long)->{paused}, 1, '... it is paused');
	my ($gate) = grep { $_->{database} eq $long } @{ rows('GATES') };
	ok($gate && $gate->{window} > 0, '... SHOW GATES: its window') or diag explain $gate;
	is(tags_of($adm->query(qq{RESUME "$long" WINDOW $gate->{window}})), 'RESUME', '... RESUME "<200 bytes>" WINDOW n');
	is(db_row($long)->{paused}, 0, '... open again');
	is(tags_of($adm->query(qq{RECONNECT "$long"})), 'RECONNECT', 'RECONNECT "<200 bytes>"');
	is(tags_of($adm->query(qq{WAIT_CLOSE "$long"})), 'WAIT_CLOSE', 'WAIT_CLOSE "<200 bytes>"');

	is(tags_of($adm->query('PAUSE MixedCase TIMEOUT 5')), 'PAUSE', 'a bare name keeps its case (MixedCase)');
	is(tags_of($adm->query('RESUME "MixedCase"')), 'RESUME', '... and is the same as "MixedCase"');
	like(err_of($adm->query('PAUSE mixedcase')), qr/^3D000 no such database: mixedcase/,
	     '... mixedcase is another name');
}

# ---- KILL "my db" drops the clients logged in to it ----
{
	my $c = $sl->proto(user => 'app', password => 'app_pw', dbname => 'my db');
	is($c->query_value('SELECT current_database()'), 'app', 'a client of "my db" works');
	my $other = $sl->proto(user => 'app', password => 'app_pw', dbname => 'app');
	is(tags_of($adm->query('KILL "my db"')), 'KILL', 'KILL "my db"');
	my $r = $c->read_results(5);
	is($r->{errors}[0]{C}, '57P01', '... its client is dropped (57P01)');
	like($r->{errors}[0]{M}, qr/database "my db" was killed/, '... naming the database');
	is($other->query_value('SELECT 1'), 1, '... a client of app goes on');
	is(tags_of($adm->query('RESUME "my db"')), 'RESUME', 'RESUME "my db" after KILL');
	$other->terminate;
}

# ---- what is not a name, and what does not lex ----
{
	like(err_of($adm->query("PAUSE 'my db'")), qr/^42601 PAUSE takes a database name .*not a string/,
	     "PAUSE 'my db': a string is no name (42601)");
	like(err_of($adm->query('PAUSE my db')), qr/^42601 /, 'PAUSE my db (unquoted): a syntax error');
	like(err_of($adm->query('KILL "my db')), qr/^42601 unterminated quoted identifier starting at byte 5/,
	     'KILL "my db: an unterminated identifier, naming where it starts');
	like(err_of($adm->query("SET server_check_query = 'select 1")), qr/^42601 unterminated string starting at byte 25/,
	     'an unterminated string, naming where it starts');
	like(err_of($adm->query('KILL ""')), qr/^42601 zero-length quoted identifier/, 'KILL "": an empty identifier');
	like(err_of($adm->query('PAUSE app; RESUME app')), qr/^42601 one command at a time: text after ';' at byte 11/,
	     'two commands in one query: refused whole');
	like(err_of($adm->query('"SHOW" POOLS')), qr/^42601 .*keyword/, 'a quoted identifier is never a command');
	like(err_of($adm->query('SHOW "POOLS"')), qr/^0A000 SHOW "POOLS" is not supported/, '... nor what SHOW shows');
	is(db_row('my db')->{paused} + db_row('app')->{paused}, 0, 'none of these paused anything');
	is(tags_of($adm->query("SHOW POOLS ;;  ")), 'SHOW', 'SHOW POOLS ;; : trailing semicolons are fine');
}

# ---- SET: values as words, numbers, strings, identifiers and lists ----
{
	is(tags_of($adm->query(q{SET server_check_query = 'select ''a b'''})), 'SET', q{SET with a string: 'select ''a b'''});
	is(config_value('server_check_query'), q{select 'a b'}, q{... SHOW CONFIG: select 'a b'});
	is(tags_of($adm->query('SET stats_users TO "some one", admin ,x')), 'SET', 'SET a list: an identifier, words');
	is(config_value('stats_users'), 'some one,admin,x', '... joined by commas');
	is(tags_of($adm->query('set SERVER_CHECK_DELAY = 12')), 'SET', 'a key in any case, a number');
	is(config_value('server_check_delay'), 12, '... SHOW CONFIG shows it');
	is(tags_of($adm->query(q{SET server_check_query = ''})), 'SET', q{SET to '' (empty)});
	is(config_value('server_check_query'), '', '... SHOW CONFIG: empty');

	like(err_of($adm->query('SET query_timeout = lots')), qr/^22023 query_timeout: "lots" is not a number of seconds/,
	     'a bad value: 22023 naming the key and why');
	like(err_of($adm->query('SET default_pool_size = 0')), qr/^22023 default_pool_size: 0 is out of range/,
	     'a value out of range: the same');
	is(config_value('default_pool_size'), 1, '... the running value stays');
	is(config_value('query_timeout'), 0, '... and the other');
	like(err_of($adm->query('SET default_pool_size =')), qr/^42601 usage: SET key = value/, 'SET without a value');
	like(err_of($adm->query('SET default_pool_size = 2 3')), qr/^42601 unexpected text after the value: 3/,
	     'SET with two values');
	like(err_of($adm->query('SET default_pool_size = 2,')), qr/^42601 /, 'SET with a list ending in a comma');
	is(config_value('default_pool_size'), 1, 'none of them changed default_pool_size');
}

# ---- SET default_pool_size is applied as a reload applies it ----
{
	my $a = $sl->proto(user => 'app', password => 'app_pw', dbname => 'app');
	is($a->query('BEGIN')->{status}, 'T', 'a client holds the only server (default_pool_size = 1)');
	$a->query('SELECT 1');
	my $b = $sl->proto(user => 'app', password => 'app_pw', dbname => 'app');
	send_query($b, 'SELECT 42');
	is($b->read_results(0.5)->{lost}, 'timed out', 'a second client waits for a server');
	is(tags_of($adm->query("SET default_pool_size = '2'")), 'SET', "SET default_pool_size = '2'");
	is($b->read_results(10)->{rows}[0][0], 42, '... the waiting client gets a second server and is answered');
	my ($p) = grep { $_->{database} eq 'app' && $_->{user} eq 'app' } @{ rows('POOLS') };
	is($p->{sv_active} + $p->{sv_idle}, 2, '... the pool has two servers');
	is(db_row('app')->{pool_size}, 2, '... SHOW DATABASES: pool_size 2');
	is($a->query('COMMIT')->{status}, 'I', 'the first client commits');
	$a->terminate;
	$b->terminate;
	like($sl->log_contents, qr/console: SET default_pool_size = 2/, 'the log names the SET');

	# RELOAD reads the file again: the SET is gone
	is(tags_of($adm->query('RELOAD')), 'RELOAD', 'RELOAD');
	is(config_value('default_pool_size'), 1, '... the file\'s default_pool_size is back');
}

is($adm->query('SHOW VERSION')->{status}, 'I', 'the console is still usable');
$adm->terminate;
SluiceTest::check_log($sl);
done_testing();
