# Logging: log_connections, log_disconnections and log_pooler_errors on and
# off, in text and in logfmt (every line parses as key=value pairs), one line
# per event with client address and port, database, user and reason; server
# connection lines; verbose from the ini; config warnings reaching the log
# file; syslog keys (validation, and starting with syslog on: no syslog
# daemon runs here, so what syslog receives is not checked).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd wait_for new_tempdir free_port spit);
use SluiceTest::Proto qw(error_text);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $pgport = $pg->port;

sub sluice
{
	my (%settings) = @_;
	my $extra = delete $settings{extra_config} // '';
	return SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app') },
		users => { app => 'app_pw', admin => 'admin_pw' }, default_user => 'app',
		extra_config => $extra,
		settings => { pool_mode => 'session', admin_users => 'admin', %settings });
}

# One client's life through sluice: a good login and Terminate, a wrong
# password, a database that does not exist. Returns the local ports used.
sub traffic
{
	my ($sl) = @_;
	my %port;
	# its two refused logins, as text or logfmt lines
	$sl->expect_log(qr/ app\/app\S+ pooler error: password authentication failed for user "app" \(sqlstate=28P01\)$/,
			qr/ nope\/app\S+ pooler error: database "nope" does not exist \(sqlstate=3D000\)$/,
			qr/ event=pooler_error .* db=app user=app msg="pooler error" reason="password authentication failed for user \\"app\\"" sqlstate=28P01$/,
			qr/ event=pooler_error .* db=nope user=app msg="pooler error" reason="database \\"nope\\" does not exist" sqlstate=3D000$/);
	my $c = $sl->proto(user => 'app', password => 'app_pw', db => 'app');
	$port{good} = $c->sock->sockport;
	is($c->query_value('SELECT 41 + 1'), '42', 'a query through sluice');
	$c->terminate;

	$c = $sl->proto(login => 0);
	$port{badpw} = $c->sock->sockport;
	my $r = $c->login(user => 'app', password => 'wrong', database => 'app');
	is($r->{error}{C}, '28P01', 'a wrong password is refused (28P01)') or diag(error_text($r->{error}));
	$c->close;

	$c = $sl->proto(login => 0);
	$port{baddb} = $c->sock->sockport;
	$r = $c->login(user => 'app', password => 'app_pw', database => 'nope');
	is($r->{error}{C}, '3D000', 'an unknown database is refused (3D000)') or diag(error_text($r->{error}));
	$c->close;
	return \%port;
}

sub log_has
{
	my ($sl, $re, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	ok(wait_for(sub { $sl->log_contents =~ $re }, timeout => 10), $name)
	    or diag("no line matching $re in:\n" . $sl->log_contents);
}

# key=value pairs of one logfmt line: (\%kv, \@keys), or () if it does not parse.
sub parse_logfmt
{
	my ($line) = @_;
	my (%kv, @keys);
	pos($line) = 0;
	while (1) {
		$line =~ /\G([A-Za-z_][A-Za-z0-9_]*)=/gc or return;
		my ($k, $v) = ($1);
		if ($line =~ /\G"((?:[^"\\]|\\.)*)"/gc) {
			$v = $1;
			$v =~ s/\\(u([0-9a-f]{4})|.)/defined $2 ? chr(hex $2)
			    : { n => "\n", r => "\r", t => "\t" }->{$1} \/\/ $1/ge;
		} elsif ($line =~ /\G([^\s"=]+)/gc) {
			$v = $1;
		} else {
			return;
		}
		return if exists $kv{$k};
		push @keys, $k;
		$kv{$k} = $v;
		last if pos($line) == length $line;
		$line =~ /\G /gc or return;
	}
	return (\%kv, \@keys);
}

