# pgjdbc (Debian's libpostgresql-jdbc-java) through sluice in
# transaction mode: 8 threads, one connection each, over a pool of 3, with
# prepareThreshold=1 (a named server-side statement from the first
# execution, binary results) and reWriteBatchedInserts=false (a batch is
# one Parse/Bind/Execute per row, pipelined before one Sync): batch
# inserts, a 1,000,000-character multibyte text and a 4 KB bytea, every row
# read back with a prepared SELECT; then a type change under a cached
# statement (ALTER TABLE ... TYPE text while four connections hold
# "SELECT id, val FROM tt WHERE id = ?" prepared with an int result): the
# statement must then return the text values, never the old type's bytes.
# The program (java/PgjdbcLoad.java, compiled here with javac) checks every
# value it reads back; this file then checks what PostgreSQL holds.
#
# Needs default-jdk-headless and libpostgresql-jdbc-java (make deps).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd new_tempdir);
use SluiceTest::Clients qw(items_table);

# pgjdbc sends SET extra_float_digits = 3 at connect: session state in
# transaction pooling, which the default transaction_session_state (warn)
# reports once per client (61-session-state.t)
SluiceTest::expect_log(qr/session state in transaction pooling \(application_name "[^"]*"\): set: .*\("SET extra_float_digits \.\.\."\)/);

my $JAR = $ENV{SLUICE_TEST_PGJDBC_JAR} // '/usr/share/java/postgresql.jar';
my ($THREADS, $ROUNDS) = (8, 5);

plan skip_all => 'java/javac not installed (Debian default-jdk-headless; make deps)'
    unless (run_cmd([ 'javac', '-version' ], timeout => 30))[2] == 0
    && (run_cmd([ 'java', '-version' ], timeout => 30))[2] == 0;
plan skip_all => "no pgjdbc jar at $JAR (Debian libpostgresql-jdbc-java; make deps)" unless -r $JAR;

my $classes = new_tempdir('pgjdbc');
{
	my ($out, $err, $rc) = run_cmd([ 'javac', '-encoding', 'UTF-8', '-cp', $JAR, '-d', $classes,
					 "$FindBin::Bin/java/PgjdbcLoad.java" ], timeout => 120);
	is($rc, 0, 'PgjdbcLoad.java compiles') or BAIL_OUT("javac failed:\n$out$err");
}

# pgjdbc sends extra_float_digits in its startup packet; like PgBouncer,
# sluice refuses unknown startup parameters unless told to ignore them,
# which is what every PgBouncer + JDBC setup configures.
my $t = SluiceTest::Clients->setup(pool => 3, settings => { ignore_startup_parameters => 'extra_float_digits' }, sql => [
	items_table(),
	'CREATE TABLE tt (id int PRIMARY KEY, val int)',
	'INSERT INTO tt SELECT g, g FROM generate_series(1, 5) g' ]);

# the two phases run apart, so that one failing does not hide the other
$t->run_script('pgjdbc', [ 'java', '-cp', "$classes:$JAR", 'PgjdbcLoad', '--load-only', '--threads', $THREADS,
			   '--rounds', $ROUNDS, '--deadline', 40 ],
	       timeout => 60, checked => $THREADS * $ROUNDS * 54,
	       what => "pgjdbc: $THREADS threads x $ROUNDS rounds of batches and large values over a pool of 3");
$t->run_script('pgjdbc', [ 'java', '-cp', "$classes:$JAR", 'PgjdbcLoad', '--type-change-only', '--deadline', 30 ],
	       timeout => 45, checked => 100,
	       what => 'pgjdbc: a type change under a statement cached on 4 connections');

# What PostgreSQL holds, read directly: per thread and round 51 rows (one
# large).
$t->check_items(workers => $THREADS, rounds => $ROUNDS, rows => 51,
		what => 'every batched and large row stored once', typed => [ 'numeric', 'jsonb', 'timestamptz' ]);
is($t->app_sql(q{SELECT string_agg(id || '=' || val, ' ' ORDER BY id) || ' ' || pg_typeof(min(val)) FROM tt}),
   '1=v1 2=v2 3=v3 4=v4 5=v5 text', 'tt: the type change happened (val is text v1..v5)');

done_testing();
