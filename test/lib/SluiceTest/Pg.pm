package SluiceTest::Pg;

# A private PostgreSQL for one test file, in the manner of PostgreSQL's own
# PostgreSQL::Test::Cluster: initdb into a temp dir (as `postgres` when we
# are root), SCRAM everywhere (TCP and unix socket), a free port on
# 127.0.0.1, a unix socket in its own dir, start with pg_ctl -w and poll
# until it answers.
#
#   my $pg = SluiceTest::Pg->new(conf => ['max_connections = 50']);
#   $pg->safe_psql('postgres', 'SELECT 1');
#   my ($out, $err, $rc) = $pg->psql('app', $sql, user => 'app', password => 'pw');
#   $pg->create_role('app', 'pw'); $pg->create_db('app', 'app');
#   $pg->scram_verifier('app');     # rolpassword, for userlist.txt
#   $pg->connstr('app')             # "host=127.0.0.1 port=N dbname=app"
#   $pg->port / host / sockdir / stop / start / restart / log_contents
#   my $w = $pg->watch_max($sql);   # sample a count in a child process...
#   my ($max, $samples) = $w->stop; # ...while the test drives clients
#
# TLS: new(ssl => $pair) (a { cert, key } pair, e.g. from
# SluiceTest::TLS->new_ca(...)->server_cert) copies the pair into the node's
# directory (owned by postgres, key 0600) and starts with ssl = on;
# $pg->set_ssl(0 or 1) changes it with a reload and waits until new
# sessions see it; $pg->reload sends SIGHUP through pg_ctl.

use strict;
use warnings;
use Carp;
use SluiceTest qw(free_port run_cmd wait_for new_tempdir is_root slurp spit quote_conninfo);

our $SUPERUSER_PASSWORD = 'postgres-test-pw';

sub bindir
{
	return $ENV{PG_BINDIR} if $ENV{PG_BINDIR};
	my @dirs = sort { ($b =~ m{/(\d+)/bin$})[0] <=> ($a =~ m{/(\d+)/bin$})[0] }
	    grep { -x "$_/initdb" } glob('/usr/lib/postgresql/*/bin');
	return $dirs[0] if @dirs;
	for my $d (split /:/, $ENV{PATH} // '') {
		return $d if -x "$d/initdb" && -x "$d/pg_ctl";
	}
	croak "cannot find initdb: set PG_BINDIR";
}

sub new
{
	my ($class, %o) = @_;
	my $self = bless {
		name     => $o{name} // 'pg',
		password => $SUPERUSER_PASSWORD,
		bindir   => bindir(),
		conf     => $o{conf} // [],
		ssl      => $o{ssl},
		running  => 0,
	}, $class;
	$self->{base} = new_tempdir($self->{name}, for_postgres => 1);
	$self->{data} = "$self->{base}/data";
	$self->{log} = "$self->{base}/postgres.log";
	$self->{sockdir} = $self->{base};
	push @SluiceTest::NODES, $self;
	$self->init;
	$self->start unless defined $o{start} && !$o{start};
	return $self;
}

sub _pg_cmd
{
	my ($self, $argv, %o) = @_;
	return run_cmd($argv, as_postgres => 1, cwd => $self->{base}, timeout => 120, %o);
}

sub init
{
	my ($self) = @_;
	my $pwfile = "$self->{base}/pwfile";
	spit($pwfile, "$self->{password}\n", 0600);
	if (is_root()) {
		my ($uid, $gid) = SluiceTest::postgres_ids();
		chown $uid, $gid, $pwfile;
	}
	my ($out, $err, $rc) = $self->_pg_cmd(
		[ "$self->{bindir}/initdb", '-D', $self->{data}, '-U', 'postgres',
		  '--auth=scram-sha-256', "--pwfile=$pwfile", '-E', 'UTF8', '--locale=C',
		  '--no-sync', '--no-instructions' ]);
	croak "initdb failed ($rc):\n$out$err" if $rc != 0;
	unlink $pwfile;

	$self->{port} = free_port();
	my $conf = join("\n",
		"# added by SluiceTest::Pg",
		"listen_addresses = '127.0.0.1'",
		"port = $self->{port}",
		"unix_socket_directories = '$self->{sockdir}'",
		"logging_collector = off",
		"log_destination = 'stderr'",
		"log_line_prefix = '%m [%p] %q%u\@%d '",
		"log_connections = on",
		"log_disconnections = on",
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"password_encryption = 'scram-sha-256'",
		"shared_buffers = 32MB",
		"max_connections = 100",
		"max_wal_size = 256MB",
		@{ $self->{conf} }) . "\n";
	$self->append_conf($conf);
	$self->install_ssl($self->{ssl}) if $self->{ssl};
	$self->write_hba;
}

# Copy a certificate and key into the node's directory (owned by postgres,
# key 0600, as PostgreSQL insists) and point ssl_cert_file/ssl_key_file at
# them with ssl = on. Takes effect at the next start or reload.
sub install_ssl
{
	my ($self, $pair) = @_;
	my $files = SluiceTest::TLS::copy_pair($pair, $self->{base}, 'server', owner => 'postgres');
	$self->append_conf(join("\n", '# TLS, added by SluiceTest::Pg', 'ssl = on',
				"ssl_cert_file = '$files->{cert}'", "ssl_key_file = '$files->{key}'", ''));
	$self->{ssl} = $pair;
}

