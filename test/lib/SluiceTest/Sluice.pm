package SluiceTest::Sluice;

# A sluice (or, for validating the suite, a PgBouncer) in front of a
# SluiceTest::Pg: writes the ini config and userlist.txt into its own temp
# dir, listens on a free port on 127.0.0.1 and a unix socket in that dir,
# runs $SLUICE_BIN (default ./sluice) in the foreground with the config path
# as the only argument, and waits until it accepts.
#
#   my $sl = SluiceTest::Sluice->new(
#       pg        => $pg,
#       databases => { app => $pg->connstr('app') },
#       users     => { app => 'secret', bob => 'md5...' },
#       settings  => { auth_type => 'md5', default_pool_size => 5 },
#   );
#   $sl->psql('SELECT 1', user => 'app', password => 'secret');
#   $sl->connstr(user => 'bob', password => 'x')   # libpq keyword string
#   $sl->url(...)                                   # postgresql:// URL
#   $sl->proto(user => ..., password => ...)        # raw SluiceTest::Proto client, logged in
#   $sl->stop / start / restart / reload / pid / alive / log_contents
#   $sl->expect_log(qr/.../, ...)   ERROR/WARNING lines this test causes on purpose
#
# Options: databases, users, settings (keys of [sluice]), default_db,
# default_user, default_password, wait_login (default on: a psql SELECT 1
# when a plain-text user or trust makes it possible), start (default 1),
# extra_config (raw text appended), console (sluice's stdout/stderr go to
# ours instead of a file, and it runs in its own process group so a
# terminal's Ctrl-C reaches only us: for run-scratch.pl).
# To run from a config file the test wrote itself (a pgbouncer.ini, say):
# config_file (its path; not written, reload only sends SIGHUP), port (its
# listen_port), logfile (its logfile, for log_contents and check_log), cwd
# (working directory, default '/', so relative paths must resolve against
# the file's directory); stderr then goes to sluice.stderr next to the
# config, and default_db/default_user/default_password make wait_login work.
# To run it with arguments of the test's own instead of a config path (the
# one-line start, `sluice postgresql://...`): args (the argv after the
# binary), port (where it will listen), env (its environment's changes,
# undef deletes); nothing is written, it logs to stderr only (sluice.stderr
# in its temp dir, so log_contents is empty and check_log reads stderr), its
# stdout goes to sluice.stdout there (stdout_contents), and
# default_db/default_user/default_password make wait_login work.
# as_postgres runs it as `postgres` when we are root (the files it writes
# must then be writable by postgres).
# nofile => N raises its open-file limit to N (through `sh -c 'ulimit -n'`,
# capped at the hard limit) for tests with many connections.
# child_init => sub { ... } runs in the child just before exec, with $$
# already sluice's pid (LISTEN_PID, WATCHDOG_PID, descriptors to pass).
# The section is [sluice], or [pgbouncer] when SLUICE_BIN is a pgbouncer;
# a pgbouncer is run as `postgres` when we are root (it refuses root).

use strict;
use warnings;
use Carp;
use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use SluiceTest qw(free_port spawn wait_for new_tempdir is_root slurp spit quote_conninfo);

sub bin
{
	my $bin = $ENV{SLUICE_BIN} // './sluice';
	my $abs = abs_path($bin);
	return defined $abs && -x $abs ? $abs : $bin;
}

sub is_pgbouncer { return basename(bin()) =~ /pgbouncer/ ? 1 : 0 }