# ---------------------------------------------------------------------------
# text, everything on (the defaults)
{
	my $sl = sluice();
	my $p = traffic($sl);
	my $who = 'C-\d+ app/app@127\.0\.0\.1:';
	log_has($sl, qr/^\S+ \S+ \d+ LOG ${who}$p->{good} login ok \(tls=no\)$/m,
		'text: log_connections: the login, with address:port, db, user, tls');
	log_has($sl, qr/^\S+ \S+ \d+ LOG ${who}$p->{good} closing: client terminated \(age=[\d.]+s\)$/m,
		'text: log_disconnections: the close, with its reason and age');
	log_has($sl, qr/^\S+ \S+ \d+ WARNING ${who}$p->{badpw} pooler error: password authentication failed for user "app" \(sqlstate=28P01\)$/m,
		'text: log_pooler_errors: the failed login, with SQLSTATE');
	log_has($sl, qr/ LOG ${who}$p->{badpw} closing: password authentication failed for user "app" \(age=/,
		'text: the failed login\'s close says why');
	log_has($sl, qr/ WARNING C-\d+ nope\/app\@127\.0\.0\.1:$p->{baddb} pooler error: database "nope" does not exist \(sqlstate=3D000\)$/m,
		'text: log_pooler_errors: the unknown database');
	my $text = $sl->log_contents;
	is(scalar(() = $text =~ /\@127\.0\.0\.1:$p->{good} login ok/g), 1, 'text: one login line per login');
	is(scalar(() = $text =~ /\@127\.0\.0\.1:$p->{good} closing:/g), 1, 'text: one close line per client');
	ok($text !~ /\@127\.0\.0\.1:$p->{badpw} login ok/, 'text: no login line for a failed login');
	log_has($sl, qr/ LOG S-\d+ app\/\S+\@127\.0\.0\.1:$pgport new server connection \(backend_pid=\d+, tls=\S+\)$/m,
		'text: log_connections: a server connection opened, with its backend pid');
	unlike($text, qr/ DEBUG /, 'verbose = 0: no debug lines');

	$sl->expect_log(qr/ pgbouncer\/admin\S+ pooler error: SHOW NOTHING is not supported \(yet\); try SHOW HELP \(sqlstate=0A000\)$/);
	my ($out, $err) = $sl->psql('SHOW NOTHING', user => 'admin', password => 'admin_pw', db => 'pgbouncer');
	like($err, qr/SHOW NOTHING/, 'admin console: an unknown SHOW is refused');
	log_has($sl, qr/ LOG C-\d+ pgbouncer\/admin\@127\.0\.0\.1:\d+ login ok \(tls=no\)$/m,
		'text: an admin console login is logged');
	log_has($sl, qr/ WARNING C-\d+ pgbouncer\/admin\@127\.0\.0\.1:\d+ pooler error: SHOW NOTHING .*\(sqlstate=\w{5}\)$/m,
		'text: an error the admin console sends is a pooler error');
	$sl->stop;
}

# ---------------------------------------------------------------------------
# text, everything off
{
	my $sl = sluice(log_connections => 0, log_disconnections => 'off', log_pooler_errors => 'no',
			server_idle_timeout => '200ms');
	my $p = traffic($sl);
	my $c = $sl->proto(user => 'app', password => 'app_pw', db => 'app');
	my $port = $c->sock->sockport;
	$c->terminate;
	# the idle server closes on its own: whatever would be logged is written by then
	ok(wait_for(sub { $pg->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'}) == 0 },
		    timeout => 15), 'off: the idle server connection is closed (server_idle_timeout)');
	my $text = $sl->log_contents;
	unlike($text, qr/login ok/, 'off: log_connections = 0: no login lines');
	unlike($text, qr/new server connection/, 'off: log_connections = 0: no server connection lines');
	unlike($text, qr/closing/, 'off: log_disconnections = 0: no close lines, client or server');
	unlike($text, qr/pooler error|sqlstate=/, 'off: log_pooler_errors = 0: no pooler error lines');
	unlike($text, qr/not supported yet/, 'off: the three keys are known (no warning)');
	like($text, qr/ LOG sluice \S+ started/, 'off: other lines are still there');
	$sl->stop;
}

# ---------------------------------------------------------------------------
# only log_pooler_errors off: the close still says why; servers' closes are logged
{
	my $sl = sluice(log_pooler_errors => 0, server_idle_timeout => '200ms');
	my $p = traffic($sl);
	log_has($sl, qr/\@127\.0\.0\.1:$p->{badpw} closing: password authentication failed/,
		'pooler errors off: the disconnect line carries the reason');
	log_has($sl, qr/ LOG S-\d+ app\/\S+\@127\.0\.0\.1:$pgport closing: server_idle_timeout reached \(age=[\d.]+s\)$/m,
		'log_disconnections: a server connection closed, with why and its age');
	unlike($sl->log_contents, qr/pooler error/, 'pooler errors off: no pooler error lines');
	$sl->stop;
}

# ---------------------------------------------------------------------------
# logfmt
{
	my $sl = sluice(log_format => 'logfmt');
	my $p = traffic($sl);
	log_has($sl, qr/event=disconnect .*client=127\.0\.0\.1:$p->{baddb} /, 'logfmt: lines are written');
	my @lines = split /\n/, $sl->log_contents;
	my (@bad, @events);
	for my $line (@lines) {
		my ($kv, $keys) = parse_logfmt($line);
		if (!$kv) { push @bad, "does not parse: $line"; next }
		my $head = join(' ', @$keys[0 .. 2]);
		push @bad, "starts with $head: $line" if $head ne 'ts level pid';
		push @bad, "no msg: $line" unless defined $kv->{msg};
		push @bad, "bad ts: $line" unless $kv->{ts} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/;
		push @bad, "bad level: $line" unless $kv->{level} =~ /^(error|warning|info|debug|noise)$/;
		push @events, $kv if $kv->{event};
	}
	is_deeply(\@bad, [], 'logfmt: every line is key=value pairs starting ts, level, pid, with a msg')
	    or diag(join("\n", @bad));
	my ($login) = grep { $_->{event} eq 'login' && $_->{client} eq "127.0.0.1:$p->{good}" } @events;
	is_deeply($login && { map { $_ => $login->{$_} } qw(level conn db user msg tls) },
		  { level => 'info', conn => $login ? $login->{conn} : '', db => 'app', user => 'app',
		    msg => 'login ok', tls => 'no' }, 'logfmt: the login event');
	like($login ? $login->{conn} : '', qr/^C-\d+$/, 'logfmt: conn=C-<id>');
	my ($close) = grep { $_->{event} eq 'disconnect' && $_->{client} eq "127.0.0.1:$p->{good}" } @events;
	is($close && $close->{reason}, 'client terminated', 'logfmt: the disconnect event and its reason');
	like($close ? $close->{age} : '', qr/^[\d.]+s$/, 'logfmt: ... and age');
	my ($err) = grep { $_->{event} eq 'pooler_error' && $_->{client} eq "127.0.0.1:$p->{badpw}" } @events;
	is_deeply($err && [ @$err{qw(level sqlstate reason db user)} ],
		  [ 'warning', '28P01', 'password authentication failed for user "app"', 'app', 'app' ],
		  'logfmt: the pooler error, its reason unquoted back to the message');
	($err) = grep { $_->{event} eq 'pooler_error' && $_->{client} eq "127.0.0.1:$p->{baddb}" } @events;
	is($err && $err->{db}, 'nope', 'logfmt: the unknown database\'s pooler error names it');
	my ($srv) = grep { $_->{event} eq 'server_login' } @events;
	is($srv && $srv->{server}, "127.0.0.1:$pgport", 'logfmt: server_login event with server=host:port');
	like($srv ? $srv->{backend_pid} : '', qr/^\d+$/, 'logfmt: ... and backend_pid');
	like($sl->log_contents, qr/^ts=\S+ level=info pid=\d+ msg="sluice \S+ started/m,
	     'logfmt: plain lines too');
	$sl->stop;
}

# ---------------------------------------------------------------------------
# verbose from the ini; warnings from reading the file reach the log file
{
	my $sl = sluice(verbose => 1, extra_config => "frobnicate = 1\n");
	$sl->expect_log(qr/ WARNING \S*sluice\.ini:\d+: unknown key "frobnicate", ignored$/);
	like($sl->log_contents, qr/ DEBUG C-\d+ \S+ new connection$/m, 'verbose = 1 in the ini: debug lines');
	unlike($sl->log_contents, qr/ NOISE /, 'verbose = 1: no noise lines');
	like($sl->log_contents, qr/ WARNING \S*sluice\.ini:\d+: unknown key "frobnicate", ignored$/m,
	     'a config warning reaches the log file');
	like($sl->stderr_contents, qr/sluice\.ini:\d+: unknown key "frobnicate"/, '... and stderr');
	my $log = $sl->log_contents;
	ok(index($log, 'frobnicate') < index($log, 'started'), '... before the start line, in order');
	$sl->stop;

	my $v2 = sluice(verbose => 2);
	like($v2->log_contents, qr/ NOISE C-\d+ \S+ state /, 'verbose = 2: noise lines');
}

# ---------------------------------------------------------------------------
# a reload applies the logging keys (log_configure runs again)
{
	my $sl = sluice();
	$sl->{settings}{log_format} = 'logfmt';
	$sl->{settings}{log_connections} = 0;
	$sl->{settings}{log_disconnections} = 1;
	$sl->reload;
	log_has($sl, qr/^ts=\S+ level=info pid=\d+ msg="configuration reloaded from /m,
		'reload: log_format = logfmt applies at once');
	my $c = $sl->proto(user => 'app', password => 'app_pw', db => 'app');
	my $port = $c->sock->sockport;
	$c->terminate;
	log_has($sl, qr/^ts=\S+ level=info pid=\d+ event=disconnect conn=C-\d+ client=127\.0\.0\.1:$port db=app user=app msg=closing reason="client terminated" age=\S+$/m,
		'reload: a client closing after it is logged in logfmt');
	unlike($sl->log_contents, qr/event=login/, 'reload: log_connections = 0 applies');
	$sl->stop;
}

# ---------------------------------------------------------------------------
# syslog keys
{
	my $dir = new_tempdir('syslog');
	my $port = free_port();
	spit("$dir/sluice.ini", "[databases]\napp = host=127.0.0.1 port=$pgport\n[sluice]\n"
	     . "listen_addr = 127.0.0.1\nlisten_port = $port\nauth_type = trust\n"
	     . "syslog = 1\nsyslog_facility = kernel\n");
	my ($out, $err, $rc) = run_cmd([ SluiceTest::Sluice::bin(), "$dir/sluice.ini" ], timeout => 20);
	is($rc, 1, 'syslog_facility = kernel: sluice refuses to start');
	like($err, qr/\Q$dir\E\/sluice\.ini:8: syslog_facility: "kernel" is not one of: auth, authpriv, daemon/,
	     '... naming file:line: key and the valid names');

	my $sl = sluice(syslog => 1, syslog_ident => 'sluice-test', syslog_facility => 'local3');
	is($sl->safe_psql('SELECT 1', user => 'app', password => 'app_pw'), '1', 'syslog = 1: sluice runs');
	unlike($sl->log_contents . $sl->stderr_contents, qr/syslog\S* is not supported/, 'syslog keys are known');
}

# ---------------------------------------------------------------------------
# floods from one address: a cancel request is logged at DEBUG only; lines
# of clients that fail before login are at most 10 a second per address,
# and the first line after a pause says how many were left out
{
	my $sl = sluice();
	$sl->expect_log(qr/\(nodb\)\/\(nouser\)\S+ pooler error: invalid length of startup packet \(sqlstate=08P01\)$/);
	my $N = 2000;
	# lines at LOG or above, except about clients from before (the
	# harness's readiness probe may be logged late)
	my $seen = 0;
	my $loglines = sub {
		scalar grep { /^\S+ \S+ \d+ (?:LOG|WARNING|ERROR) / && !(/ C-(\d+) / && $1 <= $seen) }
		    split /\n/, $sl->log_contents;
	};
	# one connection: send $bytes, wait until sluice closes it; its local port
	my $once = sub {
		my ($bytes) = @_;
		my $c = SluiceTest::Proto->connect(port => $sl->port);
		my $port = $c->sock->sockport;
		$c->send($bytes);
		my ($eof) = $c->wait_eof(10);
		$c->close;
		return $eof ? $port : 0;
	};

	# what came before is written by now: every client that logged in
	# (the harness's readiness probe) has its closing line
	wait_for(sub {
		my $log = $sl->log_contents;
		my %open = map { $_ => 1 } $log =~ / C-(\d+) \S+ login ok /g;
		delete @open{ $log =~ / C-(\d+) \S+ closing: /g };
		return !%open;
	}, timeout => 10) or diag('a client that logged in was not logged closing within 10 s');
	($seen) = sort { $b <=> $a } $sl->log_contents =~ / C-(\d+) /g;
	$seen //= 0;
	my $before = $loglines->();
	my $closed = 0;
	$closed += !!$once->(SluiceTest::Proto::cancel_request(4242, 4242)) for 1 .. $N;
	is($closed, $N, "$N cancel requests with unknown keys, each closed by sluice");
	is($loglines->() - $before, 0, '... and not one line at LOG or above for them')
	    or diag(join "\n", (grep { /cancel/ } split /\n/, $sl->log_contents)[0 .. 4]);

	# A bad startup packet: a pooler error and a close line each. Then
	# one at a time until one is logged whole: a new second began, and
	# what was left out before it has been told.
	my $bad = "\0\0\0\3";
	$closed = 0;
	$closed += !!$once->($bad) for 1 .. $N;
	is($closed, $N, "$N bad startup packets from one address, each refused");
	my ($attempts, $deadline) = ($N, time + 60);
	while (time < $deadline) {
		my $from = length $sl->log_contents;   # ports are reused: look at new lines only
		my $port = $once->($bad);
		$attempts++;
		last if $port && substr($sl->log_contents, $from) =~ /\@127\.0\.0\.1:$port closing: invalid length of startup packet/;
	}
	my $text = $sl->log_contents;
	my $written = () = $text =~ /\@127\.0\.0\.1:\d+ (?:pooler error|closing): invalid length of startup packet/g;
	my $told = 0;
	$told += $_ for $text =~ /^\S+ \S+ \d+ (?:LOG|WARNING) (\d+) more like this from 127\.0\.0\.1 suppressed/mg;
	note("$attempts bad startup packets: $written lines written, $told left out and counted");
	cmp_ok($written, '<', 200, "$attempts failed clients from one address: far fewer lines than 2 per client");
	ok($told > 0, '... one line says how many more like this were suppressed');
	is($written + $told, 2 * $attempts, '... and the counts add up: every line written or counted');
	my $c = $sl->proto(user => 'app', password => 'app_pw', db => 'app');
	is($c->query_value('SELECT 1'), 1, 'a client logs in meanwhile');
	$c->terminate;
	$sl->stop;
}

done_testing();
