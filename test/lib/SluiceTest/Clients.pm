package SluiceTest::Clients;

# Shared by the one-file-per-client tests (test/integ/32-37): a private
# PostgreSQL with role and database `app`, a sluice in front of it in
# transaction mode over a pool smaller than the number of client
# connections, and a bounded run of one client script that checks its own
# results and prints one summary line.
#
#   my $t = SluiceTest::Clients->setup(pool => 3, sql => [ 'CREATE TABLE ...' ]);
#   $t->{pg}, $t->{sl}, $t->env          # libpq-style PG* environment for sluice
#   $t->run_script('psycopg', [ $PYTHON, "$dir/x.py", ... ], timeout => 90);
#   $t->app_sql('SELECT count(*) FROM items')   # directly on PostgreSQL
#   big_text($id)                        # the 1,000,000-character value
#   $t->check_items(workers => 8, rounds => 10, rows => 21)   # what PostgreSQL holds
#
# A script's summary is "<label>: OK ... checked=N" (exit 0) or
# "<label>: FAILED ..." (exit 1). A run that outlives its timeout is killed
# (TERM, then KILL) and fails: a hang is a failure, never a stuck suite.
# Scripts print where they were (thread stacks) when they get the TERM.

use strict;
use warnings;
use Carp;
use Digest::MD5 qw(md5_hex);
use Encode qw(encode_utf8);
use Test::More ();
use Time::HiRes ();
use SluiceTest qw(run_cmd);

our @EXPORT_OK = qw(big_text big_text_md5 items_table python_with node_with);
use Exporter 'import';

# The big text every script writes for a row id: the id zero-padded to 19
# digits and a colon, then a 20-character pattern with 2-, 3- and 4-byte
# UTF-8 characters, 49,999 times: 1,000,000 characters (1,500,000 bytes or
# so). The scripts build the same string.
our $PATTERN = "sluice \x{2713} \x{fc}n\x{ef} \x{1F600} \x{65E5}\x{672C} xy";
our $BIG_CHARS = 1_000_000;

sub big_text
{
	my ($id) = @_;
	my $s = sprintf('%019d:', $id) . ($PATTERN x (($BIG_CHARS - 20) / length $PATTERN));
	croak 'big_text: pattern is not 20 characters' unless length $PATTERN == 20 && length $s == $BIG_CHARS;
	return $s;
}

sub big_text_md5 { return md5_hex(encode_utf8(big_text($_[0]))) }

# CREATE TABLE for the table every script writes its rows to.
sub items_table
{
	my ($name) = @_;
	return "CREATE TABLE ${\($name // 'items')} (id int PRIMARY KEY, t text, n numeric, ts timestamptz, j jsonb, b bytea)";
}

# The Python the scripts run with ($SLUICE_TEST_PYTHON, else Debian's
# /usr/bin/python3) once it can import $module (Debian python3-$module);
# the whole file is skipped otherwise.
sub python_with
{
	my ($module) = @_;
	my $python = $ENV{SLUICE_TEST_PYTHON} // '/usr/bin/python3';
	my ($out, $err, $rc) = run_cmd([ $python, '-c', "import $module; print($module.__version__)" ],
				       timeout => 30);
	Test::More::plan(skip_all => "$python cannot import $module (Debian python3-$module; make deps): $err")
	    if $rc != 0;
	Test::More::note("$module $out");
	return $python;
}

# node, and $module installed in $dir/node_modules (npm_ready, one test):
# the whole file is skipped without node, and bails out without $module
# ($name in the message).
sub node_with
{
	my ($dir, $module, $name) = @_;
	Test::More::plan(skip_all => 'node is not installed (Debian nodejs; make deps)')
	    unless (run_cmd([ 'node', '--version' ], timeout => 30))[2] == 0;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	npm_ready($dir, $module) or Test::More::BAIL_OUT("$name is required: run npm ci in test/integ/js");
}