sub new
{
	my ($class, %o) = @_;
	my $self = bless {
		pg        => $o{pg},
		databases => $o{databases} // {},
		users     => $o{users} // {},
		settings  => { %{ $o{settings} // {} } },
		extra     => $o{extra_config} // '',
		wait_login => $o{wait_login} // 1,
		console   => $o{console},
		nofile    => $o{nofile},
		child_init => $o{child_init},
		env       => $o{env},
		bin       => bin(),
		pgbouncer => is_pgbouncer(),
		pid       => undef,
		stops     => 0,
	}, $class;
	$self->{as_postgres} = $o{as_postgres} // $self->{pgbouncer};
	if (defined $o{config_file}) {
		croak "config_file needs port" unless defined $o{port};
		$self->{given_config} = 1;
		$self->{config} = abs_path($o{config_file}) // $o{config_file};
		$self->{dir} = dirname($self->{config});
		$self->{logfile} = $o{logfile} // '';
		$self->{stderr} = "$self->{dir}/sluice.stderr";
		$self->{port} = $o{port};
		$self->{cwd} = $o{cwd} // '/';
	} elsif (defined $o{args}) {
		croak "args needs port" unless defined $o{port};
		$self->{given_args} = [ @{ $o{args} } ];
		$self->{dir} = new_tempdir('sluice', for_postgres => $self->{as_postgres});
		$self->{config} = '';
		$self->{logfile} = '';
		$self->{stderr} = "$self->{dir}/sluice.stderr";
		$self->{stdout} = "$self->{dir}/sluice.stdout";
		$self->{port} = $o{port};
		$self->{cwd} = $o{cwd} // $self->{dir};
	} else {
		$self->{dir} = new_tempdir('sluice', for_postgres => $self->{as_postgres});
		$self->{config} = "$self->{dir}/sluice.ini";
		$self->{userlist} = "$self->{dir}/userlist.txt";
		$self->{logfile} = "$self->{dir}/sluice.log";
		$self->{stderr} = "$self->{dir}/sluice.stderr";
		$self->{port} = $self->{settings}{listen_port} // free_port();
		$self->{cwd} = $o{cwd} // $self->{dir};
	}
	$self->{default_db} = $o{default_db} // (sort keys %{ $self->{databases} })[0];
	if (defined $o{default_user}) {
		$self->{default_user} = $o{default_user};
		$self->{default_password} = $o{default_password} // $self->{users}{ $o{default_user} };
	} else {
		# the first user whose secret is plain text can log in from here
		for my $u (sort keys %{ $self->{users} }) {
			my $s = $self->{users}{$u};
			next if $s =~ /^md5[0-9a-f]{32}$/ || $s =~ /^SCRAM-SHA-256\$/;
			($self->{default_user}, $self->{default_password}) = ($u, $s);
			last;
		}
	}
	push @SluiceTest::NODES, $self;
	push @SluiceTest::SLUICES, $self;
	$self->write_config;
	$self->start unless defined $o{start} && !$o{start};
	return $self;
}

sub section { $_[0]{pgbouncer} ? 'pgbouncer' : 'sluice' }

sub write_config
{
	my ($self) = @_;
	return if $self->{given_config} || $self->{given_args};
	my %s = (
		listen_addr     => '127.0.0.1',
		unix_socket_dir => $self->{dir},
		auth_type       => 'scram-sha-256',
		auth_file       => $self->{userlist},
		logfile         => $self->{logfile},
		%{ $self->{settings} },
		listen_port     => $self->{port},
	);
	my $text = "; written by SluiceTest::Sluice\n[databases]\n";
	for my $db (sort keys %{ $self->{databases} }) {
		$text .= "$db = $self->{databases}{$db}\n";
	}
	$text .= "\n[" . $self->section . "]\n";
	$text .= "$_ = $s{$_}\n" for sort keys %s;
	$text .= $self->{extra};
	spit($self->{config}, $text, 0644);

	my $ul = '';
	for my $u (sort keys %{ $self->{users} }) {
		(my $qu = $u) =~ s/"/""/g;
		(my $qs = $self->{users}{$u}) =~ s/"/""/g;
		$ul .= qq{"$qu" "$qs"\n};
	}
	spit($self->{userlist}, $ul, 0644);
}

sub describe
{
	my ($self) = @_;
	return ($self->{pgbouncer} ? 'pgbouncer' : 'sluice') . " on port $self->{port} ($self->{dir})";
}

sub start
{
	my ($self) = @_;
	croak "already running" if $self->{pid};
	for my $try (1 .. 3) {
		my %out = $self->{console} ? (stdout => '-', stderr => '-', own_group => 1)
			: (stdout => $self->{stdout} // $self->{stderr}, stderr => $self->{stderr});
		if ($self->{as_postgres} && is_root() && !$self->{console}) {
			# the child opens its stderr file after dropping root
			spit($self->{stderr}, '') unless -e $self->{stderr};
			my ($uid, $gid) = SluiceTest::postgres_ids();
			chown $uid, $gid, $self->{stderr};
		}
		my @argv = ($self->{bin}, $self->{given_args} ? @{ $self->{given_args} } : $self->{config});
		@argv = SluiceTest::with_nofile($self->{nofile}, @argv) if $self->{nofile};
		my $pid = spawn(\@argv, %out,
				as_postgres => $self->{as_postgres}, cwd => $self->{cwd},
				clean_env => 0, child_init => $self->{child_init}, env => $self->{env});
		$self->{pid} = $pid;
		delete $self->{crashed};
		delete $self->{exit_status};
		delete $self->{log_checked};    # a restart after check_log is checked again
		my $died;
		my $up = wait_for(sub {
			if (waitpid($pid, WNOHANG) == $pid) { $died = $?; return 1 }
			my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
						      Proto => 'tcp', Timeout => 1);
			return 0 unless $s;
			close $s;
			return 1;
		}, timeout => 30, interval => 0.02);
		if (defined $died) {
			$self->{pid} = undef;
			my $log = $self->log_contents . $self->stderr_contents;
			if ($try < 3 && !defined $self->{settings}{listen_port} && !$self->{given_config}
			    && !$self->{given_args}
			    && $log =~ /Address already in use|could not bind|bind\(\) failed/i) {
				$self->{port} = free_port();
				$self->write_config;
				next;
			}
			croak "$self->{bin} exited at start (status " . SluiceTest::exit_code($died)
			    . "):\n$log";
		}
		croak "$self->{bin} did not accept on port $self->{port} within 30 s:\n"
		    . $self->log_contents . $self->stderr_contents unless $up;
		# the unix socket too, where this harness put it: it may be
		# listening a moment after the TCP port (a slow start, under
		# AddressSanitizer on a busy machine), and tests connect to it
		my $path = "$self->{dir}/.s.PGSQL.$self->{port}";
		if (!$self->{given_config} && !$self->{given_args}
		    && ($self->{settings}{unix_socket_dir} // $self->{dir}) eq $self->{dir}) {
			wait_for(sub {
				my $s = IO::Socket::UNIX->new(Peer => $path, Type => SOCK_STREAM);
				return 0 unless $s;
				close $s;
				return 1;
			}, timeout => 10, interval => 0.02);
		}
		$self->wait_login if $self->{wait_login};
		return $self;
	}
}

# One login and SELECT 1, when the configuration lets us log in from here.
sub wait_login
{
	my ($self) = @_;
	my $trust = ($self->{settings}{auth_type} // '') eq 'trust';
	return unless defined $self->{default_db} && (defined $self->{default_password} || $trust);
	my $user = $self->{default_user} // (sort keys %{ $self->{users} })[0];
	return unless defined $user;
	my ($out, $err, $rc);
	my $ok = wait_for(sub {
		($out, $err, $rc) = $self->psql('SELECT 1', user => $user, timeout => 15);
		return 1 if $rc == 0 && $out eq '1';
		return 0 if $err =~ /Connection refused|could not connect|server closed/;  # still starting
		return -1;
	}, timeout => 20, interval => 0.05);
	croak "first login through " . $self->describe . " failed:\n$err\n" . $self->log_contents
	    unless defined $ok && $ok == 1;
}

# Patterns (qr// or literal substrings) for the ERROR and WARNING lines of
# this sluice's log that the test causes on purpose; any other such line
# fails SluiceTest::check_log, which every file gets at its end.
sub expect_log
{
	my ($self, @patterns) = @_;
	push @{ $self->{expected_log} }, SluiceTest::log_patterns(@patterns);
	return $self;
}

sub pid   { $_[0]{pid} }
sub port  { $_[0]{port} }
sub host  { '127.0.0.1' }
sub dir   { $_[0]{dir} }
sub sockdir { $_[0]{dir} }
sub config_path { $_[0]{config} }
sub log_contents { length $_[0]{logfile} ? slurp($_[0]{logfile}) : '' }
sub stderr_contents { slurp($_[0]{stderr}) }
sub stdout_contents { defined $_[0]{stdout} ? slurp($_[0]{stdout}) : '' }

# Still running? Reaps it (and remembers the status) if it exited.
sub alive
{
	my ($self) = @_;
	return 0 unless $self->{pid};
	my $r = waitpid($self->{pid}, WNOHANG);
	if ($r == $self->{pid}) {
		$self->{crashed} = SluiceTest::exit_code($?) || 'exit 0';
		$self->{exit_status} = $?;
		$self->{pid} = undef;
		return 0;
	}
	return 1;
}

# SIGTERM and wait by pid (KILL after 15 s). Returns the wait status; for an
# instance that is not running, the status it had when it stopped.
sub stop
{
	my ($self) = @_;
	return $self->{exit_status} unless $self->{pid};
	return $self->{exit_status} unless $self->alive;
	kill 'TERM', $self->{pid};
	my $st = SluiceTest::wait_pid($self->{pid}, 15);
	if (!defined $st) {
		Test::More::diag($self->describe . " ignored SIGTERM for 15 s; killing it");
		kill 'KILL', $self->{pid};
		waitpid($self->{pid}, 0);
		$st = $?;
		$self->{hung} = 1;
	}
	$self->{pid} = undef;
	$self->{exit_status} = $st;
	$self->{stops}++;
	return $st;
}

# After SIGTERM sluice must exit with status 0: it handles the signal and
# shuts down through its normal exit path (so LeakSanitizer gets to run).
# PgBouncer 1.18 exits with status 1 on SIGTERM ("fast exit"); accept that
# when validating the suite against it.
sub clean_exit_status
{
	my ($self, $st) = @_;
	return 0 if $self->{hung};
	return 1 if $st == 0;
	return 1 if $self->{pgbouncer} && $st == (1 << 8);
	return 0;
}

sub restart
{
	my ($self) = @_;
	$self->stop;
	$self->start;
}

sub reload
{
	my ($self) = @_;
	$self->write_config;
	kill 'HUP', $self->{pid} if $self->{pid};
}

sub teardown
{
	my ($self, $failed) = @_;
	$self->stop if $self->{pid};
	if ($failed) {
		my @lines = split /\n/, $self->log_contents . $self->stderr_contents;
		@lines = @lines[-25 .. -1] if @lines > 25;
		Test::More::diag("--- tail of " . $self->describe . " log:");
		Test::More::diag("  $_") for @lines;
	}
}

sub _conn_params
{
	my ($self, %o) = @_;
	my $host = $o{host} // '127.0.0.1';
	$host = $self->{dir} if $host eq 'unix';
	my %kv = (
		host   => $host,
		port   => $o{port} // $self->{port},
		dbname => $o{dbname} // $o{db} // $self->{default_db},
		user   => $o{user} // $self->{default_user},
	);
	my $pw = exists $o{password} ? $o{password}
	       : (defined $o{user} && $o{user} ne ($self->{default_user} // '')) ? $self->{users}{ $o{user} }
	       : $self->{default_password};
	undef $pw if defined $pw && !exists $o{password} && $pw =~ /^md5[0-9a-f]{32}$|^SCRAM-SHA-256\$/;
	$kv{password} = $pw if defined $pw;
	delete @o{qw(host port dbname db user password)};
	return (\%kv, \%o);
}

# libpq keyword/value string; keys given override the defaults
# (host 127.0.0.1 or 'unix', port, dbname, user, password) and any other
# libpq keyword (sslmode, application_name, connect_timeout...) is added.
sub connstr
{
	my ($self, %o) = @_;
	my ($kv, $rest) = $self->_conn_params(%o);
	my %all = (%$kv, %$rest);
	return join(' ', map { "$_=" . quote_conninfo($all{$_}) }
		    (grep { defined $all{$_} } qw(host port dbname user password)),
		    sort grep { !/^(host|port|dbname|user|password)$/ && defined $all{$_} } keys %all);
}

sub _urlenc
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
	return $s;
}

sub url
{
	my ($self, %o) = @_;
	my ($kv, $rest) = $self->_conn_params(%o);
	my $auth = _urlenc($kv->{user} // '');
	$auth .= ':' . _urlenc($kv->{password}) if defined $kv->{password};
	my $u = "postgresql://$auth\@$kv->{host}:$kv->{port}/" . _urlenc($kv->{dbname} // '');
	my @q = map { "$_=" . _urlenc($rest->{$_}) } sort keys %$rest;
	$u .= '?' . join('&', @q) if @q;
	return $u;
}

# psql through sluice. Options: user, password, db, host ('unix' for the
# socket), timeout, args, raw, on_error_stop, env. Returns (stdout, stderr,
# rc) in list context, stdout in scalar context.
sub psql
{
	my ($self, $sql, %o) = @_;
	my ($kv, $rest) = $self->_conn_params(map { $_ => $o{$_} }
		grep { exists $o{$_} } qw(host port db dbname user password));
	my %po = map { $_ => $o{$_} } grep { exists $o{$_} } qw(timeout args raw on_error_stop env);
	my @r = SluiceTest::run_psql(%po, host => $kv->{host}, port => $kv->{port},
				      user => $kv->{user}, password => $kv->{password},
				      db => $kv->{dbname}, sql => $sql);
	return wantarray ? @r : $r[0];
}

sub safe_psql
{
	my ($self, $sql, %o) = @_;
	my ($out, $err, $rc) = $self->psql($sql, %o);
	croak "psql through sluice failed ($rc) on [$sql]:\n$err" if $rc != 0;
	return $out;
}

# A raw protocol client (SluiceTest::Proto), connected; logged in unless
# login => 0. Options as connstr, plus timeout and params (startup
# parameters). Dies if the login fails; use Proto directly to see errors.
sub proto
{
	my ($self, %o) = @_;
	my $login = delete $o{login} // 1;
	my $timeout = delete $o{timeout} // 10;
	my $params = delete $o{params};
	my ($kv) = $self->_conn_params(%o);
	my $c = SluiceTest::Proto->connect(host => $kv->{host}, port => $kv->{port},
					   timeout => $timeout);
	return $c unless $login;
	my $r = $c->login(user => $kv->{user}, password => $kv->{password},
			  database => $kv->{dbname}, params => $params);
	croak "login as $kv->{user} failed: " . SluiceTest::Proto::error_text($r->{error})
	    if !$r->{ok};
	return $c;
}

1;