# pg_ctl reload (SIGHUP to the postmaster).
sub reload
{
	my ($self) = @_;
	my ($out, $err, $rc) = $self->_pg_cmd([ "$self->{bindir}/pg_ctl", '-D', $self->{data}, 'reload' ]);
	croak "pg_ctl reload failed ($rc): $out$err" if $rc != 0;
}

# Turn ssl on or off with a reload, and wait until a new session sees it.
sub set_ssl
{
	my ($self, $on) = @_;
	croak "set_ssl(1) needs a certificate: new(ssl => ...) or install_ssl" if $on && !$self->{ssl};
	my $want = $on ? 'on' : 'off';
	$self->append_conf("ssl = $want\n");
	$self->reload;
	my $ok = wait_for(sub { ($self->psql('postgres', 'SHOW ssl', timeout => 10))[0] eq $want },
			  timeout => 30, interval => 0.05);
	croak "PostgreSQL did not switch to ssl = $want after a reload" unless $ok;
}

sub append_conf
{
	my ($self, $text) = @_;
	open(my $fh, '>>', "$self->{data}/postgresql.conf") or croak "postgresql.conf: $!";
	print $fh $text;
	close $fh;
}

# SCRAM everywhere: local socket and TCP alike.
sub write_hba
{
	my ($self, $extra) = @_;
	my $hba = "$self->{data}/pg_hba.conf";
	spit($hba, join("\n",
		'# written by SluiceTest::Pg',
		@{ $extra // [] },
		'local   all  all                 scram-sha-256',
		'host    all  all  127.0.0.1/32   scram-sha-256',
		'host    all  all  ::1/128        scram-sha-256',
		'') , 0600);
	if (is_root()) {
		my ($uid, $gid) = SluiceTest::postgres_ids();
		chown $uid, $gid, $hba;
	}
}

sub start
{
	my ($self) = @_;
	for my $try (1 .. 3) {
		my ($out, $err, $rc) = $self->_pg_cmd(
			[ "$self->{bindir}/pg_ctl", '-D', $self->{data}, '-l', $self->{log},
			  '-w', '-t', '60', 'start' ]);
		if ($rc == 0) {
			$self->{running} = 1;
			$self->wait_ready;
			return $self;
		}
		my $log = slurp($self->{log});
		if ($try < 3 && $log =~ /could not bind|Address already in use/) {
			# someone took our port between reservation and bind: pick again
			my $old = $self->{port};
			$self->{port} = free_port();
			$self->append_conf("port = $self->{port}\n");
			Test::More::note("port $old was taken; PostgreSQL retries on $self->{port}");
			next;
		}
		croak "pg_ctl start failed ($rc):\n$out$err\n--- $self->{log}:\n$log";
	}
}

# Poll until a real query works (pg_ctl -w returned already; this also
# covers restarts and makes "ready" mean "answers SQL").
sub wait_ready
{
	my ($self) = @_;
	my $last = '';
	my $ok = wait_for(sub {
		my ($out, $err, $rc) = $self->psql('postgres', 'SELECT 1', timeout => 10);
		$last = $err;
		return $rc == 0 && $out eq '1';
	}, timeout => 60, interval => 0.1);
	croak "PostgreSQL did not become ready: $last" unless $ok;
}

sub stop
{
	my ($self, $mode) = @_;
	return unless $self->{running};
	my ($out, $err, $rc) = $self->_pg_cmd(
		[ "$self->{bindir}/pg_ctl", '-D', $self->{data}, '-m', $mode // 'fast', '-w',
		  '-t', '60', 'stop' ]);
	if ($rc != 0) {
		# pg_ctl could not stop it: kill the postmaster we started, by pid
		my ($pid) = slurp("$self->{data}/postmaster.pid") =~ /^(\d+)/;
		kill 'KILL', $pid if $pid;
		Test::More::diag("pg_ctl stop failed ($rc): $out$err");
	}
	$self->{running} = 0;
}

sub restart
{
	my ($self) = @_;
	$self->stop;
	$self->start;
}

sub teardown
{
	my ($self, $failed) = @_;
	$self->stop('immediate') if $self->{running};
	if ($failed) {
		Test::More::diag("PostgreSQL log: $self->{log}");
	}
}

sub port    { $_[0]{port} }
sub host    { '127.0.0.1' }
sub sockdir { $_[0]{sockdir} }
sub basedir { $_[0]{base} }
sub superuser_password { $_[0]{password} }
sub log_contents { slurp($_[0]{log}) }

# libpq keyword string for a database here, over TCP.
sub connstr
{
	my ($self, $db, %extra) = @_;
	my %kv = (host => $self->host, port => $self->port, dbname => $db // 'postgres', %extra);
	return join(' ', map { "$_=" . quote_conninfo($kv{$_}) }
		    (grep { exists $kv{$_} } qw(host port dbname user password)),
		    sort grep { !/^(host|port|dbname|user|password)$/ } keys %kv);
}

# psql against this server. Defaults: superuser over the unix socket (with
# its password: SCRAM there too). Options: user, password, host ('tcp' or
# a host), timeout, args, raw, on_error_stop. Returns (stdout, stderr, rc)
# in list context, stdout in scalar context.
sub psql
{
	my ($self, $db, $sql, %o) = @_;
	my $user = $o{user} // 'postgres';
	my $host = $o{host} // $self->{sockdir};
	$host = '127.0.0.1' if $host eq 'tcp';
	my @r = SluiceTest::run_psql(
		%o, host => $host, port => $self->{port}, user => $user,
		password => $o{password} // ($user eq 'postgres' ? $self->{password} : undef),
		db => $db, sql => $sql);
	return wantarray ? @r : $r[0];
}

sub safe_psql
{
	my ($self, $db, $sql, %o) = @_;
	my ($out, $err, $rc) = $self->psql($db, $sql, %o);
	croak "psql failed ($rc) on [$sql]:\n$err" if $rc != 0;
	return $out;
}

# A raw protocol client (SluiceTest::Proto) logged in directly over TCP;
# superuser by default. Options: user, password, db.
sub proto
{
	my ($self, %o) = @_;
	my $user = $o{user} // 'postgres';
	my $c = SluiceTest::Proto->connect(port => $self->{port}, timeout => $o{timeout} // 30);
	my $r = $c->login(user => $user, database => $o{db} // 'postgres',
			  password => $o{password} // ($user eq 'postgres' ? $self->{password} : undef));
	croak "direct login as $user failed: " . SluiceTest::Proto::error_text($r->{error}) unless $r->{ok};
	return $c;
}

# Run $sql (one number) over and over on a direct superuser connection, in a
# child process, until ->stop; stop returns (the largest value seen, how
# many samples were taken). For "never more than N" claims while the test
# drives clients. Options: db, interval (seconds between samples, 0.01).
sub watch_max
{
	my ($self, $sql, %o) = @_;
	return SluiceTest::Pg::Watch->start($self, $sql, %o);
}

sub quote_ident { my $s = $_[0]; $s =~ s/"/""/g; return qq{"$s"} }
sub quote_literal { my $s = $_[0]; $s =~ s/'/''/g; return qq{'$s'} }

sub create_role
{
	my ($self, $name, $password, %o) = @_;
	my $sql = 'CREATE ROLE ' . quote_ident($name) . ' LOGIN';
	$sql .= ' SUPERUSER' if $o{superuser};
	$sql .= ' PASSWORD ' . quote_literal($password) if defined $password;
	$self->safe_psql('postgres', $sql);
}

sub create_db
{
	my ($self, $name, $owner) = @_;
	my $sql = 'CREATE DATABASE ' . quote_ident($name);
	$sql .= ' OWNER ' . quote_ident($owner) if defined $owner;
	$self->safe_psql('postgres', $sql);
}

# The stored SCRAM verifier of a role: "SCRAM-SHA-256$4096:salt$stored:server".
sub scram_verifier
{
	my ($self, $role) = @_;
	return $self->safe_psql('postgres',
		'SELECT rolpassword FROM pg_authid WHERE rolname = ' . quote_literal($role));
}

package SluiceTest::Pg::Watch;

use Carp;
use POSIX ();
use SluiceTest qw(slurp spit);

sub start
{
	my ($class, $pg, $sql, %o) = @_;
	my $file = File::Temp->new(TMPDIR => 1);
	my $path = $file->filename;
	my $interval = $o{interval} // 0.01;
	my $pid = fork() // croak "fork: $!";
	if ($pid == 0) {
		my $stop = 0;
		$SIG{TERM} = sub { $stop = 1 };
		my ($max, $n) = (undef, 0);
		eval {
			my $c = $pg->proto(db => $o{db} // 'postgres');
			until ($stop) {
				my $v = $c->query_value($sql);
				last if !defined $v && $c->{eof};
				if (defined $v) {
					$max = $v if !defined $max || $v > $max;
					$n++;
					spit("$path.tmp", ($max // '') . " $n\n");
					rename "$path.tmp", $path;
				}
				select(undef, undef, undef, $interval);
			}
		};
		print STDERR "# watch_max: $@" if $@;
		POSIX::_exit(0);
	}
	return bless { pid => $pid, file => $file, path => $path, owner => $$ }, $class;
}

# The largest value and the sample count so far, without stopping.
sub peek
{
	my ($self) = @_;
	my ($max, $n) = split ' ', slurp($self->{path});
	return ($max, $n // 0);
}

sub stop
{
	my ($self) = @_;
	if ($self->{pid}) {
		kill 'TERM', $self->{pid};
		my $st = SluiceTest::wait_pid($self->{pid}, 10);
		if (!defined $st) { kill 'KILL', $self->{pid}; waitpid($self->{pid}, 0) }
		$self->{pid} = undef;
	}
	return $self->peek;
}

sub DESTROY { $_[0]->stop if $_[0]{pid} && $$ == $_[0]{owner} }

1;
