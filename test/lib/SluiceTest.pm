package SluiceTest;

# SluiceTest — the integration-test harness: shared helpers, teardown, the
# end-of-file log check and the runner for C libpq test programs.
#
#   use SluiceTest;                       # also loads ::Pg, ::Sluice, ::Proto, ::TLS
#   my $pg = SluiceTest::Pg->new;         # initdb + start a private PostgreSQL
#   my $sl = SluiceTest::Sluice->new(pg => $pg, ...);
#   $sl->expect_log(qr/pooler error: password authentication failed/);
#   ...
#   done_testing();                       # runs the log check first
#
# Helpers (all exportable):
#   free_port()                     a free TCP port on 127.0.0.1
#   run_cmd(\@argv, %o)             run, capture (stdout, stderr, rc); bounded
#   spawn(\@argv, %o)               start in the background, return the pid
#   wait_for(sub {...}, %o)         poll a condition until true or a deadline
#   new_tempdir($tag, %o)           a private temp dir, removed on success
#   check_log(@sluices)             one ok(): no BUG / sanitizer / leak line, no
#                                   unexpected ERROR/WARNING (done_testing runs it)
#   expect_log(qr/.../, ...)        ERROR/WARNING lines expected of every sluice
#   run_c_test($name, $connstr, @args)   run a C TAP program, re-emit its tests
#   with_nofile($n, @argv)          argv wrapped to run with `ulimit -n $n`
#
# The log check: at done_testing (or at exit, for a file that does not get
# there) every sluice the file started and did not check itself is checked.
#
# Teardown (END): stops every node this process started (by pid), keeps the
# test's exit code; removes the temp dirs when the file passed, keeps them
# and prints their paths (and a log tail) when it failed.

use strict;
use warnings;
use Carp;
use Cwd qw(abs_path);
use Fcntl qw(O_CREAT O_EXCL O_WRONLY);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Temp ();
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time);
use Test::More ();
use Test2::API ();
use Exporter 'import';

our @EXPORT_OK = qw(free_port run_cmd spawn wait_for new_tempdir check_log expect_log
		    run_c_test is_root slurp spit quote_conninfo with_nofile app_pool);

my $OWNER_PID = $$;      # forked children must not tear down our nodes
our @NODES;              # objects with ->teardown, in creation order
our @SLUICES;            # every SluiceTest::Sluice made here (for check_log)
my @DIRS;                # temp dirs made here
my @PORTLOCKS;           # lock files for ports handed out here

sub is_root { return $> == 0 }

sub postgres_ids
{
	my @pw = getpwnam('postgres') or croak "no 'postgres' user to run as";
	return ($pw[2], $pw[3], $pw[7]);
}

