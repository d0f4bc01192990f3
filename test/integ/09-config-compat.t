# Drop-in compatibility with a PgBouncer configuration: a pgbouncer.ini in
# the shape Debian ships ([pgbouncer] section, md5 auth_file given as a
# relative path, keys sluice does not implement yet) starts sluice as it is,
# as root and as an unprivileged user; bad configurations stop start-up
# naming file, line and key; the command line (-V, -h, no argument, -d);
# the `*` fallback database.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use SluiceTest qw(run_cmd wait_for new_tempdir free_port is_root slurp spit);
use SluiceTest::Proto qw(md5_password error_text);

my $BIN = SluiceTest::Sluice::bin();

my $pg = SluiceTest::Pg->new;
# What a PgBouncer with md5 secrets in its userlist talks to: a role whose
# password is stored as md5, allowed md5 logins.
$pg->safe_psql('postgres', q{CREATE ROLE legacy LOGIN PASSWORD '} . md5_password('legacy_pw', 'legacy') . q{'});
$pg->create_db('app', 'legacy');
$pg->create_db('otherdb');
$pg->write_hba([ 'host  all  legacy  127.0.0.1/32  md5' ]);
$pg->safe_psql('postgres', 'SELECT pg_reload_conf()');
my $direct_ok = wait_for(sub {
	my ($out) = $pg->psql('app', 'SELECT 1', user => 'legacy', password => 'legacy_pw', host => 'tcp');
	$out eq '1';
}, timeout => 20, interval => 0.1);
ok($direct_ok, 'PostgreSQL accepts legacy with md5 directly');

