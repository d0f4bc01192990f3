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

our @EXPORT_OK = qw(big_text big_text_md5);
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