# A PostgreSQL with role and database `app` (password app_pw) and a
# sluice in front of it: transaction mode, plain passwords, a pool of
# pool_size (1) servers; settings add to those. Returns ($pg, $sl).
sub app_pool
{
	my (%o) = @_;
	my $pg = SluiceTest::Pg->new;
	$pg->create_role('app', 'app_pw');
	$pg->create_db('app', 'app');
	my $sl = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app') . ' pool_size=' . ($o{pool_size} // 1) },
		users => { app => 'app_pw' },
		settings => { auth_type => 'plain', pool_mode => 'transaction', query_wait_timeout => 30,
			      %{ $o{settings} // {} } },
		default_user => 'app', default_password => 'app_pw',
	);
	return ($pg, $sl);
}

sub slurp
{
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	binmode $fh;
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s // '';
}

sub spit
{
	my ($path, $content, $mode) = @_;
	open(my $fh, '>', $path) or croak "cannot write $path: $!";
	binmode $fh;
	print $fh $content;
	close $fh or croak "cannot write $path: $!";
	chmod($mode, $path) if defined $mode;
}

# A libpq keyword value, quoted when it needs to be.
sub quote_conninfo
{
	my ($v) = @_;
	return $v if $v =~ /^[A-Za-z0-9_.\/:+-]+$/;
	$v =~ s/([\\'])/\\$1/g;
	return "'$v'";
}

sub tmp_root
{
	my $d = $ENV{SLUICE_TEST_TMPDIR} // $ENV{TMPDIR} // '/tmp';
	$d = '/tmp' unless -d $d && -w _;
	return $d;
}

# A fresh directory; with for_postgres (when root) it is owned by postgres.
sub new_tempdir
{
	my ($tag, %o) = @_;
	$tag //= 'tmp';
	my $dir = File::Temp::tempdir("sluice-$tag-XXXXXX", DIR => tmp_root(), CLEANUP => 0);
	chmod 0755, $dir;
	if ($o{for_postgres} && is_root()) {
		my ($uid, $gid) = postgres_ids();
		chown $uid, $gid, $dir or croak "chown $dir: $!";
		chmod 0700, $dir;
	}
	push @DIRS, $dir;
	return $dir;
}

# A TCP port on 127.0.0.1 that nothing listens on now. A lock file keeps
# other harness processes on this machine from handing out the same port
# before its user binds it.
sub free_port
{
	my $lockdir = tmp_root() . '/sluice-test-portlocks';
	mkdir $lockdir, 01777;
	for (1 .. 200) {
		my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
					      Proto => 'tcp', Listen => 1)
		    or croak "cannot bind 127.0.0.1:0: $!";
		my $port = $s->sockport;
		close $s;
		my $lock = "$lockdir/$port";
		if (sysopen(my $fh, $lock, O_CREAT | O_EXCL | O_WRONLY, 0644)) {
			print $fh "$$\n";
			close $fh;
			push @PORTLOCKS, $lock;
			return $port;
		}
		# a lock left behind by a dead process is stale
		my $pid = (slurp($lock) =~ /(\d+)/)[0];
		if ($pid && !kill(0, $pid)) {
			unlink $lock;
		}
	}
	croak "no free port found";
}

sub _child_setup
{
	my (%o) = @_;
	if ($o{clean_env} // 1) {
		delete $ENV{$_} for grep { /^PG/ } keys %ENV;
	}
	while (my ($k, $v) = each %{ $o{env} // {} }) {
		if (defined $v) { $ENV{$k} = $v } else { delete $ENV{$k} }
	}
	if ($o{as_postgres} && is_root()) {
		my ($uid, $gid, $home) = postgres_ids();
		$) = "$gid $gid";
		$( = $gid;
		POSIX::setuid($uid) or die "setuid($uid): $!";
		die "could not drop root" if $< != $uid || $> != $uid;
		@ENV{qw(HOME USER LOGNAME)} = ($home, 'postgres', 'postgres');
		chdir($o{cwd} // '/tmp');
	} elsif ($o{cwd}) {
		chdir $o{cwd} or die "chdir $o{cwd}: $!";
	}
	POSIX::setpgid(0, 0) if $o{own_group};
}

# Start argv in the background. stdin from a file or /dev/null; stdout and
# stderr appended to files (default /dev/null; '-' keeps ours). Options as
# run_cmd, plus own_group (a process group of its own) and child_init (code
# run in the child just before exec, where $$ is the pid argv will have).
# Returns the pid.
sub spawn
{
	my ($argv, %o) = @_;
	my $pid = fork() // croak "fork: $!";
	if ($pid == 0) {
		eval {
			_child_setup(%o);
			open(STDIN, '<', $o{stdin_file} // '/dev/null') or die "stdin: $!";
			my $out = $o{stdout} // '/dev/null';
			my $err = $o{stderr} // $out;
			if ($out ne '-') { open(STDOUT, '>>', $out) or die "stdout $out: $!" }
			if ($err ne '-') { open(STDERR, '>>', $err) or die "stderr $err: $!" }
			$o{child_init}->() if $o{child_init};
			exec { $argv->[0] } @$argv or die "exec $argv->[0]: $!";
		};
		print STDERR "spawn failed: $@";
		POSIX::_exit(127);
	}
	return $pid;
}

# Wait for pid to exit, at most $timeout seconds. Returns its wait status,
# or undef if it is still running.
sub wait_pid
{
	my ($pid, $timeout) = @_;
	my $r = waitpid($pid, WNOHANG);
	return $? if $r == $pid;
	return -1 if $r < 0;          # not our child, or already reaped
	my $st;
	eval {
		local $SIG{ALRM} = sub { die "wait_pid timeout\n" };
		Time::HiRes::alarm($timeout // 30);
		$r = waitpid($pid, 0);
		$st = $r == $pid ? $? : -1;
		Time::HiRes::alarm(0);
	};
	Time::HiRes::alarm(0);
	die $@ if $@ && $@ ne "wait_pid timeout\n";
	return $st;
}

# Turn a wait status into a shell-style exit code (128+signal when killed).
sub exit_code
{
	my ($st) = @_;
	return -1 unless defined $st && $st >= 0;
	return 128 + ($st & 127) if $st & 127;
	return $st >> 8;
}

# Run argv to completion and capture its output. Options: stdin (string),
# timeout (seconds, default 60: then TERM, KILL, rc -1), env, as_postgres,
# cwd. Returns (stdout, stderr, rc).
sub run_cmd
{
	my ($argv, %o) = @_;
	my $out = File::Temp->new(TMPDIR => 1);
	my $err = File::Temp->new(TMPDIR => 1);
	my $in;
	if (defined $o{stdin}) {
		$in = File::Temp->new(TMPDIR => 1);
		binmode $in;
		print $in $o{stdin};
		close $in;
		chmod 0644, $in->filename;
	}
	if ($o{as_postgres} && is_root()) {
		my ($uid, $gid) = postgres_ids();
		chown $uid, $gid, $out->filename, $err->filename;
	}
	my $pid = spawn($argv, %o, stdin_file => $in ? $in->filename : undef,
			stdout => $out->filename, stderr => $err->filename);
	my $st = wait_pid($pid, $o{timeout} // 60);
	my $rc;
	if (!defined $st) {
		kill 'TERM', $pid;
		$st = wait_pid($pid, 5);
		if (!defined $st) { kill 'KILL', $pid; waitpid($pid, 0); }
		$rc = -1;
	} else {
		$rc = exit_code($st);
	}
	my ($so, $se) = (slurp($out->filename), slurp($err->filename));
	$se .= "\n[timed out after " . ($o{timeout} // 60) . "s: @$argv]\n" if $rc == -1;
	return ($so, $se, $rc);
}

# Poll until $cond->() is true. Options: timeout (default 30 s), interval
# (default 0.05 s). Returns the condition's last value (false on timeout).
sub wait_for
{
	my ($cond, %o) = @_;
	my $deadline = time() + ($o{timeout} // 30);
	my $interval = $o{interval} // 0.05;
	while (1) {
		my $v = $cond->();
		return $v if $v;
		return $v if time() >= $deadline;
		select(undef, undef, undef, $interval);
	}
}

# psql from PostgreSQL's bin dir: Debian's /usr/bin/psql is a Perl wrapper
# that costs ~130 ms per start.
sub psql_bin
{
	my $bin = SluiceTest::Pg::bindir() . '/psql';
	return -x $bin ? $bin : 'psql';
}

# Run psql; shared by Pg and Sluice. Options: host, port, user, password,
# db (dbname or a conninfo string), sql, timeout, args (extra argv), env,
# on_error_stop (default 1), raw (no -A -t -q: keep psql's formatting).
sub run_psql
{
	my (%o) = @_;
	my @argv = (psql_bin(), '-X', '-w', '-v', 'ON_ERROR_STOP=' . ($o{on_error_stop} // 1));
	push @argv, '-q', '-A', '-t' unless $o{raw};
	push @argv, '-h', $o{host}, '-p', $o{port};
	push @argv, '-U', $o{user} if defined $o{user};
	push @argv, '-d', $o{db} if defined $o{db};
	push @argv, @{ $o{args} // [] };
	push @argv, '-f', '-' unless $o{no_stdin};
	my %env = (PGCONNECT_TIMEOUT => 15, PGGSSENCMODE => 'disable', %{ $o{env} // {} });
	$env{PGPASSWORD} = $o{password} if defined $o{password};
	my ($out, $err, $rc) = run_cmd(\@argv, stdin => $o{sql} // '', env => \%env,
				       timeout => $o{timeout} // 60);
	chomp $out;
	return ($out, $err, $rc);
}

# Lines of sluice's log that a test means to cause: patterns (qr// or a
# literal substring) for every sluice (expect_log here) or for one
# ($sl->expect_log). An ERROR or WARNING line no pattern matches fails the
# log check.
our @EXPECTED_LOG;

my $SUPPRESSED = qr/[\s"]\d+ more (?:like this from \S+|lines about clients not logged in) suppressed \(/;

sub expect_log
{
	push @EXPECTED_LOG, log_patterns(@_);
	return;
}

sub log_patterns
{
	my @p;
	for my $p (@_) {
		croak "expect_log: an empty pattern would excuse every line" unless defined $p && length $p;
		push @p, ref $p eq 'Regexp' ? $p : qr/\Q$p\E/;
	}
	return @p;
}

# The level of a log line when it is ERROR, WARNING, FATAL or PANIC, in
# sluice's text format ("2024-05-01 10:00:00.123 4242 WARNING ..."),
# logfmt ("ts=... level=warning ...") or PgBouncer's ("... UTC [4242] ERROR ...").
sub bad_level
{
	my ($line) = @_;
	return uc $1 if $line =~ /^(?:\d{4}-\d\d-\d\d[ T][\d:.]+ (?:[A-Z]{2,5} )?\[?\d+\]? )?(ERROR|WARNING|FATAL|PANIC)\b/;
	return uc $1 if $line =~ /(?:^|\s)level=(error|warning|fatal|panic)\b/;
	return undef;
}

# One ok() for the sluices given (default: all this process started): each
# is stopped (sanitizer leak reports appear only at exit), then its log file
# and stderr are searched for BUG lines, sanitizer reports, leak warnings
# and ERROR/WARNING/FATAL lines that no expect_log pattern matches. A sluice
# that died on its own before this point fails the check too. Each sluice is
# checked once: the automatic check at the end of the file skips those a
# test checked itself. With as_test => 0 (a fixed plan has no room for one
# more test) a failure is diag lines and a failing file instead of an ok().
sub check_log
{
	my %o = @_ && ref $_[-1] eq 'HASH' ? %{ pop @_ } : ();
	my @sl = @_ ? @_ : @SLUICES;
	my (@problems, @excused);
	for my $sl (@sl) {
		$sl->{log_checked} = 1;
		my $who = $sl->describe;
		my $status = $sl->stop;    # already-stopped instances report their saved status
		if ($sl->{crashed}) {
			push @problems, "$who exited on its own (status $sl->{crashed})";
		} elsif (defined $status && !$sl->clean_exit_status($status)) {
			push @problems, "$who exited with status " . exit_code($status) . " on SIGTERM";
		}
		# sluice writes each line to both its log file and stderr
		my %seen;
		my @expected = (@EXPECTED_LOG, @{ $sl->{expected_log} // [] });
		my $n_excused = 0;
		for my $line (split /\n/, $sl->log_contents . "\n" . $sl->stderr_contents) {
			next if $seen{$line}++;
			if ($line =~ /\bBUG\b/
			    || $line =~ /AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:/
			    || $line =~ /\bleak(ed|s|ing)?\b/i) {
				push @problems, "$who: $line";
			} elsif (!$sl->{pgbouncer} && bad_level($line)) {
				# PgBouncer's own errors and warnings are not ours to declare.
				# A count of lines the rate limit left out says nothing new
				# (the lines before it were checked) and comes with timing.
				if (grep { $line =~ $_ } @expected, $SUPPRESSED) { $n_excused++ }
				else { push @problems, "$who: unexpected: $line" }
			}
		}
		push @excused, "$who: $n_excused expected ERROR/WARNING lines" if $n_excused;
	}
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $name = 'sluice log: no BUG, sanitizer report, leak or unexpected ERROR/WARNING; clean exit';
	my $ok = !@problems;
	if ($o{as_test} // 1) {
		Test::More::ok($ok, $name);
	} elsif (!$ok) {
		Test::More::diag("failed: $name (not counted as a test: the file has a fixed plan)");
		Test::More->builder->is_passing(0);
	}
	Test::More::diag($_) for @problems[0 .. ($#problems > 40 ? 40 : $#problems)];
	Test::More::diag('... and ' . (@problems - 41) . ' more') if @problems > 41;
	Test::More::note($_) for @excused;
	return $ok;
}

# The log check every test file gets at its end, for the sluices it did not
# check itself: at done_testing (a follow-up of the root hub, run before the
# plan line is printed) or, for a file that never gets there, from END
# before the teardown removes the logs.
my $AUTO_CHECKED;
my $INTERRUPTED;

sub auto_check
{
	my ($hub) = @_;
	return if $AUTO_CHECKED || $$ != $OWNER_PID;
	$AUTO_CHECKED = 1;
	my @sl = grep { !$_->{log_checked} } @SLUICES;
	return unless @sl;
	my $plan = $hub->plan;
	return if defined $plan && $plan eq 'SKIP';
	# a script that is not a test (run-scratch.pl, a benchmark) has no plan and no tests
	return if !defined $plan && !$hub->count && !$hub->ended;
	check_log(@sl, { as_test => !defined $plan });
}

# (test2_add_callback_testing_done would also mark the hub active, and a
# script that runs no test would then end with "No tests run!" and 255)
Test2::API::test2_add_callback_post_load(sub {
	my $stack = Test2::API::test2_stack();
	$stack->top;
	my ($root) = $stack->all;
	$root->follow_up(sub { auto_check($_[1]) });
	$root->listen(\&recap_event) if $ENV{SLUICE_TEST_FAILURES};
});

# The failure recap (test/lib/prove-recap.pl, used by `make test`): prove
# prints a failing file's diagnostics where they happened, interleaved
# with every other file's, and its summary names only the failing test
# numbers. With SLUICE_TEST_FAILURES set to a file, a test file that ends
# failing appends its failed tests and diagnostics there (at most
# $RECAP_MAX lines of at most 400 characters each), and the wrapper
# prints them again just before the summary.
my @RECAP;
my $RECAP_MAX = 80;

sub recap_event
{
	my (undef, $e, $number) = @_;
	return if $$ != $OWNER_PID || @RECAP > $RECAP_MAX;
	my $f = $e->facet_data;
	if ($f->{assert} && !$f->{assert}{pass} && !@{ $f->{amnesty} // [] }) {
		push @RECAP, 'not ok ' . ($number // '?') . ' - ' . ($f->{assert}{details} // '');
	}
	for my $info (@{ $f->{info} // [] }) {
		next unless $info->{debug};   # diag, not note
		push @RECAP, map { "# $_" } split /\n/, $info->{details} // '';
	}
	return;
}

Test2::API::test2_add_callback_exit(sub {
	my ($ctx, $real, $new) = @_;
	my $file = $ENV{SLUICE_TEST_FAILURES};
	return unless $file && $$ == $OWNER_PID && ($real || $$new);
	push @RECAP, '(exit status ' . ($real || $$new) . ')';
	splice @RECAP, $RECAP_MAX, @RECAP - $RECAP_MAX, '... (more left out)' if @RECAP > $RECAP_MAX;
	open(my $fh, '>>', $file) or return;
	flock($fh, 2);
	print $fh "=== $0\n", map { substr($_, 0, 400) . "\n" } @RECAP;
	close $fh;
});

# argv wrapped in `sh -c` to raise the open-file limit to $n first (capped
# at the hard limit; left alone when it is already higher). exec keeps the
# pid, so spawn's pid is the program's.
sub with_nofile
{
	my ($n, @argv) = @_;
	my $sh = 'h=$(ulimit -Hn); s=$(ulimit -Sn); n=' . int($n) . '; '
	    . '[ "$h" = unlimited ] || [ "$h" -ge "$n" ] || n=$h; '
	    . '[ "$s" = unlimited ] || [ "$s" -ge "$n" ] || ulimit -n "$n"; '
	    . 'exec "$@"';
	return ('/bin/sh', '-c', $sh, 'sh', @argv);
}

sub c_test_bin_dir
{
	return $ENV{SLUICE_TEST_BIN} // 'build/test/bin';
}

# Find (or, when it is missing, compile into a temp dir) a C test program.
sub c_test_program
{
	my ($name) = @_;
	my $bin = c_test_bin_dir() . "/$name";
	return abs_path($bin) if -x $bin;
	my $src = dirname(__FILE__) . "/../integ/c/$name.c";
	return undef unless -f $src;
	my $dir = new_tempdir('cbin');
	my $out = "$dir/$name";
	my @cc = ($ENV{CC} // 'cc', '-std=gnu11', '-g', '-O1', '-Wall', '-Wextra', '-D_GNU_SOURCE',
		  '-I/usr/include/postgresql', '-I' . dirname(__FILE__), '-o', $out, $src,
		  '-lpq', '-lpthread');
	my (undef, $err, $rc) = run_cmd(\@cc, timeout => 120);
	if ($rc != 0) {
		Test::More::diag("compiling $src failed:\n$err");
		return undef;
	}
	Test::More::note("$bin not built; compiled $src into $out");
	return $out;
}

# Run a C TAP program with a connection string (and more args); each of its
# "ok N - desc" / "not ok N - desc" lines becomes an ok() here, "# ..." lines
# become notes (diag after a failure). A final ok() requires exit status 0,
# at least one test, and a plan that matches when one was printed.
# A trailing hashref holds options: label (test name prefix), timeout, env,
# nofile (open-file limit, see with_nofile).
sub run_c_test
{
	my ($name, @args) = @_;
	my %o = ref $args[-1] eq 'HASH' ? %{ pop @args } : ();
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $prog = c_test_program($name);
	my $label = $o{label} // $name;
	if (!$prog) {
		Test::More::fail("$name: program found (run make to build " . c_test_bin_dir() . "/$name)");
		return 0;
	}
	my @argv = ($prog, @args);
	@argv = with_nofile($o{nofile}, @argv) if $o{nofile};
	my ($out, $err, $rc) = run_cmd(\@argv, timeout => $o{timeout} // 60,
				       env => { PGGSSENCMODE => "disable", %{ $o{env} // {} } });
	my ($n, $plan, $failed) = (0, undef, 0);
	for my $line (split /\n/, $out) {
		if ($line =~ /^(not )?ok\s+\d+\s*(?:-\s*)?(.*)$/) {
			$n++;
			$failed++ if $1;
			Test::More::ok(!$1, "$label: $2");
		} elsif ($line =~ /^1\.\.(\d+)/) {
			$plan = $1;
		} elsif ($line =~ /^#\s?(.*)$/) {
			if ($failed) { Test::More::diag("$label: $1") } else { Test::More::note("$label: $1") }
		} elsif ($line =~ /\S/) {
			Test::More::note("$label stdout: $line");
		}
	}
	my $good = $rc == 0 && $n > 0 && (!defined $plan || $plan == $n);
	Test::More::ok($good, "$label: exited 0 after $n tests")
	    or Test::More::diag("$label: exit code $rc, plan " . ($plan // 'none') . ", stderr:\n$err");
	Test::More::note("$label stderr: $err") if $good && $err =~ /\S/;
	return $good && !$failed;
}

sub _teardown
{
	return if $$ != $OWNER_PID;
	my $tb = Test::More->builder;
	my $failed = $? != 0 || !$tb->is_passing;
	for my $node (reverse @NODES) {
		eval { $node->teardown($failed) };
		print STDERR "# teardown: $@" if $@;
	}
	unlink @PORTLOCKS;
	if ($failed) {
		$tb->diag("keeping temp dir $_") for grep { -d } @DIRS;
	} else {
		remove_tree($_) for @DIRS;
	}
}

END {
	my $rc = $?;
	if (!$INTERRUPTED) {
		my $hub = Test2::API::test2_stack()->top;
		eval { auto_check($hub) unless $hub->ended };
		print STDERR "# log check: $@" if $@;
	}
	_teardown();
	$? = $rc;
}

# An interrupted run (Ctrl-C on prove, a CI job's timeout) stops what it
# started: the signal becomes an exit, so END above tears down. A forked
# child takes the signal as it would have without us.
for my $sig (qw(INT TERM HUP)) {
	$SIG{$sig} = sub {
		if ($$ != $OWNER_PID) {
			$SIG{$sig} = 'DEFAULT';
			kill $sig, $$;
			return;
		}
		print STDERR "# got SIG$sig: stopping what this test started\n";
		$INTERRUPTED = 1;
		exit 130;
	};
}

require SluiceTest::Pg;
require SluiceTest::Sluice;
require SluiceTest::Proto;
require SluiceTest::TLS;

1;
