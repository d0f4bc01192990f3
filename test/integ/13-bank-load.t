# Load: 500 concurrent clients (test/integ/c/bank.c, async libpq) move
# money between 100 accounts for 20 s through sluice in transaction mode
# over a pool of 10. Money is neither made nor lost, no client sees an
# error, every transfer a client saw committed is in the table (and no
# other), and PostgreSQL never sees more than 10 backends.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_c_test slurp);

my ($NCLIENTS, $SECONDS, $NACCOUNTS, $BALANCE) = (500, 20, 100, 1000);

my $pg = SluiceTest::Pg->new;
$pg->create_role('bank', 'bank_pw');
$pg->create_db('bank', 'bank');
$pg->safe_psql('bank', <<"SQL", user => 'bank', password => 'bank_pw');
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
INSERT INTO accounts SELECT g, $BALANCE FROM generate_series(1, $NACCOUNTS) g;
CREATE TABLE transfers (id bigserial PRIMARY KEY, client int NOT NULL, seq int NOT NULL,
                        src int NOT NULL, dst int NOT NULL, amount int NOT NULL, UNIQUE (client, seq));
SQL

# md5 logins keep 500 connection set-ups cheap; sluice needs more than 1024
# descriptors only with a low soft limit, but gets them either way.
my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { bank => $pg->connstr('bank') }, users => { bank => 'bank_pw' },
	nofile => 4096,
	settings => { pool_mode => 'transaction', default_pool_size => 10, max_client_conn => 600,
		      auth_type => 'md5', query_wait_timeout => 60 },
);

my $result = SluiceTest::new_tempdir('bank') . '/result';
my $w = $pg->watch_max(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'bank'}, interval => 0.05);
run_c_test('bank', $sl->connstr(user => 'bank', password => 'bank_pw', dbname => 'bank'),
	   $NCLIENTS, $SECONDS, $NACCOUNTS, $result,
	   { label => 'bank', timeout => 150, nofile => 4096 });
my ($max, $samples) = $w->stop;

my ($committed, $errors) = slurp($result) =~ /committed (\d+) errors (\d+)/;
ok(defined $committed, 'bank reported its counts') or diag(slurp($result));
cmp_ok($committed // 0, '>', $NCLIENTS, "many transfers committed (" . ($committed // 0) . ")");
is($errors, 0, 'no client errors');
my $watch = $pg->proto(db => 'bank');
is($watch->query_value('SELECT sum(balance) FROM accounts'), $NACCOUNTS * $BALANCE,
   'the total balance is unchanged');
is($watch->query_value('SELECT count(*) FROM transfers'), $committed,
   'every transfer the clients saw committed is in the table, and no other');
is($watch->query_value('SELECT count(DISTINCT client) FROM transfers'), $NCLIENTS, 'every client got transfers in');
is($watch->query_value(q{SELECT count(*) FROM (SELECT a.id FROM accounts a LEFT JOIN (
	SELECT id, sum(d) AS d FROM (SELECT src AS id, -amount AS d FROM transfers
	                             UNION ALL SELECT dst, amount FROM transfers) m GROUP BY id) t ON t.id = a.id
	WHERE a.balance <> } . $BALANCE . q{ + coalesce(t.d, 0)) bad}), 0,
   "each account's balance matches its transfers");
cmp_ok($samples, '>', 10, "pg_stat_activity was sampled during the run ($samples samples)");
cmp_ok($max // 99, '<=', 10, 'PostgreSQL never saw more than 10 backends (max ' . ($max // 'none') . ')');
is($watch->query_value(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'bank' AND state LIKE 'idle in transaction%'}),
   0, 'no backend is left inside a transaction');
$watch->terminate;

done_testing();