# Options: pool (default_pool_size, 3), sql (statements run as app on the
# new database before sluice starts), settings (more sluice settings),
# pg_conf (postgresql.conf lines).
sub setup
{
	my ($class, %o) = @_;
	my $pg = SluiceTest::Pg->new(conf => [ 'max_connections = 100', @{ $o{pg_conf} // [] } ]);
	$pg->create_role('app', 'app_pw');
	$pg->create_db('app', 'app');
	$pg->safe_psql('app', join(";\n", @{ $o{sql} }), user => 'app', password => 'app_pw', host => 'tcp')
	    if $o{sql} && @{ $o{sql} };
	my $sl = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app') },
		users => { app => 'app_pw' },
		settings => { pool_mode => 'transaction', default_pool_size => $o{pool} // 3,
			      max_prepared_statements => 200, query_wait_timeout => 120,
			      auth_type => 'scram-sha-256', %{ $o{settings} // {} } },
	);
	return bless { pg => $pg, sl => $sl, pool => $o{pool} // 3 }, $class;
}

sub env
{
	my ($self) = @_;
	# SLUICE_CLIENTS_DIRECT=1: straight to PostgreSQL, to check a script
	# and its expectations without sluice
	my $to = $ENV{SLUICE_CLIENTS_DIRECT} ? $self->{pg} : $self->{sl};
	return { PGHOST => $to->host, PGPORT => $to->port, PGUSER => 'app',
		 PGPASSWORD => 'app_pw', PGDATABASE => 'app', PGGSSENCMODE => 'disable',
		 PGSSLMODE => 'disable', PGCONNECT_TIMEOUT => 30 };
}

# SQL as app directly on PostgreSQL (not through sluice); dies on error.
sub app_sql
{
	my ($self, $sql) = @_;
	return $self->{pg}->safe_psql('app', $sql, user => 'app', password => 'app_pw', host => 'tcp');
}

# What PostgreSQL holds in the table (table, default items) the scripts
# write, read directly, as four tests (three without typed). The ids come
# in blocks: worker w, round k has the ids w * 100000 + k * 1000 + r for
# r in 0 .. rows - 1 (workers, rounds, rows), and more => [ [ first,
# rows, large ], ... ] adds blocks of other shapes. In a block, the first
# `large` ids (large, default 1) are large rows: a 1,000,000-character
# text (big_text) and a 4 KB bytea with every byte value ((i + id) % 256
# at byte i); the others are small, with t NULL when the id ends in 9.
#   1. count, sum of ids, NULL t and large rows (named "<table>: <what>
#      (count, ...)", what defaulting to "every row stored once");
#   2. the md5 of every large text against big_text_md5;
#   3. every 4 KB bytea;
#   4. typed => [ 'numeric', 'jsonb', 'timestamptz' ] (any of them): those
#      columns of every large row as the scripts write them.
sub check_items
{
	my ($self, %o) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $table = $o{table} // 'items';
	my @blocks = @{ $o{more} // [] };
	for my $w (0 .. ($o{workers} // 0) - 1) {
		push @blocks, [ $w * 100000 + $_ * 1000, $o{rows}, $o{large} ] for 0 .. $o{rounds} - 1;
	}
	croak 'check_items: no rows' unless @blocks;
	my ($n, $sum, $nulls, @big) = (0, 0, 0);
	for my $blk (@blocks) {
		my ($first, $rows, $large) = @$blk;
		$large //= 1;
		croak 'check_items: a block needs rows' unless $rows;
		push @big, $first .. $first + $large - 1;
		for my $id ($first .. $first + $rows - 1) {
			$n++;
			$sum += $id;
			$nulls++ if $id % 10 == 9 && $id >= $first + $large;
		}
	}
	Test::More::is($self->app_sql('SELECT count(*), sum(id), count(*) FILTER (WHERE t IS NULL), '
				      . "count(*) FILTER (WHERE length(t) = 1000000) FROM $table"),
		       join('|', $n, $sum, $nulls, scalar @big),
		       "$table: ${\($o{what} // 'every row stored once')} (count, sum of ids, NULL rows, large rows)");
	{
		my %want = map { $_ => big_text_md5($_) } @big;
		my %got = map { split /\|/ } split /\n/,
		    $self->app_sql("SELECT id, md5(t) FROM $table WHERE length(t) = 1000000");
		my @bad = grep { ($got{$_} // '') ne $want{$_} } sort { $a <=> $b } keys %want;
		Test::More::is(scalar @bad, 0, "$table: every 1,000,000-character text is byte for byte the one sent")
		    or Test::More::diag('wrong or missing: ' . join(' ', @bad[0 .. ($#bad > 9 ? 9 : $#bad)]));
	}
	Test::More::is($self->app_sql("SELECT count(*) FROM $table WHERE octet_length(b) = 4096 AND b = "
				      . q{(SELECT string_agg(set_byte('\x00'::bytea, 0, (g + id) % 256), '' ORDER BY g) FROM generate_series(0, 4095) g)}),
		       scalar @big, "$table: every 4 KB bytea holds every byte value in the order sent");
	my %typed = (
		numeric => q{n = ('-' || id || '98765432109876543210.01234567890123456789')::numeric},
		jsonb => q{j->>'s' = 'ü€😀'},
		timestamptz => q{ts = '2024-02-29 12:34:56.789+00'::timestamptz + id * interval '1 second'},
	);
	if (my @cols = @{ $o{typed} // [] }) {
		croak "check_items: typed: no check for $_" for grep { !$typed{$_} } @cols;
		my $names = @cols > 1 ? join(', ', @cols[0 .. $#cols - 1]) . " and $cols[-1]" : $cols[0];
		Test::More::is($self->app_sql("SELECT count(*) FROM $table WHERE " . join(' AND ', map { $typed{$_} } @cols)),
			       scalar @big, "$table: $names of the large rows as sent");
	}
}

# Run a client script with the environment above (plus env => {...}),
# bounded by timeout (seconds). Two tests: exit 0 (a timeout is rc -1 and
# says so), and the summary line is "<label>: OK" with checked=N when
# checked is given (at least checked=1 otherwise). Returns (stdout,
# stderr, rc, seconds).
sub run_script
{
	my ($self, $label, $argv, %o) = @_;
	my $t0 = Time::HiRes::time();
	my ($out, $err, $rc) = run_cmd($argv, env => { %{ $self->env }, %{ $o{env} // {} } },
				       timeout => $o{timeout} // 60, cwd => $o{cwd});
	my $secs = Time::HiRes::time() - $t0;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @lines = split /\n/, $out;
	my $summary = (grep { /^\Q$label\E: / } @lines)[0] // '(no summary line)';
	my $what = $o{what} // "$label script";
	my $ok = Test::More::is($rc, 0, sprintf('%s exits 0 (%s; %.1fs)', $what,
		$rc == -1 ? "killed after its ${\($o{timeout} // 60)}s bound: a hang" : "rc $rc", $secs));
	my $want = defined $o{checked} ? qr/^\Q$label\E: OK .*checked=\Q$o{checked}\E\b/
				       : qr/^\Q$label\E: OK .*checked=[1-9]/;
	$ok = Test::More::like($summary, $want, "$what: every result checked and right") && $ok;
	if (!$ok) {
		my @tail = split /\n/, $err;
		@tail = @tail[-60 .. -1] if @tail > 60;
		Test::More::diag("stdout:\n" . join("\n", @lines > 40 ? @lines[-40 .. -1] : @lines)
				 . "\nstderr (tail):\n" . join("\n", @tail));
	}
	Test::More::note($summary);
	return ($out, $err, $rc, $secs);
}

# npm ci in $dir unless node_modules/$module is there; one test.
sub npm_ready
{
	my ($dir, $module) = @_;
	my $have = -d "$dir/node_modules/$module";
	if (!$have) {
		my ($out, $err, $rc) = run_cmd([ 'npm', 'ci', '--no-audit', '--no-fund' ], cwd => $dir,
					       timeout => 300);
		$have = $rc == 0 && -d "$dir/node_modules/$module";
		Test::More::diag("npm ci in $dir failed (rc $rc):\n$out$err") unless $have;
	}
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return Test::More::ok($have, "$module installed in $dir/node_modules (npm ci from package-lock.json)");
}

1;