# A pgbouncer.ini and userlist.txt in $dir, in the shape of Debian's
# /etc/pgbouncer/pgbouncer.ini. Returns (ini path, port, { key => line }).
# Options: replace => { key => new line text }, after => { key => line to
# add after it }, db_line (the [databases] app entry).
sub write_pair
{
	my ($dir, %o) = @_;
	my $port = free_port();
	my $pgport = $pg->port;
	my @lines = split /\n/, <<"EOF";
;; database name = connect string
;;
;; connect string params:
;;   dbname= host= port= user= password= auth_user=
;;   client_encoding= datestyle= timezone=
;;   pool_size= reserve_pool= max_db_connections=
;;   pool_mode= connect_query= application_name=
[databases]
app = host=127.0.0.1 port=$pgport dbname=app

;; Configuration section
[users]

[pgbouncer]

;;;
;;; Administrative settings
;;;

logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid

;;;
;;; Where to wait for clients
;;;

;; IP address or * which means all IPs
listen_addr = 127.0.0.1
listen_port = $port

;; Unix socket is also used for -R.
;; On Debian it should be /var/run/postgresql
unix_socket_dir = $dir

;;;
;;; Authentication settings
;;;

;; any, trust, plain, md5, cert, hba, pam
auth_type = md5
auth_file = userlist.txt

;;;
;;; Users allowed into database 'pgbouncer'
;;;

admin_users = postgres
stats_users = stats, postgres

;;;
;;; Pooler personality questions
;;;

pool_mode = session
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits

;;;
;;; Connection limits
;;;

max_client_conn = 100
default_pool_size = 20

;;;
;;; Timeouts
;;;

server_lifetime = 3600
server_idle_timeout = 600

;;;
;;; Low-level tweaks
;;;

stats_period = 60
tcp_keepalive = 1
EOF
	$lines[ (grep { $lines[$_] =~ /^app = / } 0 .. $#lines)[0] ] = $o{db_line} if defined $o{db_line};
	for my $key (keys %{ $o{replace} // {} }) {
		my ($i) = grep { $lines[$_] =~ /^\Q$key\E = / } 0 .. $#lines;
		die "no $key line" unless defined $i;
		$lines[$i] = $o{replace}{$key};
	}
	for my $key (keys %{ $o{after} // {} }) {
		my ($i) = grep { $lines[$_] =~ /^\Q$key\E = / } 0 .. $#lines;
		die "no $key line" unless defined $i;
		splice(@lines, $i + 1, 0, $o{after}{$key});
	}
	my %line_of;
	for my $i (0 .. $#lines) {
		$line_of{$1} //= $i + 1 if $lines[$i] =~ /^(\S+) = /;
		$line_of{"[$1]"} = $i + 1 if $lines[$i] =~ /^\[(\w+)\]/;
		$line_of{'<malformed>'} = $i + 1 if defined $o{after} && grep { $_ eq $lines[$i] } values %{ $o{after} };
	}
	my $ini = "$dir/pgbouncer.ini";
	spit($ini, join("\n", @lines) . "\n", 0644);
	spit("$dir/userlist.txt", qq{"legacy" "} . md5_password('legacy_pw', 'legacy') . qq{"\n"stats" "stats_pw"\n}, 0644);
	if (is_root()) {
		my ($uid, $gid) = SluiceTest::postgres_ids();
		chown $uid, $gid, $ini, "$dir/userlist.txt";
	}
	return ($ini, $port, \%line_of);
}

# A sluice object for a config file of ours: for psql and check_log.
sub sluice_for
{
	my ($ini, $port, %o) = @_;
	(my $dir = $ini) =~ s{/[^/]+$}{};
	my $sl = SluiceTest::Sluice->new(
		config_file => $ini, port => $port, logfile => "$dir/pgbouncer.log",
		default_db => 'app', default_user => 'legacy', default_password => 'legacy_pw', %o);
	# the file's tcp_keepalive, a key sluice does not support
	$sl->expect_log(qr/\Q$ini\E:\d+: tcp_keepalive is not supported yet, ignored$/);
	return $sl;
}

# A process exists and is not a zombie.
sub pid_alive
{
	my ($pid) = @_;
	return 0 unless $pid && kill(0, $pid);
	my $stat = slurp("/proc/$pid/stat");
	return !($stat =~ /^\d+ \(.*\) (\S)/s && ($1 eq 'Z' || $1 eq 'X'));
}

sub pidfile_pid
{
	my ($path) = @_;
	return (slurp($path) =~ /^(\d+)\s*$/) ? $1 : undef;
}

# ---------------------------------------------------------------------------
# The pair, started as is (as whoever runs the tests).
{
	my $dir = new_tempdir('pgbini', for_postgres => 1);
	my ($ini, $port, $line) = write_pair($dir);
	my $sl = sluice_for($ini, $port);
	ok($sl->alive, 'pgbouncer.ini: sluice starts from it');

	my ($out, $err, $rc) = $sl->psql('SELECT current_user, current_database()');
	is($out, 'legacy|app', 'pgbouncer.ini: psql logs in (md5 against an md5 userlist secret) and queries')
	    or diag($err);
	($out, $err) = $sl->psql('SELECT 1', host => 'unix');
	is($out, '1', 'pgbouncer.ini: login over the unix socket in unix_socket_dir') or diag($err);
	(undef, $err, $rc) = $sl->psql('SELECT 1', password => 'wrong');
	$sl->expect_log(qr/pooler error: password authentication failed for user "legacy" \(sqlstate=28P01\)/);
	like($err, qr/password authentication failed for user "legacy"/, 'pgbouncer.ini: a wrong password is refused');

	my $c = SluiceTest::Proto->connect(port => $port);
	my $r = $c->login(user => 'legacy', password => 'legacy_pw', database => 'app',
			  params => { extra_float_digits => '2' });
	ok($r->{ok}, 'pgbouncer.ini: extra_float_digits in the startup packet is accepted (ignore_startup_parameters)')
	    or diag(error_text($r->{error}));
	$c->terminate if $r->{ok};

	my $text = $sl->stderr_contents . $sl->log_contents;
	for my $key (qw(tcp_keepalive)) {
		like($text, qr/\Q$ini\E:$line->{$key}:[^\n]*\b$key\b/,
		     "pgbouncer.ini: the warning about unsupported $key names file and line ($line->{$key})");
	}
	note("sluice said: $_") for grep { /\Q$ini\E:\d+:/ } split /\n/, $text;
	# whatever else is warned about names its own line
	my @wrong;
	while ($text =~ /\Q$ini\E:(\d+):([^\n]*)/g) {
		my ($n, $msg) = ($1, $2);
		my ($what) = grep { $msg =~ /(?:^|[\s"])\Q$_\E(?:[\s"]|$)/ } keys %$line;
		push @wrong, "$n:$msg" unless $what && $line->{$what} == $n;
	}
	is_deeply(\@wrong, [], 'pgbouncer.ini: every warning names the line of its key');
	my @implemented = qw(logfile pidfile listen_addr listen_port unix_socket_dir auth_type auth_file
			     admin_users stats_users pool_mode server_reset_query ignore_startup_parameters
			     max_client_conn default_pool_size stats_period);
	my @warned = grep { my $k = $_; $text =~ /\Q$ini\E:$line->{$k}:/ } @implemented;
	is_deeply(\@warned, [], 'pgbouncer.ini: no warning about the keys sluice implements');

	my $pidfile = "$dir/pgbouncer.pid";
	is(pidfile_pid($pidfile), $sl->pid, 'pgbouncer.ini: the pidfile holds sluice\'s pid');
	my $st = $sl->stop;
	is($st, 0, 'pgbouncer.ini: SIGTERM stops sluice with status 0');
	ok(!-e $pidfile, 'pgbouncer.ini: the pidfile is removed at exit');
	like($sl->log_contents, qr/\S/, 'pgbouncer.ini: sluice wrote to the logfile');
}

# ---------------------------------------------------------------------------
# The same pair, run by an unprivileged user.
SKIP: {
	skip 'not root: the run above was already unprivileged', 7 unless is_root();
	my ($uid) = SluiceTest::postgres_ids();
	my $dir = new_tempdir('pgbini-user', for_postgres => 1);
	my ($ini, $port) = write_pair($dir);
	my $sl = sluice_for($ini, $port, as_postgres => 1);
	ok($sl->alive, 'as postgres: sluice starts');
	is((stat "/proc/" . $sl->pid)[4], $uid, 'as postgres: the process runs as postgres');
	my ($out, $err) = $sl->psql('SELECT current_user');
	is($out, 'legacy', 'as postgres: psql logs in') or diag($err . $sl->stderr_contents);
	ok(-S "$dir/.s.PGSQL.$port", 'as postgres: the unix socket exists');
	is((stat "$dir/pgbouncer.pid")[4], $uid, 'as postgres: the pidfile is written by postgres');
	is($sl->stop, 0, 'as postgres: SIGTERM stops it with status 0');
	ok(!-e "$dir/pgbouncer.pid", 'as postgres: the pidfile is removed');
}

# ---------------------------------------------------------------------------
# Bad configurations stop start-up, naming file, line and key.
{
	my $dir = new_tempdir('badcfg', for_postgres => 1);
	my @cases = (
		[ 'default_pool_size = abc', { replace => { default_pool_size => 'default_pool_size = abc' } },
		  sub { my ($ini, $l) = @_; qr/\Q$ini\E:$l->{default_pool_size}:[^\n]*default_pool_size/ } ],
		[ 'a line without "="', { after => { pool_mode => 'this line has no equals sign' } },
		  sub { my ($ini, $l) = @_; qr/\Q$ini\E:$l->{'<malformed>'}:/ } ],
		[ '[databases] pool_size=abc', { db_line => 'app = host=127.0.0.1 pool_size=abc' },
		  sub { my ($ini, $l) = @_; qr/\Q$ini\E:$l->{app}:[^\n]*pool_size/ } ],
		[ 'a missing auth_file', { replace => { auth_file => 'auth_file = missing-userlist.txt' } },
		  sub { qr/\Q$dir\E\/missing-userlist\.txt/ } ],
	);
	for my $case (@cases) {
		my ($what, $opts, $want) = @$case;
		my ($ini, $port, $line) = write_pair($dir, %$opts);
		my $t0 = time();
		my ($out, $err, $rc) = run_cmd([ $BIN, $ini ], timeout => 10, cwd => '/');
		ok($rc != 0 && $rc != -1, sprintf('bad config (%s): sluice exits non-zero at once (rc %s, %.1f s)',
						 $what, $rc, time() - $t0));
		like($err, $want->($ini, $line), "bad config ($what): stderr names file:line and key")
		    or diag("stderr: $err");
	}
}

# ---------------------------------------------------------------------------
# The command line.
{
	my ($out, $err, $rc) = run_cmd([ $BIN, '-V' ], timeout => 10);
	is($rc, 0, '-V exits 0');
	like($out, qr/\d+\.\d+/, '-V prints a version') or diag("stdout: $out\nstderr: $err");

	($out, $err, $rc) = run_cmd([ $BIN, '-h' ], timeout => 10);
	is($rc, 0, '-h exits 0');
	like($out, qr/usage/i, '-h prints usage');
	like($out, qr/CONFIG_FILE/, '-h mentions CONFIG_FILE');

	($out, $err, $rc) = run_cmd([ $BIN ], timeout => 10);
	ok($rc != 0 && $rc != -1, "no argument: exits non-zero (rc $rc)");
	like($err, qr/usage/i, 'no argument: prints usage on stderr');
}

# -d: the command returns at once, the daemon writes its pidfile, serves,
# and stops on SIGTERM, removing the pidfile.
my $daemon_pid;
END { kill 'KILL', $daemon_pid if $daemon_pid && pid_alive($daemon_pid) }
{
	my $dir = new_tempdir('daemon', for_postgres => 1);
	my ($ini, $port) = write_pair($dir);
	my $pidfile = "$dir/pgbouncer.pid";
	my $sl = sluice_for($ini, $port, start => 0);
	my $t0 = time();
	my ($out, $err, $rc) = run_cmd([ $BIN, '-d', $ini ], timeout => 10, cwd => '/');
	is($rc, 0, sprintf('-d: the command returns with status 0 (%.1f s)', time() - $t0)) or diag($err);
	ok(wait_for(sub { defined pidfile_pid($pidfile) }, timeout => 10), '-d: the pidfile appears');
	$daemon_pid = pidfile_pid($pidfile);
	ok(pid_alive($daemon_pid), "-d: the pid in it ($daemon_pid) is alive");
	my $login_out;
	ok(wait_for(sub { ($login_out) = $sl->psql('SELECT 1', timeout => 10); $login_out eq '1' }, timeout => 10),
	   '-d: psql logs in to the daemon');
	kill 'TERM', $daemon_pid if $daemon_pid;
	ok(wait_for(sub { !pid_alive($daemon_pid) }, timeout => 15), '-d: SIGTERM stops the daemon');
	ok(wait_for(sub { !-e $pidfile }, timeout => 5), '-d: the pidfile is removed');
	like($sl->log_contents, qr/\S/, '-d: the daemon logged to its logfile');
}

# ---------------------------------------------------------------------------
# The `*` fallback: any database name not listed goes to the same server
# under its own name; one that PostgreSQL does not have gets its error.
{
	$pg->create_role('fb', 'fb_pw');
	my $sl = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { '*' => 'host=127.0.0.1 port=' . $pg->port,
			       aliased => $pg->connstr('app') },
		users => { fb => 'fb_pw' }, default_db => 'otherdb',
	);
	my ($out, $err) = $sl->psql('SELECT current_database()', db => 'otherdb');
	is($out, 'otherdb', '* fallback: a client reaches otherdb, which is not listed') or diag($err);
	($out, $err) = $sl->psql('SELECT current_database()', db => 'postgres');
	is($out, 'postgres', '* fallback: and postgres') or diag($err);
	($out, $err) = $sl->psql('SELECT current_database()', db => 'aliased');
	is($out, 'app', '* fallback: a listed entry still wins') or diag($err);

	my $c = SluiceTest::Proto->connect(port => $sl->port);
	$sl->expect_log(qr/ S-\d+ nope\/fb\S+ login failed: database "nope" does not exist$/,
			qr/ C-\d+ nope\/fb\S+ pooler error: database "nope" does not exist \(sqlstate=3D000\)/);
	my $r = $c->login(user => 'fb', password => 'fb_pw', database => 'nope', timeout => 15);
	my $e = $r->{error};
	ok(!$r->{ok}, '* fallback: a database PostgreSQL does not have is refused');
	is($e && $e->{C}, '3D000', '* fallback: with SQLSTATE 3D000') or diag(error_text($e));
	is($e && $e->{M}, 'database "nope" does not exist', "* fallback: and PostgreSQL's message");
	$c->close;
	my $rc;
	(undef, $err, $rc) = $sl->psql('SELECT 1', db => 'nope');
	like($err, qr/database "nope" does not exist/, '* fallback: psql shows the same message');
	is(scalar $sl->psql('SELECT 2', db => 'otherdb'), '2', '* fallback: otherdb still works afterwards');
}

done_testing();
